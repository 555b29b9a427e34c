"""The customer sync's page: what one page of Accounts or books customers settles, and what it reads ahead.

Shared by the Account half (``customer_accounts``) and the books half (``customer_books``): the constants, the
Account columns read, the candidate pools for golden-record matching (a cache per run), and ``Page`` (counts,
the writes held until the page's end, the ledger rows read ahead a page at a time)."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.engine.retry import with_retries
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync import golden
from ledgerlink.flows.sync.books_writes import BooksCreates
from ledgerlink.flows.sync.common import (
    RECORD_ERRORS,
    fail,
    mapped_columns,
)
from ledgerlink.flows.sync.conflicts import combined_owners
from ledgerlink.flows.sync.salesforce_writes import Batch
from ledgerlink.flows.sync.state import PendingVersions, load_base, load_bases, unchanged
from ledgerlink.intelligence import review
from ledgerlink.mapping import Mapping, TransformContext, load_mapping
from ledgerlink.model import Customer
from ledgerlink.store.ledger import StoredVersion, content_hash
from ledgerlink.systems.accounting import AccountingSystem
from ledgerlink.systems.salesforce import fields as crm_fields
from ledgerlink.systems.salesforce import soql as literal

FLOW = "customer_sync"
ENTITY = "customer"
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


def account_columns(deps: Deps) -> list[str]:
    """``ACCOUNT_FIELDS`` plus what the Account mapping in use reads beyond them (a custom field, say)."""
    return mapped_columns(deps, ACCOUNT, ACCOUNT_TEMPLATE, ACCOUNT_FIELDS)


def accounts_by_id(deps: Deps, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    columns = ", ".join(["Id", "SystemModstamp", *account_columns(deps)])
    query = f"SELECT {columns} FROM Account WHERE Id IN ({literal.id_list(ids)})"
    return list(deps.crm.query(query, include_deleted=True))


def as_read(record: dict[str, Any]) -> dict[str, Any]:
    """The Account as read, for its failed record (the console suggests fixes from it): its own fields only."""
    return {k: v for k, v in record.items() if k not in ("attributes", "Contacts") and not isinstance(v, dict)}


def as_json(customer: Customer) -> dict[str, Any]:
    return customer.model_dump(mode="json")


def stamp_of(customer: Customer) -> str | None:
    return customer.modified_at.isoformat() if customer.modified_at else None


def same(values: dict[str, Any], base: dict[str, Any], shared: frozenset[str]) -> bool:
    return all(values.get(f) == base.get(f) for f in shared)


_pools: dict[tuple[str, str], golden.Pool] = {}  # (run id, system of the pool) -> pool


def books_pool(deps: Deps, run_id: str, ctx: TransformContext) -> golden.Pool:
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
            # each page read is retried in place: a fault on page five does not read pages one to four again
            page, cursor, more = with_retries(sb.customers_all)(cursor, deps.settings.sync_page_size, ctx)
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


def salesforce_pool(page: Page) -> tuple[golden.Pool, dict[str, dict[str, Any]]]:
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
