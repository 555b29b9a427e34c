"""Customers both ways: Salesforce Account + Contacts ⇄ the books' customers (whatever the books call them).

Triggers (all durable, in ``poll_customers``): Accounts changed after the watermark (``SystemModstamp``, deleted
ones included through queryAll), Contacts changed (their Account is synced), and the books' customers changed
after theirs. A page of up to ``sync_page_size`` records is one workflow step: read, settle, write (Salesforce
writes batched in sObject Collections), then the watermark moves.

Per pair the conflict rules of ``flows.sync.conflicts`` apply against the last synced base. Echo: a record whose
projection equals what was last synced (or the version LedgerLink wrote) is not sent anywhere. Deletes follow
``FlowSettings.delete_policy``: "archive" archives the books' customer when its Account is deleted and restores it
when the Account is undeleted; "ignore" only audits. A new record on either side goes through golden-record matching
(``flows.sync.golden``): linked to the other side's customer it matches (the direction's duplicate policy says what
the link writes), queued for a person's review when unsure, else created on the other side.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.flows import Flow, register
from ledgerlink.engine.retry import BATCH_WRITE_RETRY, with_retries
from ledgerlink.engine.runtime import ACCOUNTING, CRM, current, enqueue_record
from ledgerlink.flows._ledger_steps import resolve_failure, save_watermark
from ledgerlink.flows.deps import Deps, current_deps
from ledgerlink.flows.sync import drift, golden
from ledgerlink.flows.sync.books_writes import BooksCreates
from ledgerlink.flows.sync.common import (
    RECORD_ERRORS,
    fail,
    mapped_columns,
    position_after,
    read_changed,
    sync_step,
    transform_context,
)
from ledgerlink.flows.sync.conflicts import Resolution, Side, combined_owners, merge
from ledgerlink.flows.sync.salesforce_writes import Batch
from ledgerlink.flows.sync.state import PendingVersions, load_base, load_bases, save_bases, unchanged
from ledgerlink.intelligence import review
from ledgerlink.intelligence.matching import Decision, DuplicateAction
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Customer
from ledgerlink.model import fields as F
from ledgerlink.store.ledger import StoredVersion, content_hash
from ledgerlink.systems.accounting import AccountingSystem, with_nulls
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import fields as crm_fields
from ledgerlink.systems.salesforce import soql as literal
from ledgerlink.systems.salesforce.incremental import upper_bound

log = logging.getLogger(__name__)
FLOW = "customer_sync"
ENTITY = "customer"
WATERMARK = "salesforce.Account.customer_sync"
CONTACT_WATERMARK = "salesforce.Contact.customer_sync"
SF = "salesforce"
ACCOUNT = "Account"
CONTACTS = "(SELECT Id, FirstName, LastName, Email, Phone FROM Contacts)"
ACCOUNT_TEMPLATE = "salesforce/account_to_canonical"
ACCOUNT_FIELDS = [
    "Name",
    "ExternalID__c",
    "Phone",
    "Website",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "ShippingStreet",
    "ShippingCity",
    "ShippingState",
    "ShippingPostalCode",
    "ShippingCountry",
    "LastModifiedDate",
    "IsDeleted",
    CONTACTS,
]


class Outcome(TypedDict, total=False):
    status: str  # synced | failed
    pages: int
    counts: dict[str, int]


def books_watermark(system: str) -> str:
    return f"{system}.customers.{FLOW}"


def account_columns(deps: Deps) -> list[str]:
    """``ACCOUNT_FIELDS`` plus what the Account mapping in use reads beyond them (a custom field, say)."""
    return mapped_columns(deps, ACCOUNT, ACCOUNT_TEMPLATE, ACCOUNT_FIELDS)


def accounts_by_id(deps: Deps, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    columns = ", ".join(["Id", "SystemModstamp", *account_columns(deps)])
    query = f"SELECT {columns} FROM Account WHERE Id IN ({literal.id_list(ids)})"
    return list(deps.crm.query(query, include_deleted=True))


def _as_read(record: dict[str, Any]) -> dict[str, Any]:
    """The Account as read, for its failed record (the console suggests fixes from it): its own fields only."""
    return {k: v for k, v in record.items() if k not in ("attributes", "Contacts") and not isinstance(v, dict)}


def _json(customer: Customer) -> dict[str, Any]:
    return customer.model_dump(mode="json")


# --- candidates for golden-record matching ---------------------------------------------------------------------

_pools: dict[tuple[str, str], golden.Pool] = {}  # (run id, system of the pool) -> pool


def _books_pool(deps: Deps, run_id: str, ctx: TransformContext) -> golden.Pool:
    """Every live customer in the books, read once per run (a cache: rebuilt after a restart, never checkpointed);
    the linked ones and those waiting in a review are taken."""
    sb = deps.books
    key = (run_id, sb.name)
    if key not in _pools:
        _forget_other_runs(run_id)
        ledger = deps.ledger
        items: list[tuple[str, Customer]] = []
        taken = review.pending_ids(ledger, sb.name, sb.customer_object)
        cursor: str | None = None
        while True:
            page, cursor, more = sb.customers_all(cursor, deps.settings.sync_page_size, ctx)
            for books_id, customer in page:
                if customer.archived:
                    continue
                items.append((books_id, customer))
                if ledger.lookup(sb.name, sb.customer_object, books_id, SF, ACCOUNT):
                    taken.add(books_id)
            if not more:
                break
        _pools[key] = golden.build_pool(items, taken, deps.settings)
    return _pools[key]


def _salesforce_pool(page: Page) -> tuple[golden.Pool, dict[str, dict[str, Any]]]:
    """The Accounts no customer is linked to yet (nor waiting in a review), for new customers from the books."""
    deps, sb = page.deps, page.sb
    key = (page.run_id, SF)
    records: dict[str, dict[str, Any]] = {}
    if key not in _pools or key not in _account_records:
        taken = review.pending_ids(deps.ledger, SF, ACCOUNT)
        items: list[tuple[str, Customer]] = []
        # Without the Contacts sub-query: the pool may be every Account; the one linked is read in full then.
        own = [f for f in ACCOUNT_FIELDS if f != CONTACTS]
        query = f"SELECT Id, SystemModstamp, {', '.join(own)} FROM Account"
        for record in deps.crm.query(query):
            if deps.ledger.lookup(SF, ACCOUNT, record["Id"], sb.name, sb.customer_object):
                continue
            try:
                values = load_mapping("salesforce/account_to_canonical").apply(record, page.ctx).values
                items.append((record["Id"], Customer.model_validate(values)))
            except RECORD_ERRORS:
                continue  # an Account that doesn't map is no candidate (its own sync reports it)
            records[record["Id"]] = record
        _forget_other_runs(page.run_id)
        _pools[key] = golden.build_pool(items, taken, deps.settings)
        _account_records[key] = records
    return _pools[key], _account_records[key]


_account_records: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def _forget_other_runs(run_id: str) -> None:
    for cache in (_pools, _account_records):
        for key in [k for k in cache if k[0] != run_id]:
            del cache[key]


# --- one page ----------------------------------------------------------------------------------------------------


@dataclass
class Page:
    """The work of one page: counts, the Salesforce writes to send at its end, the bases to save after them."""

    deps: Deps
    run_id: str
    full: bool
    ctx: TransformContext
    counts: Counter[str] = field(default_factory=Counter)
    accounts: Batch = field(default_factory=lambda: Batch(ACCOUNT))
    contacts: Batch = field(default_factory=lambda: Batch("Contact"))
    new_accounts: dict[str, tuple[str, Customer]] = field(default_factory=dict)  # code -> (books id, customer)
    bases: dict[str, dict[str, Any]] = field(default_factory=dict)  # Account id -> merged projection
    written: dict[str, list[str]] = field(default_factory=dict)  # Account id -> fields written to it
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # Account id -> its projection once written
    failed: set[str] = field(default_factory=set)
    versions: PendingVersions = field(default_factory=PendingVersions)  # saved after the page's writes
    creates: BooksCreates = field(default_factory=BooksCreates)  # new customers, made a few at once at the flush
    # Read ahead for a page of Accounts in three queries, not three per record (``prefetch``); an Account not
    # read ahead is looked up on its own. Links and audit entries are written a page's worth at a time (``save``).
    known_links: dict[str, str | None] = field(default_factory=dict)  # Account id -> books id
    known_bases: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    known_versions: dict[str, StoredVersion | None] = field(default_factory=dict)
    reviewed: set[str] = field(default_factory=set)  # of the Accounts read ahead, those a match review names
    links: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    @functools.cached_property
    def account_mapping(self) -> Mapping:
        """Loaded once per page (``load_mapping`` looks at the template file on every call, to pick up edits)."""
        return load_mapping("salesforce/account_to_canonical")

    @property
    def sb(self) -> AccountingSystem:
        return self.deps.books

    @property
    def shared(self) -> frozenset[str]:
        return crm_fields.CUSTOMER_FIELDS & self.sb.customer_fields

    def owners(self) -> dict[str, str]:
        sf_owners = load_mapping("salesforce/account_to_canonical").owners
        return combined_owners(sf_owners, self.sb.customer_owners(), self.sb.name)

    def books_ref(self, books_id: str) -> tuple[str, str, str]:
        return (self.sb.name, self.sb.customer_object, books_id)

    def audit(self, system: str, obj: str, record_id: str, action: str, source: str, **detail: Any) -> None:
        self.audits.append(
            dict(
                flow=FLOW,
                system=system,
                obj=obj,
                record_id=record_id,
                action=action,
                run_id=self.run_id,
                source_id=source,
                detail=detail,
            )
        )

    def prefetch(self, account_ids: list[str]) -> None:
        ledger, sb = self.deps.ledger, self.sb
        links = ledger.lookup_many(SF, ACCOUNT, account_ids, sb.name, sb.customer_object)
        bases = load_bases(ledger, ENTITY, account_ids)
        versions = ledger.get_versions(SF, ACCOUNT, account_ids)
        self.reviewed = review.reviewed_ids(ledger, SF, ACCOUNT, account_ids)
        for account_id in account_ids:
            self.known_links[account_id] = links.get(account_id)
            self.known_bases[account_id] = bases.get(account_id)
            self.known_versions[account_id] = versions.get(account_id)

    def books_id(self, account_id: str) -> str | None:
        if account_id in self.known_links:
            return self.known_links[account_id]
        return self.deps.ledger.lookup(SF, ACCOUNT, account_id, self.sb.name, self.sb.customer_object)

    def reviews_of(self, account_id: str) -> list[review.Review]:
        if account_id in self.known_links and account_id not in self.reviewed:
            return []  # read ahead: no review names it
        return review.reviews_of(self.deps.ledger, SF, ACCOUNT, account_id)

    def base(self, account_id: str) -> dict[str, Any] | None:
        if account_id in self.known_bases:
            return self.known_bases[account_id]
        return load_base(self.deps.ledger, ENTITY, account_id)

    def unchanged(self, account_id: str, values: dict[str, Any]) -> bool:
        if account_id not in self.known_versions:
            return unchanged(self.deps.ledger, (SF, ACCOUNT, account_id), values)
        version = self.known_versions[account_id]
        return version is not None and version.content_hash == content_hash(values)

    def save(self) -> None:
        """Write the links and audit entries held so far (links first: a created customer is never left unlinked
        by a failure after it)."""
        links, self.links = self.links, []
        audits, self.audits = self.audits, []
        self.deps.ledger.link_all(links)
        self.deps.ledger.audit_all(audits)

    def fail(self, source: tuple[str, str, str], exc: BaseException, data: dict[str, Any] | None = None) -> None:
        fail(self.deps, FLOW, source, exc, self.run_id, data)
        self.failed.add(source[2])
        self.counts["failed"] += 1


def _account_payload(customer: Customer, ctx: TransformContext) -> dict[str, Any]:
    payload = load_mapping("salesforce/account_from_canonical").apply(_json(customer), ctx).values
    return {k: v for k, v in payload.items() if v not in (None, "")}


def _contact_payload(person: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    return dict(load_mapping("salesforce/contact_from_canonical").apply(person, ctx).values)


def _contact_ops(page: Page, account_id: str, existing: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> None:
    """Make the Account's Contacts hold ``wanted``: matched by e-mail, else by name; updated or created, never
    deleted (a person removed in the books may still be someone's contact in Salesforce)."""
    left = list(existing)
    for person in wanted:
        email = (person.get("email") or "").casefold()
        name = ((person.get("first_name") or "").casefold(), (person.get("last_name") or "").casefold())
        match = next((c for c in left if email and (c.get("Email") or "").casefold() == email), None) or next(
            (c for c in left if ((c.get("FirstName") or "").casefold(), (c.get("LastName") or "").casefold()) == name),
            None,
        )
        payload = _contact_payload(person, page.ctx)
        if match is None:
            page.contacts.creates.append((account_id, {"AccountId": account_id, **payload}))
            continue
        left.remove(match)
        diff = {k: v for k, v in with_nulls({k: None for k in payload}, payload).items() if match.get(k) != v}
        if diff:
            page.contacts.updates.append((account_id, {"Id": match["Id"], **diff}))


def _to_salesforce(page: Page, record: dict[str, Any], customer: Customer, changes: dict[str, Any]) -> None:
    """Queue the Account (and Contacts) writes that bring Salesforce to ``changes``."""
    account_id = record["Id"]
    after = Customer.model_validate(F.unflatten(changes, _json(customer)))
    before_payload = _account_payload(customer, page.ctx)
    payload = with_nulls(before_payload, _account_payload(after, page.ctx))
    payload.pop("ExternalID__c", None)  # the link key: never rewritten
    diff = {k: v for k, v in payload.items() if before_payload.get(k) != v}
    if diff:
        page.accounts.updates.append((account_id, {"Id": account_id, **diff}))
    if "contacts" in changes:
        existing = (record.get("Contacts") or {}).get("records") or []
        _contact_ops(page, account_id, existing, list(changes["contacts"] or []))
    page.written[account_id] = sorted(changes)
    page.expected[account_id] = _after_writes(page, record, diff)


def _after_writes(page: Page, record: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """The Account's projection as it will be once the page's writes to it are done, and nobody else's."""
    account_id = record["Id"]
    contacts = [dict(c) for c in (record.get("Contacts") or {}).get("records") or []]
    for key, update in page.contacts.updates:
        if key == account_id:
            for contact in contacts:
                if contact.get("Id") == update["Id"]:
                    contact.update(update)
    contacts += [dict(create) for key, create in page.contacts.creates if key == account_id]
    after = {**record, **diff, "Contacts": {"records": contacts}}
    return F.project(
        load_mapping("salesforce/account_to_canonical").apply(after, page.ctx).values, crm_fields.CUSTOMER_FIELDS
    )


def _settle(
    page: Page,
    record: dict[str, Any],
    customer: Customer,
    sf_values: dict[str, Any],
    books_id: str,
    books_customer: Customer | None,
    base: dict[str, Any] | None,
    policy: tuple[DuplicateAction, str] | None = None,
) -> None:
    """Three-way merge of one linked pair and the writes it calls for. ``policy``: the pair was just linked by
    matching (the duplicate policy, and the system the new record came from)."""
    sb, account_id = page.sb, record["Id"]
    if books_customer is None:
        books_customer = with_retries(sb.read_customer)(books_id, page.ctx)
    if books_customer is None:
        # Deleted in the books (some books delete customers that have no invoices): Salesforce keeps its Account.
        page.audit(sb.name, sb.customer_object, books_id, "missing_in_books", account_id)
        page.counts["missing_in_books"] += 1
        return
    books_values = F.project(_json(books_customer), sb.customer_fields)
    settings = page.deps.settings
    if policy is not None:
        action, incoming = policy
        existing = books_values if incoming == SF else sf_values
        if action is DuplicateAction.SKIP:
            # Linked, nothing written: both sides are remembered as they are, the existing record's values agreed.
            stamp = _stamp(books_customer)
            page.versions.remember(page.books_ref(books_id), books_values, ours=False, modified_at=stamp)
            page.audit(sb.name, sb.customer_object, books_id, "duplicate_skipped", account_id, policy=action.value)
            page.bases[account_id] = dict(existing)
            return
        if action is DuplicateAction.UPDATE:
            # A base equal to the existing record where the incoming one has a value: every such field then reads
            # as changed on the incoming side only and travels; the incoming record's gaps are filled as usual.
            mine = sf_values if incoming == SF else books_values
            base = {name: existing.get(name) for name in page.shared if mine.get(name) is not None}
    result: Resolution = merge(
        base,
        Side(SF, sf_values, crm_fields.CUSTOMER_FIELDS, customer.modified_at),
        Side(sb.name, books_values, sb.customer_fields, books_customer.modified_at),
        page.owners(),
        settings.source_priority,
    )
    for conflict in result.conflicts:
        page.audit(sb.name, sb.customer_object, books_id, "conflict", account_id, **conflict.as_detail())
    page.counts["conflicts"] += len(result.conflicts)
    if not result.in_sync:
        page.counts["drift"] += 1
    if result.to_books:
        after = Customer.model_validate(F.unflatten(result.to_books, _json(books_customer)))
        written = with_retries(sb.update_customer)(books_id, books_customer, after, page.ctx)
        books_values = F.project(_json(written), sb.customer_fields)
        page.versions.remember(page.books_ref(books_id), books_values, ours=True, modified_at=_stamp(written))
        page.audit(sb.name, sb.customer_object, books_id, "updated", account_id, fields=sorted(result.to_books))
        page.counts["updated_books"] += 1
    else:
        page.versions.remember(page.books_ref(books_id), books_values, ours=False, modified_at=None)
    if result.to_salesforce:
        _to_salesforce(page, record, customer, result.to_salesforce)
    page.bases[account_id] = result.merged


def _stamp(customer: Customer) -> str | None:
    return customer.modified_at.isoformat() if customer.modified_at else None


def _deleted(page: Page, account_id: str, books_id: str, base: dict[str, Any] | None) -> None:
    if base is not None and base.get("_deleted"):
        return  # already handled
    sb = page.sb
    if page.deps.settings.delete_policy == "archive":
        books_customer = with_retries(sb.read_customer)(books_id, page.ctx)
        if books_customer is not None and not books_customer.archived:
            after = books_customer.model_copy(update={"archived": True})
            written = with_retries(sb.update_customer)(books_id, books_customer, after, page.ctx)
            values = F.project(_json(written), sb.customer_fields)
            page.versions.remember(page.books_ref(books_id), values, ours=True, modified_at=_stamp(written))
        page.audit(sb.name, sb.customer_object, books_id, "archived", account_id, reason="Account deleted")
        page.counts["archived"] += 1
    else:
        page.audit(sb.name, sb.customer_object, books_id, "delete_ignored", account_id)
        page.counts["delete_ignored"] += 1
    page.bases[account_id] = {**(base or {}), "_deleted": True}


def _undeleted(page: Page, account_id: str, books_id: str) -> None:
    sb = page.sb
    if page.deps.settings.delete_policy == "archive":
        books_customer = with_retries(sb.read_customer)(books_id, page.ctx)
        if books_customer is not None and books_customer.archived:
            after = books_customer.model_copy(update={"archived": False})
            written = with_retries(sb.update_customer)(books_id, books_customer, after, page.ctx)
            values = F.project(_json(written), sb.customer_fields)
            page.versions.remember(page.books_ref(books_id), values, ours=True, modified_at=_stamp(written))
        page.audit(sb.name, sb.customer_object, books_id, "restored", account_id, reason="Account undeleted")
        page.counts["restored"] += 1


def _link_new(page: Page, record: dict[str, Any], customer: Customer, sf_values: dict[str, Any]) -> bool:
    """An Account with no customer yet: link it to the one golden-record matching finds (True); queue the pair for
    review when unsure, or queue its customer for creation with the page's others (False: remembered once made, at
    the flush, in ``_created``; a record in review is remembered once a person decides)."""
    sb, ledger, account_id = page.sb, page.deps.ledger, record["Id"]
    ref = (SF, ACCOUNT, account_id)
    decided = page.reviews_of(account_id)
    if any(r.status == review.PENDING and r.source == ref for r in decided):
        page.counts["in_review"] += 1
        return False
    rejected = frozenset(r.target[2] for r in decided if r.status == review.REJECTED and r.source == ref)
    pool = _books_pool(page.deps, page.run_id, page.ctx)
    settings = page.deps.settings
    verdict = golden.decide(pool, customer, settings, rejected)
    if verdict.decision is Decision.LINK and verdict.target is not None:
        ledger.link(ref, page.books_ref(verdict.target))
        pool.taken.add(verdict.target)
        page.audit(
            sb.name, sb.customer_object, verdict.target, "matched", account_id, how=verdict.how, score=verdict.score
        )
        page.counts["matched"] += 1
        policy = (golden.policy(settings, SF), SF)
        _settle(page, record, customer, sf_values, verdict.target, None, None, policy)
        return True
    if verdict.decision is Decision.REVIEW and verdict.target is not None:
        review.queue(
            ledger,
            flow=FLOW,
            source=ref,
            target=page.books_ref(verdict.target),
            score=verdict.score,
            why=verdict.why,
            source_record=_json(customer),
            target_record=_json(pool.customers[verdict.target]),
        )
        pool.taken.add(verdict.target)
        page.counts["in_review"] += 1
        return False
    page.creates.add(
        lambda: sb.create_customer(customer, page.ctx),
        lambda books_id: _created(page, record, customer, sf_values, books_id),
        lambda exc: page.fail((SF, ACCOUNT, account_id), exc, {"Name": record.get("Name")}),
    )
    return False


def _created(page: Page, record: dict[str, Any], customer: Customer, sf_values: dict[str, Any], books_id: str) -> None:
    """The customer made in the books for a new Account: link the pair; the Account is now seen as it is."""
    sb, account_id = page.sb, record["Id"]
    page.links.append(((SF, ACCOUNT, account_id), page.books_ref(books_id)))  # written as soon as the creates are
    _books_pool(page.deps, page.run_id, page.ctx).taken.add(books_id)
    page.audit(sb.name, sb.customer_object, books_id, "created", account_id, code=customer.code)
    page.counts["created_books"] += 1
    page.bases[account_id] = sf_values
    page.versions.remember((SF, ACCOUNT, account_id), sf_values, ours=False, modified_at=record.get("SystemModstamp"))
    # What we sent: the books pass takes the customer, when it reads it back unchanged, for our own echo at once.
    made = F.project(_json(customer), sb.customer_fields)
    page.versions.remember(page.books_ref(books_id), made, ours=True, modified_at=None)


def _approved_policy(page: Page, account_id: str, books_id: str) -> tuple[DuplicateAction, str] | None:
    """A pair a person linked in the review queue settles, the first time, by the policy of its direction."""
    for r in page.reviews_of(account_id):
        if r.status == review.APPROVED and books_id in (r.source[2], r.target[2]):
            incoming = r.source[0]
            action = DuplicateAction(r.action) if r.action else golden.policy(page.deps.settings, incoming)
            return action, incoming
    return None


def _account(
    page: Page,
    record: dict[str, Any],
    books_customer: Customer | None = None,
    policy: tuple[DuplicateAction, str] | None = None,
) -> None:
    """One Account as Salesforce has it now (deleted or not), against its customer in the books. ``policy``: the
    pair was just linked by matching."""
    account_id = record["Id"]
    books_id, base = page.books_id(account_id), page.base(account_id)
    if record.get("IsDeleted"):
        if books_id:
            _deleted(page, account_id, books_id, base)
        return
    if books_id and base is not None and base.get("_deleted"):
        _undeleted(page, account_id, books_id)
        base = {k: v for k, v in base.items() if k != "_deleted"}
        page.bases[account_id] = base
    values = page.account_mapping.apply(record, page.ctx).values
    customer = Customer.model_validate(values)
    sf_values = F.project(_json(customer), crm_fields.CUSTOMER_FIELDS)
    sf_ref = (SF, ACCOUNT, account_id)
    if books_id is None:
        if not _link_new(page, record, customer, sf_values):
            return  # remembered once its customer is made (_created)
    elif books_customer is None and not page.full and page.unchanged(account_id, sf_values):
        page.counts["unchanged"] += 1  # nothing new since we last saw or wrote it (our own echo, typically)
        return
    elif books_customer is None and base is not None and _same(sf_values, base, page.shared):
        page.counts["unchanged"] += 1  # a change to nothing the books hold: nothing to send
    else:
        if base is None and policy is None:
            policy = _approved_policy(page, account_id, books_id)
        _settle(page, record, customer, sf_values, books_id, books_customer, base, policy)
    page.versions.remember(sf_ref, sf_values, ours=False, modified_at=record.get("SystemModstamp"))


def _same(values: dict[str, Any], base: dict[str, Any], shared: frozenset[str]) -> bool:
    return all(values.get(f) == base.get(f) for f in shared)


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
        _account(page, record, customer)
    if page.new_accounts:
        _match_books_customers(page)
    for code, (books_id, customer) in page.new_accounts.items():
        try:
            payload = _account_payload(customer, page.ctx)
            page.accounts.upserts.append((code, payload))
        except RECORD_ERRORS as exc:
            page.fail(page.books_ref(books_id), exc)


def _match_books_customers(page: Page) -> None:
    """New customers from the books against the Accounts nothing is linked to: linked or queued for review (and
    taken out of ``new_accounts``), or left there to be created."""
    ledger, sb, settings = page.deps.ledger, page.sb, page.deps.settings
    pool, records = _salesforce_pool(page)
    if not pool.customers:
        return
    for code, (books_id, customer) in list(page.new_accounts.items()):
        ref = page.books_ref(books_id)
        rejected = frozenset(
            r.target[2] for r in review.reviews_of(ledger, *ref) if r.status == review.REJECTED and r.source == ref
        )
        verdict = golden.decide(pool, customer, settings, rejected)
        if verdict.target is None or verdict.decision is Decision.NEW:
            continue
        del page.new_accounts[code]
        pool.taken.add(verdict.target)
        if verdict.decision is Decision.REVIEW:
            review.queue(
                ledger,
                flow=FLOW,
                source=ref,
                target=(SF, ACCOUNT, verdict.target),
                score=verdict.score,
                why=verdict.why,
                source_record=_json(customer),
                target_record=_json(pool.customers[verdict.target]),
            )
            page.counts["in_review"] += 1
            continue
        full = accounts_by_id(page.deps, [verdict.target])
        record = full[0] if full else records[verdict.target]
        ledger.link((SF, ACCOUNT, verdict.target), ref)
        page.audit(SF, ACCOUNT, verdict.target, "matched", books_id, how=verdict.how, score=verdict.score)
        page.counts["matched"] += 1
        try:
            _account(page, record, customer, (golden.policy(settings, sb.name), sb.name))
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, verdict.target), exc)


def _flush(page: Page) -> None:
    """Create the page's new customers in the books; send its Salesforce writes, link what was created,
    remember what Salesforce now holds."""
    try:
        page.creates.send()
    finally:
        page.save()
    rt = page.deps
    ledger, sb = rt.ledger, page.sb

    def account_failed(key: str, exc: PermanentError) -> None:
        source = page.books_ref(page.new_accounts[key][0]) if key in page.new_accounts else (SF, ACCOUNT, key)
        page.fail(source, exc)
        page.bases.pop(key, None)

    done = with_retries(page.accounts.send, BATCH_WRITE_RETRY)(rt.crm, account_failed) if page.accounts else {}
    for code, (books_id, customer) in page.new_accounts.items():
        if code not in done:
            continue
        account_id, created = done[code]
        ledger.link((SF, ACCOUNT, account_id), page.books_ref(books_id))
        page.audit(SF, ACCOUNT, account_id, "created" if created else "matched", books_id, code=code)
        page.counts["created_salesforce"] += 1
        for person in customer.contacts:
            contact = _contact_payload(person.model_dump(mode="json"), page.ctx)
            page.contacts.creates.append((account_id, {"AccountId": account_id, **contact}))
        page.written[account_id] = ["created"]
        values = F.project(_json(customer), sb.customer_fields)
        page.versions.remember(page.books_ref(books_id), values, ours=False, modified_at=_stamp(customer))
    if page.contacts:
        with_retries(page.contacts.send, BATCH_WRITE_RETRY)(rt.crm, lambda key, exc: page.fail((SF, ACCOUNT, key), exc))
    written = [a for a in page.written if a not in page.failed]
    for record in accounts_by_id(rt, written):
        values = load_mapping("salesforce/account_to_canonical").apply(record, page.ctx).values
        sf_values = F.project(values, crm_fields.CUSTOMER_FIELDS)
        expected = page.expected.get(record["Id"])
        if expected is not None and expected != sf_values:
            # Someone changed the Account or a Contact between our read and now. Taking what Salesforce holds for
            # our own write would hide their change (skipped as our echo, then reverted by reconciliation): keep
            # what we wrote, so their change differs from it and is synced next time.
            sf_values = expected
        page.versions.remember(
            (SF, ACCOUNT, record["Id"]), sf_values, ours=True, modified_at=record.get("SystemModstamp")
        )
        base = page.bases.setdefault(record["Id"], dict(sf_values))
        if "contacts" in sf_values:
            base["contacts"] = sf_values["contacts"]  # what Salesforce holds now (contacts are never deleted)
        action = "created" if page.written[record["Id"]] == ["created"] else "updated"
        if action == "updated":
            page.audit(SF, ACCOUNT, record["Id"], action, record["Id"], fields=page.written[record["Id"]])
            page.counts["updated_salesforce"] += 1
    save_bases(ledger, ENTITY, {a: base for a, base in page.bases.items() if a not in page.failed})
    page.save()
    page.versions.save(ledger)  # last: only now is every write of the page out


def sync_account_records(deps: Deps, records: list[dict[str, Any]], run_id: str, *, full: bool) -> dict[str, int]:
    """Settle a page of Accounts (as read with ``ACCOUNT_FIELDS``) with the books."""
    page = Page(deps, run_id, full, transform_context(deps))
    page.prefetch([record["Id"] for record in records])
    for record in records:
        try:
            _account(page, record)
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, record["Id"]), exc, _as_read(record))
    _flush(page)
    return dict(page.counts)


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
            values = F.project(_json(customer), sb.customer_fields)
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
            if base is not None and _same(values, base, page.shared):
                page.versions.remember(ref, values, ours=False, modified_at=_stamp(customer))
                page.counts["unchanged"] += 1
                continue
            pending[account_id] = customer
        except RECORD_ERRORS as exc:
            page.fail(ref, exc)
    for record in accounts_by_id(deps, list(pending)):
        if record.get("IsDeleted"):
            continue  # the Account side decides (delete policy)
        try:
            _account(page, record, pending[record["Id"]])
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, record["Id"]), exc)
    _new_in_books(page)
    _flush(page)
    return dict(page.counts)


# --- steps ---------------------------------------------------------------------------------------------------------


def _newest_contact(deps: Deps, lag_seconds: float) -> str | None:
    """The position of the newest Contact Salesforce holds now (within the lag, as the Contacts pass reads)."""
    upper = upper_bound(lag_seconds)
    where = f"AccountId != null AND SystemModstamp <= {upper}" if upper else "AccountId != null"
    soql = f"SELECT Id, SystemModstamp FROM Contact WHERE {where} ORDER BY SystemModstamp DESC, Id DESC LIMIT 1"
    rows = list(deps.crm.query(soql, include_deleted=True))
    return position_after(rows)


def _contacts_covered(deps: Deps, position: str) -> None:
    """A pass over every Account reads each one's Contacts with it: the Contacts pass need not read those again.
    Its watermark moves to the newest Contact there was before the pass began (never back); a Contact changed
    since is past it and read as usual."""
    current = deps.ledger.get_watermark(CONTACT_WATERMARK) or ""
    if position > current:  # positions are "<fixed-width UTC stamp>|<id>": they sort as text
        deps.ledger.set_watermark(CONTACT_WATERMARK, position)


@sync_step
def accounts_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    """The next page of Accounts changed (or deleted, or undeleted) after the watermark, settled. At most hourly
    it first checks the schemas for drift (inside this step, so the workflow's steps stay as they were)."""
    if deps.settings.schema_drift_check and drift.due(deps.ledger):
        try:
            drift.check(deps.ledger, deps.crm, deps.books.name)
        except Exception:  # the check only reports: it must never hold up the sync
            log.exception("schema drift check failed")
    every_account = not deps.ledger.get_watermark(WATERMARK)  # a first or full backfill, at its first page
    contacts_before = _newest_contact(deps, lag_seconds) if every_account else None  # read before the Accounts
    records = read_changed(deps, ACCOUNT, WATERMARK, account_columns(deps), None, lag_seconds)
    counts = sync_account_records(deps, records, run_id, full=False)
    if contacts_before:
        _contacts_covered(deps, contacts_before)
    return {"counts": counts, "position": position_after(records), "more": len(records) == deps.settings.sync_page_size}


@sync_step
def contacts_page(deps: Deps, lag_seconds: float, run_id: str) -> dict[str, Any]:
    """Contacts changed after their watermark: a Contact edit does not touch its Account's SystemModstamp."""
    contacts = read_changed(deps, "Contact", CONTACT_WATERMARK, ["AccountId"], "AccountId != null", lag_seconds)
    ids = list(dict.fromkeys(str(c["AccountId"]) for c in contacts))
    counts = sync_account_records(deps, accounts_by_id(deps, ids), run_id, full=False)
    more = len(contacts) == deps.settings.sync_page_size
    return {"counts": counts, "position": position_after(contacts), "more": more}


@sync_step
def books_page(deps: Deps, run_id: str) -> dict[str, Any]:
    sb = deps.books
    mark = books_watermark(sb.name)
    watermark, limit = deps.ledger.get_watermark(mark), deps.settings.sync_page_size
    items, position, more = sb.customers_changed(watermark, limit, transform_context(deps))
    counts = sync_books_customers(deps, items, run_id, full=False)
    return {"counts": counts, "position": position, "more": more, "watermark": mark}


def _add(total: Counter[str], counts: dict[str, int]) -> None:
    total.update(counts)


@DBOS.workflow(name="poll_customers")
def poll_customers(lag_seconds: float) -> Outcome:
    """The durable trigger: each page is settled, then its watermark saved, so a worker killed mid-run resumes at
    the page it was on and no page is lost."""
    run_id = DBOS.workflow_id or ""
    deps = current_deps()
    total: Counter[str] = Counter()
    pages = 0
    for step, mark in ((accounts_page, WATERMARK), (contacts_page, CONTACT_WATERMARK)):
        while True:
            page = step(deps, lag_seconds, run_id)
            pages += 1
            _add(total, page["counts"])
            if page["position"]:
                save_watermark(deps, mark, page["position"])
            if not page["more"]:
                break
    while True:
        page = books_page(deps, run_id)
        pages += 1
        _add(total, page["counts"])
        if page["position"]:
            save_watermark(deps, page["watermark"], page["position"])
        if not page["more"]:
            break
    return {"status": "failed" if total.get("failed") else "synced", "pages": pages, "counts": dict(total)}


def poll(*, lag_seconds: float | None = None) -> list[WorkflowHandle[Outcome]]:
    """Run the trigger now (``ledgerlink sync customer_sync``); one run, which streams every page."""
    lag = current().settings.poll_lag_seconds if lag_seconds is None else lag_seconds
    return [DBOS.start_workflow(poll_customers, lag)]


@sync_step
def sync_one_step(deps: Deps, source_id: str, run_id: str) -> dict[str, int]:
    sb = deps.books
    if deps.ledger.lookup(sb.name, sb.customer_object, source_id, SF, ACCOUNT) or not source_id.startswith("001"):
        customer = sb.read_customer(source_id, transform_context(deps))
        return sync_books_customers(deps, [(source_id, customer)] if customer else [], run_id, full=True)
    return sync_account_records(deps, accounts_by_id(deps, [source_id]), run_id, full=True)


@DBOS.workflow(name="sync_customer")
def sync_customer(source_id: str) -> Outcome:
    """One Account (or one books customer, by its id there), compared in full."""
    deps = current_deps()
    counts = sync_one_step(deps, source_id, DBOS.workflow_id or "")
    if not counts.get("failed"):
        resolve_failure(deps, FLOW, source_id)
    return {"status": "failed" if counts.get("failed") else "synced", "pages": 1, "counts": counts}


def replay(source_id: str) -> WorkflowHandle[Outcome]:
    return enqueue_record(
        sync_customer,
        source_id,
        workflow_id=f"{FLOW}:{source_id}:replay-{uuid.uuid4().hex[:12]}",
        record_key=f"customer:{source_id}",
        connection=ACCOUNTING,  # either side may change; the books are the stricter API
    )


register(
    Flow(
        name=FLOW,
        description="Accounts + Contacts ⇄ the books' customers both ways: field owner, priority, last writer",
        source=(CRM, "Account"),
        watermark=WATERMARK,
        replay=replay,
        poll=poll,
        trigger=poll_customers,
    )
)
