"""Client-chosen Kashoo ids. Kashoo answers a create whose ``id`` already exists with the existing entity, so an
id derived from the source record makes every create idempotent: a retry, a replay or a second worker gets the
first write back instead of a duplicate."""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every record a new id and break idempotency with existing books.
NAMESPACE = uuid.UUID("6f1c2b7e-4c3a-5d8e-9a41-1e0d7c6b5a39")


def stable_id(kind: str, key: str) -> int:
    """A positive 63-bit id for ``(kind, key)``; the kind keeps ids of different collections apart."""
    value = uuid.uuid5(NAMESPACE, f"{kind}:{key}").int >> 65
    return value or 1
