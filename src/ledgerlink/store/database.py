"""Where the ledger lives (SQLite by default, PostgreSQL when configured) and how it is migrated."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

DEFAULT_DIR = Path(".ledgerlink")
_MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(data_dir: Path | None = None) -> str:
    """``LEDGERLINK_DATABASE_URL`` if set, else a SQLite file in ``data_dir`` (default ``.ledgerlink/``)."""
    url = os.environ.get("LEDGERLINK_DATABASE_URL")
    if url:
        return normalise_url(url)
    directory = data_dir or DEFAULT_DIR
    private_dir(directory)
    db = directory / "ledgerlink.db"
    if not db.exists():  # created empty and owner-only, before SQLite creates it with the umask's mode
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
    return f"sqlite:///{db.resolve()}"


def private_dir(directory: Path) -> None:
    """The data directory holds the ledger and the key file: created owner-only (0700). An existing directory is
    left as it is (it may be one the operator shares on purpose); the files in it are owner-only anyway."""
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def serialise_in_process(engine: Engine) -> Engine:
    """One connection at a time per process for a SQLite engine (re-entrant, so a thread may nest them).

    SQLite has one writer; a second one waits in SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between
    tries. With a dozen workflow threads writing checkpoints and ledger rows, those sleeps, not the writes, set
    the pace (60% of an invoice run went to them). Waiting on a Python lock instead hands the database over the
    moment it is free. Other processes on the same file still meet the busy handler."""
    lock = threading.RLock()

    @event.listens_for(engine, "checkout")
    def _acquire(*_args: Any) -> None:
        lock.acquire()

    @event.listens_for(engine, "checkin")
    def _release(*_args: Any) -> None:
        lock.release()

    return engine


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the one writer; busy_timeout makes writers queue instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return serialise_in_process(engine)
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the ledger's schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(url), "head")
