"""The SQLite file behind a sandbox org: one connection, one re-entrant lock, nested transactions.

uvicorn serves requests on its event-loop thread while other code (tests, a CDC server) reads the event log from
other threads, so every access goes through ``Database.lock``. Transactions nest with SAVEPOINTs, which is how an
``allOrNone`` composite call rolls back the sub-requests that already succeeded. Callbacks registered with
``after_commit`` run once the outermost transaction commits (e.g. waking event-log waiters).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    modstamp INTEGER NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_object ON records (sobject, is_deleted);
CREATE INDEX IF NOT EXISTS records_by_modstamp ON records (sobject, modstamp);
CREATE TABLE IF NOT EXISTS field_index (
    sobject TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS field_index_lookup ON field_index (sobject, field, value);
CREATE INDEX IF NOT EXISTS field_index_by_id ON field_index (id);
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    client_id TEXT NOT NULL,
    username TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    replay_id INTEGER PRIMARY KEY AUTOINCREMENT,
    commit_timestamp INTEGER NOT NULL,
    entity TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (commit_timestamp);
"""


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/SAVEPOINT ourselves.
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA_SQL)
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []
        self._rollback_listeners: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction, or a savepoint inside the current one; rolled back if the block raises."""
        with self.lock:
            depth = self._depth
            name = f"sp{depth}"
            self.conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self.conn.execute("ROLLBACK")
                    self._after_commit.clear()
                else:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                for listener in self._rollback_listeners:
                    listener()
                raise
            self._depth -= 1
            if depth == 0:
                self.conn.execute("COMMIT")
                pending, self._after_commit = self._after_commit, []
                for callback in pending:
                    callback()
            else:
                self.conn.execute(f"RELEASE {name}")

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the outermost transaction commits (now, if none is open)."""
        with self.lock:
            if self._depth == 0:
                callback()
            elif callback not in self._after_commit:
                self._after_commit.append(callback)

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` whenever a transaction or savepoint rolls back (cache invalidation)."""
        with self.lock:
            self._rollback_listeners.append(callback)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def next_counter(self, key: str) -> int:
        """An org-wide counter persisted in ``meta`` (ids, auto numbers)."""
        with self.lock:
            current = int(self.get_meta(key, "0") or 0) + 1
            self.set_meta(key, str(current))
            return current

    def close(self) -> None:
        with self.lock:
            self.conn.close()
