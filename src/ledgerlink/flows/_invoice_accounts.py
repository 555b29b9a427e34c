"""Which Salesforce Account a books customer's invoices belong on, for the invoice writers (history import, credit
notes written at once).

In order: the ledger's link; else the Account whose ``ExternalID__c`` is the customer's code; else golden-record
matching (``flows/sync/golden``) of the books customer against the Accounts nothing is linked to: at or above
``match_link_threshold`` the two are linked in the ledger (audited), from ``match_review_threshold`` the pair is
queued for a person (``intelligence.review``; approving it links them, and the next import puts the invoices on the
Account); below, the invoices stay without an Account, counted, and named in the import's audit entry.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.flows.customer_sync import ACCOUNT_FIELDS
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync import golden
from ledgerlink.flows.sync.common import RECORD_ERRORS, transform_context
from ledgerlink.intelligence import review
from ledgerlink.intelligence.matching import Decision
from ledgerlink.mapping import load_mapping
from ledgerlink.model import Customer
from ledgerlink.systems.salesforce import soql as literal

SF, ACCOUNT = "salesforce", "Account"


def _by_code(deps: Deps, codes: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(codes), 200):
        chunk = ", ".join(f"'{literal.escape(c)}'" for c in codes[start : start + 200])
        for row in deps.crm.query(f"SELECT Id, ExternalID__c FROM Account WHERE ExternalID__c IN ({chunk})"):
            for code in codes:
                if str(row.get("ExternalID__c") or "").casefold() == code.casefold():
                    found[code] = row["Id"]
    return found


@dataclass
class _RunCache:
    """A run's matching pool and the customers it already tried (a cache: rebuilt after a restart, never
    checkpointed), so an import of many pages builds the pool once and tries each customer once."""

    pool: golden.Pool | None = None
    tried: set[str] = field(default_factory=set)


_cache: dict[str, _RunCache] = {}
_cache_lock = threading.Lock()


def _run_cache(run_id: str | None) -> _RunCache:
    if run_id is None:
        return _RunCache()
    with _cache_lock:
        if run_id not in _cache:
            if len(_cache) > 16:  # bounded: only recent runs need theirs
                _cache.clear()
            _cache[run_id] = _RunCache()
        return _cache[run_id]


def _pool(deps: Deps) -> golden.Pool:
    """The Accounts no books customer is linked to (nor waiting in a review), as canonical customers."""
    books, ctx = deps.books, transform_context(deps)
    mapping = load_mapping("salesforce/account_to_canonical")
    taken = review.pending_ids(deps.ledger, SF, ACCOUNT)
    items: list[tuple[str, Customer]] = []
    # The customer sync's columns, contacts too (their e-mails weigh in the match).
    for record in deps.crm.query(f"SELECT Id, {', '.join(ACCOUNT_FIELDS)} FROM Account"):
        if deps.ledger.lookup(SF, ACCOUNT, record["Id"], books.name, books.customer_object):
            continue
        try:
            items.append((record["Id"], Customer.model_validate(mapping.apply(record, ctx).values)))
        except RECORD_ERRORS:
            continue  # an Account that doesn't map is no candidate (the customer sync reports it)
    return golden.build_pool(items, taken, deps.settings)


def _match(deps: Deps, customer_ids: list[str], run_id: str | None, flow: str, counts: Counter[str]) -> dict[str, str]:
    books, ledger, settings = deps.books, deps.ledger, deps.settings
    cache = _run_cache(run_id)
    fresh = [c for c in customer_ids if c not in cache.tried]  # each customer once a run, whatever its pages
    cache.tried.update(fresh)
    pending = review.pending_ids(ledger, books.name, books.customer_object)
    counts["accounts_in_review"] += sum(1 for c in fresh if c in pending)
    wanted = [c for c in fresh if c not in pending]
    if not wanted:
        return {}
    if cache.pool is None:
        cache.pool = _pool(deps)
    pool = cache.pool
    if not pool.customers:
        return {}
    ctx = transform_context(deps, source_system=books.name)
    linked: dict[str, str] = {}
    for customer_id in wanted:
        customer = books.read_customer(customer_id, ctx)
        if customer is None:
            continue
        ref = (books.name, books.customer_object, customer_id)
        placed = golden.place_books_customer(ledger, pool, customer, ref, settings, flow=flow, crm_object=(SF, ACCOUNT))
        if placed is None:
            continue
        verdict, target = placed
        if verdict.decision is Decision.REVIEW:
            counts["accounts_in_review"] += 1
            continue
        ledger.link(ref, (SF, ACCOUNT, target))
        ledger.audit(
            flow=flow,
            system=SF,
            obj=ACCOUNT,
            record_id=target,
            action="matched",
            run_id=run_id,
            source_id=customer_id,
            detail={"how": verdict.how, "score": round(verdict.score, 4), "for": "invoices"},
        )
        counts["accounts_matched"] += 1
        linked[customer_id] = target
    return linked


def salesforce_accounts(
    deps: Deps, customer_ids: list[str], *, run_id: str | None = None, flow: str = "invoices", match: bool = True
) -> tuple[dict[str, str], Counter[str]]:
    """Salesforce Account id by books customer id, and what matching did (``accounts_matched``,
    ``accounts_in_review``)."""
    books = deps.books
    counts: Counter[str] = Counter()
    found = deps.ledger.lookup_many(books.name, books.customer_object, customer_ids, SF, ACCOUNT)
    missing = [c for c in dict.fromkeys(customer_ids) if c not in found]
    if missing:
        found.update(_by_code(deps, missing))
        missing = [c for c in missing if c not in found]
    if missing and match and hasattr(books, "read_customer"):
        found.update(_match(deps, missing, run_id, flow, counts))
    return found, counts


def unmatched(customer_ids: list[str], accounts: dict[str, Any]) -> list[str]:
    """The customers (of a page's invoices) left without an Account, for the import's audit entry."""
    return sorted({c for c in customer_ids if c not in accounts})
