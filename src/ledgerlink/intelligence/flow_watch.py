"""Volume and failure-rate anomalies per flow, read off the audit log (hourly counts over the last week), kept as
findings. Run before the alert rules are evaluated (``alerts.runner.check_and_send``)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select

from ledgerlink.intelligence import findings
from ledgerlink.intelligence.anomalies import Anomaly, check_failure_rate, check_volume
from ledgerlink.store import Ledger
from ledgerlink.store.tables import AuditLog, utcnow

HISTORY = dt.timedelta(days=7)
DONE = ("created", "updated", "matched")


def _hour(at: dt.datetime) -> dt.datetime:
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def scan(ledger: Ledger, now: dt.datetime | None = None) -> list[Anomaly]:
    """Each flow's last complete hour against the hours before it; keeps (and returns) what is odd."""
    now = now or utcnow()
    current = _hour(now)
    since = current - HISTORY
    done: dict[str, dict[dt.datetime, int]] = defaultdict(lambda: defaultdict(int))
    failed: dict[str, dict[dt.datetime, int]] = defaultdict(lambda: defaultdict(int))
    query = (
        select(AuditLog.flow, AuditLog.action, AuditLog.at)
        .where(AuditLog.at >= since, AuditLog.at < current, AuditLog.action.in_([*DONE, "failed"]))
        .limit(2_000_000)  # bounded: a week of a busy engine
    )
    with ledger.session() as s:
        for flow, action, at in s.execute(query):
            (failed if action == "failed" else done)[flow][_hour(at)] += 1
    found: list[Anomaly] = []
    last = current - dt.timedelta(hours=1)
    for flow in sorted(set(done) | set(failed)):
        first = min([*done[flow], *failed[flow]])
        hours = []
        at = first
        while at <= last:
            hours.append(done[flow].get(at, 0) + failed[flow].get(at, 0))
            at += dt.timedelta(hours=1)
        volume = check_volume(flow, hours)
        if volume is not None:
            found.append(volume)
        window = (failed[flow].get(last, 0), done[flow].get(last, 0))
        before = (sum(failed[flow].values()) - window[0], sum(done[flow].values()) - window[1])
        rate = check_failure_rate(flow, window, before)
        if rate is not None:
            found.append(rate)
    for a in found:
        findings.record(
            ledger,
            key=f"anomaly:{a.rule}:{a.subject}:{last.isoformat()}",
            kind="anomaly",
            rule=a.rule,
            subject=a.subject,
            message=a.message,
            detail=a.detail,
        )
    return found
