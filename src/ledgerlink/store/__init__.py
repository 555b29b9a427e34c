"""The ledger: cross-references, watermarks, record versions, failed records and the audit log (SQLAlchemy 2)."""

from ledgerlink.store.database import database_url, make_engine, migrate
from ledgerlink.store.ledger import AuditEntry, FailedRecordRow, Ledger

__all__ = ["AuditEntry", "FailedRecordRow", "Ledger", "database_url", "make_engine", "migrate"]
