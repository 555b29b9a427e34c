"""The golden-record review queue: pairs matching was unsure of, decided by a person (approve links them, reject
keeps them apart), every decision audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ledgerlink.store import Ledger
from ledgerlink.store.intelligence_tables import MatchReview
from ledgerlink.store.tables import utcnow

Ref = tuple[str, str, str]  # system, object, id
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


@dataclass(frozen=True)
class Review:
    id: int
    flow: str
    source: Ref
    target: Ref
    score: float
    why: dict[str, Any]
    source_record: dict[str, Any]
    target_record: dict[str, Any]
    status: str
    decided_by: str | None
    action: str | None = None  # what the approval writes (merge | update | skip); None: the settings' policy


ACTIONS = ("merge", "update", "skip")


def _out(row: MatchReview) -> Review:
    return Review(
        id=row.pk,
        flow=row.flow,
        source=(row.source_system, row.source_object, row.source_id),
        target=(row.target_system, row.target_object, row.target_id),
        score=row.score,
        why=dict(row.why or {}),
        source_record=dict(row.source_record or {}),
        target_record=dict(row.target_record or {}),
        status=row.status,
        decided_by=row.decided_by,
        action=row.action,
    )


def queue(
    ledger: Ledger,
    *,
    flow: str,
    source: Ref,
    target: Ref,
    score: float,
    why: dict[str, Any],
    source_record: dict[str, Any],
    target_record: dict[str, Any],
) -> bool:
    """Queue the pair for review; False when it is already queued (or was decided)."""
    try:
        with ledger.session() as s:
            s.add(
                MatchReview(
                    flow=flow,
                    source_system=source[0],
                    source_object=source[1],
                    source_id=source[2],
                    target_system=target[0],
                    target_object=target[1],
                    target_id=target[2],
                    score=score,
                    why=why,
                    source_record=source_record,
                    target_record=target_record,
                    status=PENDING,
                )
            )
    except IntegrityError:
        return False
    ledger.audit(
        flow=flow,
        system=source[0],
        obj=source[1],
        record_id=source[2],
        action="match_review",
        source_id=source[2],
        detail={"candidate": list(target), "score": round(score, 4)},
    )
    return True


def reviews_of(ledger: Ledger, system: str, obj: str, record_id: str) -> list[Review]:
    """Every review naming this record on either side."""
    with ledger.session() as s:
        rows = s.scalars(
            select(MatchReview).where(
                ((MatchReview.source_system == system) & (MatchReview.source_object == obj))
                & (MatchReview.source_id == record_id)
                | ((MatchReview.target_system == system) & (MatchReview.target_object == obj))
                & (MatchReview.target_id == record_id)
            )
        )
        return [_out(r) for r in rows]


def pending_ids(ledger: Ledger, system: str, obj: str) -> set[str]:
    """Records of this system and object waiting in a pending review (on either side): a sync neither creates
    a counterpart for them nor offers them to another match until a person decides."""
    with ledger.session() as s:
        ids = set(
            s.scalars(
                select(MatchReview.source_id).where(
                    MatchReview.status == PENDING,
                    MatchReview.source_system == system,
                    MatchReview.source_object == obj,
                )
            )
        )
        ids |= set(
            s.scalars(
                select(MatchReview.target_id).where(
                    MatchReview.status == PENDING,
                    MatchReview.target_system == system,
                    MatchReview.target_object == obj,
                )
            )
        )
    return ids


def find(ledger: Ledger, status: str | None = PENDING, limit: int = 500) -> list[Review]:
    query = select(MatchReview).order_by(MatchReview.pk).limit(limit)
    if status:
        query = query.where(MatchReview.status == status)
    with ledger.session() as s:
        return [_out(r) for r in s.scalars(query)]


def get(ledger: Ledger, review_id: int) -> Review | None:
    with ledger.session() as s:
        row = s.get(MatchReview, review_id)
        return _out(row) if row else None


class ReviewError(Exception):
    """The review can't be decided (unknown, already decided, or one side already linked elsewhere)."""


def decide(ledger: Ledger, review_id: int, *, approve: bool, user: str, action: str | None = None) -> Review:
    """Approve (link the two records; ``action`` merge/update/skip says what the link writes, else the settings'
    duplicate policy) or reject (keep them apart; the source gets its own counterpart at its next sync). Audited
    with who decided."""
    if action is not None and (action not in ACTIONS or not approve):
        raise ReviewError(f"an approval's action is one of {', '.join(ACTIONS)}")
    review = get(ledger, review_id)
    if review is None:
        raise ReviewError("no such review")
    if review.status != PENDING:
        raise ReviewError(f"review {review_id} was already {review.status}")
    if approve:
        # Link first (its own transaction): a link the ledger refuses leaves the review pending.
        taken = ledger.lookup(*review.source, review.target[0], review.target[1]) or ledger.lookup(
            *review.target, review.source[0], review.source[1]
        )
        if taken:
            raise ReviewError(f"one of the two records is already linked (to {taken})")
        ledger.link(review.source, review.target)
    now, who = utcnow(), user[:64]
    with ledger.session() as s:
        row = s.get(MatchReview, review_id)
        assert row is not None
        row.status, row.decided_by, row.decided_at = (APPROVED if approve else REJECTED), who, now
        row.action = action
        if approve:  # the source's other candidates are moot once it is linked
            others = select(MatchReview).where(
                MatchReview.source_system == review.source[0],
                MatchReview.source_object == review.source[1],
                MatchReview.source_id == review.source[2],
                MatchReview.status == PENDING,
                MatchReview.pk != review_id,
            )
            for other in s.scalars(others):
                other.status, other.decided_by, other.decided_at = REJECTED, who, now
    ledger.audit(
        flow=review.flow,
        system=review.source[0],
        obj=review.source[1],
        record_id=review.source[2],
        action="review_approved" if approve else "review_rejected",
        source_id=review.source[2],
        detail={
            "review": review_id,
            "candidate": list(review.target),
            "score": round(review.score, 4),
            "by": who,
            "action": action,
        },
    )
    decided = get(ledger, review_id)
    assert decided is not None
    return decided
