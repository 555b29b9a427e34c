"""Golden-record matching in the customer sync: is this new record a customer the other system already has?

The same customer code (a key both systems keep) links at once. Otherwise the Fellegi–Sunter model of
``intelligence.matching`` scores the other system's unlinked customers (blocked, so it scales to large pools) and
the thresholds in the flow settings decide: link at or above ``match_link_threshold``, a person reviews from
``match_review_threshold`` up (``intelligence.review``), else a new record is made. What a link writes follows
the duplicate policy of its direction (``duplicate_policy_salesforce_to_books`` / ``..._books_to_salesforce``):
merge (fill gaps both ways, settle differences by the conflict rules), update (the incoming record's values win)
or skip (link only, write nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledgerlink.engine.runtime import FlowSettings
from ledgerlink.intelligence import review
from ledgerlink.intelligence.matching import (
    CustomerIndex,
    Decision,
    DuplicateAction,
    MatchSettings,
    Thresholds,
)
from ledgerlink.intelligence.matching.compare import COMPARISON_NAMES
from ledgerlink.intelligence.review import Ref
from ledgerlink.model import Customer
from ledgerlink.store import Ledger


@dataclass
class Pool:
    """The other system's customers a new record may be: built once per run (a cache, never checkpointed)."""

    index: CustomerIndex
    customers: dict[str, Customer]
    by_code: dict[str, str]  # casefolded code -> id
    taken: set[str] = field(default_factory=set)  # linked (or in a pending review): not offered again


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    target: str | None = None
    how: str = ""  # code | model
    score: float = 0.0
    why: dict[str, int] = field(default_factory=dict)  # comparison -> agreement level, for the reviewer


def thresholds(settings: FlowSettings) -> Thresholds:
    return Thresholds(link=settings.match_link_threshold, review=settings.match_review_threshold)


def policy(settings: FlowSettings, incoming: str) -> DuplicateAction:
    """The duplicate policy for a record coming from ``incoming`` ("salesforce" or the books)."""
    value = (
        settings.duplicate_policy_salesforce_to_books
        if incoming == "salesforce"
        else settings.duplicate_policy_books_to_salesforce
    )
    return DuplicateAction(value)


def build_pool(items: Iterable[tuple[str, Customer]], taken: set[str], settings: FlowSettings) -> Pool:
    customers = dict(items)
    index = CustomerIndex(customers.items(), settings=MatchSettings(thresholds=thresholds(settings)))
    by_code = {c.code.casefold(): i for i, c in customers.items() if c.code}
    return Pool(index, customers, by_code, set(taken))


def decide(pool: Pool, customer: Customer, settings: FlowSettings, excluded: frozenset[str] = frozenset()) -> Verdict:
    """What to do with ``customer``: which record of the pool it is, if any, and how sure."""
    code_match = pool.by_code.get(customer.code.casefold()) if customer.code else None
    if code_match is not None and code_match not in pool.taken and code_match not in excluded:
        return Verdict(Decision.LINK, code_match, "code", 1.0)
    if not pool.customers:
        return Verdict(Decision.NEW)  # nothing to score against (a first backfill into empty books)
    result = pool.index.query(customer, limit=5)
    for candidate in result.candidates:
        if candidate.id in pool.taken or candidate.id in excluded:
            continue
        decision = thresholds(settings).decide(candidate.probability)
        if decision is Decision.NEW:
            break
        why = dict(zip(COMPARISON_NAMES, candidate.comparison, strict=True))
        return Verdict(decision, candidate.id, "model", candidate.probability, why)
    return Verdict(Decision.NEW)


def place_books_customer(
    ledger: Ledger,
    pool: Pool,
    customer: Customer,
    ref: Ref,
    settings: FlowSettings,
    *,
    flow: str,
    crm_object: tuple[str, str],
) -> tuple[Verdict, str] | None:
    """A customer from the books (``ref``) against the pool of unlinked CRM accounts (``crm_object``: system,
    object): None when it is new; else its verdict and the candidate's id, taken from the pool and, when the verdict
    is REVIEW, queued for a person. Candidates a person rejected for it before are never offered again."""
    rejected = frozenset(
        r.target[2] for r in review.reviews_of(ledger, *ref) if r.status == review.REJECTED and r.source == ref
    )
    verdict = decide(pool, customer, settings, rejected)
    if verdict.target is None or verdict.decision is Decision.NEW:
        return None
    pool.taken.add(verdict.target)
    if verdict.decision is Decision.REVIEW:
        review.queue(
            ledger,
            flow=flow,
            source=ref,
            target=(*crm_object, verdict.target),
            score=verdict.score,
            why=verdict.why,
            source_record=customer.model_dump(mode="json"),
            target_record=pool.customers[verdict.target].model_dump(mode="json"),
        )
    return verdict, verdict.target
