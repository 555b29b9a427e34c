"""Evaluating alert rules against the ledger. Pure reads: deciding to send is the runner's job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerlink.store.console_tables import AlertRule, MetricSample
from ledgerlink.store.intelligence_tables import Finding
from ledgerlink.store.ledger import CHECK_EVERY_SECONDS
from ledgerlink.store.tables import AuditLog, FailedRecord, TriggerCheck, Watermark, utcnow

KINDS = {
    "failure_rate": "share of records failing in the window (0-1) is above the threshold",
    "dead_letters": "open failed records waiting for replay are more than the threshold",
    "api_budget": "share of a connection's API allocation used (0-1) is at least the threshold",
    "stalled_trigger": "a trigger has not checked its source successfully for longer than the window",
    "anomaly": "open anomaly findings (amounts, volume, failures, duplicates) in the window exceed the threshold",
    "schema_drift": "open schema-drift findings (a mapped field gone, retyped or required) exceed the threshold",
}


@dataclass(frozen=True)
class Firing:
    rule_id: int
    rule_name: str
    kind: str
    value: float
    message: str


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _failure_rate(s: Session, rule: AlertRule, now: dt.datetime) -> tuple[float, str] | None:
    since = now - dt.timedelta(minutes=rule.window_minutes)
    query = select(AuditLog.action, func.count()).where(AuditLog.at >= since).group_by(AuditLog.action)
    if rule.subject:
        query = query.where(AuditLog.flow == rule.subject)
    counts = dict(s.execute(query).all())
    failed = int(counts.get("failed", 0))
    done = sum(int(counts.get(a, 0)) for a in ("created", "updated", "matched"))
    if failed + done == 0:
        return None
    rate = failed / (failed + done)
    if rate <= rule.threshold:
        return None
    scope = f"flow {rule.subject}" if rule.subject else "all flows"
    return (
        rate,
        f"{rate:.0%} of records failed in the last {rule.window_minutes} min ({failed} of {failed + done}, {scope})",
    )


def _dead_letters(s: Session, rule: AlertRule, _now: dt.datetime) -> tuple[float, str] | None:
    query = select(func.count()).select_from(FailedRecord).where(FailedRecord.status == "open")
    if rule.subject:
        query = query.where(FailedRecord.flow == rule.subject)
    count = int(s.scalar(query) or 0)
    if count <= rule.threshold:
        return None
    return float(count), f"{count} failed records are waiting for replay (threshold {rule.threshold:g})"


def _api_budget(s: Session, rule: AlertRule, _now: dt.datetime) -> tuple[float, str] | None:
    worst: tuple[float, str] | None = None
    subjects = [rule.subject] if rule.subject else list(s.scalars(select(MetricSample.subject).distinct()))
    for subject in subjects:
        latest = {}
        for name in ("api_used", "api_limit"):
            latest[name] = s.scalar(
                select(MetricSample.value)
                .where(MetricSample.subject == subject, MetricSample.name == name)
                .order_by(MetricSample.at.desc(), MetricSample.pk.desc())
                .limit(1)
            )
        if not latest["api_limit"] or latest["api_used"] is None:
            continue
        share = float(latest["api_used"]) / float(latest["api_limit"])
        if share >= rule.threshold and (worst is None or share > worst[0]):
            worst = (share, f"connection {subject} has used {share:.0%} of its API allocation")
    return worst


@dataclass(frozen=True)
class Watched:
    """One enabled flow's trigger as a stalled-trigger rule watches it: its watermarks (a flow whose worker also
    subscribes to change events has the subscription's too), and how long it rightly stays still between two runs
    (a flow checked hourly: an hour; one on a nightly clock: a day; one that polls: 0), which the rule's window
    comes on top of."""

    marks: tuple[str, ...]
    still_seconds: float = 0.0


# What a stalled-trigger rule is given, by flow name: a ``Watched``, or just the watermark (or watermarks).
Triggers = Mapping[str, Watched | str | Sequence[str]]


def watched(value: Watched | str | Sequence[str]) -> Watched:
    if isinstance(value, Watched):
        return value
    return Watched((value,) if isinstance(value, str) else tuple(value))


def trigger_times(s: Session, marks: Sequence[str]) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """For these trigger watermarks: when each last moved, and when its trigger last checked its source (each only
    where there is one)."""
    moved = {m.name: _aware(m.updated_at) for m in s.scalars(select(Watermark).where(Watermark.name.in_(marks)))}
    checked = {
        c.name: _aware(c.checked_at) for c in s.scalars(select(TriggerCheck).where(TriggerCheck.name.in_(marks)))
    }
    return moved, checked


def _stalled(s: Session, rule: AlertRule, now: dt.datetime, triggers: Triggers) -> tuple[float, str] | None:
    """A trigger is alive while it checks its source successfully (``ll_trigger_check``, refreshed by every trigger
    kind whether or not it found anything) or moves its watermark: a quiet source (no deal closed overnight) is no
    stall; a worker that is down, a poll that fails every time, a dead change-event stream are. A check is written at
    most once per ``CHECK_EVERY_SECONDS``, so it vouches for that long after its time.

    The triggers' watermarks only: the same table holds each deal's billed state and the workers' slot claims,
    which no trigger advances (every one of them would otherwise fire). The subject names a flow or a watermark.
    A trigger that has neither moved nor checked yet counts from the rule's making (a worker never started, a change
    stream that never connected). One that runs only now and then (hourly, nightly) has that long on top of the
    window."""
    flows: dict[str, str] = {}  # watermark → flow
    still: dict[str, float] = {}  # watermark → how long its trigger rightly stays still
    for flow, value in triggers.items():
        trigger = watched(value)
        for mark in trigger.marks:
            if (not rule.subject or rule.subject in (flow, mark)) and mark not in flows:
                flows[mark], still[mark] = flow, trigger.still_seconds
    if not flows:
        return None
    names = sorted(flows)
    moved, checked = trigger_times(s, names)
    grace = dt.timedelta(seconds=CHECK_EVERY_SECONDS)
    stalest: tuple[float, str] | None = None
    for mark in names:
        last_moved, last_checked = moved.get(mark), checked.get(mark)
        alive = [at for at in (last_moved, last_checked and last_checked + grace) if at is not None]
        window = dt.timedelta(minutes=rule.window_minutes, seconds=still[mark])
        since = max(alive) if alive else _aware(rule.created_at)
        if now - since <= window:
            continue
        if alive:
            minutes = (now - max(at for at in (last_moved, last_checked) if at is not None)).total_seconds() / 60
            message = f"the trigger of {flows[mark]} ({mark}) has not checked successfully for {minutes:.0f} min"
        else:
            minutes = (now - since).total_seconds() / 60
            message = (
                f"the trigger of {flows[mark]} ({mark}) has not checked successfully since this rule was made, "
                f"{minutes:.0f} min ago (is a worker running?)"
            )
        if stalest is None or minutes > stalest[0]:
            stalest = (minutes, message)
    return stalest


def _findings(kind: str) -> Callable[[Session, AlertRule, dt.datetime], tuple[float, str] | None]:
    def check(s: Session, rule: AlertRule, now: dt.datetime) -> tuple[float, str] | None:
        since = now - dt.timedelta(minutes=rule.window_minutes)
        query = select(Finding.message).where(Finding.kind == kind, Finding.status == "open")
        if kind == "anomaly":
            query = query.where(Finding.at >= since)
        if rule.subject:
            query = query.where(Finding.subject == rule.subject)
        messages = list(s.scalars(query.order_by(Finding.at.desc()).limit(1000)))
        if len(messages) <= rule.threshold:
            return None
        more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
        return float(len(messages)), "; ".join(messages[:3]) + more

    return check


_CHECKS = {
    "anomaly": _findings("anomaly"),
    "schema_drift": _findings("schema_drift"),
    "failure_rate": _failure_rate,
    "dead_letters": _dead_letters,
    "api_budget": _api_budget,
}


def evaluate(session: Session, now: dt.datetime | None = None, triggers: Triggers | None = None) -> list[Firing]:
    """Every enabled rule whose condition holds now. ``triggers``: each enabled flow's trigger watermark (or
    watermarks) by flow name (what a stalled-trigger rule watches; without it, such a rule watches nothing)."""
    now = now or utcnow()
    firing = []
    for rule in session.scalars(select(AlertRule).where(AlertRule.enabled == 1).order_by(AlertRule.pk)):
        if rule.kind == "stalled_trigger":
            result = _stalled(session, rule, now, triggers or {})
        else:
            check = _CHECKS.get(rule.kind)
            result = check(session, rule, now) if check else None
        if result is not None:
            firing.append(Firing(rule.pk, rule.name, rule.kind, result[0], result[1]))
    return firing
