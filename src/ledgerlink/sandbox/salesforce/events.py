"""The org's change-event log: what a Change Data Capture / Pub/Sub server is built on.

Every create, update, delete and undelete made through the sandbox appends one ``ChangeEvent`` row to the
``events`` table of the org's SQLite file, inside the same transaction as the change (a rolled-back change leaves no
event). Python API, on ``ChangeEventLog`` (reach it as ``app.state.org.events`` or ``SalesforceOrg.events``):

- ``events_after(replay_id, limit)``: events with a replay id greater than ``replay_id`` (``None`` = from the
  earliest retained), oldest first, at most ``limit``.
- ``latest_replay_id()`` / ``earliest_replay_id()``: bounds of what is retained (``None`` when empty).
- ``wait_for_events(after_replay_id, timeout)``: block until an event newer than ``after_replay_id`` is committed;
  ``condition`` is the ``threading.Condition`` notified after each commit, for callers that prefer to wait on it.
- ``prune(now_ms=None)``: drop events older than the retention (72 h by default); also done automatically on append.

Each event carries the ``ChangeEventHeader`` fields (``header()`` gives them camelCase): entity name, record ids,
change type (CREATE/UPDATE/DELETE/UNDELETE), change origin ``com/salesforce/api/rest/59.0;client=<id>`` where the client
id comes from the writer's ``Sforce-Call-Options: client=<id>`` header, transaction key, sequence number within the
transaction, commit timestamp (ms), commit number, commit user, changed and nulled field names, and ``fields``: the
values of the changed fields (all non-null fields for CREATE and UNDELETE, none for DELETE), like a CDC payload.
Replay ids are increasing integers; consumers should treat them as opaque and not assume they are contiguous.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from .db import Database

CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE")


@dataclass(frozen=True)
class ChangeEvent:
    replay_id: int
    entity_name: str
    record_ids: list[str]
    change_type: str
    change_origin: str
    transaction_key: str
    sequence_number: int
    commit_timestamp: int
    commit_number: int
    commit_user: str
    changed_fields: list[str] = field(default_factory=list)
    nulled_fields: list[str] = field(default_factory=list)
    diff_fields: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        """The ``client=`` part of the change origin ('' when the writer sent none)."""
        _, _, client = self.change_origin.partition(";client=")
        return client

    def header(self) -> dict[str, Any]:
        return {
            "entityName": self.entity_name,
            "recordIds": list(self.record_ids),
            "changeType": self.change_type,
            "changeOrigin": self.change_origin,
            "transactionKey": self.transaction_key,
            "sequenceNumber": self.sequence_number,
            "commitTimestamp": self.commit_timestamp,
            "commitNumber": self.commit_number,
            "commitUser": self.commit_user,
            "changedFields": list(self.changed_fields),
            "nulledFields": list(self.nulled_fields),
            "diffFields": list(self.diff_fields),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ChangeTransaction:
    """Groups the events of one API call: same transaction key, increasing sequence numbers."""

    origin: str
    user_id: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    commit_number: int = 0
    sequence: int = 0


class ChangeEventLog:
    def __init__(self, db: Database, retention_seconds: float = 72 * 3600) -> None:
        self.db = db
        self.retention_seconds = retention_seconds
        self.condition = threading.Condition()
        self._commits = 0  # bumped on every commit, under ``condition``
        self._appends = 0

    # -- writing (by the DML layer, inside a db transaction) ----------------------------------------------
    def begin(self, origin: str, user_id: str) -> ChangeTransaction:
        return ChangeTransaction(origin=origin, user_id=user_id, commit_number=self.db.next_counter("commit_number"))

    def append(
        self,
        tx: ChangeTransaction,
        entity_name: str,
        record_ids: list[str],
        change_type: str,
        *,
        changed_fields: list[str] | None = None,
        nulled_fields: list[str] | None = None,
        fields: dict[str, Any] | None = None,
        commit_timestamp: int | None = None,
    ) -> None:
        if change_type not in CHANGE_TYPES:
            raise ValueError(f"unknown change type {change_type!r}")
        tx.sequence += 1
        payload = {
            "record_ids": record_ids,
            "change_type": change_type,
            "change_origin": tx.origin,
            "transaction_key": tx.key,
            "sequence_number": tx.sequence,
            "commit_number": tx.commit_number,
            "commit_user": tx.user_id,
            "changed_fields": changed_fields or [],
            "nulled_fields": nulled_fields or [],
            "diff_fields": [],
            "fields": fields or {},
        }
        ts = commit_timestamp or int(time.time() * 1000)
        with self.db.lock:
            self.db.conn.execute(
                "INSERT INTO events (commit_timestamp, entity, payload) VALUES (?, ?, ?)",
                (ts, entity_name, json.dumps(payload)),
            )
            self.db.after_commit(self._notify)
        self._appends += 1
        if self._appends % 1000 == 0:
            self.db.after_commit(self._prune_quietly)

    def _prune_quietly(self) -> None:
        self.prune()

    def _notify(self) -> None:
        with self.condition:
            self._commits += 1
            self.condition.notify_all()

    # -- reading ------------------------------------------------------------------------------------------
    def events_after(self, replay_id: int | None, limit: int = 1000) -> list[ChangeEvent]:
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT replay_id, commit_timestamp, entity, payload FROM events WHERE replay_id > ? "
                "ORDER BY replay_id LIMIT ?",
                (replay_id if replay_id is not None else -1, limit),
            ).fetchall()
        return [_event(*row) for row in rows]

    def latest_replay_id(self) -> int | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT MAX(replay_id) FROM events").fetchone()
        return row[0]

    def last_issued_replay_id(self) -> int:
        """The newest replay id ever issued, retained or not (0 before the first event): the log's position."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            latest = self.db.conn.execute("SELECT MAX(replay_id) FROM events").fetchone()[0]
        return max(int(row[0]) if row else 0, int(latest or 0))

    def earliest_replay_id(self) -> int | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT MIN(replay_id) FROM events").fetchone()
        return row[0]

    def wait_for_events(self, after_replay_id: int | None, timeout: float) -> bool:
        """True as soon as an event newer than ``after_replay_id`` exists; False after ``timeout`` seconds."""
        # The database is never read while holding the condition: commits notify it while holding the
        # database lock, so the opposite order could deadlock. A commit counter tells a missed wake-up apart.
        deadline = time.monotonic() + timeout
        while True:
            with self.condition:
                seen = self._commits
            latest = self.latest_replay_id()
            if latest is not None and (after_replay_id is None or latest > after_replay_id):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self.condition:
                if self._commits == seen:
                    self.condition.wait(remaining)

    def prune(self, now_ms: int | None = None) -> int:
        """Delete events older than the retention; returns how many were dropped."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        cutoff = now_ms - int(self.retention_seconds * 1000)
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM events WHERE commit_timestamp < ?", (cutoff,))
            return cursor.rowcount


def _event(replay_id: int, commit_timestamp: int, entity: str, payload: str) -> ChangeEvent:
    data = json.loads(payload)
    return ChangeEvent(replay_id=replay_id, entity_name=entity, commit_timestamp=commit_timestamp, **data)
