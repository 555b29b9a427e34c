"""The overview's figures: per-flow activity, records synced and failures per hour, API budget per connection."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerlink.alerts.rules import Watched, trigger_times
from ledgerlink.engine.flows import registered_flows
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import MetricSample
from ledgerlink.store.tables import AuditLog, FailedRecord, utcnow

WRITE_ACTIONS = ("created", "updated", "matched")
Point = tuple[dt.datetime, float]


@dataclass(frozen=True)
class FlowRow:
    flow: str
    writes: int
    failures_open: int
    last_activity: dt.datetime | None
    # When the flow's trigger last read its source successfully (changes or none): None for a flow switched off,
    # or one whose trigger has not read yet.
    source_checked: dt.datetime | None = None
    switched_on: bool | None = None  # None: not a flow of the engine's (an audit entry's other name)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def flows(ledger: Ledger, triggers: Mapping[str, Watched] | None = None) -> list[FlowRow]:
    """A row per flow that has run or is switched on (``triggers``: the enabled flows' triggers, by flow name)."""
    triggers = triggers or {}
    with ledger.session() as s:
        writes = dict(
            s.execute(
                select(AuditLog.flow, func.count()).where(AuditLog.action.in_(WRITE_ACTIONS)).group_by(AuditLog.flow)
            ).all()
        )
        last = dict(s.execute(select(AuditLog.flow, func.max(AuditLog.at)).group_by(AuditLog.flow)).all())
        open_ = dict(
            s.execute(
                select(FailedRecord.flow, func.count()).where(FailedRecord.status == "open").group_by(FailedRecord.flow)
            ).all()
        )
        checked = _source_checked(s, triggers)
    names = sorted(set(writes) | set(last) | set(open_) | set(triggers))
    known = set(registered_flows())
    return [
        FlowRow(
            n,
            int(writes.get(n, 0)),
            int(open_.get(n, 0)),
            _aware(last[n]) if last.get(n) else None,
            checked.get(n),
            True if n in triggers else (False if n in known else None),
        )
        for n in names
    ]


def _source_checked(s: Session, triggers: Mapping[str, Watched]) -> dict[str, dt.datetime]:
    """Per flow, the latest of its trigger watermarks' moves and its triggers' successful checks."""
    flow_of = {mark: flow for flow, trigger in triggers.items() for mark in trigger.marks}
    if not flow_of:
        return {}
    moved, checked = trigger_times(s, sorted(flow_of))
    latest: dict[str, dt.datetime] = {}
    for mark, when in [*moved.items(), *checked.items()]:
        flow = flow_of[mark]
        if flow not in latest or when > latest[flow]:
            latest[flow] = when
    return latest


def per_hour(ledger: Ledger, actions: tuple[str, ...], hours: int = 48) -> list[Point]:
    """Audit entries with ``actions`` per hour over the last ``hours`` (bucketed in Python: same on any database)."""
    since = utcnow() - dt.timedelta(hours=hours)
    buckets: dict[dt.datetime, float] = defaultdict(float)
    with ledger.session() as s:
        for (at,) in s.execute(select(AuditLog.at).where(AuditLog.action.in_(actions), AuditLog.at >= since)):
            buckets[_aware(at).replace(minute=0, second=0, microsecond=0)] += 1
    return sorted(buckets.items())


def api_budget(ledger: Ledger, hours: int = 48) -> dict[str, list[Point]]:
    """Per connection: % of its API allocation used (api_used/api_limit), or raw calls when no limit is known."""
    since = utcnow() - dt.timedelta(hours=hours)
    raw: dict[tuple[str, str], list[Point]] = defaultdict(list)
    with ledger.session() as s:
        query = select(MetricSample).where(MetricSample.at >= since).order_by(MetricSample.at)
        for m in s.scalars(query):
            raw[(m.subject, m.name)].append((_aware(m.at), m.value))
    series: dict[str, list[Point]] = {}
    for subject in sorted({k[0] for k in raw}):
        used, limit = raw.get((subject, "api_used"), []), raw.get((subject, "api_limit"), [])
        if used and limit:
            limits = dict(limit)
            series[f"{subject} % used"] = [(t, 100 * v / limits[t]) for t, v in used if limits.get(t)]
        elif raw.get((subject, "api_calls")):
            series[f"{subject} calls"] = raw[(subject, "api_calls")]
    return series
