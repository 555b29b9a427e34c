"""The conflict rules: a three-way merge of two systems' projections against what was last synced.

A field changed on one side only travels to the other. A field changed on both sides to different values (or,
when the pair was just linked and nothing was synced yet, any field set on both sides that differs; a field set on
one side only then fills the other) is a conflict, settled by
1. the field's owner (the mappings' ``owner:``), when the owner is one of the two systems; else
2. source priority (the first system of ``FlowSettings.source_priority`` that is one of the two); else
3. last writer wins, by the systems' own modification times (a tie goes to Salesforce, the system of record).
Every conflict settled is returned so the flow writes it to the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.mapping.spec import BOOKS_OWNER


@dataclass(frozen=True)
class Side:
    system: str
    values: dict[str, Any]  # the projection: only the fields this system holds, empty ones dropped
    fields: frozenset[str]  # every field this system can hold
    modified_at: dt.datetime | None = None


@dataclass(frozen=True)
class Conflict:
    field: str
    values: dict[str, Any]  # system -> its value
    winner: str
    rule: str  # owner | priority | last_writer

    def as_detail(self) -> dict[str, Any]:
        return {"field": self.field, "values": self.values, "winner": self.winner, "rule": self.rule}


@dataclass
class Resolution:
    merged: dict[str, Any]  # the agreed values: the next base
    to_salesforce: dict[str, Any] = field(default_factory=dict)  # field -> value to write (None clears)
    to_books: dict[str, Any] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.to_salesforce or self.to_books)


def owner_of(name: str, owners: dict[str, str]) -> str | None:
    """The owner of a field; a nested field (``billing_address.city``) falls back to its parent's owner."""
    if name in owners:
        return owners[name]
    parent = name.split(".", 1)[0]
    return owners.get(parent)


def _settle(name: str, sf: Side, books: Side, owners: dict[str, str], priority: Sequence[str]) -> tuple[str, str]:
    systems = (sf.system, books.system)
    owner = owner_of(name, owners)
    if owner in systems:
        return str(owner), "owner"
    for system in priority:
        if system in systems:
            return system, "priority"
    if sf.modified_at and books.modified_at and books.modified_at > sf.modified_at:
        return books.system, "last_writer"
    if not sf.modified_at and books.modified_at:
        return books.system, "last_writer"
    return sf.system, "last_writer"


def merge(
    base: dict[str, Any] | None,
    sf: Side,
    books: Side,
    owners: dict[str, str],
    priority: Sequence[str] = (),
) -> Resolution:
    """Settle every field the two systems share; fields only one system holds are carried into ``merged``."""
    merged: dict[str, Any] = {}
    out = Resolution(merged)
    shared = sf.fields & books.fields
    for name in sorted(sf.fields | books.fields):
        a, b = sf.values.get(name), books.values.get(name)
        if name not in shared:
            value = a if name in sf.fields else b
            if value is not None:
                merged[name] = value
            continue
        if a == b:
            if a is not None:
                merged[name] = a
            continue
        sf_changed = base is None or base.get(name) != a
        books_changed = base is None or base.get(name) != b
        if base is None and (a is None or b is None):
            # Nothing synced yet: an empty side is a gap to fill, not a clearing to copy (that would erase data,
            # e.g. a retried page re-linking the Account it just created from the books, before its Contacts).
            sf_changed, books_changed = a is not None, b is not None
        if sf_changed and not books_changed:
            winner = sf.system
        elif books_changed and not sf_changed:
            winner = books.system
        else:
            winner, rule = _settle(name, sf, books, owners, priority)
            out.conflicts.append(Conflict(name, {sf.system: a, books.system: b}, winner, rule))
        value = a if winner == sf.system else b
        if value is not None:
            merged[name] = value
        if winner == sf.system:
            out.to_books[name] = a
        else:
            out.to_salesforce[name] = b
    return out


def combined_owners(sf_owners: dict[str, str], books_owners: dict[str, str], books_system: str) -> dict[str, str]:
    """One owner per field from both directions' mappings: a field the books' mapping gives to the books stays
    theirs (templates default every field to Salesforce and name the books' fields one by one)."""

    def named(owner: str) -> str:  # "books" in a mapping means whichever accounting system is connected
        return books_system if owner == BOOKS_OWNER else owner

    out = {name: named(owner) for name, owner in sf_owners.items()}
    for name, owner in books_owners.items():
        if named(owner) == books_system or name not in out:
            out[name] = named(owner)
    return out
