"""A tiny JSON document store: every document cached in memory, written through to SQLite.

Shared by the accounting sandboxes (it would sit beside ``_server.py`` if this package owned that level).
Reads never touch the disk; each write transaction is one SQLite transaction, so a
restarted sandbox finds its data again. One re-entrant lock serialises writers across threads; the cache
assumes one live server per file.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

Doc = dict[str, Any]


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


class DocStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))")
        self._conn.execute("CREATE TABLE IF NOT EXISTS seqs (name TEXT PRIMARY KEY, value INTEGER)")
        self.lock = threading.RLock()
        self._depth = 0
        self._docs: dict[str, dict[str, Doc]] = {}
        self._seqs: dict[str, int] = {}
        self._load()

    def _load(self) -> None:
        self._docs = {}
        for kind, key, body in self._conn.execute("SELECT kind, key, body FROM docs"):
            self._docs.setdefault(kind, {})[key] = json.loads(body)
        self._seqs = dict(self._conn.execute("SELECT name, value FROM seqs").fetchall())

    @contextmanager
    def tx(self) -> Iterator[None]:
        """All writes inside are one SQLite transaction; on error both disk and cache roll back."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                    self._load()
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def get(self, kind: str, key: str) -> Doc | None:
        with self.lock:
            doc = self._docs.get(kind, {}).get(key)
            return copy.deepcopy(doc) if doc is not None else None

    def all(self, kind: str) -> list[Doc]:
        """Documents of ``kind`` in insertion order; treat them as read-only (they are the cache)."""
        with self.lock:
            return list(self._docs.get(kind, {}).values())

    def count(self, kind: str) -> int:
        with self.lock:
            return len(self._docs.get(kind, {}))

    def put(self, kind: str, key: str, doc: Doc) -> None:
        with self.tx():
            body = json.dumps(doc, default=_default)
            self._conn.execute("INSERT OR REPLACE INTO docs (kind, key, body) VALUES (?, ?, ?)", (kind, key, body))
            self._docs.setdefault(kind, {})[key] = json.loads(body)

    def delete(self, kind: str, key: str) -> None:
        with self.tx():
            self._conn.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))
            self._docs.get(kind, {}).pop(key, None)

    def next_id(self, name: str, start: int = 1) -> int:
        with self.tx():
            value = max(self._seqs.get(name, start - 1) + 1, start)
            self._conn.execute("INSERT OR REPLACE INTO seqs (name, value) VALUES (?, ?)", (name, value))
            self._seqs[name] = value
            return value

    def close(self) -> None:
        with self.lock:
            self._conn.close()


class SandboxClock:
    """Wall-clock UTC plus an offset that tests move forward through the admin endpoint; never goes back."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
