"""A Salesforce record → a sales invoice in the books: the steps and the workflow body every invoicing flow shares
(``opportunity_to_invoice``, ``order_to_invoice``).

A flow describes its source record with an ``InvoiceSource`` (object, SOQL, mapping template, child relationship
of the lines, write-back fields) and calls ``invoice_records`` from its own DBOS workflow: one durable step reads,
invoices and writes back the whole batch (``invoice_batch``), then the workflow records the failures and chains
what follows. Ledger links, audit entries and failed records name the flow and the source object. Each create is
idempotent through the ledger; for a crash between a create and its ledger link, an intent written before the
create sends the next attempt to the books first (the invoice's ``CustomerReference`` carries the source id).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine import fanout
from ledgerlink.engine.retry import BATCH_WRITE_RETRY, durable_step, with_retries
from ledgerlink.engine.runtime import ACCOUNTING, enqueue_record, shard_key
from ledgerlink.flows import _invoice_state as invoice_state
from ledgerlink.flows import fix_rewrites
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, error_result
from ledgerlink.flows._ledger_steps import fail
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync import invoice_watch
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.flows.sync.salesforce_writes import Batch
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.mapping.reads import Reads, mapping_reads
from ledgerlink.model import Customer, Invoice, Product
from ledgerlink.systems.accounting import CreatedInvoice
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import reads as sf_reads
from ledgerlink.systems.salesforce import soql as literal
from ledgerlink.systems.salesforce.incremental import Position, incremental_soql, soql_datetime, upper_bound

ACCOUNT_SOQL = (
    "SELECT Id, Name, ExternalID__c, Phone, Website, BillingStreet, BillingCity, BillingState, BillingPostalCode, "
    "BillingCountry, ShippingStreet, ShippingCity, ShippingPostalCode, ShippingCountry, Region__c, SystemModstamp, "
    "(SELECT Id, FirstName, LastName, Email, Phone FROM Contacts) "
    "FROM Account WHERE Id = '{id}'"
)

PRODUCT_SOQL = (
    "SELECT Id, Name, ProductCode, Description, IsActive, Family, LastModifiedDate, "
    "(SELECT UnitPrice FROM PricebookEntries WHERE Pricebook2.IsStandard = true) "
    "FROM Product2 WHERE Id IN ({ids})"
)

# The custom fields an invoicing flow writes back on its Salesforce record (Opportunity or Order: the same names on
# both, as the setup step creates them), and the deals that have an invoice.
INVOICE_NUMBER_FIELD = "Accounting_Invoice_Number__c"
INVOICE_STATUS_FIELD = "Invoice_Status__c"
INVOICED = f"{INVOICE_NUMBER_FIELD} != null"

Source = tuple[str, str]  # the Salesforce (object, id) an invoice is made from


@dataclass(frozen=True)
class InvoiceSource:
    """What differs between invoicing flows: where the invoice comes from and where its number goes back."""

    flow: str
    sobject: str  # "Opportunity" | "Order"
    template: str  # the to_canonical mapping, e.g. "salesforce/opportunity_to_canonical"
    lines: str  # the child relationship holding the lines, e.g. "OpportunityLineItems"
    soql: str  # the fields the flow read before reads followed the mapping (the console's preview still shows it)
    number_field: str  # the invoice number is written back here
    status_field: str
    outcome_key: str  # the outcome's key for the source id ("opportunity" | "order")
    line_fields: tuple[str, ...] = ("Product2Id",)  # what the flow reads from each line, whatever the mapping

    def needs(self) -> Reads:
        """What the flow itself reads from the record (its mapping's reads are added: ``select``)."""
        fields = ("Id", "AccountId", "SystemModstamp", self.number_field, self.status_field)
        return sf_reads.needs(*fields, **{self.lines: self.line_fields})


def select(deps: Deps, spec: InvoiceSource) -> str:
    """The SOQL (without WHERE) that reads what ``spec``'s mapping in use reads, plus what the flow needs."""
    return sf_reads.select_soql(deps.crm, spec.sobject, mapping_reads(mapping(spec.template)), spec.needs())


def account_select(deps: Deps) -> str:
    """The Account as the customer mapping in use reads it (a user's copy may read a custom field)."""
    reads = mapping_reads(mapping("salesforce/account_to_canonical"))
    return sf_reads.select_soql(deps.crm, "Account", reads, sf_reads.needs("Id", "Name"))


def product_select(deps: Deps) -> str:
    """Product2 with its standard price, as the product mapping in use reads it."""
    reads = mapping_reads(mapping("salesforce/product_to_canonical"))
    return sf_reads.select_soql(
        deps.crm,
        "Product2",
        reads,
        sf_reads.needs("Id", "Name", PricebookEntries=("UnitPrice",)),
        child_where={"PricebookEntries": "Pricebook2.IsStandard = true"},
    )


def mapping(name: str) -> Mapping:
    # No cache here: the loader keeps compiled mappings by file and modification time, so an edit in the
    # console (or on disk) reaches the next record without a restart.
    return load_mapping(name)


def ctx(deps: Deps) -> TransformContext:
    return transform_context(deps)


# --- steps ---------------------------------------------------------------------------------------------------


def ensure_customer(deps: Deps, flow: str, source: Source, account_id: str, customer_code: str, run_id: str) -> str:
    """The accounting customer for a Salesforce Account: from the ledger, else by code, else created."""
    books = deps.books
    known = deps.ledger.lookup("salesforce", "Account", account_id, books.name, books.customer_object)
    if known:
        return known
    found = books.find_customer(customer_code)
    action = "matched"
    if found is None:
        soql = f"{account_select(deps)} WHERE Id = '{literal.record_id(account_id)}'"
        accounts = list(deps.crm.query(soql))
        if not accounts:
            raise RecordRejected(f"Account {account_id} not found", field="AccountId")
        values = mapping("salesforce/account_to_canonical").apply(accounts[0], ctx(deps)).values
        customer = Customer.model_validate(values)
        found = books.create_customer(customer, ctx(deps))
        action = "created"
    deps.ledger.link(("salesforce", "Account", account_id), (books.name, books.customer_object, found))
    deps.ledger.audit(
        flow=flow,
        system=books.name,
        obj=books.customer_object,
        record_id=found,
        action=action,
        run_id=run_id,
        source_id=source[1],
        detail={"account": account_id},
    )
    return found


def ensure_products(deps: Deps, flow: str, source: Source, product_ids: list[str], run_id: str) -> set[str]:
    """Every product the invoice lines name exists in the books (created from Product2 when allowed). Returns
    the ids of those now linked (one left out is missing in the books and may not be created)."""
    books = deps.books
    wanted = list(dict.fromkeys(product_ids))
    linked = set(deps.ledger.lookup_many("salesforce", "Product2", wanted, books.name, books.product_object))
    unknown = [pid for pid in wanted if pid not in linked]
    if not unknown:
        return linked
    ids = literal.id_list(unknown)
    product_mapping = mapping("salesforce/product_to_canonical")
    for record in deps.crm.query(f"{product_select(deps)} WHERE Id IN ({ids})"):
        product = Product.model_validate(product_mapping.apply(record, ctx(deps)).values)
        code = books.find_product(product.code)
        action = "matched"
        if code is None:
            if not deps.settings.create_missing_products:
                continue  # the books will refuse the line, naming it: a failed record, by the project's choice
            code = books.create_product(product, ctx(deps))
            action = "created"
        deps.ledger.link(("salesforce", "Product2", record["Id"]), (books.name, books.product_object, code))
        linked.add(record["Id"])
        deps.ledger.audit(
            flow=flow,
            system=books.name,
            obj=books.product_object,
            record_id=code,
            action=action,
            run_id=run_id,
            source_id=source[1],
            detail={"product2": record["Id"]},
        )
    return linked


def ensure_all_in_books(
    deps: Deps, flow: str, sobject: str, items: list[dict[str, Any]], run_id: str
) -> list[dict[str, Any]]:
    """Customer, products, then the invoice, in the books, for each item of a batch (``id``, ``account_id``,
    ``invoice``, ``product_ids``). Each part is found before it is made (ledger link, then the books), so a step
    run again makes only what is missing.

    Each record is retried on its own (transient errors, backoff) and ends as its result or as its ``error``: one
    record the books refuse does not hold the others back. Customers are made once per Account and products one
    record at a time, so two deals for a new Account (or product) in one batch make it once; the invoices, one
    per record, are made a few at once. The ledger is read and written a batch at a time."""
    books, ledger = deps.books, deps.ledger
    customers: dict[str, str | dict[str, Any]] = dict(
        ledger.lookup_many("salesforce", "Account", [i["account_id"] for i in items], books.name, books.customer_object)
    )

    def customer(account_id: str, code: str, first: str) -> str:
        return ensure_customer(deps, flow, (sobject, first), account_id, code, run_id)

    new_accounts: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["account_id"] not in customers:
            new_accounts.setdefault(item["account_id"], item)
    futures = {
        account: fanout.submit(
            functools.partial(with_retries(customer), account, str(item["invoice"]["customer_code"]), item["id"]),
            item["id"],
        )
        for account, item in new_accounts.items()
    }
    for account, future in futures.items():
        try:
            customers[account] = future.result()
        except FLOW_ERRORS as exc:
            customers[account] = error_result(exc, record=f"{sobject} {new_accounts[account]['id']}")

    # Products next, one record at a time (shared products are made once); a record whose customer or products
    # could not be made ends with that error.
    known_products = set(
        ledger.lookup_many(
            "salesforce", "Product2", [p for i in items for p in i["product_ids"]], books.name, books.product_object
        )
    )
    refused: dict[str, dict[str, Any]] = {}
    for item in items:
        found = customers[item["account_id"]]
        if isinstance(found, dict):
            refused[item["id"]] = found
            continue
        if all(pid in known_products for pid in item["product_ids"]):
            continue
        try:
            # What it linked is known for the batch's later records (a shared product is not looked up again).
            linked = with_retries(ensure_products)(deps, flow, (sobject, item["id"]), item["product_ids"], run_id)
            known_products |= linked
        except FLOW_ERRORS as exc:
            refused[item["id"]] = error_result(exc, record=f"{sobject} {item['id']}")

    # Then the invoices: those the ledger knows are done. An intent is written for the others before they are
    # made, so only a record an earlier attempt may have invoiced (an intent, a retry, a number already in
    # Salesforce) costs a look in the books first.
    ready = [item for item in items if item["id"] not in refused]
    numbers = ledger.lookup_many("salesforce", sobject, [i["id"] for i in ready], books.name, books.invoice_object)
    to_make = [item for item in ready if item["id"] not in numbers]
    earlier = (
        ledger.add_intents(flow, ("salesforce", sobject), [i["id"] for i in to_make], run_id) if to_make else set()
    )

    def invoice(item: dict[str, Any]) -> dict[str, Any]:
        if item["id"] in refused:
            return refused[item["id"]]
        customer_id = str(customers[item["account_id"]])
        if item["id"] in numbers:
            return {"number": numbers[item["id"]], "status": "", "created": False, "customer": customer_id}
        tries = 0

        def create_invoice() -> CreatedInvoice:
            nonlocal tries
            tries += 1
            invoice = Invoice.model_validate({**item["invoice"], "customer_code": customer_id})
            look_first = tries > 1 or item["id"] in earlier or item.get("numbered", True)
            return books.create_invoice(invoice, customer_id, ctx(deps), look_first=look_first)

        try:
            made = with_retries(create_invoice)()
        except FLOW_ERRORS as exc:
            return error_result(exc, record=f"{sobject} {item['id']}")
        return {"number": made.number, "status": made.status, "created": made.created, "customer": customer_id}

    results = fanout.each(invoice, items, lambda item: str(item["id"]))
    made = [(item, r) for item, r in zip(items, results, strict=True) if "error" not in r and item["id"] not in numbers]
    ledger.link_all(
        [(("salesforce", sobject, i["id"]), (books.name, books.invoice_object, r["number"])) for i, r in made]
    )
    ledger.audit_all(
        [
            {
                "flow": flow,
                "system": books.name,
                "obj": books.invoice_object,
                "record_id": r["number"],
                "action": "created" if r["created"] else "matched",
                "run_id": run_id,
                "source_id": i["id"],
                "detail": {
                    "customer": r["customer"],
                    "lines": len(i["invoice"].get("lines", [])),
                    **invoice_watch.summary(i["invoice"]),
                },
            }
            for i, r in made
        ]
    )
    invoice_watch.observe(ledger, [(r["number"], r["customer"], i["invoice"]) for i, r in made if r["created"]])
    # The invoice exists: a failed record left by an earlier run is closed (a failure after this reopens it).
    ledger.resolve_failures(flow, [item["id"] for item, r in zip(items, results, strict=True) if "error" not in r])
    return results


def write_back_all(
    deps: Deps, flow: str, sobject: str, fields: dict[str, dict[str, Any]], run_id: str
) -> dict[str, Any]:
    """The invoice numbers back to their records, in sObject Collections calls (200 a call). Returns the error of
    each record Salesforce refused, by id."""
    refused: dict[str, Any] = {}

    def on_error(record_id: str, error: PermanentError) -> None:
        refused[record_id] = error_result(error, record=f"{sobject} {record_id}")

    batch = Batch(sobject, updates=[(record_id, {"Id": record_id, **values}) for record_id, values in fields.items()])
    written = with_retries(batch.send, BATCH_WRITE_RETRY)(deps.crm, on_error)
    deps.ledger.audit_all(
        [
            {
                "flow": flow,
                "system": "salesforce",
                "obj": sobject,
                "record_id": record_id,
                "action": "updated",
                "run_id": run_id,
                "source_id": record_id,
                "detail": fields[record_id],
            }
            for record_id in written
        ]
    )
    return refused


def read_records(deps: Deps, soql: str, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The source records by id, each with its related records (``soql`` selects them, without a WHERE)."""
    records: dict[str, dict[str, Any]] = {}
    for start in range(0, len(record_ids), READ_CHUNK):
        chunk = record_ids[start : start + READ_CHUNK]
        for record in deps.crm.query(f"{soql} WHERE Id IN ({literal.id_list(chunk)})"):
            records[record["Id"]] = record
    return records


def read_source(deps: Deps, spec: InvoiceSource, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``spec``'s source records by id, read as its mapping in use reads them."""
    return read_records(deps, select(deps, spec), record_ids)


READ_CHUNK = 200  # ids per query: keeps the SOQL well under Salesforce's 100,000-character limit


# --- the workflow body ---------------------------------------------------------------------------------------


def _prepare(
    deps: Deps, spec: InvoiceSource, record_id: str, record: dict[str, Any] | None, codes: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The batch item for one source record, or None when its mapping's filter skips it. ``codes``: product codes
    a person rewrote for this record's replay (``fix_rewrites``)."""
    if record is None:
        raise RecordRejected(f"{spec.sobject} {record_id} not found", field="Id")
    template = mapping(spec.template)
    if not template.matches(record):
        return None
    if not record.get("AccountId"):
        raise RecordRejected("has no Account (AccountId is empty)", field="AccountId")
    invoice = Invoice.model_validate(template.apply(record, ctx(deps)).values)
    lines = (record.get(spec.lines) or {}).get("records") or []
    return {
        "id": record_id,
        "account_id": record["AccountId"],
        "invoice": fix_rewrites.apply(invoice.model_dump(mode="json"), codes or {}),
        # What is billed, for the invoice-change flow to compare the deal with later (kept once the invoice is made:
        # without it, that flow's first look at every new invoice read it back from the books).
        "billed": (invoice_state.fingerprint(invoice.lines), invoice_state.nets_by_rate(invoice.lines)),
        "product_ids": [li["Product2Id"] for li in lines if li.get("Product2Id")],
        # Salesforce already carries an invoice number: made before, whatever the ledger says (one restored
        # from an old backup, say), so the books are searched before an invoice is made.
        "numbered": bool(record.get(spec.number_field)),
    }


@durable_step
def invoice_batch(deps: Deps, spec: InvoiceSource, record_ids: list[str], run_id: str) -> dict[str, dict[str, Any]]:
    """Read → map → (customer → products → invoice) → write-back for a batch of source records, in one durable
    step: each part is found before it is made, so a step run again after a crash makes only what is missing, and
    DBOS writes one checkpoint a batch (each checkpoint is a write to its database that every run waits its turn
    for). Returns each record's outcome by id; a failed one carries ``error``, ``field``, ``attempts`` and the
    record read (``input``, for the failed record)."""
    outcomes: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}

    def failed(record_id: str, error: dict[str, Any]) -> None:
        outcomes[record_id] = {
            spec.outcome_key: record_id,
            "status": "failed",
            **error,
            "input": records.get(record_id) or {"Id": record_id},
        }

    try:
        # The SELECT is built inside the retried read: building it may call describe, which may fail transiently.
        records = with_retries(read_source)(deps, spec, record_ids)
    except FLOW_ERRORS as exc:
        for record_id in record_ids:
            failed(record_id, error_result(exc, record=f"{spec.sobject} {record_id}"))
        return outcomes
    items = []
    rewrites = fix_rewrites.read(deps.ledger, spec.flow, record_ids, run_id)
    for record_id in record_ids:
        try:
            item = _prepare(deps, spec, record_id, records.get(record_id), rewrites.get(record_id))
        except FLOW_ERRORS as exc:
            failed(record_id, error_result(exc, record=f"{spec.sobject} {record_id}"))
            continue
        if item is None:
            outcomes[record_id] = {spec.outcome_key: record_id, "status": "skipped"}
        else:
            items.append(item)
    results = ensure_all_in_books(deps, spec.flow, spec.sobject, items, run_id) if items else []
    write: dict[str, dict[str, Any]] = {}
    for item, result in zip(items, results, strict=True):
        record_id = item["id"]
        if "error" in result:
            failed(record_id, result)
            continue
        standing = None if result["created"] else _standing_invoice(deps, record_id, result["number"])
        if standing is not None:  # reissued or won again: the invoice-change flow's invoice stands, not the first
            if records[record_id].get(spec.number_field) != standing:
                write[record_id] = {spec.number_field: standing}
        elif records[record_id].get(spec.number_field) != result["number"]:
            write[record_id] = {spec.number_field: result["number"], spec.status_field: result["status"] or "Unpaid"}
        outcomes[record_id] = {
            spec.outcome_key: record_id,
            "status": "invoiced" if result["created"] else "already_invoiced",
            "invoice_number": result["number"],
            "customer": result["customer"],
            "created": bool(result["created"]),
        }
    made = {
        item["id"]: invoice_state.Billed(result["number"], *item["billed"])
        for item, result in zip(items, results, strict=True)
        if "error" not in result and result["created"]
    }
    if made:
        invoice_state.save_new(deps.ledger, deps.books.name, made)
    if write:
        try:
            refused = write_back_all(deps, spec.flow, spec.sobject, write, run_id)
        except FLOW_ERRORS as exc:
            refused = {record_id: error_result(exc, record=f"{spec.sobject} {record_id}") for record_id in write}
        for record_id, error in refused.items():
            failed(record_id, error)
    return outcomes


def invoice_records(
    spec: InvoiceSource, record_ids: list[str], after_invoice: Callable[[list[str]], None] | None = None
) -> list[dict[str, Any]]:
    """Read → map → (customer → products → invoice) → write-back for a batch of source records, as one outcome
    dict per record (keyed ``spec.outcome_key``), in the order given. A record that fails becomes a failed record
    on its own; the others go on.

    Call it from the flow's own DBOS workflow; ``after_invoice`` is what to chain for the records invoiced (it must
    be deterministic: it runs again when a recovered run replays). Two steps a batch whatever its size (the batch,
    the chained run), and one more per record that fails."""
    run_id = DBOS.workflow_id or ""
    ids = list(dict.fromkeys(record_ids))
    deps = current_deps(spec.flow)
    outcomes = invoice_batch(deps, spec, ids, run_id)
    for record_id in ids:
        outcome = outcomes[record_id]
        if outcome["status"] == "failed":
            source = ("salesforce", spec.sobject, record_id)
            fail(deps, spec.flow, source, outcome["error"], outcome["field"], outcome["attempts"], outcome["input"])
    invoiced = [record_id for record_id in ids if outcomes[record_id]["status"] in ("invoiced", "already_invoiced")]
    if after_invoice is not None and invoiced:
        after_invoice(invoiced)
    return [{k: v for k, v in outcomes[record_id].items() if k not in ("attempts", "input")} for record_id in ids]


def enqueue_run(
    workflow: Callable[[str], Any], flow: str, record_id: str, run_id: str, priority: int
) -> WorkflowHandle[Any]:
    """One invoicing run for one source record, on the books' queue (an invoice is written there), in its
    record's shard (runs for one record never overlap)."""
    return enqueue_record(
        workflow,
        record_id,
        workflow_id=run_id,
        record_key=shard_key(flow, record_id),
        connection=ACCOUNTING,
        priority=priority,
    )


# --- the polling trigger -------------------------------------------------------------------------------------


def _standing_invoice(deps: Deps, record_id: str, first: str) -> str | None:
    """The invoice standing for a record whose first invoice was found again, when that is another one (the
    invoice-change flow reissued it, or issued a new one when the deal was won again); else None."""
    billed = invoice_state.load(deps.ledger, deps.books.name, record_id)
    return billed.invoice if billed is not None and billed.invoice != first else None


def read_page(
    deps: Deps, spec: InvoiceSource, watermark: str, where: str, lag_seconds: float, limit: int
) -> dict[str, Any]:
    """The next page of source records matching ``where`` after the watermark, oldest first (call it from a step).

    Records already linked to an invoice whose number is written back are left out of ``records`` (their newest
    change is most likely LedgerLink's own write-back) but still move ``position`` on.
    """
    books = deps.books
    since = Position.decode(deps.ledger.get_watermark(watermark))
    soql = incremental_soql(spec.sobject, [spec.number_field], where, since, upper_bound(lag_seconds))
    page = list(deps.crm.query(f"{soql} LIMIT {limit}"))
    numbers = deps.ledger.lookup_many(
        "salesforce", spec.sobject, [r["Id"] for r in page], books.name, books.invoice_object
    )

    def standing(record: dict[str, Any]) -> bool:
        """Linked, and the number written back is the invoice standing for it: the first one, or (reissued, or won
        again after a void) the one the invoice-change flow's state names."""
        linked, written = numbers.get(record["Id"]), record.get(spec.number_field)
        if linked is None or written == linked:
            return linked is not None
        billed = invoice_state.load(deps.ledger, books.name, record["Id"])
        return billed is not None and billed.invoice == written

    todo = [{"Id": r["Id"], "SystemModstamp": r["SystemModstamp"]} for r in page if not standing(r)]
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"records": todo, "position": position, "seen": len(page)}


# --- trial runs (`ledgerlink sync FLOW --limit N [--dry-run]`) ---------------------------------------------


def pending(deps: Deps, spec: InvoiceSource, watermark: str, where: str, limit: int) -> list[str]:
    """The first ``limit`` records the polling trigger would invoice next (from the watermark), without moving it."""
    since = Position.decode(deps.ledger.get_watermark(watermark))
    soql = incremental_soql(spec.sobject, [spec.number_field], where, since, upper_bound(0.0))
    books = deps.books
    found: list[str] = []
    for batch in deps.crm.query_pages(soql):
        numbers = deps.ledger.lookup_many(
            "salesforce", spec.sobject, [r["Id"] for r in batch], books.name, books.invoice_object
        )
        found.extend(r["Id"] for r in batch if r["Id"] not in numbers)
        if len(found) >= limit:
            break
    return found[:limit]


def preview(deps: Deps, spec: InvoiceSource, record_ids: list[str]) -> list[dict[str, Any]]:
    """What invoicing ``record_ids`` would write, writing nothing: per record the canonical invoice and the payload
    the books' mapping makes of it (the customer code as the books would get it, when the ledger knows it)."""
    books = deps.books
    records = read_source(deps, spec, record_ids)
    payload_mapping = mapping(f"{books.name}/invoice_from_canonical")
    out: list[dict[str, Any]] = []
    for record_id in record_ids:
        try:
            item = _prepare(deps, spec, record_id, records.get(record_id))
        except FLOW_ERRORS as exc:
            error = error_result(exc, record=f"{spec.sobject} {record_id}")
            out.append({"id": record_id, "status": "would_fail", **error})
            continue
        if item is None:
            out.append({"id": record_id, "status": "skipped", "reason": "the mapping's filter leaves it out"})
            continue
        known = deps.ledger.lookup("salesforce", "Account", item["account_id"], books.name, books.customer_object)
        invoice = {**item["invoice"], "customer_code": known or item["invoice"]["customer_code"]}
        payload = payload_mapping.apply(invoice, ctx(deps)).values
        out.append(
            {
                "id": record_id,
                "status": "would_invoice",
                "canonical": item["invoice"],
                "target": {"system": books.name, "object": books.invoice_object, "payload": payload},
                "customer": "linked" if known else "would be found by code or created",
            }
        )
    return out
