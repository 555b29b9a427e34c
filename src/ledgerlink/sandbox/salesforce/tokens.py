"""Access and refresh tokens, persisted so a restarted sandbox keeps its sessions."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True)
class TokenInfo:
    token: str
    kind: str  # "access" | "refresh"
    client_id: str
    username: str
    issued_at: int  # epoch ms
    expires_at: int | None  # epoch ms; None = until revoked


class TokenStore:
    def __init__(self, db: Database, org_id: str, ttl_seconds: int) -> None:
        self.db = db
        self.org_id = org_id
        self.ttl_seconds = ttl_seconds

    def issue(self, kind: str, client_id: str, username: str) -> TokenInfo:
        now = int(time.time() * 1000)
        # Real access tokens look like "<org id 15>!<opaque>"; clients sometimes split on the "!".
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72 if kind == 'access' else 48)}"
        expires = now + self.ttl_seconds * 1000 if kind == "access" else None
        with self.db.lock:
            self.db.conn.execute(
                "INSERT INTO tokens (token, kind, client_id, username, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token, kind, client_id, username, now, expires),
            )
        return TokenInfo(token, kind, client_id, username, now, expires)

    def validate(self, token: str, kind: str = "access") -> TokenInfo | None:
        """The token's info if it exists, is of ``kind``, unrevoked and unexpired."""
        with self.db.lock:
            row = self.db.conn.execute(
                "SELECT kind, client_id, username, issued_at, expires_at, revoked FROM tokens WHERE token = ?", (token,)
            ).fetchone()
        if row is None:
            return None
        row_kind, client_id, username, issued_at, expires_at, revoked = row
        if row_kind != kind or revoked or (expires_at is not None and expires_at <= time.time() * 1000):
            return None
        return TokenInfo(token, row_kind, client_id, username, issued_at, expires_at)

    def revoke(self, token: str) -> bool:
        with self.db.lock:
            cursor = self.db.conn.execute("UPDATE tokens SET revoked = 1 WHERE token = ?", (token,))
            return cursor.rowcount > 0

    def expire_all_access_tokens(self) -> int:
        """For tests: every access token issued so far stops working (refresh tokens stay valid)."""
        now = int(time.time() * 1000)
        with self.db.lock:
            cursor = self.db.conn.execute(
                "UPDATE tokens SET expires_at = ? WHERE kind = 'access' AND (expires_at IS NULL OR expires_at > ?)",
                (now - 1, now),
            )
            return cursor.rowcount
