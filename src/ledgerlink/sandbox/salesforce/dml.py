"""Create, update, delete, undelete and upsert: validation, system fields, derived fields, change events.

All writes of one API call share a unit of work (``Dml.unit``): one database transaction and one CDC transaction
key. Errors are raised as ``ApiError`` before anything is saved for that record; side effects on other records
(roll-ups, files) run inside the same transaction, so a failure rolls them back too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import derivations, ids
from .context import CallContext
from .db import Database
from .errors import ApiError, bad_request, entity_is_deleted, invalid_field, not_found
from .events import ChangeEventLog, ChangeTransaction
from .field_values import coerce
from .record_store import Record, RecordStore
from .schema import ObjectDef, Schema
from .timefmt import format_ms

CASCADE_FIELD = "__cascade_root"
_AUDIT_FIELDS = ("LastModifiedDate", "LastModifiedById", "SystemModstamp")


class Dml:
    def __init__(self, db: Database, schema: Schema, records: RecordStore, events: ChangeEventLog) -> None:
        self.db = db
        self.schema = schema
        self.records = records
        self.events = events
        self._tx: ChangeTransaction | None = None
        self._ctx: CallContext | None = None
        self.in_rollup = False

    # -- units of work -------------------------------------------------------------------------------------
    @contextmanager
    def unit(self, ctx: CallContext) -> Iterator[None]:
        """A transaction (or savepoint, when nested) whose changes share one CDC transaction key."""
        with self.db.transaction():
            outer = self._tx is None
            if outer:
                self._tx = self.events.begin(ctx.change_origin, ctx.user_id)
                self._ctx = ctx
            try:
                yield
            finally:
                if outer:
                    self._tx = None
                    self._ctx = None

    def _event(self, obj: ObjectDef, record_id: str, change_type: str, **kw: Any) -> None:
        assert self._tx is not None, "writes must run inside Dml.unit()"
        self.events.append(self._tx, obj.name, [record_id], change_type, **kw)

    # -- lookups -------------------------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef:
        obj = self.schema.get(name)
        if obj is None:
            raise not_found()
        return obj

    def get_record(self, obj: ObjectDef, record_id: str, *, for_write: bool = False) -> Record:
        """The live record, or NOT_FOUND (ENTITY_IS_DELETED when writing to a deleted one)."""
        rid = ids.normalize(record_id)
        record = self.records.get(rid) if rid and rid.startswith(obj.key_prefix) else None
        if record is None:
            raise not_found()
        if record.get("IsDeleted"):
            raise entity_is_deleted() if for_write else not_found()
        return record

    # -- writes --------------------------------------------------------------------------------------------
    def create(self, ctx: CallContext, obj: ObjectDef, body: dict[str, Any]) -> str:
        if not obj.createable:
            raise bad_request("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"entity type {obj.name} does not support insert")
        with self.unit(ctx):
            values = self._values_from_body(obj, body, creating=True)
            return self.insert(ctx, obj, values)

    def insert(self, ctx: CallContext, obj: ObjectDef, values: dict[str, Any], *, system: bool = False) -> str:
        """Insert already-coerced values; ``system`` inserts (made by Salesforce itself) skip the reference check."""
        with self.unit(ctx):
            record: Record = {f.name: f.default for f in obj.fields.values()}
            record.update(values)
            record["Id"] = ids.make_id(obj.key_prefix, self.db.next_counter(f"id:{obj.key_prefix}"))
            for fdef in obj.fields.values():
                if fdef.auto_number:
                    record[fdef.name] = fdef.auto_number.format(self.db.next_counter(f"auto:{obj.name}.{fdef.name}"))
            derivations.before_save(self, ctx, obj, record, None)
            self._check_required(obj, record)
            if not system:
                self._check_references(obj, record, list(values))
            self._check_unique(obj, record, None)
            stamp = self.records.next_modstamp()
            when = format_ms(stamp)
            record.update(
                IsDeleted=False,
                CreatedDate=when,
                CreatedById=ctx.user_id,
                LastModifiedDate=when,
                LastModifiedById=ctx.user_id,
                SystemModstamp=when,
            )
            derivations.store_blobs(self, obj, record)
            self.records.save(obj, record)
            fields = {k: v for k, v in record.items() if v is not None and k != "Id"}
            self._event(obj, record["Id"], "CREATE", fields=fields, commit_timestamp=stamp)
            derivations.after_save(self, ctx, obj, record, None)
            return str(record["Id"])

    def update(self, ctx: CallContext, obj: ObjectDef, record_id: str, body: dict[str, Any]) -> None:
        with self.unit(ctx):
            current = self.get_record(obj, record_id, for_write=True)
            body = {k: v for k, v in body.items() if not (k.lower() == "id" and ids.normalize(str(v)) == current["Id"])}
            values = self._values_from_body(obj, body, creating=False)
            self.apply_update(ctx, obj, current, values)

    def apply_update(self, ctx: CallContext, obj: ObjectDef, current: Record, values: dict[str, Any]) -> None:
        """Save ``values`` over ``current`` (already coerced; used for system roll-ups too)."""
        with self.unit(ctx):
            record = dict(current)
            record.update(values)
            derivations.before_save(self, ctx, obj, record, current)
            self._check_required(obj, record)
            self._check_references(obj, record, list(values))
            self._check_unique(obj, record, current["Id"])
            stamp = self.records.next_modstamp()
            when = format_ms(stamp)
            record.update(LastModifiedDate=when, LastModifiedById=ctx.user_id, SystemModstamp=when)
            self.records.save(obj, record)
            changed = [k for k, v in record.items() if current.get(k) != v and k not in ("SystemModstamp",)]
            self._event(
                obj,
                record["Id"],
                "UPDATE",
                changed_fields=changed,
                nulled_fields=[k for k in changed if record[k] is None],
                fields={k: record[k] for k in changed},
                commit_timestamp=stamp,
            )
            derivations.after_save(self, ctx, obj, record, current)

    def delete(self, ctx: CallContext, obj: ObjectDef, record_id: str, *, cascade_root: str | None = None) -> None:
        with self.unit(ctx):
            record = dict(self.get_record(obj, record_id, for_write=True))
            rid = record["Id"]
            derivations.before_delete(self, ctx, obj, record)
            stamp = self.records.next_modstamp()
            record.update(IsDeleted=True, SystemModstamp=format_ms(stamp))
            self.records.save(obj, record, deleted_at=stamp)
            if cascade_root:
                self.db.conn.execute(
                    "INSERT INTO field_index (sobject, field, value, id) VALUES (?, ?, ?, ?)",
                    (obj.name, CASCADE_FIELD, cascade_root, rid),
                )
            self._event(obj, rid, "DELETE", commit_timestamp=stamp)
            for child_obj, fdef in self._cascading_children(obj):
                for child_id in self.records.find_by_field(child_obj, fdef, rid):
                    self.delete(ctx, child_obj, child_id, cascade_root=cascade_root or rid)
            derivations.after_delete(self, ctx, obj, record)

    def undelete(self, ctx: CallContext, record_id: str) -> None:
        """Restore a deleted record and whatever its deletion cascaded to (Salesforce's recycle bin)."""
        rid = ids.normalize(record_id)
        record = self.records.get(rid) if rid else None
        obj = self.schema.for_id(rid) if rid else None
        if record is None or obj is None:
            raise not_found()
        if not record.get("IsDeleted"):
            raise bad_request("UNDELETE_FAILED", "Entity is not in the recycle bin")
        with self.unit(ctx):
            self._restore(ctx, obj, record)
            rows = self.db.conn.execute(
                "SELECT sobject, id FROM field_index WHERE field = ? AND value = ? ORDER BY id", (CASCADE_FIELD, rid)
            ).fetchall()
            for sobject, child_id in rows:
                child = self.records.get(child_id)
                child_obj = self.schema.get(sobject)
                if child and child_obj and child.get("IsDeleted"):
                    self._restore(ctx, child_obj, child)

    def _restore(self, ctx: CallContext, obj: ObjectDef, current: Record) -> None:
        record = dict(current)
        stamp = self.records.next_modstamp()
        record.update(IsDeleted=False, SystemModstamp=format_ms(stamp))
        self.records.save(obj, record)
        fields = {k: v for k, v in record.items() if v is not None and k != "Id"}
        self._event(obj, record["Id"], "UNDELETE", fields=fields, commit_timestamp=stamp)
        derivations.after_save(self, ctx, obj, record, None)

    def upsert(
        self,
        ctx: CallContext,
        obj: ObjectDef,
        field_name: str,
        value: str,
        body: dict[str, Any],
        *,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Upsert on an external id (or Id). Returns (id, created); raises ApiError(300) on several matches."""
        fdef = obj.field(field_name)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise not_found(f"Provided external ID field does not exist or is not accessible: {field_name}")
        with self.unit(ctx):
            if fdef.name == "Id":
                if value:
                    self.update(ctx, obj, value, body)
                    return str(ids.normalize(value)), False
                return self.create(ctx, obj, body), True
            matches = self.records.find_by_field(obj, fdef, value)
            if len(matches) > 1:
                urls = [f"/services/data/v{ctx.api_version}/sobjects/{obj.name}/{rid}" for rid in matches]
                raise ApiError(
                    300, "MULTIPLE_RECORDS", "more than one record found for external id", extra={"urls": urls}
                )
            body = {k: v for k, v in body.items() if k.lower() != fdef.name.lower()}
            if matches:
                self.update(ctx, obj, matches[0], body)
                return matches[0], False
            if update_only:
                raise not_found()
            body[fdef.name] = value
            return self.create(ctx, obj, body), True

    # -- validation ----------------------------------------------------------------------------------------
    def _values_from_body(self, obj: ObjectDef, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
        values: dict[str, Any] = {}
        read_only: list[str] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            fdef = obj.field(key)
            if fdef is None:
                raise invalid_field(key, obj.name)
            if not (fdef.createable if creating else fdef.updateable):
                read_only.append(fdef.name)
                continue
            values[fdef.name] = coerce(obj, fdef, raw)
        if read_only:
            raise bad_request(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                read_only,
            )
        return values

    def _check_required(self, obj: ObjectDef, record: Record) -> None:
        missing = [f.name for f in obj.fields.values() if f.required and record.get(f.name) in (None, "")]
        if missing:
            raise bad_request("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)

    def _check_references(self, obj: ObjectDef, record: Record, names: list[str]) -> None:
        for name in names:
            fdef = obj.field(name)
            target_id = record.get(name)
            if fdef is None or fdef.type != "reference" or not target_id:
                continue
            target_obj = self.schema.for_id(target_id)
            if target_obj is None or target_obj.name not in fdef.reference_to:
                label = fdef.name[:-2] + " ID" if fdef.name.endswith("Id") else fdef.name
                raise bad_request(
                    "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {target_id}", [fdef.name]
                )
            target = self.records.get(target_id)
            if target is None:
                raise bad_request("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fdef.name])
            if target.get("IsDeleted"):
                raise bad_request("ENTITY_IS_DELETED", "entity is deleted", [fdef.name])

    def _check_unique(self, obj: ObjectDef, record: Record, own_id: str | None) -> None:
        for fdef in obj.external_id_fields:
            value = record.get(fdef.name)
            if not fdef.unique or value in (None, ""):
                continue
            clashes = [rid for rid in self.records.find_by_field(obj, fdef, value) if rid != own_id]
            if clashes:
                raise ApiError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fdef.name} duplicates value on record with id: {clashes[0]}",
                    [],
                )

    def _cascading_children(self, obj: ObjectDef) -> list[tuple[ObjectDef, Any]]:
        found = []
        for child_obj in self.schema.objects.values():
            for fdef in child_obj.fields.values():
                if fdef.cascade_delete and obj.name in fdef.reference_to:
                    found.append((child_obj, fdef))
        return found
