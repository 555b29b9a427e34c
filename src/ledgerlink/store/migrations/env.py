"""Alembic environment: runs migrations against the URL LedgerLink passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ledgerlink.store.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=url.startswith("sqlite"),
        version_table="ll_alembic_version",
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
