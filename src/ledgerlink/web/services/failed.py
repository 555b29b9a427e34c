"""Failed records: filter, inspect, and replay one or many."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ledgerlink.store import FailedRecordRow, Ledger
from ledgerlink.store.tables import FailedRecord
from ledgerlink.web.services.replay import Replayer, ReplayUnavailable


@dataclass(frozen=True)
class ReplayResult:
    id: int
    source_id: str
    run_id: str | None
    error: str | None


def find(
    ledger: Ledger, *, flow: str | None = None, status: str | None = "open", q: str | None = None, limit: int = 200
) -> list[FailedRecordRow]:
    # Newest first, filtered in the database: a cap drops the oldest records, never the newest ones.
    return ledger.failed_records(
        flow=flow or None, status=status or None, limit=limit, newest_first=True, search=(q or "").strip() or None
    )


def counts_by_status(ledger: Ledger) -> dict[str, int]:
    with ledger.session() as s:
        return {
            str(status): int(n)
            for status, n in s.execute(select(FailedRecord.status, func.count()).group_by(FailedRecord.status))
        }


def flows(ledger: Ledger) -> list[str]:
    with ledger.session() as s:
        return [str(f) for f in s.scalars(select(FailedRecord.flow).distinct().order_by(FailedRecord.flow))]


def replay(ledger: Ledger, replayer: Replayer, ids: list[int]) -> list[ReplayResult]:
    results = []
    for failed_id in ids:
        row = ledger.failed_record(failed_id)
        if row is None:
            results.append(ReplayResult(failed_id, "", None, "no such failed record"))
            continue
        try:
            run_id = replayer.replay(row.flow, row.source_id)
            results.append(ReplayResult(failed_id, row.source_id, run_id, None))
        except ReplayUnavailable as exc:
            results.append(ReplayResult(failed_id, row.source_id, None, str(exc)))
    return results
