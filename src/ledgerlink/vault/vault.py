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
from ledgerlink.vault.cipher import key_id_of, open_sealed, seal
from ledgerlink.vault.keys import (
    PENDING_SUFFIX,
    RETIRED_INFIX,
    KeyRing,
    MasterKey,
    VaultKeyError,
    generate_key,
    key_file_stamp,
    read_key_file,
    read_keyring,
    retired_key_files,
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
    _stamp: tuple[int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.ring.key_file is not None:
            self._stamp = key_file_stamp(self.ring.key_file)

    def current_ring(self) -> KeyRing:
        """The ring as it is on disk now: a ``vault rotate`` run by another process replaces the key file, and a
        running console must then seal with the new key (the old one is only kept until nothing uses it)."""
        path = self.ring.key_file
        if path is not None and self.ring.source == "file":
            stamp = key_file_stamp(path)
            if stamp is not None and stamp != self._stamp:
                self.ring, self._stamp = read_keyring(path), stamp
        return self.ring

    def _open(self, sealed: str, ad: bytes) -> bytes:
        ring = self.current_ring()
        if ring.by_id(key_id_of(sealed)) is None and ring.key_file is not None:
            self.ring = ring = read_keyring(ring.key_file)  # a key added since (pending or retired files)
        return open_sealed(ring, sealed, ad)

    def seal_secrets(self, connection_name: str, secrets: dict[str, str]) -> str:
        payload = json.dumps(secrets, sort_keys=True).encode()
        return seal(self.current_ring().current, payload, associated_data(connection_name, "credentials"))

    def open_secrets(self, connection_name: str, sealed: str) -> dict[str, str]:
        values = json.loads(self._open(sealed, associated_data(connection_name, "credentials")))
        self._remember(values.values())
        return {str(k): str(v) for k, v in values.items()}

    def seal_webhook_secret(self, connection_name: str, secret: str) -> str:
        return seal(self.current_ring().current, secret.encode(), associated_data(connection_name, "webhook"))

    def open_webhook_secret(self, connection_name: str, sealed: str) -> str:
        secret = self._open(sealed, associated_data(connection_name, "webhook")).decode()
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
        count = 0
        for conn in session.scalars(select(Connection)):
            if key_id_of(conn.secrets_sealed) != new_key.key_id:
                plain = self._open(conn.secrets_sealed, associated_data(conn.name, "credentials"))
                conn.secrets_sealed = seal(new_key, plain, associated_data(conn.name, "credentials"))
            if conn.webhook_secret_sealed and key_id_of(conn.webhook_secret_sealed) != new_key.key_id:
                hook = self._open(conn.webhook_secret_sealed, associated_data(conn.name, "webhook"))
                conn.webhook_secret_sealed = seal(new_key, hook, associated_data(conn.name, "webhook"))
            count += 1
        return count


def key_ids_in_use(session: Session) -> set[str]:
    """Every key id some sealed value names."""
    used: set[str] = set()
    for sealed, hook in session.execute(select(Connection.secrets_sealed, Connection.webhook_secret_sealed)):
        used.update(key_id_of(v) for v in (sealed, hook) if v)
    return used


def has_sealed_secrets(session: Session) -> bool:
    return session.scalar(select(Connection.pk).limit(1)) is not None


def rotate_key_file(
    key_file: Path, reseal: Callable[[MasterKey], int], in_use: Callable[[], set[str]] | None = None
) -> tuple[MasterKey, int]:
    """Rotate a file-held key so a crash at any point leaves every secret readable, and a running process that
    sealed something with the old key meanwhile loses nothing.

    1. write the new key to ``master.key.new`` (load_keyring then holds both keys);
    2. re-encrypt every secret in one transaction (``reseal``);
    3. keep the old key as ``master.key.retired-<id>``, then rename the new key over the old one (running
       processes notice the new file and seal with it from then on);
    4. re-encrypt again whatever was sealed with an old key in between, and delete retired keys that no sealed
       value names any more (``in_use``). The key retired just now always stays until the next rotation: a
       process may have sealed with it a moment ago; one still in use stays too.
    """
    pending = key_file.with_name(key_file.name + PENDING_SUFFIX)
    new_key = read_key_file(pending) if pending.exists() else generate_key()
    if not pending.exists():
        write_key_file(pending, new_key, exclusive=True)
    count = reseal(new_key)
    old = read_key_file(key_file)
    if old.key_id != new_key.key_id:
        retired = key_file.with_name(key_file.name + RETIRED_INFIX + old.key_id)
        if not retired.exists():
            write_key_file(retired, old, exclusive=True)
    os.replace(pending, key_file)
    reseal(new_key)  # anything a running process sealed with the old key before it saw the new file
    if in_use is not None:
        used = in_use() | {old.key_id, new_key.key_id}
        for path in retired_key_files(key_file):
            if path.name.rsplit(RETIRED_INFIX, 1)[1] not in used:
                path.unlink()
    return new_key, count


def rotate_env_key(new_key_text: str | None, reseal: Callable[[MasterKey], int]) -> tuple[MasterKey, int]:
    """With the key in the environment, the operator supplies the new one; LedgerLink cannot store it for them."""
    if not new_key_text:
        raise VaultKeyError(
            "the master key comes from LEDGERLINK_MASTER_KEY: set LEDGERLINK_NEW_MASTER_KEY to the new key"
        )
    new_key = MasterKey.decode(new_key_text)
    return new_key, reseal(new_key)
