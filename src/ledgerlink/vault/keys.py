"""The master key: from ``LEDGERLINK_MASTER_KEY`` or a 0600 key file created on first use.

A key is 32 random bytes written as url-safe base64. Every ciphertext names the key that sealed it (``key_id``),
so a key ring holding the current key and a pending one can read data in the middle of a rotation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENV_KEY = "LEDGERLINK_MASTER_KEY"
KEY_FILE_NAME = "master.key"
PENDING_SUFFIX = ".new"
RETIRED_INFIX = ".retired-"  # master.key.retired-<key_id>: an old key kept until no sealed value uses it


class VaultKeyError(Exception):
    """The master key is missing, malformed or too widely readable. Messages never include key material."""


@dataclass(frozen=True)
class MasterKey:
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != 32:
            raise VaultKeyError("a master key must be 32 bytes (256-bit AES)")

    @property
    def key_id(self) -> str:
        # A fingerprint, not the key: safe to store beside ciphertexts and to print.
        return hashlib.sha256(b"ledgerlink-key-id:" + self.material).hexdigest()[:12]

    def derive(self, purpose: str) -> bytes:
        """A separate 32-byte key for ``purpose`` (e.g. session cookies), so one leak doesn't expose the other."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self.material)

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.material).decode()

    @classmethod
    def decode(cls, text: str) -> MasterKey:
        try:
            material = base64.urlsafe_b64decode(text.strip().encode())
        except (binascii.Error, ValueError):
            raise VaultKeyError("the master key is not valid url-safe base64") from None
        return cls(material)

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def generate_key() -> MasterKey:
    return MasterKey(secrets.token_bytes(32))


@dataclass(frozen=True)
class KeyRing:
    """The key new secrets are sealed with, plus any others still able to open older ciphertexts."""

    current: MasterKey
    others: tuple[MasterKey, ...] = ()
    source: str = "file"  # "env" or "file": rotate needs to know where the key lives
    key_file: Path | None = None

    def by_id(self, key_id: str) -> MasterKey | None:
        for key in (self.current, *self.others):
            if key.key_id == key_id:
                return key
        return None


def key_file_path(data_dir: Path) -> Path:
    return Path(os.environ.get("LEDGERLINK_KEY_FILE") or data_dir / KEY_FILE_NAME)


def write_key_file(path: Path, key: MasterKey, *, exclusive: bool) -> None:
    """Write ``key`` with mode 0600 from the start: never a moment where the file is readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key.encode() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_key_file(path: Path) -> MasterKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise VaultKeyError(f"{path} is readable by group or others (mode {mode:o}); chmod 600 it")
    return MasterKey.decode(path.read_text())


def retired_key_files(key_file: Path) -> list[Path]:
    return sorted(key_file.parent.glob(key_file.name + RETIRED_INFIX + "*"))


def load_keyring(data_dir: Path, *, create: bool = True) -> KeyRing:
    """The env key if set; else the key file (created on first use only when ``create``: never while sealed
    secrets exist, or they would become unreadable). A pending ``.new`` key and retired keys join the ring."""
    env = os.environ.get(ENV_KEY)
    if env:
        return KeyRing(current=MasterKey.decode(env), source="env")
    path = key_file_path(data_dir)
    if not path.exists():
        if not create:
            raise VaultKeyError(
                f"no master key at {path}, but secrets are sealed with one: restore the key file "
                f"(or set {ENV_KEY}); a new key could not read them"
            )
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            write_key_file(path, generate_key(), exclusive=True)
    return read_keyring(path)


def read_keyring(path: Path) -> KeyRing:
    """The ring held in files beside ``path``: the current key, then a pending one, then retired ones."""
    current = read_key_file(path)
    pending = path.with_name(path.name + PENDING_SUFFIX)
    others = [read_key_file(pending)] if pending.exists() else []
    others += [read_key_file(p) for p in retired_key_files(path)]
    return KeyRing(current=current, others=tuple(others), source="file", key_file=path)


def key_file_stamp(path: Path) -> tuple[int, int] | None:
    """Changes whenever the key file is replaced (rotation renames a new file over it)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns
