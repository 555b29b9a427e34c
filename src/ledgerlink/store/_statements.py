"""The ledger's hot statements, built once per dialect with bind parameters.

Flows call ``lookup``, ``link``, ``get/set_watermark``, ``get/put_version`` and ``audit`` several times per record.
Building a SQLAlchemy construct per call (and its cache key) cost ~0.4 ms; a prebuilt statement executes in ~0.05.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, DateTime, Executable, Table, and_, bindparam, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ledgerlink.store.tables import (
    AuditLog,
    CreateIntent,
    CrossReference,
    FailedRecord,
    RecordVersion,
    TriggerCheck,
    Watermark,
)

XREF = cast(Table, CrossReference.__table__)
WATERMARK = cast(Table, Watermark.__table__)
CHECK = cast(Table, TriggerCheck.__table__)
VERSION = cast(Table, RecordVersion.__table__)
AUDIT = cast(Table, AuditLog.__table__)
FAILED = cast(Table, FailedRecord.__table__)
INTENT = cast(Table, CreateIntent.__table__)

_NOW = bindparam("now", type_=DateTime(timezone=True))


def _xref_lookup(with_object: bool) -> Executable:
    c = XREF.c
    forward = [c.system_a == bindparam("system"), c.object_a == bindparam("obj"), c.id_a == bindparam("rid")]
    forward.append(c.system_b == bindparam("other"))
    backward = [c.system_b == bindparam("system"), c.object_b == bindparam("obj"), c.id_b == bindparam("rid")]
    backward.append(c.system_a == bindparam("other"))
    if with_object:
        forward.append(c.object_b == bindparam("other_obj"))
        backward.append(c.object_a == bindparam("other_obj"))
    return select(c.system_a, c.id_a, c.id_b).where(or_(and_(*forward), and_(*backward))).limit(1)


def _xref_lookup_many() -> Executable:
    """The links of many records of one object to one object of another system, in either stored direction."""
    c = XREF.c
    rids: Any = bindparam("rids", expanding=True)
    forward = and_(
        c.system_a == bindparam("system"),
        c.object_a == bindparam("obj"),
        c.id_a.in_(rids),
        c.system_b == bindparam("other"),
        c.object_b == bindparam("other_obj"),
    )
    backward = and_(
        c.system_b == bindparam("system"),
        c.object_b == bindparam("obj"),
        c.id_b.in_(rids),
        c.system_a == bindparam("other"),
        c.object_a == bindparam("other_obj"),
    )
    return select(c.system_a, c.object_a, c.id_a, c.id_b).where(or_(forward, backward))


@dataclass(frozen=True)
class Statements:
    lookup: Executable
    lookup_any_object: Executable
    lookup_many: Executable
    link: Executable
    get_watermark: Executable
    get_watermarks: Executable
    set_watermark: Executable
    advance_watermark: Executable
    trigger_checked: Executable
    get_version: Executable
    get_versions: Executable
    put_version: Executable
    audit: Executable
    open_failures: Executable
    resolve_failure: Executable
    intents: Executable
    add_intent: Executable


def build(dialect: str) -> Statements:
    insert: Any = (sqlite if dialect == "sqlite" else postgresql).insert  # same ON CONFLICT on both
    xref_columns = ("system_a", "object_a", "id_a", "system_b", "object_b", "id_b")
    link = insert(XREF).values(created_at=_NOW, **{k: bindparam(k) for k in xref_columns}).on_conflict_do_nothing()

    w = WATERMARK.c
    set_watermark = insert(WATERMARK).values(name=bindparam("name"), value=bindparam("value"), updated_at=_NOW)
    set_watermark = set_watermark.on_conflict_do_update(
        index_elements=[w.name],
        set_={"value": set_watermark.excluded.value, "updated_at": set_watermark.excluded.updated_at},
        where=w.value != set_watermark.excluded.value,  # the same value again: leave the row (and its time) alone
    )
    advance = insert(WATERMARK).values(name=bindparam("name"), value=bindparam("value"), updated_at=_NOW)
    advance = advance.on_conflict_do_update(
        index_elements=[w.name],
        set_={"value": advance.excluded.value, "updated_at": advance.excluded.updated_at},
        where=w.value < advance.excluded.value,  # only forward: of callers racing with one value, one moves it
    ).returning(w.name)  # a row back: this call moved it (psycopg's rowcount can be -1 here)

    c = CHECK.c
    checked = insert(CHECK).values(name=bindparam("name"), checked_at=_NOW)
    checked = checked.on_conflict_do_update(
        index_elements=[c.name],
        set_={"checked_at": checked.excluded.checked_at},
        where=c.checked_at < checked.excluded.checked_at,  # never back (a slower worker's older check)
    )

    v = VERSION.c
    version_columns = ("system", "object", "record_id", "content_hash", "written_by_us", "modified_at")
    put_version = insert(VERSION).values(updated_at=_NOW, **{k: bindparam(k) for k in version_columns})
    excluded = put_version.excluded
    put_version = put_version.on_conflict_do_update(
        index_elements=[v.system, v.object, v.record_id],
        set_={k: excluded[k] for k in ("content_hash", "written_by_us", "modified_at", "updated_at")},
        where=or_(v.content_hash != excluded.content_hash, v.written_by_us != excluded.written_by_us),
    )

    audit_columns = ("flow", "run_id", "source_id", "system", "object", "record_id", "action")
    audit = AUDIT.insert().values(
        at=_NOW, detail=bindparam("detail", type_=JSON), **{k: bindparam(k) for k in audit_columns}
    )
    f = FAILED.c
    # (An UPDATE may not bind a parameter named after one of its columns.)
    open_failure = [f.flow == bindparam("of_flow"), f.source_id == bindparam("of_source"), f.status == "open"]
    open_failures = [f.flow == bindparam("of_flow"), f.source_id.in_(bindparam("of_sources", expanding=True))]
    i = INTENT.c
    intent_key = ("flow", "source_system", "source_object")
    intent_columns = (*intent_key, "source_id", "run_id")
    return Statements(
        lookup=_xref_lookup(with_object=True),
        lookup_any_object=_xref_lookup(with_object=False),
        lookup_many=_xref_lookup_many(),
        link=link,
        get_watermark=select(w.value).where(w.name == bindparam("name")),
        get_watermarks=select(w.name, w.value).where(w.name.in_(bindparam("names", expanding=True))),
        set_watermark=set_watermark,
        advance_watermark=advance,
        trigger_checked=checked,
        get_version=select(v.content_hash, v.written_by_us, v.modified_at).where(
            v.system == bindparam("system"), v.object == bindparam("object"), v.record_id == bindparam("record_id")
        ),
        get_versions=select(v.record_id, v.content_hash, v.written_by_us, v.modified_at).where(
            v.system == bindparam("system"),
            v.object == bindparam("object"),
            v.record_id.in_(bindparam("record_ids", expanding=True)),
        ),
        put_version=put_version,
        audit=audit,
        open_failures=select(f.source_id).where(*open_failures, f.status == "open"),
        resolve_failure=FAILED.update().where(*open_failure).values(status=bindparam("of_status"), updated_at=_NOW),
        intents=select(i.source_id).where(
            *(i[k] == bindparam(k) for k in intent_key), i.source_id.in_(bindparam("source_ids", expanding=True))
        ),
        add_intent=insert(INTENT)
        .values(created_at=_NOW, **{k: bindparam(k) for k in intent_columns})
        .on_conflict_do_nothing(),
    )
