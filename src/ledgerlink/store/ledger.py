"""The ledger's API: every flow reads and writes through this class, never through raw tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Executable, Row, String, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from ledgerlink.store import _statements as statements
from ledgerlink.store.database import make_engine, migrate
from ledgerlink.store.tables import AuditLog, CrossReference, FailedRecord, utcnow

IN_CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's bound-parameter limits
# A trigger's successful checks are written once per period of this length (per trigger, per process): an idle worker
# polls every few seconds, and a write per poll is what its idle CPU was cut down from. The stalled-trigger rule
# allows for it.
CHECK_EVERY_SECONDS = 60.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    flow: str
    run_id: str | None
    source_id: str | None
    system: str
    object: str
    record_id: str | None
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class FailedRecordRow:
    id: int
    flow: str
    source_system: str
    source_object: str
    source_id: str
    target_ids: dict[str, Any]
    input: dict[str, Any]
    errors: list[dict[str, Any]]
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class StoredVersion:
    content_hash: str
    written_by_us: bool
    modified_at: str | None


def content_hash(values: dict[str, Any]) -> str:
    """A stable hash of a record's mapped fields, for echo suppression and change detection."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


class Ledger:
    """The hot paths (links, watermarks, versions, audit) run prebuilt Core statements (``_statements``) on a
    pooled connection; the rest uses ORM sessions."""

    def __init__(self, url: str, *, engine: Engine | None = None, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        if run_migrations:
            migrate(url, self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._sql = statements.build(self.engine.dialect.name)
        self.check_every = CHECK_EVERY_SECONDS
        self.check_clock: Callable[[], float] = time.monotonic
        self._checked: dict[str, float | None] = {}  # trigger watermark → the period its check was last written in
        self._checked_lock = threading.Lock()

    def _read(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(statement, params).first()

    def _write(self, statement: Executable, params: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(statement, params).rowcount)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # --- cross-references ---------------------------------------------------------------------------------

    def link(self, a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
        """Record that ``a`` and ``b`` are the same record; linking twice is harmless, linking ``a`` to another
        record is an error."""
        self.link_all([(a, b)])

    def lookup(
        self, system: str, obj: str, record_id: str, other_system: str, other_object: str | None = None
    ) -> str | None:
        """The id on ``other_system`` of the record ``(system, obj, record_id)``, in either stored direction."""
        params = {"system": system, "obj": obj, "rid": record_id, "other": other_system, "other_obj": other_object}
        row = self._read(self._sql.lookup if other_object is not None else self._sql.lookup_any_object, params)
        if row is None:
            return None
        return str(row.id_b if row.system_a == system and row.id_a == record_id else row.id_a)

    def lookup_many(
        self, system: str, obj: str, record_ids: Iterable[str], other_system: str, other_object: str
    ) -> dict[str, str]:
        """``lookup`` for many records of one object at once: the id on ``other_system`` of each that has one."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, str] = {}
        params = {"system": system, "obj": obj, "other": other_system, "other_obj": other_object}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                rows = conn.execute(self._sql.lookup_many, {**params, "rids": ids[start : start + IN_CHUNK]})
                for row in rows:
                    forward = row.system_a == system and row.object_a == obj
                    found[row.id_a if forward else row.id_b] = row.id_b if forward else row.id_a
        return found

    def link_all(self, pairs: Sequence[tuple[tuple[str, str, str], tuple[str, str, str]]]) -> None:
        """``link`` for many pairs in one transaction (a batch's records, once their creates are done)."""
        if not pairs:
            return
        now = utcnow()
        rows = [
            {
                "now": now,
                "system_a": a[0],
                "object_a": a[1],
                "id_a": a[2],
                "system_b": b[0],
                "object_b": b[1],
                "id_b": b[2],
            }
            for a, b in pairs
        ]
        with self.engine.begin() as conn:
            written = conn.execute(self._sql.link, rows[0] if len(rows) == 1 else rows).rowcount
        if written == len(rows):
            return
        # Some were there already (or the driver does not count an executemany: psycopg's rowcount then is not the
        # sum, so on PostgreSQL this check runs every time): each must be the same link. One query per kind of pair.
        wanted: dict[tuple[str, str, str, str], dict[str, str]] = {}
        for a, b in pairs:
            wanted.setdefault((a[0], a[1], b[0], b[1]), {})[a[2]] = b[2]
        for (system_a, object_a, system_b, object_b), links in wanted.items():
            found = self.lookup_many(system_a, object_a, list(links), system_b, object_b)
            for id_a, id_b in links.items():
                existing = found.get(id_a)
                if existing != id_b:
                    theirs = f"{system_b} {object_b} {existing}"
                    raise ValueError(f"{system_a} {object_a} {id_a} is already linked to {theirs}, not {id_b}")

    def count_links(self, system_a: str, object_a: str, system_b: str, object_b: str) -> int:
        with self.session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(CrossReference)
                    .where(
                        CrossReference.system_a == system_a,
                        CrossReference.object_a == object_a,
                        CrossReference.system_b == system_b,
                        CrossReference.object_b == object_b,
                    )
                )
                or 0
            )

    # --- watermarks ---------------------------------------------------------------------------------------

    def get_watermark(self, name: str) -> str | None:
        row = self._read(self._sql.get_watermark, {"name": name})
        return None if row is None else str(row.value)

    def get_watermarks(self, names: Iterable[str]) -> dict[str, str]:
        """``get_watermark`` for many names at once: the value of each that has one."""
        wanted = list(dict.fromkeys(names))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                for row in conn.execute(self._sql.get_watermarks, {"names": wanted[start : start + IN_CHUNK]}):
                    found[str(row.name)] = str(row.value)
        return found

    def set_watermark(self, name: str, value: str) -> None:
        """Upsert; a value already stored is left alone (its ``updated_at`` too)."""
        self._write(self._sql.set_watermark, {"name": name, "value": value, "now": utcnow()})

    def advance_watermark(self, name: str, value: str) -> bool:
        """Set watermark ``name`` to ``value`` only if it has none or a smaller one (text order); True for the
        caller that moved it. Processes racing to advance it to the same value: exactly one gets True."""
        with self.engine.begin() as conn:
            moved = conn.execute(self._sql.advance_watermark, {"name": name, "value": value, "now": utcnow()})
            return moved.first() is not None

    def set_watermarks(self, values: dict[str, str]) -> None:
        """``set_watermark`` for many names in one transaction."""
        if values:
            now = utcnow()
            rows = [{"name": name, "value": value, "now": now} for name, value in values.items()]
            with self.engine.begin() as conn:
                conn.execute(self._sql.set_watermark, rows[0] if len(rows) == 1 else rows)

    def trigger_checked(self, *names: str) -> list[str]:
        """The triggers keeping watermarks ``names`` read their sources successfully just now, whether or not
        there was anything new: the stalled-trigger alert rules read it (``ll_trigger_check``), since a watermark
        stands still while its source is quiet. Written at most once per period of ``check_every`` seconds per name
        by this ledger (the calls between cost a dictionary look-up). The periods are the same for every name (this
        process's clock cut into ``check_every`` pieces), so the checks of many triggers fall due together and go in
        one statement. Best effort: it never raises (a trigger must not fail for want of it); a failed write is
        logged and tried again in the next period. Returns the names it wrote."""
        period = self.check_clock() // self.check_every if self.check_every > 0 else None
        with self._checked_lock:
            due = [n for n in dict.fromkeys(names) if period is None or self._checked.get(n) != period]
            for name in due:  # taken now, so that two threads checking at once write it once
                self._checked[name] = period
        if not due:
            return []
        now = utcnow()
        rows = [{"name": name, "now": now} for name in due]
        try:
            with self.engine.begin() as conn:
                conn.execute(self._sql.trigger_checked, rows[0] if len(rows) == 1 else rows)
        except Exception:
            log.warning("could not record the trigger check of %s", ", ".join(due), exc_info=True)
            return []
        return due

    # --- record versions (echo suppression, conflicts) ---------------------------------------------------

    def get_version(self, system: str, obj: str, record_id: str) -> StoredVersion | None:
        row = self._read(self._sql.get_version, {"system": system, "object": obj, "record_id": record_id})
        return None if row is None else StoredVersion(row.content_hash, bool(row.written_by_us), row.modified_at)

    def get_versions(self, system: str, obj: str, record_ids: Iterable[str]) -> dict[str, StoredVersion]:
        """``get_version`` for many records of one object at once: the version of each that has one."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, StoredVersion] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                params = {"system": system, "object": obj, "record_ids": ids[start : start + IN_CHUNK]}
                for row in conn.execute(self._sql.get_versions, params):
                    found[str(row.record_id)] = StoredVersion(
                        row.content_hash, bool(row.written_by_us), row.modified_at
                    )
        return found

    def put_version(
        self, system: str, obj: str, record_id: str, values_hash: str, *, written_by_us: bool, modified_at: str | None
    ) -> None:
        """Upsert the record's version; one that already says the same (hash and writer) is left alone."""
        self.put_versions([((system, obj, record_id), values_hash, written_by_us, modified_at)])

    def put_versions(self, versions: Sequence[tuple[tuple[str, str, str], str, bool, str | None]]) -> None:
        """``put_version`` for many records in one transaction: ((system, object, id), hash, ours, modified_at)."""
        if not versions:
            return
        now = utcnow()
        rows = [
            {
                "now": now,
                "system": ref[0],
                "object": ref[1],
                "record_id": ref[2],
                "content_hash": values_hash,
                "written_by_us": int(ours),
                "modified_at": modified_at,
            }
            for ref, values_hash, ours, modified_at in versions
        ]
        with self.engine.begin() as conn:
            conn.execute(self._sql.put_version, rows[0] if len(rows) == 1 else rows)

    # --- audit log ----------------------------------------------------------------------------------------

    def audit(
        self,
        *,
        flow: str,
        system: str,
        obj: str,
        action: str,
        record_id: str | None = None,
        run_id: str | None = None,
        source_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.audit_all(
            [
                dict(
                    flow=flow,
                    system=system,
                    obj=obj,
                    action=action,
                    record_id=record_id,
                    run_id=run_id,
                    source_id=source_id,
                    detail=detail,
                )
            ]
        )

    def audit_all(self, entries: Sequence[dict[str, Any]]) -> None:
        """Audit entries (each with ``audit``'s keyword arguments) in one transaction: a batch's writes at once."""
        if not entries:
            return
        now = utcnow()
        rows = [_audit_row(now=now, **entry) for entry in entries]
        with self.engine.begin() as conn:
            conn.execute(self._sql.audit, rows[0] if len(rows) == 1 else rows)

    # --- create intents -----------------------------------------------------------------------------------

    def add_intents(
        self, flow: str, source: tuple[str, str], source_ids: Iterable[str], run_id: str | None
    ) -> set[str]:
        """Record that ``flow`` is about to create something for each source record; returns those an earlier
        attempt had already announced (it may have made theirs: look in the target system before creating)."""
        ids = list(dict.fromkeys(source_ids))
        key = {"flow": flow, "source_system": source[0], "source_object": source[1]}
        earlier: set[str] = set()
        with self.engine.begin() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                earlier.update(row.source_id for row in conn.execute(self._sql.intents, {**key, "source_ids": chunk}))
            new = [{**key, "source_id": i, "run_id": run_id, "now": utcnow()} for i in ids if i not in earlier]
            if new:
                conn.execute(self._sql.add_intent, new)
        return earlier

    def audit_trail(
        self, *, source_id: str | None = None, record_id: str | None = None, limit: int = 500
    ) -> list[AuditEntry]:
        query = select(AuditLog).order_by(AuditLog.pk).limit(limit)
        if source_id is not None:
            query = query.where(AuditLog.source_id == source_id)
        if record_id is not None:
            query = query.where(AuditLog.record_id == record_id)
        with self.session() as s:
            return [
                AuditEntry(
                    at=row.at,
                    flow=row.flow,
                    run_id=row.run_id,
                    source_id=row.source_id,
                    system=row.system,
                    object=row.object,
                    record_id=row.record_id,
                    action=row.action,
                    detail=row.detail,
                )
                for row in s.scalars(query)
            ]

    def count_audit(self, *, flow: str | None = None, action: str | None = None, system: str | None = None) -> int:
        query = select(func.count()).select_from(AuditLog)
        if flow:
            query = query.where(AuditLog.flow == flow)
        if action:
            query = query.where(AuditLog.action == action)
        if system:
            query = query.where(AuditLog.system == system)
        with self.session() as s:
            return int(s.scalar(query) or 0)

    # --- failed records -----------------------------------------------------------------------------------

    def record_failure(
        self,
        *,
        flow: str,
        source: tuple[str, str, str],
        error: str,
        field: str | None = None,
        input_data: dict[str, Any] | None = None,
        target_ids: dict[str, Any] | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> int:
        """Open (or re-open) the failed record for ``source`` in ``flow`` and append this attempt's errors."""
        now = utcnow().isoformat()
        new_errors = attempts or [{"at": now, "error": error, "field": field}]
        with self.session() as s:
            row = s.execute(
                select(FailedRecord).where(FailedRecord.flow == flow, FailedRecord.source_id == source[2])
            ).scalar_one_or_none()
            if row is None:
                row = FailedRecord(
                    flow=flow,
                    source_system=source[0],
                    source_object=source[1],
                    source_id=source[2],
                    target_ids=target_ids or {},
                    input=input_data or {},
                    errors=list(new_errors),
                    status="open",
                )
                s.add(row)
            else:
                row.errors = [*row.errors, *new_errors]
                row.status = "open"
                if input_data:
                    row.input = input_data
                if target_ids:
                    row.target_ids = {**row.target_ids, **target_ids}
            s.flush()
            return int(row.pk)

    def fail_record(
        self,
        *,
        flow: str,
        source: tuple[str, str, str],
        message: str,
        field: str | None,
        attempts: list[str] | None = None,
        input_data: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> int:
        """What every flow does when a record fails: the failed record (each retried attempt's error, then the
        verdict) and its audit entry. Returns the failed record's id."""
        errors = [*({"error": a, "field": field} for a in attempts or []), {"error": message, "field": field}]
        failed_id = self.record_failure(
            flow=flow, source=source, error=message, field=field, input_data=input_data, attempts=errors
        )
        self.audit(
            flow=flow,
            system=source[0],
            obj=source[1],
            record_id=source[2],
            action="failed",
            run_id=run_id,
            source_id=source[2],
            detail={"error": message, "field": field},
        )
        return failed_id

    def resolve_failure(self, flow: str, source_id: str, status: str = "resolved") -> None:
        self.resolve_failures(flow, [source_id], status)

    def resolve_failures(self, flow: str, source_ids: Iterable[str], status: str = "resolved") -> None:
        """Close the open failed records of these source records. Every successful run calls this and nearly all
        find nothing open: one read for all spares them a write."""
        ids = list(dict.fromkeys(source_ids))
        open_ids: list[str] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                params = {"of_flow": flow, "of_sources": ids[start : start + IN_CHUNK]}
                open_ids.extend(row.source_id for row in conn.execute(self._sql.open_failures, params))
        for source_id in open_ids:
            self._write(
                self._sql.resolve_failure,
                {"of_flow": flow, "of_source": source_id, "of_status": status, "now": utcnow()},
            )

    def failed_records(
        self,
        *,
        flow: str | None = None,
        status: str | None = "open",
        limit: int = 1000,
        newest_first: bool = False,
        search: str | None = None,
        after_id: int | None = None,
    ) -> list[FailedRecordRow]:
        """Up to ``limit`` failed records: the oldest first, or with ``newest_first`` the newest ``limit`` of
        them (a cap must drop the oldest, never the newest). ``search`` matches the source id or an error text."""
        order = FailedRecord.pk.desc() if newest_first else FailedRecord.pk
        query = select(FailedRecord).order_by(order).limit(limit)
        if search:
            needle = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                func.lower(FailedRecord.source_id).like(needle, escape="\\")
                | func.lower(cast(FailedRecord.errors, String)).like(needle, escape="\\")
            )
        if after_id is not None:  # paging through all of them, oldest first
            query = query.where(FailedRecord.pk > after_id)
        if flow:
            query = query.where(FailedRecord.flow == flow)
        if status:
            query = query.where(FailedRecord.status == status)
        with self.session() as s:
            return [_failed_row(row) for row in s.scalars(query)]

    def failed_record(self, failed_id: int) -> FailedRecordRow | None:
        with self.session() as s:
            row = s.get(FailedRecord, failed_id)
            return _failed_row(row) if row else None


def _audit_row(
    *,
    now: dt.datetime,
    flow: str,
    system: str,
    obj: str,
    action: str,
    record_id: str | None = None,
    run_id: str | None = None,
    source_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"flow": flow, "run_id": run_id, "source_id": source_id, "system": system, "object": obj}
    row.update(record_id=record_id, action=action, detail=detail or {}, now=now)
    return row


def _failed_row(row: FailedRecord) -> FailedRecordRow:
    return FailedRecordRow(
        id=row.pk,
        flow=row.flow,
        source_system=row.source_system,
        source_object=row.source_object,
        source_id=row.source_id,
        target_ids=row.target_ids,
        input=row.input,
        errors=row.errors,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
