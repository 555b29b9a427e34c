"""The ledger's database as the connectors in a worker use it besides the ledger itself: one small engine per URL
per process, and notes (a watermark row) a connector leaves for the console, such as its change feed's state."""

from __future__ import annotations

import threading
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from ledgerlink.store.database import is_sqlite, make_engine
from ledgerlink.store.tables import Watermark, utcnow

WATERMARK = cast(Table, Watermark.__table__)
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def shared_engine(url: str) -> Engine:
    """One engine per database URL in this process (claims and notes are short statements; a pool per adapter
    would not be)."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def put_note(url: str, name: str, value: str) -> None:
    """Upsert the watermark row ``name`` (as ``Ledger.set_watermark``, from a process that holds no ledger)."""
    insert: Any = (sqlite if is_sqlite(url) else postgresql).insert
    statement = insert(WATERMARK).values(name=bindparam("name"), value=bindparam("value"), updated_at=bindparam("at"))
    statement = statement.on_conflict_do_update(
        index_elements=[WATERMARK.c.name],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    )
    with shared_engine(url).begin() as conn:
        conn.execute(statement, {"name": name, "value": value, "at": utcnow()})
