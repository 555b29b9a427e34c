"""Connections' secrets, sealed per connection. Nothing outside this module sees a ciphertext or opens one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerlink.store.console_tables import Connection
from ledgerlink.vault.cipher import open_sealed, seal
from ledgerlink.vault.keys import (
    PENDING_SUFFIX,
    KeyRing,
    MasterKey,
    VaultKeyError,
    generate_key,
    read_key_file,
    write_key_file,
)

SessionFactory = Callable[[], Any]  # a context manager yielding a SQLAlchemy Session (Ledger.session)


def associated_data(connection_name: str, purpose: str) -> bytes:
    # Binds a ciphertext to one connection and one use: a sealed blob moved elsewhere no longer opens.
    return f"ledgerlink/connection/{connection_name}/{purpose}".encode()


@dataclass
class Vault:
    ring: KeyRing
    # Every secret this process has opened, so log redaction can mask it if it ever reaches a log record.
    opened: set[str] = field(default_factory=set, repr=False)

    def seal_secrets(self, connection_name: str, secrets: dict[str, str]) -> str:
        payload = json.dumps(secrets, sort_keys=True).encode()
        return seal(self.ring.current, payload, associated_data(connection_name, "credentials"))

    def open_secrets(self, connection_name: str, sealed: str) -> dict[str, str]:
        values = json.loads(open_sealed(self.ring, sealed, associated_data(connection_name, "credentials")))
        self._remember(values.values())
        return {str(k): str(v) for k, v in values.items()}

    def seal_webhook_secret(self, connection_name: str, secret: str) -> str:
        return seal(self.ring.current, secret.encode(), associated_data(connection_name, "webhook"))

    def open_webhook_secret(self, connection_name: str, sealed: str) -> str:
        secret = open_sealed(self.ring, sealed, associated_data(connection_name, "webhook")).decode()
        self._remember([secret])
        return secret

    def _remember(self, values: Any) -> None:
        from ledgerlink.logs import register_secret  # the log redactor; imported late to keep layers apart

        for value in values:
            if isinstance(value, str) and len(value) >= 4:
                self.opened.add(value)
                register_secret(value)

    # --- rotation -------------------------------------------------------------------------------------------

    def reseal_all(self, session: Session, new_key: MasterKey) -> int:
        """Re-encrypt every connection's secrets under ``new_key`` inside the caller's transaction."""
        target = KeyRing(current=new_key)
        count = 0
        for conn in session.scalars(select(Connection)):
            plain = open_sealed(self.ring, conn.secrets_sealed, associated_data(conn.name, "credentials"))
            conn.secrets_sealed = seal(target.current, plain, associated_data(conn.name, "credentials"))
            if conn.webhook_secret_sealed:
                hook = open_sealed(self.ring, conn.webhook_secret_sealed, associated_data(conn.name, "webhook"))
                conn.webhook_secret_sealed = seal(target.current, hook, associated_data(conn.name, "webhook"))
            count += 1
        return count


def rotate_key_file(key_file: Path, reseal: Callable[[MasterKey], int]) -> tuple[MasterKey, int]:
    """Rotate a file-held key so a crash at any point leaves every secret readable.

    1. write the new key to ``master.key.new`` (load_keyring then holds both keys);
    2. re-encrypt every secret in one transaction (``reseal``);
    3. rename the new key over the old one.
    """
    pending = key_file.with_name(key_file.name + PENDING_SUFFIX)
    new_key = read_key_file(pending) if pending.exists() else generate_key()
    if not pending.exists():
        write_key_file(pending, new_key, exclusive=True)
    count = reseal(new_key)
    os.replace(pending, key_file)
    return new_key, count


def rotate_env_key(new_key_text: str | None, reseal: Callable[[MasterKey], int]) -> tuple[MasterKey, int]:
    """With the key in the environment, the operator supplies the new one; LedgerLink cannot store it for them."""
    if not new_key_text:
        raise VaultKeyError(
            "the master key comes from LEDGERLINK_MASTER_KEY: set LEDGERLINK_NEW_MASTER_KEY to the new key"
        )
    new_key = MasterKey.decode(new_key_text)
    return new_key, reseal(new_key)
