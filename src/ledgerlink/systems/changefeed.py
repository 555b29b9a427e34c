"""A change feed the vendor does not document, with the fallback that works whatever the vendor does with it.

Some connectors read "what changed since" with a query parameter no public source of the vendor confirms. If the
vendor rejects the parameter (a 400 naming it) or ignores it (rows older than the watermark come back), the
connector switches this feed to full listings and finds changes by a content hash per record (or by the rows'
own stamps), and says so once in the log (``mode``/``reason`` are there for the console to show). Hashes live in
memory: after a restart every record counts as changed once, which the sync flows absorb (the ledger's versions
recognise an unchanged record)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


def content_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


class ChangeFeed:
    def __init__(self, system: str, parameter: str) -> None:
        self.system = system
        self.parameter = parameter
        self.mode = "feed"  # "feed": the parameter works; "listing": full listings with a hash per record
        self.reason = ""
        self._hashes: dict[str, dict[str, str]] = {}  # collection -> record key -> content hash
        self._lock = threading.Lock()

    @property
    def listing(self) -> bool:
        return self.mode == "listing"

    def switch(self, reason: str) -> None:
        with self._lock:
            if self.mode == "listing":
                return
            self.mode, self.reason = "listing", reason
        log.warning("%s: %s; reading full listings with a content hash per record from now on", self.system, reason)

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
