"""Invoice anomalies as invoices are made: each new invoice against the history of its customer and products
(``intelligence.anomalies.InvoiceWatch``), what is odd kept as a finding (alert kind ``anomaly``).

The history lives in this process, seeded from the audit log's invoice entries (which carry each invoice's total,
date and line prices) the first time and again every ``RESEED``: so workers agree within that time. It is the history
of one ledger: a process that opens another (the tests, a console pointed elsewhere) seeds anew from that one."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from sqlalchemy import select

from ledgerlink.intelligence import findings
from ledgerlink.intelligence.anomalies import InvoiceSeen, InvoiceWatch, Line, invoice_seen
from ledgerlink.store import Ledger
from ledgerlink.store.tables import AuditLog, utcnow

log = logging.getLogger("ledgerlink.intelligence")
RESEED = 600.0  # seconds
SEED_LIMIT = 20_000  # invoices read back to seed the history (bounded)
MAX_LINES = 50  # line prices kept in an audit entry

_lock = threading.Lock()
_watch: tuple[str, float, InvoiceWatch] | None = None  # the ledger's URL, when seeded, the history


def summary(invoice: dict[str, Any]) -> dict[str, Any]:
    """What the invoice's audit entry keeps for the history: total, date and line prices."""
    seen = invoice_seen("", "", invoice)
    lines = [[line.product, line.quantity, line.unit_price] for line in seen.lines[:MAX_LINES]]
    return {"total": seen.total, "issue_date": seen.issue_date, "prices": lines}


def _seeded(ledger: Ledger) -> InvoiceWatch:
    watch = InvoiceWatch()
    since = utcnow() - dt.timedelta(days=400)
    query = (
        select(AuditLog.record_id, AuditLog.detail)
        .where(AuditLog.action == "created", AuditLog.at >= since)
        .order_by(AuditLog.pk.desc())
        .limit(SEED_LIMIT)
    )
    with ledger.session() as s:
        rows = [(r, d) for r, d in s.execute(query) if isinstance(d, dict) and "prices" in d and "customer" in d]
    for record_id, detail in reversed(rows):
        lines = tuple(Line(p[0], float(p[1]), float(p[2])) for p in detail.get("prices") or [] if len(p) == 3)
        watch.check(InvoiceSeen(str(record_id), str(detail["customer"]), str(detail.get("issue_date", "")), lines))
    return watch


def observe(ledger: Ledger, made: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Check new invoices (number, customer id, canonical invoice JSON); returns how many anomalies were kept.
    Never raises: noticing must not stop invoicing."""
    global _watch
    try:
        with _lock:
            if _watch is None or _watch[0] != ledger.url or time.monotonic() - _watch[1] > RESEED:
                _watch = (ledger.url, time.monotonic(), _seeded(ledger))
            watch = _watch[2]
            found = [
                a for number, customer, invoice in made for a in watch.check(invoice_seen(number, customer, invoice))
            ]
        for a in found:
            findings.record(
                ledger,
                key=f"anomaly:{a.rule}:{a.subject}",
                kind="anomaly",
                rule=a.rule,
                subject=a.subject,
                message=a.message,
                detail=a.detail,
            )
        return len(found)
    except Exception:
        log.exception("invoice anomaly check failed")
        return 0
