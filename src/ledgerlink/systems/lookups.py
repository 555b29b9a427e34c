"""How an accounting adapter finds records again by what the vendor keeps (a code, an invoice number, a reference),
reading a collection a listing at a time instead of a call per record.

- ``CodeIndex``: code -> id for a whole collection, from one listing. A miss is trusted for ``max_age`` seconds;
  ``forget()`` (after a create whose outcome is unknown) makes the next look read the listing again, so only an
  attempt that may have made the record costs a look.
- ``InvoiceIndex``: invoice number -> (id, contact), from creates and listings, so a number costs no search
  (rows in the vendor's shape are read by ``id_key``/``number_key``/``contact_key``).
- ``create_once``: a create under a claim in the ledger's database (``store.claims``), so that two workers making
  the same new code at the same instant make it once (the look before a create covers retries and replays only).
- ``ShortCache``: a value read moments ago (an invoice, its payments), for the steps of one run that read the same
  record one after another; dropped on our own writes to it and after ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ledgerlink.store.claims import ClaimTimeout, CreateClaims
from ledgerlink.systems.errors import PermanentError, TransientError

INDEX_MAX_AGE = 30.0  # seconds a listing's miss is trusted: another writer's new record shows within this
SHORT_TTL = 60.0  # seconds a record read (or listed) is reused by the steps and runs that follow; writes drop it


def norm(code: str) -> str:
    # Codes match ignoring case and outer spaces: "acme" and " ACME" are one customer.
    return code.strip().casefold()


class CodeIndex:
    def __init__(self, load: Callable[[], Iterable[dict[str, Any]]], key: Callable[[dict[str, Any]], str | None]):
        self._load = load
        self._key = key
        self._ids: dict[str, int] | None = None
        self._spelled: dict[str, str] = {}  # the code as the books spell it
        self._loaded = 0.0
        self._lock = threading.RLock()
        self._codes: dict[str, threading.Lock] = {}

    def lock_for(self, code: str) -> threading.Lock:
        """One create at a time per code in this process (two runs for one new Account make it once)."""
        with self._lock:
            return self._codes.setdefault(norm(code), threading.Lock())

    def get(self, code: str, max_age: float = INDEX_MAX_AGE) -> int | None:
        with self._lock:
            stale = self._ids is None or time.monotonic() - self._loaded > max_age
            if stale or (max_age == 0 and norm(code) not in (self._ids or {})):
                self._refresh()
            assert self._ids is not None
            return self._ids.get(norm(code))

    def _refresh(self) -> None:
        ids: dict[str, int] = {}
        for row in self._load():
            code = self._key(row)
            if code and not row.get("removed"):
                entity = row.get("id", row.get("Id"))
                if norm(code) not in ids:  # the first listed wins if a code is there twice
                    ids[norm(code)] = int(entity or 0)
                    self._spelled[norm(code)] = str(code)
        self._ids, self._loaded = ids, time.monotonic()

    def spelled(self, code: str) -> str:
        with self._lock:
            return self._spelled.get(norm(code), code)

    def put(self, code: str, entity_id: int) -> None:
        with self._lock:
            self._spelled[norm(code)] = code
            if self._ids is not None:
                self._ids[norm(code)] = entity_id

    def forget(self) -> None:
        with self._lock:
            self._ids = None


def create_once(
    claims: CreateClaims | None,
    what: tuple[str, str],
    code: str,
    index: CodeIndex,
    post: Callable[[], int],
    same: Callable[[int], str],
) -> str:
    """``post()`` (the create, returning the new id) unless another worker is making or has just made ``code``:
    then ``same(id)`` of its record. ``what`` is (system, object). Without ``claims`` (one process on its own) the
    create is sent as it is. Call it after a look found nothing, holding ``index.lock_for(code)``."""
    if claims is None:
        return str(post())
    system, obj = what
    key = norm(code)
    try:
        claim = claims.claim(obj, key)
    except ClaimTimeout as exc:
        raise TransientError(str(exc), system=system) from None
    if not claim.won:
        assert claim.target_id is not None
        index.put(code, int(claim.target_id))
        return same(int(claim.target_id))
    try:
        if claim.look_first:  # an earlier create's outcome is unknown: it may be in the books already
            index.forget()
            if (found := index.get(code)) is not None:
                claims.made(obj, key, claim, str(found))
                return same(found)
        made = post()
    except BaseException as exc:
        refused = isinstance(exc, PermanentError) and exc.status is not None and exc.status < 500
        claims.failed(obj, key, claim, maybe_made=not refused)
        raise
    claims.made(obj, key, claim, str(made))
    return str(made)


class InvoiceIndex:
    def __init__(self, id_key: str = "id", number_key: str = "number", contact_key: str = "contact") -> None:
        self._keys = (id_key, number_key, contact_key)
        self._by_number: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def note(self, row: dict[str, Any]) -> None:
        id_key, number_key, contact_key = self._keys
        if row.get(number_key) is not None and row.get(id_key) is not None and not row.get("removed"):
            contact = row.get(contact_key)
            with self._lock:
                self._by_number[str(row[number_key])] = (
                    int(row[id_key]),
                    int(str(contact)) if str(contact).isdigit() else 0,
                )

    def get(self, number: str) -> tuple[int, int] | None:
        with self._lock:
            return self._by_number.get(number)

    def number_of(self, invoice_id: int) -> str | None:
        with self._lock:
            for number, (rid, _contact) in self._by_number.items():
                if rid == invoice_id:
                    return number
        return None


class ShortCache:
    def __init__(self, ttl: float = SHORT_TTL) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, Any]] = {}
        self._dropped: dict[str, float] = {}  # key -> when a write dropped it (a read begun before is stale)
        self._lock = threading.Lock()

    @staticmethod
    def now() -> float:
        """The clock ``put(..., read_at=)`` compares with: take it before a read."""
        return time.monotonic()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._values.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                self._values.pop(key, None)
                return None
            return hit[1]

    def put(self, key: str, value: Any, read_at: float | None = None) -> Any:
        """Keep ``value`` a while; with ``read_at`` (``now()`` before the read), not if a write dropped the key
        since: a listing begun before our own write would otherwise put the row from before it back."""
        with self._lock:
            if read_at is not None and self._dropped.get(key, float("-inf")) >= read_at:
                return value
            if len(self._values) > 5000:  # bounded: old entries go first
                self._values.clear()
            self._values[key] = (time.monotonic(), value)
        return value

    @contextmanager
    def writing(self, *keys: str) -> Iterator[None]:
        """Around our own write to what ``keys`` hold: dropped before it (no step reads the old value meanwhile) and
        again once it is done, so that a listing begun while it was in flight, which may hold the row from before
        it, is not kept (``put(read_at=)`` compares with the later drop)."""
        self.drop(*keys)
        try:
            yield
        finally:
            self.drop(*keys)

    def drop(self, *keys: str) -> None:
        with self._lock:
            stamp = time.monotonic()
            if len(self._dropped) > 5000:
                self._dropped = {k: t for k, t in self._dropped.items() if stamp - t <= self.ttl}
            for key in keys:
                self._values.pop(key, None)
                self._dropped[key] = stamp
