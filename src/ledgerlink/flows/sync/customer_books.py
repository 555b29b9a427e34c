"""The customer sync, books side: a page of the books' customers settled against Salesforce (our own echo
skipped, a change merged with its Account, a new customer linked by code or by golden-record matching, or
created as an Account)."""

from __future__ import annotations

from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync import golden
from ledgerlink.flows.sync.common import (
    RECORD_ERRORS,
    transform_context,
)
from ledgerlink.flows.sync.customer_accounts import account_payload, flush, settle_account
from ledgerlink.flows.sync.customer_page import (
    ACCOUNT,
    ENTITY,
    FLOW,
    SF,
    Page,
    account_columns,
    accounts_by_id,
    as_json,
    salesforce_pool,
    same,
    stamp_of,
)
from ledgerlink.flows.sync.state import load_bases
from ledgerlink.intelligence import review
from ledgerlink.intelligence.matching import Decision
from ledgerlink.model import Customer
from ledgerlink.model import fields as F
from ledgerlink.store.ledger import content_hash
from ledgerlink.systems.salesforce import soql as literal


def sync_books_customers(deps: Deps, items: list[tuple[str, Customer]], run_id: str, *, full: bool) -> dict[str, int]:
    """Settle a page of the books' customers with Salesforce."""
    page = Page(deps, run_id, full, transform_context(deps))
    sb, ledger = page.sb, deps.ledger
    pending: dict[str, Customer] = {}  # Account id -> the books' customer, to settle against Salesforce
    books_ids = [books_id for books_id, _ in items]  # the page's links and versions read in one query each
    accounts = ledger.lookup_many(sb.name, sb.customer_object, books_ids, SF, ACCOUNT)
    versions = ledger.get_versions(sb.name, sb.customer_object, books_ids)
    bases = load_bases(ledger, ENTITY, list(dict.fromkeys(accounts.values())))  # nothing in the loop writes them
    for books_id, customer in items:
        ref = page.books_ref(books_id)
        try:
            values = F.project(as_json(customer), sb.customer_fields)
            account_id = accounts.get(books_id)
            if account_id is None:
                if not customer.archived:
                    page.new_accounts[customer.code] = (books_id, customer)
                continue
            version = versions.get(books_id)
            if not full and version is not None and version.content_hash == content_hash(values):
                page.counts["unchanged"] += 1  # the version LedgerLink wrote: our own echo
                continue
            base = bases.get(account_id)
            if base is not None and same(values, base, page.shared):
                page.versions.remember(ref, values, ours=False, modified_at=stamp_of(customer))
                page.counts["unchanged"] += 1
                continue
            pending[account_id] = customer
        except RECORD_ERRORS as exc:
            page.fail(ref, exc)
    for record in accounts_by_id(deps, list(pending)):
        if record.get("IsDeleted"):
            continue  # the Account side decides (delete policy)
        try:
            settle_account(page, record, pending[record["Id"]])
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, record["Id"]), exc)
    _new_in_books(page)
    flush(page)
    return dict(page.counts)


def _new_in_books(page: Page) -> None:
    """Customers the books have and Salesforce lacks: an Account with that code is linked; else golden-record
    matching links one, or queues the pair for review; else an Account is created."""
    if not page.new_accounts:
        return
    ledger, sb = page.deps.ledger, page.sb
    pending = review.pending_ids(ledger, sb.name, sb.customer_object)
    for code in [c for c, (books_id, _) in page.new_accounts.items() if books_id in pending]:
        del page.new_accounts[code]  # a person decides first
        page.counts["in_review"] += 1
    if not page.new_accounts:
        return
    codes = list(page.new_accounts)
    soql = (
        f"SELECT Id, SystemModstamp, {', '.join(account_columns(page.deps))} FROM Account "
        f"WHERE ExternalID__c IN ({', '.join(literal.string(c) for c in codes)})"
    )
    for record in page.deps.crm.query(soql):
        books_id, customer = page.new_accounts.pop(str(record["ExternalID__c"]), (None, None))
        if books_id is None or customer is None:
            continue
        ledger.link((SF, ACCOUNT, record["Id"]), page.books_ref(books_id))
        page.audit(SF, ACCOUNT, record["Id"], "matched", books_id, how="code")
        page.counts["matched"] += 1
        settle_account(page, record, customer)
    if page.new_accounts:
        _match_books_customers(page)
    for code, (books_id, customer) in page.new_accounts.items():
        try:
            payload = account_payload(customer, page.ctx)
            page.accounts.upserts.append((code, payload))
        except RECORD_ERRORS as exc:
            page.fail(page.books_ref(books_id), exc)


def _match_books_customers(page: Page) -> None:
    """New customers from the books against the Accounts nothing is linked to: linked or queued for review (and
    taken out of ``new_accounts``), or left there to be created."""
    ledger, sb, settings = page.deps.ledger, page.sb, page.deps.settings
    pool, records = salesforce_pool(page)
    if not pool.customers:
        return
    for code, (books_id, customer) in list(page.new_accounts.items()):
        ref = page.books_ref(books_id)
        placed = golden.place_books_customer(ledger, pool, customer, ref, settings, flow=FLOW, crm_object=(SF, ACCOUNT))
        if placed is None:
            continue
        verdict, target = placed
        del page.new_accounts[code]
        if verdict.decision is Decision.REVIEW:
            page.counts["in_review"] += 1
            continue
        full = accounts_by_id(page.deps, [target])
        record = full[0] if full else records[target]
        ledger.link((SF, ACCOUNT, target), ref)
        page.audit(SF, ACCOUNT, target, "matched", books_id, how=verdict.how, score=verdict.score)
        page.counts["matched"] += 1
        try:
            settle_account(page, record, customer, (golden.policy(settings, sb.name), sb.name))
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, target), exc)
