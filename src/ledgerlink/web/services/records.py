"""Finding a record by any system's id or invoice number, and its journey: every step, system and write."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from ledgerlink.store import Ledger
from ledgerlink.store.tables import AuditLog, CrossReference, FailedRecord

RecordKey = tuple[str, str, str]  # (system, object, id)


@dataclass(frozen=True)
class JourneyStep:
    at: dt.datetime
    flow: str
    run_id: str | None
    system: str
    object: str
    record_id: str | None
    action: str
    detail: dict[str, Any]


@dataclass
class Journey:
    anchor: RecordKey
    linked: list[RecordKey]
    runs: dict[str, list[JourneyStep]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def steps(self) -> list[JourneyStep]:
        return sorted((s for run in self.runs.values() for s in run), key=lambda s: s.at)


def search(ledger: Ledger, q: str, limit: int = 50) -> list[RecordKey]:
    """Every record whose id is ``q`` on any system, as (system, object, id)."""
    q = q.strip()
    if not q:
        return []
    found: dict[RecordKey, None] = {}
    with ledger.session() as s:
        for x in s.scalars(
            select(CrossReference).where(or_(CrossReference.id_a == q, CrossReference.id_b == q)).limit(limit)
        ):
            key = (x.system_a, x.object_a, x.id_a) if x.id_a == q else (x.system_b, x.object_b, x.id_b)
            found[key] = None
        for a in s.scalars(select(AuditLog).where(AuditLog.record_id == q).limit(limit)):
            found[(a.system, a.object, q)] = None
        for f in s.scalars(select(FailedRecord).where(FailedRecord.source_id == q).limit(limit)):
            found[(f.source_system, f.source_object, q)] = None
    return list(found)[:limit]


def _linked(ledger: Ledger, anchor: RecordKey) -> list[RecordKey]:
    """The anchor and everything the cross-reference ledger says is the same record, transitively."""
    seen = {anchor}
    frontier = [anchor]
    with ledger.session() as s:
        while frontier and len(seen) < 100:
            system, obj, rid = frontier.pop()
            rows = s.scalars(
                select(CrossReference).where(
                    or_(
                        (CrossReference.system_a == system)
                        & (CrossReference.object_a == obj)
                        & (CrossReference.id_a == rid),
                        (CrossReference.system_b == system)
                        & (CrossReference.object_b == obj)
                        & (CrossReference.id_b == rid),
                    )
                )
            )
            for x in rows:
                for key in ((x.system_a, x.object_a, x.id_a), (x.system_b, x.object_b, x.id_b)):
                    if key not in seen:
                        seen.add(key)
                        frontier.append(key)
    return sorted(seen)


def journey(ledger: Ledger, anchor: RecordKey, limit: int = 1000) -> Journey:
    linked = _linked(ledger, anchor)
    ids = sorted({key[2] for key in linked})
    result = Journey(anchor=anchor, linked=linked)
    runs: dict[str, list[JourneyStep]] = defaultdict(list)
    with ledger.session() as s:
        query = (
            select(AuditLog)
            .where(or_(AuditLog.record_id.in_(ids), AuditLog.source_id.in_(ids)))
            .order_by(AuditLog.pk)
            .limit(limit)
        )
        for a in s.scalars(query):
            runs[a.run_id or "(no run)"].append(
                JourneyStep(a.at, a.flow, a.run_id, a.system, a.object, a.record_id, a.action, dict(a.detail or {}))
            )
        for f in s.scalars(select(FailedRecord).where(FailedRecord.source_id.in_(ids))):
            result.failures.append({"id": f.pk, "flow": f.flow, "status": f.status, "attempts": len(f.errors or [])})
    result.runs = dict(runs)
    return result
