"""A change feed the vendor does not document, with the fallback that works whatever the vendor does with it.

Some connectors read "what changed since" with a query parameter no public source of the vendor confirms. If the
vendor rejects the parameter (a 400 naming it) or ignores it (rows older than the watermark come back), the
connector switches this feed to full listings and finds changes by a content hash per record (or by the rows'
own stamps), and says so once in the log. Hashes live in memory: after a restart every record counts as changed
once, which the sync flows absorb (the ledger's versions recognise an unchanged record).

What the vendor did (``state``: unknown → honoured | ignored | rejected) and the mode it led to are published, when
they change, to whoever builds the feed (``publish``): workers sharing a ledger note them there under
``note_name(system, base_url)``, and the console's connections page and API show them with the reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ledgerlink.store.shared import put_note

log = logging.getLogger(__name__)
NOTE_PREFIX = "change-feed:"
STATES = ("unknown", "honoured", "ignored", "rejected")


def note_name(system: str, base_url: str) -> str:
    """Where the feed's state is noted in the ledger (a watermark row): per service, since whether a vendor
    honours a parameter is the service's behaviour, not an account's."""
    name = f"{NOTE_PREFIX}{system}@{base_url}"
    return name if len(name) <= 200 else f"{NOTE_PREFIX}{system}#{hashlib.sha256(base_url.encode()).hexdigest()}"


def content_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


def ledger_publisher(ledger_url: str | None, system: str, base_url: str) -> Callable[[dict[str, str]], None] | None:
    """``ChangeFeed.publish`` for workers sharing the ledger at ``ledger_url`` (None: nobody to tell)."""
    if not ledger_url:
        return None
    name = note_name(system, base_url)
    return lambda status: put_note(ledger_url, name, json.dumps(status))


class ChangeFeed:
    def __init__(self, system: str, parameter: str) -> None:
        self.system = system
        self.parameter = parameter
        self.mode = "feed"  # "feed": the parameter works; "listing": full listings with a hash per record
        self.state = "unknown"  # what the vendor did with the parameter: honoured | ignored | rejected
        self.reason = ""
        self.since = ""  # when the state was last learnt (ISO 8601, UTC)
        self.publish: Callable[[dict[str, str]], None] | None = None
        self._hashes: dict[str, dict[str, str]] = {}  # collection -> record key -> content hash
        self._lock = threading.Lock()

    def status(self) -> dict[str, str]:
        return {
            "parameter": self.parameter,
            "state": self.state,
            "mode": self.mode,
            "reason": self.reason,
            "since": self.since,
        }

    def _learnt(self) -> None:
        self.since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if self.publish is not None:
            try:
                self.publish(self.status())
            except Exception:  # the console's view must never fail a sync
                log.warning("%s: could not note the change feed's state", self.system, exc_info=True)

    def honoured(self) -> None:
        """A read with the parameter was accepted and brought back nothing older than asked."""
        with self._lock:
            if self.state != "unknown":
                return
            self.state, self.reason = "honoured", f"{self.parameter} accepted; no older records came back"
        self._learnt()

    @property
    def listing(self) -> bool:
        return self.mode == "listing"

    def switch(self, reason: str, *, rejected: bool = False) -> None:
        """The vendor ignored the parameter (older records came back) or, with ``rejected``, refused it."""
        with self._lock:
            if self.mode == "listing":
                return
            self.mode, self.reason = "listing", reason
            self.state = "rejected" if rejected else "ignored"
        log.warning("%s: %s; reading full listings with a content hash per record from now on", self.system, reason)
        self._learnt()

    def rejected(self, exc: Any) -> bool:
        """A 400 that names the feed parameter: the vendor refuses it."""
        text = f"{getattr(exc, 'field', '') or ''} {getattr(exc, 'message', exc)}".lower()
        return getattr(exc, "status", None) == 400 and self.parameter.lower() in text

    def changed(
        self, collection: str, rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str], limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Rows of a full listing whose content differs from what this feed last handed out (at most ``limit``;
        True when more are waiting). Only rows handed out are remembered, so the rest come next time."""
        seen = self._hashes.setdefault(collection, {})
        out: list[tuple[str, str, dict[str, Any]]] = []
        more = False
        for row in rows:
            digest = content_hash(row)
            if seen.get(key(row)) == digest:
                continue
            if len(out) == limit:
                more = True
                break
            out.append((key(row), digest, row))
        with self._lock:
            for record, digest, _row in out:
                seen[record] = digest
        return [row for _k, _d, row in out], more
