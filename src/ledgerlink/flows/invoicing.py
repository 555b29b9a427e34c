"""A Salesforce record → a sales invoice in the books: the steps and the workflow body every invoicing flow shares
(``opportunity_to_invoice``, ``order_to_invoice``).

A flow describes its source record with an ``InvoiceSource`` (object, mapping template, child relationship of the
lines, write-back fields) and calls ``invoice_record`` from its own DBOS workflow, with its own read step. The
steps take the flow's name and the source ``(object, id)``, so ledger links, audit entries and failed records name
the right flow and object. Each write is idempotent through the ledger (and, for a crash between create and ledger
write, through the invoice's ``CustomerReference``, which carries the source record's id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.connectors.salesforce import soql as literal
from ledgerlink.engine.polling import Position, incremental_soql, soql_datetime, upper_bound
from ledgerlink.engine.retry import durable_step
from ledgerlink.engine.runtime import ACCOUNTING, current, enqueue_record
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.flows._ledger_steps import fail
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, Product

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

Source = tuple[str, str]  # the Salesforce (object, id) an invoice is made from


@dataclass(frozen=True)
class InvoiceSource:
    """What differs between invoicing flows: where the invoice comes from and where its number goes back."""

    flow: str
    sobject: str  # "Opportunity" | "Order"
    template: str  # the to_canonical mapping, e.g. "salesforce/opportunity_to_canonical"
    lines: str  # the child relationship holding the lines, e.g. "OpportunityLineItems"
    number_field: str  # the invoice number is written back here
    status_field: str
    outcome_key: str  # the outcome's key for the source id ("opportunity" | "order")


def mapping(name: str) -> Mapping:
    # No cache here: the loader keeps compiled mappings by file and modification time, so an edit in the
    # console (or on disk) reaches the next record without a restart.
    return load_mapping(name)


def ctx() -> TransformContext:
    return transform_context()


# --- steps ---------------------------------------------------------------------------------------------------


def ensure_customer(flow: str, source: Source, account_id: str, customer_code: str, run_id: str) -> str:
    """The accounting customer for a Salesforce Account: from the ledger, else by code, else created."""
    rt = current()
    books = rt.accounting
    known = rt.ledger.lookup("salesforce", "Account", account_id, books.name, books.customer_object)
    if known:
        return known
    found = books.find_customer(customer_code)
    action = "matched"
    if found is None:
        accounts = list(rt.salesforce.query(ACCOUNT_SOQL.format(id=literal.record_id(account_id))))
        if not accounts:
            raise RecordRejected(f"Account {account_id} not found", field="AccountId")
        values = mapping("salesforce/account_to_canonical").apply(accounts[0], ctx()).values
        customer = Customer.model_validate(values)
        found = books.create_customer(customer, ctx())
        action = "created"
    rt.ledger.link(("salesforce", "Account", account_id), (books.name, books.customer_object, found))
    rt.ledger.audit(
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


def ensure_products(flow: str, source: Source, product_ids: list[str], run_id: str) -> None:
    """Every product the invoice lines name exists in the books (created from Product2 when allowed)."""
    rt = current()
    books = rt.accounting
    unknown = [
        pid
        for pid in dict.fromkeys(product_ids)
        if not rt.ledger.lookup("salesforce", "Product2", pid, books.name, books.product_object)
    ]
    if not unknown:
        return
    ids = literal.id_list(unknown)
    product_mapping = mapping("salesforce/product_to_canonical")
    for record in rt.salesforce.query(PRODUCT_SOQL.format(ids=ids)):
        product = Product.model_validate(product_mapping.apply(record, ctx()).values)
        code = books.find_product(product.code)
        action = "matched"
        if code is None:
            if not rt.settings.flows.create_missing_products:
                continue  # the books will refuse the line, naming it: a failed record, by the project's choice
            code = books.create_product(product, ctx())
            action = "created"
        rt.ledger.link(("salesforce", "Product2", record["Id"]), (books.name, books.product_object, code))
        rt.ledger.audit(
            flow=flow,
            system=books.name,
            obj=books.product_object,
            record_id=code,
            action=action,
            run_id=run_id,
            source_id=source[1],
            detail={"product2": record["Id"]},
        )


def ensure_invoice(
    flow: str, source: Source, invoice_json: dict[str, Any], customer_id: str, run_id: str
) -> dict[str, Any]:
    rt = current()
    books = rt.accounting
    sobject, record_id = source
    number = rt.ledger.lookup("salesforce", sobject, record_id, books.name, books.invoice_object)
    if number:
        return {"number": number, "status": "", "created": False}
    # create_invoice looks the reference up first (KashFlow) or creates with an id derived from it (Kashoo):
    # an attempt whose reply was lost finds its invoice instead of making a second.
    invoice = books.create_invoice(Invoice.model_validate(invoice_json), customer_id, ctx())
    rt.ledger.link(("salesforce", sobject, record_id), (books.name, books.invoice_object, invoice.number))
    rt.ledger.audit(
        flow=flow,
        system=books.name,
        obj=books.invoice_object,
        record_id=invoice.number,
        action="created" if invoice.created else "matched",
        run_id=run_id,
        source_id=record_id,
        detail={"customer": customer_id, "lines": len(invoice_json.get("lines", []))},
    )
    return {"number": invoice.number, "status": invoice.status, "created": invoice.created}


@durable_step
def ensure_in_books(
    flow: str,
    source: Source,
    account_id: str,
    invoice_json: dict[str, Any],
    product_ids: list[str],
    run_id: str,
) -> dict[str, Any]:
    """Customer, products, then the invoice, in the books: one durable step, as each part is found before it is
    made (ledger link, then the books), so a retried step makes only what is missing. Fewer steps are fewer
    checkpoints: DBOS writes one per step, and they bound how many invoices a worker makes a second."""
    customer_id = ensure_customer(flow, source, account_id, str(invoice_json["customer_code"]), run_id)
    ensure_products(flow, source, product_ids, run_id)
    result = ensure_invoice(flow, source, {**invoice_json, "customer_code": customer_id}, customer_id, run_id)
    # The invoice exists: a failed record left by an earlier run is closed (a failure after this reopens it).
    current().ledger.resolve_failure(flow, source[1])
    return {**result, "customer": customer_id}


@durable_step
def write_back(flow: str, source: Source, fields: dict[str, Any], run_id: str) -> None:
    rt = current()
    sobject, record_id = source
    rt.salesforce.update(sobject, record_id, fields)
    rt.ledger.audit(
        flow=flow,
        system="salesforce",
        obj=sobject,
        record_id=record_id,
        action="updated",
        run_id=run_id,
        source_id=record_id,
        detail=fields,
    )


# --- the workflow body ---------------------------------------------------------------------------------------


def invoice_record(
    spec: InvoiceSource,
    record_id: str,
    read: Callable[[str], dict[str, Any] | None],
    after_invoice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Read → map → (customer → products → invoice) → write-back, as an outcome dict keyed ``spec.outcome_key``.

    Call it from the flow's own DBOS workflow: ``read`` is the flow's read step, ``after_invoice`` what to chain
    once the invoice exists (it must be deterministic: it runs again when a recovered run replays).
    """
    run_id = DBOS.workflow_id or ""
    source: Source = (spec.sobject, record_id)
    record: dict[str, Any] = {}
    try:
        found = read(record_id)
        if found is None:
            raise RecordRejected(f"{spec.sobject} {record_id} not found", field="Id")
        record = found
        template = mapping(spec.template)
        if not template.matches(record):
            return {spec.outcome_key: record_id, "status": "skipped"}
        if not record.get("AccountId"):
            raise RecordRejected("has no Account (AccountId is empty)", field="AccountId")
        invoice = Invoice.model_validate(template.apply(record, ctx()).values)
        lines = (record.get(spec.lines) or {}).get("records") or []
        product_ids = [li["Product2Id"] for li in lines if li.get("Product2Id")]
        invoice_json = invoice.model_dump(mode="json")
        result = ensure_in_books(spec.flow, source, record["AccountId"], invoice_json, product_ids, run_id)
        if record.get(spec.number_field) != result["number"]:
            fields = {spec.number_field: result["number"], spec.status_field: result["status"] or "Unpaid"}
            write_back(spec.flow, source, fields, run_id)
        if after_invoice is not None:
            after_invoice(record_id)
        return {
            spec.outcome_key: record_id,
            "status": "invoiced" if result["created"] else "already_invoiced",
            "invoice_number": result["number"],
            "customer": result["customer"],
            "created": bool(result["created"]),
        }
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"{spec.sobject} {record_id}")
        fail(spec.flow, ("salesforce", source[0], source[1]), message, field, attempts, record)
        return {spec.outcome_key: record_id, "status": "failed", "error": message, "field": field}


def enqueue_run(workflow: Callable[[str], Any], record_id: str, run_id: str, priority: int) -> WorkflowHandle[Any]:
    """One invoicing run for one source record, on the books' queue (an invoice is written there), serialised
    per record."""
    return enqueue_record(
        workflow, record_id, workflow_id=run_id, record_key=record_id, connection=ACCOUNTING, priority=priority
    )


# --- the polling trigger -------------------------------------------------------------------------------------


def read_page(spec: InvoiceSource, watermark: str, where: str, lag_seconds: float, limit: int) -> dict[str, Any]:
    """The next page of source records matching ``where`` after the watermark, oldest first (call it from a step).

    Records already linked to an invoice whose number is written back are left out of ``records`` (their newest
    change is most likely LedgerLink's own write-back) but still move ``position`` on.
    """
    rt = current()
    books = rt.accounting
    since = Position.decode(rt.ledger.get_watermark(watermark))
    soql = incremental_soql(spec.sobject, [spec.number_field], where, since, upper_bound(lag_seconds))
    page = list(rt.salesforce.query(f"{soql} LIMIT {limit}"))
    todo = []
    for record in page:
        number = rt.ledger.lookup("salesforce", spec.sobject, record["Id"], books.name, books.invoice_object)
        if not (number and record.get(spec.number_field) == number):
            todo.append({"Id": record["Id"], "SystemModstamp": record["SystemModstamp"]})
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"records": todo, "position": position, "seen": len(page)}
