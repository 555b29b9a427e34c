"""``/metrics`` in the Prometheus text format: request counters kept in-process, ledger figures read per scrape."""

from __future__ import annotations

import threading
from collections import defaultdict

from sqlalchemy import func, select

from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertEvent, MetricSample
from ledgerlink.store.tables import AuditLog, FailedRecord

_lock = threading.Lock()
_requests: dict[tuple[str, str, str], int] = defaultdict(int)
_seconds: dict[tuple[str, str], float] = defaultdict(float)


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    # Labels come from a fixed set: a made-up method or path must not add a series (unbounded memory).
    method = method if method in KNOWN_METHODS else "OTHER"
    with _lock:
        _requests[(method, route, str(status))] += 1
        _seconds[(method, route)] += seconds


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}"


def render(ledger: Ledger) -> str:
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    with _lock:
        requests = dict(_requests)
        seconds = dict(_seconds)
    family("ledgerlink_http_requests_total", "counter", "Console HTTP requests by method, route and status.")
    out += [
        _line("ledgerlink_http_requests_total", {"method": m, "route": r, "status": s}, n)
        for (m, r, s), n in sorted(requests.items())
    ]
    family("ledgerlink_http_request_seconds_total", "counter", "Time spent serving console requests.")
    out += [
        _line("ledgerlink_http_request_seconds_total", {"method": m, "route": r}, v)
        for (m, r), v in sorted(seconds.items())
    ]

    with ledger.session() as s:
        writes = s.execute(
            select(AuditLog.flow, AuditLog.system, AuditLog.action, func.count()).group_by(
                AuditLog.flow, AuditLog.system, AuditLog.action
            )
        ).all()
        failed = s.execute(
            select(FailedRecord.flow, FailedRecord.status, func.count()).group_by(
                FailedRecord.flow, FailedRecord.status
            )
        ).all()
        alerts = s.scalar(select(func.count()).select_from(AlertEvent)) or 0
        latest = s.execute(
            select(MetricSample.subject, MetricSample.name, MetricSample.value, func.max(MetricSample.at)).group_by(
                MetricSample.subject, MetricSample.name
            )
        ).all()
    family(
        "ledgerlink_audit_entries_total",
        "counter",
        "Audit-log entries (writes, matches, failures) by flow, system and action.",
    )
    out += [
        _line("ledgerlink_audit_entries_total", {"flow": f, "system": sy, "action": a}, n) for f, sy, a, n in writes
    ]
    family(
        "ledgerlink_failed_records", "gauge", "Failed records by flow and status (open = dead letters awaiting replay)."
    )
    out += [_line("ledgerlink_failed_records", {"flow": f, "status": st}, n) for f, st, n in failed]
    family("ledgerlink_alerts_fired_total", "counter", "Alert events recorded.")
    out.append(_line("ledgerlink_alerts_fired_total", {}, alerts))
    family("ledgerlink_connection_metric", "gauge", "Latest sample per connection (api_used, api_limit, api_calls).")
    out += [_line("ledgerlink_connection_metric", {"connection": sub, "name": n}, v) for sub, n, v, _at in latest]
    return "\n".join(out) + "\n"
