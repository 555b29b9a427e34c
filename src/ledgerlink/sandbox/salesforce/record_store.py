"""Persistence of records: one JSON document per row, plus an index of external-id and reference values.

Records are plain dicts keyed by the declared field names, values in wire form (numbers, booleans, strings,
Salesforce-format dates). Whole-object loads, used by SOQL, are cached per object, kept up to date by each write
(a record written is replaced, or appended when its id sorts last) and dropped on any rollback, so queries between
writes don't re-decode thousands of rows.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .db import Database
from .schema import FieldDef, ObjectDef, Schema
from .timefmt import datetime_to_ms

Record = dict[str, Any]


def index_key(fdef: FieldDef, value: Any) -> str:
    """External ids match case-insensitively; reference ids exactly."""
    text = str(value)
    return text if fdef.type == "reference" else text.lower()


class RecordStore:
    def __init__(self, db: Database, schema: Schema) -> None:
        self.db = db
        self.schema = schema
        self._cache: dict[str, dict[str, Record]] = {}  # object -> id -> record, ids in ascending order
        self._last_modstamp = int(db.get_meta("last_modstamp", "0") or 0)
        db.on_rollback(self._cache.clear)

    # -- time ---------------------------------------------------------------------------------------------
    def next_modstamp(self) -> int:
        """Epoch ms, strictly increasing across the org so (SystemModstamp, Id) order is total and stable."""
        with self.db.lock:
            now = int(time.time() * 1000)
            self._last_modstamp = max(now, self._last_modstamp + 1)
            self.db.set_meta("last_modstamp", str(self._last_modstamp))
            return self._last_modstamp

    # -- reads --------------------------------------------------------------------------------------------
    def get(self, record_id: str) -> Record | None:
        """The record with this 18-character id, deleted or not (check ``IsDeleted``)."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT data FROM records WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, record_ids: list[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        with self.db.lock:
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, data in self.db.conn.execute(f"SELECT id, data FROM records WHERE id IN ({marks})", chunk):
                    found[rid] = json.loads(data)
        return found

    def load_all(self, obj: ObjectDef, include_deleted: bool = False) -> list[Record]:
        """Every record of an object, oldest id first. Treat the dicts as read-only: they are shared."""
        with self.db.lock:
            cached = self._cache.get(obj.name)
            if cached is None:
                rows = self.db.conn.execute("SELECT id, data FROM records WHERE sobject = ? ORDER BY id", (obj.name,))
                cached = {rid: json.loads(data) for rid, data in rows}
                self._cache[obj.name] = cached
            records = list(cached.values())
        return records if include_deleted else [r for r in records if not r.get("IsDeleted")]

    def find_by_field(self, obj: ObjectDef, fdef: FieldDef, value: Any, include_deleted: bool = False) -> list[str]:
        """Ids of records whose indexed field (external id or reference) equals ``value``."""
        sql = (
            "SELECT f.id FROM field_index f JOIN records r ON r.id = f.id "
            "WHERE f.sobject = ? AND f.field = ? AND f.value = ?"
        )
        if not include_deleted:
            sql += " AND r.is_deleted = 0"
        with self.db.lock:
            rows = self.db.conn.execute(sql + " ORDER BY f.id", (obj.name, fdef.name, index_key(fdef, value)))
            return [rid for (rid,) in rows]

    def changed_between(self, obj: ObjectDef, start_ms: int, end_ms: int) -> list[str]:
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT id FROM records WHERE sobject = ? AND is_deleted = 0 AND modstamp >= ? AND modstamp < ? "
                "ORDER BY id",
                (obj.name, start_ms, end_ms),
            )
            return [rid for (rid,) in rows]

    def deleted_between(self, obj: ObjectDef, start_ms: int, end_ms: int) -> list[tuple[str, int]]:
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT id, deleted_at FROM records WHERE sobject = ? AND is_deleted = 1 "
                "AND deleted_at >= ? AND deleted_at < ? ORDER BY deleted_at, id",
                (obj.name, start_ms, end_ms),
            )
            return [(rid, int(at)) for rid, at in rows]

    def count(self, obj: ObjectDef) -> int:
        with self.db.lock:
            row = self.db.conn.execute(
                "SELECT COUNT(*) FROM records WHERE sobject = ? AND is_deleted = 0", (obj.name,)
            ).fetchone()
        return int(row[0])

    # -- writes (call inside db.transaction()) -------------------------------------------------------------
    def save(self, obj: ObjectDef, record: Record, deleted_at: int | None = None) -> None:
        """Insert or replace a record and its index rows."""
        rid = record["Id"]
        conn = self.db.conn
        modstamp = datetime_to_ms(record["SystemModstamp"])
        data = json.dumps(record)
        conn.execute(
            "INSERT INTO records (id, sobject, modstamp, is_deleted, deleted_at, data) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET modstamp = excluded.modstamp, is_deleted = excluded.is_deleted, "
            "deleted_at = excluded.deleted_at, data = excluded.data",
            (rid, obj.name, modstamp, 1 if record.get("IsDeleted") else 0, deleted_at, data),
        )
        conn.execute("DELETE FROM field_index WHERE id = ?", (rid,))
        rows = [
            (obj.name, f.name, index_key(f, record[f.name]), rid)
            for f in obj.indexed_fields
            if record.get(f.name) not in (None, "")
        ]
        if rows:
            conn.executemany("INSERT INTO field_index (sobject, field, value, id) VALUES (?, ?, ?, ?)", rows)
        self._cache_write(obj.name, rid, data)

    def _cache_write(self, sobject: str, rid: str, data: str) -> None:
        cached = self._cache.get(sobject)
        if cached is None:
            return
        if rid in cached or not cached or rid > next(reversed(cached)):
            cached[rid] = json.loads(data)  # a copy of its own: the caller's dict may change after
        else:
            del self._cache[sobject]  # an id that sorts earlier: reload in order next time

    def put_blob(self, record_id: str, data: bytes) -> None:
        self.db.conn.execute("INSERT OR REPLACE INTO blobs (id, data) VALUES (?, ?)", (record_id, data))

    def get_blob(self, record_id: str) -> bytes | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT data FROM blobs WHERE id = ?", (record_id,)).fetchone()
        return bytes(row[0]) if row else None
