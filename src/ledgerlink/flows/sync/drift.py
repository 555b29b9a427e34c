"""The schema-drift check: describe the Salesforce objects the mappings in use read or write, and the books'
objects (their plugin's schema: the books' APIs have no describe), snapshot them, and keep a finding (alerted
through the ``schema_drift`` alert kind) for each field a mapping uses that is gone, retyped or newly required.

Runs from the customer trigger at most once per ``CHECK_EVERY`` (``FlowSettings.schema_drift_check`` turns it off),
and on demand from the console."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ledgerlink.intelligence import findings
from ledgerlink.intelligence.drift import Drift, FieldUse, compare, shape_from_describe
from ledgerlink.mapping import load_mapping
from ledgerlink.mapping.compiler import CompiledRule
from ledgerlink.mapping.loader import list_mappings
from ledgerlink.mapping.schemas import DEFAULT_SCHEMAS
from ledgerlink.store import Ledger
from ledgerlink.store.intelligence_tables import SchemaSnapshot
from ledgerlink.store.tables import utcnow
from ledgerlink.systems.errors import ConnectorError
from ledgerlink.systems.salesforce.client import SalesforceClient

log = logging.getLogger("ledgerlink.intelligence")
CHECK_EVERY = dt.timedelta(hours=1)
LAST_CHECK = "intelligence.schema_drift.checked_at"
SF = "salesforce"


def _top(path: Any) -> str | None:
    segments = getattr(path, "segments", ())
    return str(segments[0].name) if segments else None


def _uses_of(name: str, rules: Iterable[CompiledRule], system: str, obj: str, side: str) -> list[FieldUse]:
    out = []
    for rule in rules:
        paths = [p for p, _ in rule.source_paths if not p.from_root] if side == "source" else [rule.target_path]
        for path in paths:
            top = _top(path)
            if top:
                out.append(FieldUse(name, rule.target, system, obj, top, side))
    return out


def mapping_uses(systems: set[str]) -> list[FieldUse]:
    """The top-level fields of ``systems``' objects every mapping in use reads (source) or writes (target)."""
    uses: list[FieldUse] = []
    for info in list_mappings():
        # Only mappings touching these systems are read: loading (and compiling) the others' templates, e.g. a
        # second accounting system's, was most of this check's CPU at each worker's start.
        touched = {info.source.partition(".")[0], info.target.partition(".")[0]}
        if "?" not in touched and not touched & systems:  # "?": a file listing could not read, reported below
            continue
        try:
            mapping = load_mapping(info.name)
        except Exception as exc:  # a broken user mapping is the editor's to report, not the drift check's
            log.warning("schema drift: mapping %s does not load: %s", info.name, exc)
            continue
        spec = mapping.spec
        if spec.source.system in systems:
            uses += _uses_of(info.name, mapping.rules, spec.source.system, spec.source.object, "source")
        if spec.target.system in systems:
            uses += _uses_of(info.name, mapping.rules, spec.target.system, spec.target.object, "target")
    return uses


def _snapshots(ledger: Ledger) -> dict[tuple[str, str], dict[str, Any]]:
    with ledger.session() as s:
        return {(row.system, row.object): dict(row.fields) for row in s.scalars(select(SchemaSnapshot))}


def _save(ledger: Ledger, now: dict[tuple[str, str], dict[str, Any]]) -> None:
    with ledger.session() as s:
        for (system, obj), fields in now.items():
            row = s.get(SchemaSnapshot, (system, obj))
            if row is None:
                s.add(SchemaSnapshot(system=system, object=obj, fields=fields, taken_at=utcnow()))
            else:
                row.fields, row.taken_at = fields, utcnow()


def _books_shapes(books_system: str, objects: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for obj in objects:
        fields = DEFAULT_SCHEMAS.fields(books_system, obj)
        if fields is not None:
            out[(books_system, obj)] = {n: {"type": f.type, "required": False} for n, f in fields.items()}
    return out


def check(ledger: Ledger, crm: SalesforceClient, books_system: str) -> list[Drift]:
    """Describe, compare, keep findings for what drifted, snapshot. Returns the drifts found this time."""
    uses = mapping_uses({SF, books_system})
    now: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in sorted({u.object for u in uses if u.system == SF}):
        try:
            body = crm.request("GET", f"sobjects/{obj}/describe", kind="describe").json()
        except ConnectorError as exc:
            log.warning("schema drift: could not describe %s: %s", obj, exc)
            continue
        now[(SF, obj)] = shape_from_describe(body if isinstance(body, dict) else {})
    now.update(_books_shapes(books_system, {u.object for u in uses if u.system == books_system}))
    drifts = compare(uses, now, _snapshots(ledger))
    for d in drifts:
        detail = {"system": d.system, "object": d.object, "field": d.field, "mapping": d.mapping, **d.detail}
        findings.record(
            ledger,
            key=d.key,
            kind="schema_drift",
            rule=d.rule,
            subject=d.mapping,
            message=d.message,
            detail={**detail, "rule": d.mapping_rule},
        )
    _save(ledger, now)
    ledger.set_watermark(LAST_CHECK, utcnow().isoformat())
    return drifts


def check_beside(ledger: Ledger, crm: SalesforceClient, books_system: str) -> threading.Thread:
    """``check`` in a thread of its own, for the caller to join before its step ends: its describes (a round trip
    each) then no longer hold up the page it came due with (about 0.2 s before a backfill's first write). The
    check only reports: a failure is logged, never raised into the sync."""

    def run() -> None:
        try:
            check(ledger, crm, books_system)
        except Exception:
            log.exception("schema drift check failed")

    thread = threading.Thread(target=run, name="schema-drift", daemon=True)
    thread.start()
    return thread


def due(ledger: Ledger, now: dt.datetime | None = None) -> bool:
    last = ledger.get_watermark(LAST_CHECK)
    if not last:
        return True
    return (now or utcnow()) - dt.datetime.fromisoformat(last) >= CHECK_EVERY
