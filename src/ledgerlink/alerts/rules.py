"""Evaluating alert rules against the ledger. Pure reads: deciding to send is the runner's job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerlink.store.console_tables import AlertRule, MetricSample
from ledgerlink.store.intelligence_tables import Finding
from ledgerlink.store.tables import AuditLog, FailedRecord, Watermark, utcnow

KINDS = {
    "failure_rate": "share of records failing in the window (0-1) is above the threshold",
    "dead_letters": "open failed records waiting for replay are more than the threshold",
    "api_budget": "share of a connection's API allocation used (0-1) is at least the threshold",
    "stalled_trigger": "a trigger's watermark has not moved for longer than the window",
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


def _stalled(s: Session, rule: AlertRule, now: dt.datetime, triggers: Mapping[str, str]) -> tuple[float, str] | None:
    """The triggers' watermarks only: the same table holds each deal's billed state and the workers' slot claims,
    which no trigger advances (every one of them would otherwise fire). The subject names a flow or a watermark."""
    watched = {mark: flow for flow, mark in triggers.items() if not rule.subject or rule.subject in (flow, mark)}
    if not watched:
        return None
    stalest: tuple[float, str] | None = None
    for mark in s.scalars(select(Watermark).where(Watermark.name.in_(sorted(watched)))):
        minutes = (now - _aware(mark.updated_at)).total_seconds() / 60
        if minutes > rule.window_minutes and (stalest is None or minutes > stalest[0]):
            message = f"the trigger of {watched[mark.name]} ({mark.name}) has not advanced for {minutes:.0f} min"
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


def evaluate(
    session: Session, now: dt.datetime | None = None, triggers: Mapping[str, str] | None = None
) -> list[Firing]:
    """Every enabled rule whose condition holds now. ``triggers``: each enabled flow's trigger watermark by flow name
    (what a stalled-trigger rule watches; without it, such a rule watches nothing)."""
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
