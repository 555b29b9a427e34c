"""Users, passwords (argon2id), API tokens (stored as sha256) and sign-in sessions (stored as sha256 of the id)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import ApiToken, User, WebSession
from ledgerlink.store.tables import utcnow

ROLES = ("viewer", "admin")
TOKEN_PREFIX = "llk_"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against a dummy hash for unknown users keeps sign-in timing the same whether the user exists or
    not. Made at first use, not at import: an Argon2 hash is half a second of CPU, and every ledgerlink process
    (each worker, each command) imports this module."""
    return _hasher.hash("ledgerlink-dummy-password")


class UserError(ValueError):
    pass


MIN_PASSWORD_CHARS = 12
_COMMON = frozenset({"password1234", "123456789012", "qwertyuiopas", "letmein12345", "administrator"})


def check_password(password: str, username: str = "") -> None:
    """A minimum strength: 12+ characters, not mostly one character, not the username, not a well-known one."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a password needs at least {MIN_PASSWORD_CHARS} characters (a passphrase of words is fine)")
    if len(set(password)) < 5:
        raise UserError("that password repeats too few different characters")
    lowered = password.lower()
    if lowered in _COMMON or (username and username.lower() in lowered):
        raise UserError("that password is too easy to guess (common, or contains the username)")


@dataclass(frozen=True)
class Principal:
    user_pk: int
    username: str
    role: str
    via: str  # "session" | "token"
    session_id: str | None = None
    token_pk: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Users:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def add(self, username: str, password: str, role: str = "viewer") -> int:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if (
            not username
            or len(username) > 64
            or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            raise UserError("a username is 1-64 letters, digits, '.', '-' or '_'")
        check_password(password, username)
        with self.ledger.session() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise UserError(f"user {username!r} already exists")
            user = User(username=username, password_hash=_hasher.hash(password), role=role, disabled=0)
            s.add(user)
            s.flush()
            return int(user.pk)

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the user ends (tokens stay: revoke them separately)."""
        check_password(password, username)
        with self.ledger.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"no user {username!r}")
            user.password_hash = _hasher.hash(password)
            s.execute(delete(WebSession).where(WebSession.user_pk == user.pk))

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        """Disable (or enable) a user: a disabled user's sessions end and their tokens stop working."""
        with self.ledger.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"no user {username!r}")
            user.disabled = int(disabled)
            if disabled:
                s.execute(delete(WebSession).where(WebSession.user_pk == user.pk))

    def revoke_all_tokens(self, username: str) -> int:
        """Revoke every API token of a user; returns how many were still active."""
        with self.ledger.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"no user {username!r}")
            active = list(s.scalars(select(ApiToken).where(ApiToken.user_pk == user.pk, ApiToken.revoked_at.is_(None))))
            for token in active:
                token.revoked_at = utcnow()
            return len(active)

    def verify(self, username: str, password: str) -> User | None:
        with self.ledger.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            try:
                _hasher.verify(user.password_hash if user else _dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                return None
            if user is None or user.disabled:
                return None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return user

    def all(self) -> list[User]:
        with self.ledger.session() as s:
            return list(s.scalars(select(User).order_by(User.username)))

    # --- sessions -----------------------------------------------------------------------------------------

    def open_session(self, user_pk: int, hours: float) -> str:
        session_id = secrets.token_urlsafe(32)
        with self.ledger.session() as s:
            s.add(
                WebSession(
                    id_hash=_sha256(session_id),
                    user_pk=user_pk,
                    expires_at=utcnow() + dt.timedelta(hours=hours),
                )
            )
            s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        return session_id

    def session_principal(self, session_id: str) -> Principal | None:
        with self.ledger.session() as s:
            row = s.get(WebSession, _sha256(session_id))
            if row is None or _aware(row.expires_at) < utcnow():
                return None
            user = s.get(User, row.user_pk)
            if user is None or user.disabled:
                return None
            return Principal(user.pk, user.username, user.role, "session", session_id=session_id)

    def close_session(self, session_id: str) -> None:
        with self.ledger.session() as s:
            s.execute(delete(WebSession).where(WebSession.id_hash == _sha256(session_id)))

    # --- API tokens ---------------------------------------------------------------------------------------

    def create_token(self, user_pk: int, name: str) -> tuple[int, str]:
        """Returns (id, token). The token is shown once; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.ledger.session() as s:
            row = ApiToken(user_pk=user_pk, name=name[:64], token_hash=_sha256(token), prefix=token[:10])
            s.add(row)
            s.flush()
            return int(row.pk), token

    def token_principal(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self.ledger.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(token)))
            if row is None or row.revoked_at is not None:
                return None
            user = s.get(User, row.user_pk)
            if user is None or user.disabled:
                return None
            row.last_used_at = utcnow()
            return Principal(user.pk, user.username, user.role, "token", token_pk=row.pk)

    def tokens(self, user_pk: int) -> list[ApiToken]:
        with self.ledger.session() as s:
            return list(s.scalars(select(ApiToken).where(ApiToken.user_pk == user_pk).order_by(ApiToken.pk)))

    def revoke_token(self, user_pk: int, token_pk: int) -> bool:
        with self.ledger.session() as s:
            row = s.get(ApiToken, token_pk)
            if row is None or row.user_pk != user_pk or row.revoked_at is not None:
                return False
            row.revoked_at = utcnow()
            return True
