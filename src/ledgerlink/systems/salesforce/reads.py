"""SOQL built from what the mappings in use read (``mapping.reads``) plus what a flow itself needs, checked against
the org's describe: a field the org lacks that only a mapping asks for (``CurrencyIsoCode`` in a single-currency org)
is left out, so the rule sees no value; a field the flow needs is always selected, so its absence is an error that
names it. Describe results are kept per client for ``DESCRIBE_TTL_SECONDS``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from typing import Any

from ledgerlink.mapping.reads import Reads
from ledgerlink.systems.salesforce.client import SalesforceClient

log = logging.getLogger(__name__)
DESCRIBE_TTL_SECONDS = 300.0
MAX_DEPTH = 5  # Salesforce allows five levels of parent relationships in a SOQL query

_cache: weakref.WeakKeyDictionary[SalesforceClient, dict[str, tuple[float, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def describe(client: SalesforceClient, sobject: str) -> dict[str, Any]:
    now = time.monotonic()
    with _lock:
        found = _cache.get(client, {}).get(sobject)
    if found is not None and now - found[0] < DESCRIBE_TTL_SECONDS:
        return found[1]
    body: dict[str, Any] = client.request("GET", f"sobjects/{sobject}/describe").json()
    with _lock:
        _cache.setdefault(client, {})[sobject] = (now, body)
    return body


def forget(client: SalesforceClient) -> None:
    """Drop the describes kept for ``client`` (after a deploy, say)."""
    with _lock:
        _cache.pop(client, None)


class _Org:
    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def fields(self, sobject: str) -> dict[str, dict[str, Any]]:
        return {f["name"].lower(): f for f in describe(self.client, sobject)["fields"]}

    def parent(self, sobject: str, relationship: str) -> str | None:
        for f in describe(self.client, sobject)["fields"]:
            if (f.get("relationshipName") or "").lower() == relationship.lower() and f.get("referenceTo"):
                return str(f["referenceTo"][0])
        return None

    def child(self, sobject: str, relationship: str) -> tuple[str, str] | None:
        """(relationship name as the org spells it, child object)."""
        for rel in describe(self.client, sobject).get("childRelationships", []):
            if (rel.get("relationshipName") or "").lower() == relationship.lower():
                return str(rel["relationshipName"]), str(rel["childSObject"])
        return None

    def has(self, sobject: str, path: str) -> bool:
        """True when the dotted path (``Account.Owner.Name``) names a field of ``sobject`` in this org."""
        parts = path.split(".")
        if len(parts) > MAX_DEPTH + 1:
            return False
        current: str | None = sobject
        for part in parts[:-1]:
            current = self.parent(current, part) if current else None
            if current is None:
                return False
        return current is not None and parts[-1].lower() in self.fields(current)


def _columns(org: _Org, sobject: str, reads: Reads, needs: Reads, child_where: dict[str, str]) -> list[str]:
    wanted = list(dict.fromkeys(["Id", *sorted(needs.fields), *sorted(reads.fields - needs.fields)]))
    columns: list[str] = []
    seen: set[str] = set()
    for path in wanted:
        if path.lower() in seen:
            continue
        if path in needs.fields or org.has(sobject, path):
            columns.append(path)
            seen.add(path.lower())
        else:
            log.info("%s.%s is read by a mapping but this org has no such field: left out", sobject, path)
    for name in sorted({*reads.children, *needs.children}):
        found = org.child(sobject, name)
        if found is None:
            if name in needs.children:
                columns.append(_subquery(name, Reads().merge(needs.children[name]), child_where.get(name)))
            else:
                log.info("%s has no child relationship %s: left out", sobject, name)
            continue
        relationship, child = found
        rows = Reads().merge(reads.children.get(name, Reads()))
        row_needs = needs.children.get(name, Reads())
        inner = _columns(org, child, rows, row_needs, {})
        where = f" WHERE {child_where[name]}" if name in child_where else ""
        columns.append(f"(SELECT {', '.join(inner)} FROM {relationship}{where})")
    return columns


def _subquery(name: str, reads: Reads, where: str | None) -> str:
    return f"(SELECT {', '.join(['Id', *sorted(reads.fields)])} FROM {name}{f' WHERE {where}' if where else ''})"


def select_soql(
    client: SalesforceClient,
    sobject: str,
    reads: Reads,
    needs: Reads | None = None,
    *,
    child_where: dict[str, str] | None = None,
) -> str:
    """``SELECT … FROM sobject`` (no WHERE): what ``reads`` asks for that the org has, and all of ``needs``;
    a child relationship becomes a subquery (``child_where`` adds its WHERE)."""
    columns = _columns(_Org(client), sobject, reads, needs or Reads(), child_where or {})
    return f"SELECT {', '.join(columns)} FROM {sobject}"


def extra_columns(client: SalesforceClient, sobject: str, reads: Reads, fixed: list[str]) -> list[str]:
    """``fixed`` (plain fields and subqueries, as a flow has always read them) plus what ``reads`` asks for beyond
    them that the org has: a flow whose comparisons need its own columns still reads a mapping's custom field."""
    have = {c.lower() for c in fixed if not c.startswith("(")}
    covered = {m.group(1).lower() for c in fixed for m in [re.search(r"\bFROM\s+(\w+)", c)] if c.startswith("(") and m}
    wanted = Reads({f for f in reads.fields if f.lower() not in have | {"id", "systemmodstamp"}})
    wanted.children = {k: v for k, v in reads.children.items() if k.lower() not in covered}
    if not wanted.fields and not wanted.children:
        return list(fixed)
    extra = [c for c in _columns(_Org(client), sobject, wanted, Reads(), {}) if c != "Id"]
    return [*fixed, *extra]


def needs(*fields: str, **children: tuple[str, ...]) -> Reads:
    """What a flow itself reads, whatever its mapping:
    ``needs("Id", "AccountId", OpportunityLineItems=("Product2Id",))``."""
    out = Reads(set(fields))
    for name, child_fields in children.items():
        out.child(name).fields.update(child_fields)
    return out
