"""Opportunity "Closed Won" → sales invoice with line items.

Steps: read the opportunity with its account and line items → map to a canonical Invoice (template
``salesforce/opportunity_to_canonical``) → find or create the customer → find or create the invoice →
write the invoice number and status back to the opportunity. Each step is checkpointed by DBOS; each write is
idempotent through the ledger (and, for a crash between create and ledger write, through the invoice's
``CustomerReference``, which carries the opportunity id).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.polling import Position, incremental_soql, soql_datetime, upper_bound
from ledgerlink.engine.retry import durable_step, ledger_step
from ledgerlink.engine.runtime import BACKFILL_PRIORITY, REALTIME_PRIORITY, current, enqueue_record, wait_for
from ledgerlink.flows import invoice_pdf
from ledgerlink.flows._errors import FLOW_ERRORS, RecordRejected, describe
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Customer, Invoice, Product

FLOW = "opportunity_to_invoice"
INVOICE_NUMBER_FIELD = "KashFlow_Invoice_Number__c"
INVOICE_STATUS_FIELD = "Invoice_Status__c"

OPPORTUNITY_SOQL = (
    "SELECT Id, Name, StageName, IsWon, Amount, CloseDate, Description, AccountId, SystemModstamp, "
    f"{INVOICE_NUMBER_FIELD}, {INVOICE_STATUS_FIELD}, "
    "Account.Id, Account.Name, Account.ExternalID__c, "
    "(SELECT Id, Quantity, UnitPrice, TotalPrice, Description, Product2Id, Product2.Name, Product2.ProductCode "
    "FROM OpportunityLineItems) "
    "FROM Opportunity WHERE Id = '{id}'"
)
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

_step = durable_step


class Outcome(TypedDict, total=False):
    opportunity: str
    status: str  # invoiced | already_invoiced | skipped | failed
    invoice_number: str
    customer: str
    created: bool
    error: str
    field: str | None


def _mapping(name: str) -> Mapping:
    # No cache here: the loader keeps compiled mappings by file and modification time, so an edit in the
    # console (or on disk) reaches the next record without a restart.
    return load_mapping(name)


def _ctx() -> TransformContext:
    rt = current()
    ledger, flows = rt.ledger, rt.settings.flows
    return TransformContext(
        lookup_xref=lambda system, obj, rid, other: ledger.lookup(system, obj, rid, other),
        source_system="salesforce",
        default_nominal_code=flows.default_nominal_code,
        default_currency=flows.default_currency,
        default_tax_rate=Decimal(flows.default_tax_rate),
        payment_terms_days=flows.payment_terms_days,
    )


def _soql_id(record_id: str) -> str:
    # Ids come from Salesforce or our own queue, but a quote in one must never reach SOQL.
    if not record_id.isalnum():
        raise RecordRejected(f"{record_id!r} is not a Salesforce id", field="Id")
    return record_id


# --- steps ---------------------------------------------------------------------------------------------------


@_step
def read_opportunity(opportunity_id: str) -> dict[str, Any] | None:
    records = list(current().salesforce.query(OPPORTUNITY_SOQL.format(id=_soql_id(opportunity_id))))
    return records[0] if records else None


@_step
def ensure_customer(account_id: str, customer_code: str, run_id: str, opportunity_id: str) -> str:
    """The accounting customer for a Salesforce Account: from the ledger, else by code, else created."""
    rt = current()
    books = rt.accounting
    known = rt.ledger.lookup("salesforce", "Account", account_id, books.name, books.customer_object)
    if known:
        return known
    found = books.find_customer(customer_code)
    action = "matched"
    if found is None:
        accounts = list(rt.salesforce.query(ACCOUNT_SOQL.format(id=_soql_id(account_id))))
        if not accounts:
            raise RecordRejected(f"Account {account_id} not found", field="AccountId")
        values = _mapping("salesforce/account_to_canonical").apply(accounts[0], _ctx()).values
        customer = Customer.model_validate(values)
        found = books.create_customer(customer, _ctx())
        action = "created"
    rt.ledger.link(("salesforce", "Account", account_id), (books.name, books.customer_object, found))
    rt.ledger.audit(
        flow=FLOW,
        system=books.name,
        obj=books.customer_object,
        record_id=found,
        action=action,
        run_id=run_id,
        source_id=opportunity_id,
        detail={"account": account_id},
    )
    return found


@_step
def ensure_products(product_ids: list[str], run_id: str, opportunity_id: str) -> None:
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
    ids = ", ".join(f"'{_soql_id(pid)}'" for pid in unknown)
    mapping = _mapping("salesforce/product_to_canonical")
    for record in rt.salesforce.query(PRODUCT_SOQL.format(ids=ids)):
        product = Product.model_validate(mapping.apply(record, _ctx()).values)
        code = books.find_product(product.code)
        action = "matched"
        if code is None:
            if not rt.settings.flows.create_missing_products:
                continue  # the books will refuse the line, naming it: a failed record, by the project's choice
            code = books.create_product(product, _ctx())
            action = "created"
        rt.ledger.link(("salesforce", "Product2", record["Id"]), (books.name, books.product_object, code))
        rt.ledger.audit(
            flow=FLOW,
            system=books.name,
            obj=books.product_object,
            record_id=code,
            action=action,
            run_id=run_id,
            source_id=opportunity_id,
            detail={"product2": record["Id"]},
        )


@_step
def ensure_invoice(opportunity_id: str, invoice_json: dict[str, Any], customer_id: str, run_id: str) -> dict[str, Any]:
    rt = current()
    books = rt.accounting
    number = rt.ledger.lookup("salesforce", "Opportunity", opportunity_id, books.name, books.invoice_object)
    if number:
        return {"number": number, "status": "", "created": False}
    existing = books.find_invoice(customer_id, opportunity_id)
    invoice = existing or books.create_invoice(Invoice.model_validate(invoice_json), customer_id, _ctx())
    rt.ledger.link(("salesforce", "Opportunity", opportunity_id), (books.name, books.invoice_object, invoice.number))
    rt.ledger.audit(
        flow=FLOW,
        system=books.name,
        obj=books.invoice_object,
        record_id=invoice.number,
        action="created" if invoice.created else "matched",
        run_id=run_id,
        source_id=opportunity_id,
        detail={"customer": customer_id, "lines": len(invoice_json.get("lines", []))},
    )
    return {"number": invoice.number, "status": invoice.status, "created": invoice.created}


@_step
def write_back(opportunity_id: str, number: str, status: str, run_id: str) -> None:
    rt = current()
    rt.salesforce.update("Opportunity", opportunity_id, {INVOICE_NUMBER_FIELD: number, INVOICE_STATUS_FIELD: status})
    rt.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Opportunity",
        record_id=opportunity_id,
        action="updated",
        run_id=run_id,
        source_id=opportunity_id,
        detail={INVOICE_NUMBER_FIELD: number, INVOICE_STATUS_FIELD: status},
    )


@ledger_step
def record_failure(
    opportunity_id: str, message: str, field: str | None, attempts: list[str], data: dict[str, Any]
) -> None:
    rt = current()
    rt.ledger.record_failure(
        flow=FLOW,
        source=("salesforce", "Opportunity", opportunity_id),
        error=message,
        field=field,
        input_data=data,
        attempts=[*({"error": a, "field": field} for a in attempts), {"error": message, "field": field}],
    )
    rt.ledger.audit(
        flow=FLOW,
        system="salesforce",
        obj="Opportunity",
        record_id=opportunity_id,
        action="failed",
        run_id=DBOS.workflow_id,
        source_id=opportunity_id,
        detail={"error": message, "field": field},
    )


@ledger_step
def mark_resolved(opportunity_id: str) -> None:
    current().ledger.resolve_failure(FLOW, opportunity_id)


# --- the workflow --------------------------------------------------------------------------------------------


@DBOS.workflow(name=FLOW)
def opportunity_to_invoice(opportunity_id: str) -> Outcome:
    run_id = DBOS.workflow_id or ""
    opportunity: dict[str, Any] = {}
    try:
        found = read_opportunity(opportunity_id)
        if found is None:
            raise RecordRejected(f"Opportunity {opportunity_id} not found", field="Id")
        opportunity = found
        mapping = _mapping("salesforce/opportunity_to_canonical")
        if not mapping.matches(opportunity):
            return {"opportunity": opportunity_id, "status": "skipped"}
        if not opportunity.get("AccountId"):
            raise RecordRejected("has no Account (AccountId is empty)", field="AccountId")
        invoice = Invoice.model_validate(mapping.apply(opportunity, _ctx()).values)
        customer_id = ensure_customer(opportunity["AccountId"], invoice.customer_code, run_id, opportunity_id)
        line_items = (opportunity.get("OpportunityLineItems") or {}).get("records") or []
        ensure_products([li["Product2Id"] for li in line_items if li.get("Product2Id")], run_id, opportunity_id)
        invoice_json = invoice.model_copy(update={"customer_code": customer_id}).model_dump(mode="json")
        result = ensure_invoice(opportunity_id, invoice_json, customer_id, run_id)
        already_written = opportunity.get(INVOICE_NUMBER_FIELD) == result["number"]
        if not already_written:
            write_back(opportunity_id, result["number"], result["status"] or "Unpaid", run_id)
        invoice_pdf.after_invoice(opportunity_id)  # attach the invoice's PDF to the deal (its own run, once)
        mark_resolved(opportunity_id)
        return {
            "opportunity": opportunity_id,
            "status": "invoiced" if result["created"] else "already_invoiced",
            "invoice_number": result["number"],
            "customer": customer_id,
            "created": bool(result["created"]),
        }
    except FLOW_ERRORS as exc:
        message, field, attempts = describe(exc, record=f"Opportunity {opportunity_id}")
        record_failure(opportunity_id, message, field, attempts, opportunity)
        return {"opportunity": opportunity_id, "status": "failed", "error": message, "field": field}


def workflow_id(opportunity_id: str, version: str) -> str:
    """One run per (opportunity, modification): a later edit may need a new run; the ledger keeps it idempotent."""
    return f"{FLOW}:{opportunity_id}:{version}"


def enqueue(opportunity_id: str, version: str, priority: int = REALTIME_PRIORITY) -> WorkflowHandle[Outcome]:
    return enqueue_record(
        opportunity_to_invoice,
        opportunity_id,
        workflow_id=workflow_id(opportunity_id, version),
        record_key=opportunity_id,
        priority=priority,
    )


WATERMARK = "salesforce.Opportunity.won"
POLL_PAGE = 2000


@_step
def read_won_page(lag_seconds: float) -> dict[str, Any]:
    """The next page of opportunities won (or edited while won) after the watermark, oldest first.

    Opportunities already linked to an invoice whose number is written back are left out of ``records``
    (their newest change is most likely LedgerLink's own write-back) but still move ``position`` on.
    """
    rt = current()
    books = rt.accounting
    since = Position.decode(rt.ledger.get_watermark(WATERMARK))
    soql = incremental_soql("Opportunity", [INVOICE_NUMBER_FIELD], "IsWon = true", since, upper_bound(lag_seconds))
    page = list(rt.salesforce.query(f"{soql} LIMIT {POLL_PAGE}"))
    todo = []
    for record in page:
        number = rt.ledger.lookup("salesforce", "Opportunity", record["Id"], books.name, books.invoice_object)
        if not (number and record.get(INVOICE_NUMBER_FIELD) == number):
            todo.append({"Id": record["Id"], "SystemModstamp": record["SystemModstamp"]})
    position = Position(soql_datetime(page[-1]["SystemModstamp"]), page[-1]["Id"]).encode() if page else None
    return {"records": todo, "position": position, "seen": len(page)}


@ledger_step
def save_watermark(position: str) -> None:
    current().ledger.set_watermark(WATERMARK, position)


@DBOS.workflow(name="poll_won_opportunities")
def poll_won_opportunities(lag_seconds: float) -> list[str]:
    """The polling trigger, itself durable: each page is enqueued before the watermark moves past it, so a
    worker killed mid-poll resumes exactly there. Returns the ids of the runs it started."""
    started: list[str] = []
    while True:
        page = read_won_page(lag_seconds)
        for record in page["records"]:
            # Polling is the catch-up path (and backfills go through it): change events overtake it.
            started.append(enqueue(record["Id"], record["SystemModstamp"], BACKFILL_PRIORITY).get_workflow_id())
        if page["position"]:
            save_watermark(page["position"])
        if page["seen"] < POLL_PAGE:
            return started


def poll_won(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the polling trigger now and return handles on the runs it started (the demo and tests use this)."""
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    ids = wait_for(DBOS.start_workflow(poll_won_opportunities, lag))
    return [DBOS.retrieve_workflow(workflow_id) for workflow_id in ids]


def replay(opportunity_id: str) -> WorkflowHandle[Outcome]:
    """Run the current mapping and code again for one record (idempotent: the ledger remembers what exists)."""
    return enqueue(opportunity_id, f"replay-{uuid.uuid4().hex[:12]}")
