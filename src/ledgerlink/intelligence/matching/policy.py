"""What to do with a scored candidate: thresholds give link / review / new, and a per-direction policy says whether
a linked duplicate is merged into, skipped, or updates the record it matched (the seed's merge/skip/update)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ledgerlink.model import Address, Customer


class Decision(StrEnum):
    LINK = "link"  # the same customer: link automatically
    REVIEW = "review"  # perhaps the same: a person decides
    NEW = "new"  # no counterpart: create one


@dataclass(frozen=True)
class Thresholds:
    """Probabilities (0..1) at or above which a candidate is linked or sent for review."""

    link: float = 0.9
    review: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.link <= 1.0:
            raise ValueError(f"thresholds must satisfy 0 <= review ({self.review}) <= link ({self.link}) <= 1")

    def decide(self, probability: float | None) -> Decision:
        if probability is None or probability < self.review:
            return Decision.NEW
        return Decision.LINK if probability >= self.link else Decision.REVIEW


class DuplicateAction(StrEnum):
    MERGE = "merge"  # keep the existing record, fill its empty fields from the incoming one
    SKIP = "skip"  # link the two, write nothing
    UPDATE = "update"  # the incoming record's values overwrite the existing one's


@dataclass(frozen=True)
class DuplicatePolicy:
    """The action per direction, e.g. ``{(crm_name, books_name): MERGE}``; ``default`` for the others."""

    default: DuplicateAction = DuplicateAction.SKIP
    by_direction: dict[tuple[str, str], DuplicateAction] = field(default_factory=dict)

    def action(self, source: str, target: str) -> DuplicateAction:
        return self.by_direction.get((source, target), self.default)


class Outcome(StrEnum):
    CREATE = "create"
    QUEUE_FOR_REVIEW = "queue_for_review"
    LINK_ONLY = "link_only"
    MERGE = "merge"
    UPDATE = "update"


def outcome(decision: Decision, action: DuplicateAction) -> Outcome:
    """What a sync does with one incoming record, given the match decision and the direction's policy."""
    if decision is Decision.NEW:
        return Outcome.CREATE
    if decision is Decision.REVIEW:
        return Outcome.QUEUE_FOR_REVIEW
    return {DuplicateAction.SKIP: Outcome.LINK_ONLY, DuplicateAction.MERGE: Outcome.MERGE}.get(action, Outcome.UPDATE)


_MERGED_FIELDS = ("name", "email", "phone", "website", "currency", "payment_terms_days", "vat_number")


def merged(existing: Customer, incoming: Customer, action: DuplicateAction) -> Customer:
    """The record to write for MERGE (fill the gaps) or UPDATE (incoming wins where it has a value); SKIP keeps
    ``existing`` as it is. Identity (code, refs) always stays the existing record's."""
    if action is DuplicateAction.SKIP:
        return existing
    changes: dict[str, object] = {}
    for name in _MERGED_FIELDS:
        mine, theirs = getattr(existing, name), getattr(incoming, name)
        if theirs is not None and (mine is None or action is DuplicateAction.UPDATE):
            changes[name] = theirs
    for name in ("billing_address", "shipping_address"):
        mine_address: Address | None = getattr(existing, name)
        theirs_address: Address | None = getattr(incoming, name)
        if theirs_address is not None and (mine_address is None or action is DuplicateAction.UPDATE):
            changes[name] = theirs_address
    if not existing.contacts or (action is DuplicateAction.UPDATE and incoming.contacts):
        changes["contacts"] = incoming.contacts or existing.contacts
    return existing.model_copy(update=changes)
