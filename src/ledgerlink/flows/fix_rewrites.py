"""Corrections a person applied to a failed record in the console that are not written to the source record: a
line's product code the books don't know, rewritten to the books' closest product (``web.services.fixes``).

Each is kept in its ``fix_applied`` audit entry (``detail["rewrite"]``: ``{"product_code": {"from": ..., "to":
...}}``), which is the audit of the change and what a replay of the record reads: only runs started as a replay
look (their run id's version is ``replay-…``: ``{flow}:{record}:replay-…``), so ordinary runs pay no query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ledgerlink.store import Ledger
from ledgerlink.store.tables import AuditLog

ACTION = "fix_applied"
REPLAY_PREFIX = "replay-"


def product_code_rewrite(code_from: str, code_to: str) -> dict[str, Any]:
    """The ``rewrite`` to keep in the audit entry's detail."""
    return {"product_code": {"from": code_from, "to": code_to}}


def read(ledger: Ledger, flow: str, record_ids: list[str], run_id: str) -> dict[str, dict[str, str]]:
    """Per record, its product code rewrites (from → to), oldest first so a later fix wins; none unless a replay."""
    if not run_id.rsplit(":", 1)[-1].startswith(REPLAY_PREFIX) or not record_ids:
        return {}
    query = (
        select(AuditLog.source_id, AuditLog.detail)
        .where(AuditLog.action == ACTION, AuditLog.flow == flow, AuditLog.source_id.in_(record_ids))
        .order_by(AuditLog.pk)
    )
    out: dict[str, dict[str, str]] = {}
    with ledger.session() as s:
        for source_id, detail in s.execute(query):
            rewrite = (detail or {}).get("rewrite") if isinstance(detail, dict) else None
            codes = rewrite.get("product_code") if isinstance(rewrite, dict) else None
            if isinstance(codes, dict) and isinstance(codes.get("from"), str) and isinstance(codes.get("to"), str):
                out.setdefault(str(source_id), {})[codes["from"]] = codes["to"]
    return out


def apply(invoice: dict[str, Any], codes: dict[str, str]) -> dict[str, Any]:
    """The canonical invoice (JSON) with its lines' product codes rewritten."""
    if not codes:
        return invoice
    lines = [
        {**line, "product_code": codes[line["product_code"]]} if line.get("product_code") in codes else line
        for line in invoice.get("lines") or []
    ]
    return {**invoice, "lines": lines}
