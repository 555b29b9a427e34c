"""Fields Salesforce computes itself and the side effects of a write on other records.

- Opportunity: IsClosed/IsWon from StageName; Amount is the sum of its line items' TotalPrice when it has any.
- OpportunityLineItem / OrderItem: Product2Id, Name and ProductCode from the price book entry; UnitPrice defaults
  to the entry's; TotalPrice = Quantity * UnitPrice; the parent's Pricebook2Id is set from the first entry.
- Order: TotalAmount is the sum of its items.
- PricebookEntry: needs an active product price in the standard price book first (STANDARD_PRICE_NOT_DEFINED);
  one entry per product and price book.
- Case: IsClosed/ClosedDate from Status. Contact/User: Name from first and last name.
- ContentVersion: VersionData bytes are kept apart (served by ``…/VersionData``); each new version gets a
  ContentDocument and, with FirstPublishLocationId, a ContentDocumentLink to that record.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from .context import CallContext
from .errors import bad_request
from .record_store import Record
from .schema import ObjectDef
from .timefmt import format_ms

if TYPE_CHECKING:
    from .dml import Dml

STANDARD_PRICEBOOK_META = "standard_pricebook_id"


def before_save(dml: Dml, ctx: CallContext, obj: ObjectDef, record: Record, old: Record | None) -> None:
    name = obj.name
    if name == "Opportunity":
        stage = record.get("StageName") or ""
        record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
        record["IsWon"] = stage == "Closed Won"
        if old is not None and old.get("HasOpportunityLineItem") and not dml.in_rollup:
            # With products the amount is a roll-up: a direct edit does not stick, as in Salesforce.
            record["Amount"] = old.get("Amount")
    elif name in ("OpportunityLineItem", "OrderItem"):
        _line_item(dml, ctx, obj, record, old)
    elif name == "PricebookEntry" and old is None:
        _pricebook_entry(dml, record)
    elif name == "Case":
        record["IsClosed"] = record.get("Status") == "Closed"
        if record["IsClosed"] and not (old and old.get("IsClosed")):
            record["ClosedDate"] = format_ms(dml.records.next_modstamp())
        elif not record["IsClosed"]:
            record["ClosedDate"] = None
    elif name in ("Contact", "User"):
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
    elif name == "ContentVersion" and old is None:
        data = base64.b64decode(record.get("VersionData") or "")
        path = record.get("PathOnClient") or ""
        ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        record.update(
            ContentSize=len(data),
            FileExtension=ext or None,
            FileType=(ext or "UNKNOWN").upper(),
            VersionNumber="1",
            IsLatest=True,
        )
        if not record.get("ContentDocumentId"):
            record["ContentDocumentId"] = _new_document(dml, ctx, record)


def store_blobs(dml: Dml, obj: ObjectDef, record: Record) -> None:
    """Keep file bytes out of the JSON row; the field then holds the URL that serves them, as Salesforce shows it."""
    if obj.name == "ContentVersion" and isinstance(record.get("VersionData"), str):
        rid = record["Id"]
        dml.records.put_blob(rid, base64.b64decode(record["VersionData"]))
        record["VersionData"] = f"/services/data/v{dml_api_version(dml)}/sobjects/ContentVersion/{rid}/VersionData"


def dml_api_version(dml: Dml) -> str:
    return dml._ctx.api_version if dml._ctx else "59.0"


def after_save(dml: Dml, ctx: CallContext, obj: ObjectDef, record: Record, old: Record | None) -> None:
    if obj.name == "OpportunityLineItem":
        _roll_up(dml, ctx, "Opportunity", record["OpportunityId"], "OpportunityLineItem", "OpportunityId", "Amount")
    elif obj.name == "OrderItem":
        _roll_up(dml, ctx, "Order", record["OrderId"], "OrderItem", "OrderId", "TotalAmount")
    elif obj.name == "ContentVersion" and old is None and record.get("FirstPublishLocationId"):
        _link_file(dml, ctx, record)


def before_delete(dml: Dml, ctx: CallContext, obj: ObjectDef, record: Record) -> None:
    if obj.name == "Pricebook2" and record.get("IsStandard"):
        raise bad_request("DELETE_FAILED", "Cannot delete the standard price book")


def after_delete(dml: Dml, ctx: CallContext, obj: ObjectDef, record: Record) -> None:
    after_save(dml, ctx, obj, record, record)


def _entry(dml: Dml, record: Record) -> Record:
    entry = dml.records.get(record.get("PricebookEntryId") or "")
    if entry is None or entry.get("IsDeleted"):
        raise bad_request("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["PricebookEntryId"])
    return entry


def _line_item(dml: Dml, ctx: CallContext, obj: ObjectDef, record: Record, old: Record | None) -> None:
    parent_field = "OpportunityId" if obj.name == "OpportunityLineItem" else "OrderId"
    if old is None:
        entry = _entry(dml, record)
        if not entry.get("IsActive"):
            raise bad_request(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (inactive pricebook entry)",
                ["PricebookEntryId"],
            )
        record["Product2Id"] = entry["Product2Id"]
        if obj.name == "OpportunityLineItem":
            record["Name"] = entry.get("Name")
            record["ProductCode"] = entry.get("ProductCode")
        if record.get("UnitPrice") is None:
            record["UnitPrice"] = entry.get("UnitPrice")
        _attach_pricebook(dml, ctx, record.get(parent_field) or "", parent_field, entry["Pricebook2Id"])
    quantity = record.get("Quantity")
    price = record.get("UnitPrice")
    record["TotalPrice"] = (
        round(float(quantity) * float(price), 2) if quantity is not None and price is not None else None
    )


def _attach_pricebook(dml: Dml, ctx: CallContext, parent_id: str, parent_field: str, pricebook_id: str) -> None:
    """The parent takes the price book of its first line; later lines must use the same one."""
    parent = dml.records.get(parent_id)
    if parent is None or parent.get("IsDeleted"):
        return  # the reference check reports it
    current = parent.get("Pricebook2Id")
    if current == pricebook_id:
        return
    if current:
        parent_label = "opportunity" if parent_field == "OpportunityId" else "order"
        raise bad_request(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one "
            f"assigned to the {parent_label})",
            ["PricebookEntryId"],
        )
    parent_obj = dml.schema.for_id(parent_id)
    assert parent_obj is not None
    dml.apply_update(ctx, parent_obj, parent, {"Pricebook2Id": pricebook_id})


def _pricebook_entry(dml: Dml, record: Record) -> None:
    product = dml.records.get(record.get("Product2Id") or "")
    pricebook = dml.records.get(record.get("Pricebook2Id") or "")
    if product is None or pricebook is None:
        return  # the reference check reports it
    pbe = dml.schema.get("PricebookEntry")
    assert pbe is not None
    product_field = pbe.field("Product2Id")
    assert product_field is not None
    siblings = [dml.records.get(rid) for rid in dml.records.find_by_field(pbe, product_field, product["Id"])]
    entries = [e for e in siblings if e is not None]
    if any(e.get("Pricebook2Id") == pricebook["Id"] for e in entries):
        raise bad_request("DUPLICATE_VALUE", "This price definition already exists in this price book", [])
    standard_id = dml.db.get_meta(STANDARD_PRICEBOOK_META)
    standard = next((e for e in entries if e.get("Pricebook2Id") == standard_id), None)
    if pricebook["Id"] != standard_id and standard is None:
        raise bad_request("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", [])
    if record.get("UseStandardPrice") and standard is not None:
        record["UnitPrice"] = standard.get("UnitPrice")
    record["Name"] = product.get("Name")
    record["ProductCode"] = product.get("ProductCode")


def _roll_up(
    dml: Dml, ctx: CallContext, parent_name: str, parent_id: str, child_name: str, link: str, target: str
) -> None:
    parent_obj = dml.schema.get(parent_name)
    child_obj = dml.schema.get(child_name)
    assert parent_obj is not None and child_obj is not None
    parent = dml.records.get(parent_id)
    if parent is None or parent.get("IsDeleted"):
        return
    link_field = child_obj.field(link)
    assert link_field is not None
    children = dml.records.get_many(dml.records.find_by_field(child_obj, link_field, parent_id))
    total = round(sum(float(c.get("TotalPrice") or 0) for c in children.values()), 2)
    changes: dict[str, Any] = {target: total}
    if parent_name == "Opportunity":
        changes["HasOpportunityLineItem"] = bool(children)
    if all(parent.get(k) == v for k, v in changes.items()):
        return
    dml.in_rollup = True  # lets the new Amount through the roll-up guard in before_save
    try:
        dml.apply_update(ctx, parent_obj, parent, changes)
    finally:
        dml.in_rollup = False


def _new_document(dml: Dml, ctx: CallContext, version: Record) -> str:
    doc_obj = dml.schema.get("ContentDocument")
    assert doc_obj is not None
    values = {
        "Title": version.get("Title"),
        "LatestPublishedVersionId": version["Id"],
        "FileExtension": version.get("FileExtension"),
        "FileType": version.get("FileType"),
        "ContentSize": version.get("ContentSize"),
    }
    return dml.insert(ctx, doc_obj, values, system=True)


def _link_file(dml: Dml, ctx: CallContext, version: Record) -> None:
    link_obj = dml.schema.get("ContentDocumentLink")
    assert link_obj is not None
    values = {
        "ContentDocumentId": version["ContentDocumentId"],
        "LinkedEntityId": version["FirstPublishLocationId"],
        "ShareType": "V",
        "Visibility": "AllUsers",
    }
    dml.insert(ctx, link_obj, values, system=True)
