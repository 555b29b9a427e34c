"""Create claims: of several workers making the same new record in another system at the same instant, one sends
the create and the others take its outcome.

A connector finds a record again by a key the vendor keeps (a customer code) and looks in a listing a moment old
before it creates, which covers retries and replays. Two workers whose looks both come before either create
would both create, and a vendor that accepts a code twice keeps two contacts. A claim closes that gap in our own
database, at no API call:

1. ``claim()`` inserts ``(scope, object, code)``; the primary key lets one insert in (``ON CONFLICT DO NOTHING``
   on SQLite and PostgreSQL alike: SQLite has one writer, PostgreSQL makes the second insert wait for the first
   to commit, then skip). The winner creates and reports ``made(target_id)``.
2. A loser reads the row: ``made`` → the record's id (no create, no look); ``pending`` → it waits for the
   outcome; ``unknown`` (the create may have happened) or a pending claim older than ``PENDING_TTL`` (its worker
   died) → it takes the claim over, compare-and-set on the row it read, and must look in the books afresh first.

A ``made`` row is honoured for ``MADE_TTL`` seconds: longer than any look's listing may be old, so a worker whose
listing predates the create still learns of it; later, every listing shows the record, and a row older than that
is taken over (the record was deleted in the books since, so it is made again). Old rows are purged now and then.

Why a claim rather than checking after the create (list by code, keep the oldest, delete ours): the check costs a
listing (a call per page) on every create, the race or not; between the two creates and the delete a duplicate is
in the books for other readers, and the change feed then carries its removal as an archived customer with the
live one's code; and "oldest" rests on ids or stamps a books API need not document as ordered. A claim costs two short
statements in our own database per new code and no API call, and works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledgerlink.store.database import is_sqlite
from ledgerlink.store.shared import shared_engine
from ledgerlink.store.tables import CreateClaim

CLAIM = cast(Table, CreateClaim.__table__)
PENDING_TTL = 120.0  # seconds a create may take (a paced POST under a tight rate limit); older: its worker died
MADE_TTL = 300.0  # seconds a made record's id is handed to late claimers; listings show it long before
POLL_SECONDS = 0.05
PURGE_EVERY = 200  # outcomes between purges of rows older than MADE_TTL


def scope_of(key: str) -> str:
    """A fixed-length name for the books a claim is about (system, account and URL in ``key``)."""
    return hashlib.sha256(key.encode()).hexdigest()[:64]


@dataclass(frozen=True)
class Claim:
    """``won``: send the create (after a fresh look when ``look_first``), then ``made``/``failed``. Otherwise
    ``target_id`` is the id another worker's create returned."""

    won: bool
    owner: str
    target_id: str | None = None
    look_first: bool = False


class ClaimTimeout(RuntimeError):
    """Another worker's create stayed pending past the wait (a transient state: the step is retried)."""


class CreateClaims:
    def __init__(self, url: str, scope_key: str, wait_seconds: float = PENDING_TTL) -> None:
        self.engine = shared_engine(url)
        self.scope = scope_of(scope_key)
        self.wait_seconds = wait_seconds
        insert = (sqlite if is_sqlite(url) else postgresql).insert
        # RETURNING says whether the row went in (a skipped insert's rowcount is not reliable on every driver).
        self._insert = insert(CLAIM).on_conflict_do_nothing().returning(CLAIM.c.owner)
        self._outcomes = 0

    def _key(self, obj: str, code: str) -> list[ColumnElement[bool]]:
        c = CLAIM.c
        return [c.scope == self.scope, c.object == obj, c.code == code[:200]]

    def claim(self, obj: str, code: str) -> Claim:
        c = CLAIM.c
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        while True:
            row_values = {"scope": self.scope, "object": obj, "code": code[:200], "owner": owner}
            with self.engine.begin() as conn:
                inserted = conn.execute(self._insert, {**row_values, "state": "pending", "at": time.time()})
                if inserted.first() is not None:
                    return Claim(True, owner)
                row = conn.execute(select(c.owner, c.state, c.target_id, c.at).where(*self._key(obj, code))).first()
            if row is None:
                continue  # its owner gave it up between our insert and our read: try again
            age = time.time() - row.at
            if row.state == "made" and age < MADE_TTL:
                return Claim(False, owner, target_id=row.target_id)
            if row.state == "pending" and age < PENDING_TTL:
                if time.monotonic() > deadline:
                    raise ClaimTimeout(f"another worker's create of {obj} {code!r} is still pending")
                time.sleep(POLL_SECONDS)
                continue
            # Unknown outcome, abandoned, or made long ago: take it over if nobody else did meanwhile.
            take = (
                update(CLAIM)
                .where(*self._key(obj, code), c.owner == row.owner, c.state == row.state, c.at == row.at)
                .values(owner=owner, state="pending", target_id=None, at=time.time())
            )
            with self.engine.begin() as conn:
                if conn.execute(take).rowcount == 1:
                    return Claim(True, owner, look_first=row.state != "made")

    def made(self, obj: str, code: str, claim: Claim, target_id: str) -> None:
        self._outcome(obj, code, claim, state="made", target_id=target_id)

    def failed(self, obj: str, code: str, claim: Claim, *, maybe_made: bool) -> None:
        """The create failed: if it may have happened (a timeout, a 5xx), the next claimer looks first; if not,
        the claim is given up."""
        if maybe_made:
            self._outcome(obj, code, claim, state="unknown", target_id=None)
            return
        with self.engine.begin() as conn:
            conn.execute(delete(CLAIM).where(*self._key(obj, code), CLAIM.c.owner == claim.owner))

    def _outcome(self, obj: str, code: str, claim: Claim, *, state: str, target_id: str | None) -> None:
        c = CLAIM.c
        with self.engine.begin() as conn:
            conn.execute(
                update(CLAIM)
                .where(*self._key(obj, code), c.owner == claim.owner)
                .values(state=state, target_id=target_id, at=time.time())
            )
            self._outcomes += 1
            if self._outcomes % PURGE_EVERY == 0:
                old = time.time() - max(MADE_TTL, PENDING_TTL) * 2
                conn.execute(delete(CLAIM).where(and_(c.scope == self.scope, c.at < bindparam("old"))), {"old": old})
