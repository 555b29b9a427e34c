"""Findings (anomalies, schema drift) kept in the ledger, one per ``key``, open until a person dismisses them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ledgerlink.store import Ledger
from ledgerlink.store.intelligence_tables import Finding
from ledgerlink.store.tables import utcnow


@dataclass(frozen=True)
class FindingRow:
    id: int
    kind: str
    rule: str
    subject: str
    message: str
    detail: dict[str, Any]
    status: str
    at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out


def record(
    ledger: Ledger, *, key: str, kind: str, rule: str, subject: str, message: str, detail: dict[str, Any]
) -> bool:
    """Keep a finding; False when the same one (``key``) is already kept."""
    try:
        with ledger.session() as s:
            s.add(
                Finding(
                    key=key[:300],
                    kind=kind,
                    rule=rule,
                    subject=subject[:200],
                    message=message[:2000],
                    detail=detail,
                    status="open",
                    at=utcnow(),
                )
            )
    except IntegrityError:
        return False
    return True


def find(ledger: Ledger, *, kind: str | None = None, status: str | None = "open", limit: int = 500) -> list[FindingRow]:
    query = select(Finding).order_by(Finding.at.desc(), Finding.pk.desc()).limit(limit)
    if kind:
        query = query.where(Finding.kind == kind)
    if status:
        query = query.where(Finding.status == status)
    with ledger.session() as s:
        return [
            FindingRow(f.pk, f.kind, f.rule, f.subject, f.message, dict(f.detail or {}), f.status, f.at)
            for f in s.scalars(query)
        ]


def dismiss(ledger: Ledger, finding_id: int, user: str) -> bool:
    with ledger.session() as s:
        row = s.get(Finding, finding_id)
        if row is None or row.status != "open":
            return False
        row.status = "dismissed"
        row.detail = {**(row.detail or {}), "dismissed_by": user[:64]}
    return True
