"""What was last synced, kept in the ledger.

- The *base* of a linked pair: the agreed projection after the last sync, which the three-way merge compares
  each side with. The ledger has no table for values yet, so it lives in the key/value watermark table under
  ``sync.base.<entity>.<salesforce id>`` (JSON); a dedicated table needs a migration.
- A *version* per record (``Ledger.put_version``): the hash of the projection last seen or written there. A
  record whose projection hashes the same as its version has not changed since — in particular a change that
  LedgerLink itself wrote comes back with the hash it stored, and is dropped (no echo).
"""

from __future__ import annotations

import json
from typing import Any

from ledgerlink.store import Ledger
from ledgerlink.store.ledger import content_hash


def _base_key(entity: str, sf_id: str) -> str:
    return f"sync.base.{entity}.{sf_id}"


def load_base(ledger: Ledger, entity: str, sf_id: str) -> dict[str, Any] | None:
    raw = ledger.get_watermark(_base_key(entity, sf_id))
    return dict(json.loads(raw)) if raw else None


def load_bases(ledger: Ledger, entity: str, sf_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``load_base`` for a page of records at once: the base of each that has one."""
    keys = {_base_key(entity, sf_id): sf_id for sf_id in sf_ids}
    return {keys[key]: dict(json.loads(raw)) for key, raw in ledger.get_watermarks(keys).items() if raw}


def save_base(ledger: Ledger, entity: str, sf_id: str, values: dict[str, Any]) -> None:
    save_bases(ledger, entity, {sf_id: values})


def save_bases(ledger: Ledger, entity: str, bases: dict[str, dict[str, Any]]) -> None:
    """Every base of a page in one transaction. The same JSON as stored is left alone by the upsert."""
    ledger.set_watermarks(
        {_base_key(entity, sf_id): json.dumps(values, sort_keys=True, default=str) for sf_id, values in bases.items()}
    )


def unchanged(ledger: Ledger, ref: tuple[str, str, str], projection: dict[str, Any]) -> bool:
    """True when this record's projection is the one last seen or written (so: nothing to do, or our echo)."""
    version = ledger.get_version(*ref)
    return version is not None and version.content_hash == content_hash(projection)


def remember(
    ledger: Ledger, ref: tuple[str, str, str], projection: dict[str, Any], *, ours: bool, modified_at: str | None
) -> None:
    # A version that already says the same (hash and writer) is left alone by the upsert.
    ledger.put_version(*ref, content_hash(projection), written_by_us=ours, modified_at=modified_at)


class PendingVersions:
    """The versions a page will remember, held back until the page's last write has gone out.

    A version says "nothing to do for this record". Remembered mid-page, it outlives a failed attempt: when a
    Salesforce write at the page's end fails (a 503, a dropped connection) the step is retried, finds the record
    already remembered, skips it as unchanged, and the write is lost for good. So a page remembers nothing until
    ``save`` at its very end; a retried page settles every record again (its writes are idempotent)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], tuple[dict[str, Any], bool, str | None]] = {}

    def remember(
        self, ref: tuple[str, str, str], projection: dict[str, Any], *, ours: bool, modified_at: str | None
    ) -> None:
        self._pending[ref] = (projection, ours, modified_at)  # the latest word on a record wins

    def save(self, ledger: Ledger) -> None:
        """Every version in one transaction."""
        ledger.put_versions(
            [
                (ref, content_hash(projection), ours, modified_at)
                for ref, (projection, ours, modified_at) in self._pending.items()
            ]
        )
        self._pending.clear()
