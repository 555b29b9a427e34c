"""Where the ledger lives (SQLite by default, PostgreSQL when configured) and how it is migrated."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


VERSION_TABLE = "ll_alembic_version"  # as migrations/env.py configures it
_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.*)$", re.M)


def head_revision() -> str | None:
    """The newest migration's id, read from the migration files as text (no alembic import): the one revision
    no other names as its ``down_revision``. None when that is not one clear answer (alembic then decides)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for file in (_MIGRATIONS / "versions").glob("*.py"):
        body = file.read_text(encoding="utf-8")
        revision, down = _REVISION.search(body), _DOWN.search(body)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        downs.update(re.findall(r"""["']([^"']+)["']""", down.group(1)))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it has no version table yet, or cannot say)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except Exception:  # no table yet, or anything else: alembic's upgrade is the judge
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def migrate(url: str, engine: Engine | None = None) -> None:
    """Bring the ledger's schema to the newest migration (idempotent). A database already at the newest one (every
    start but the first) is told apart with one query, without importing and running alembic (about a third of a
    second of CPU for each process that opens the ledger)."""
    if engine is not None:
        head = head_revision()
        if head is not None and current_revision(engine) == head:
            return
    from alembic import command

    command.upgrade(alembic_config(url), "head")
