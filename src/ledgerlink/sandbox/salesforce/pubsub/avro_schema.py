"""Avro schemas of change events (``<Object>ChangeEvent``) and the encoding of one event as a bare Avro datum.

Layout, after Salesforce's: a record ``com.sforce.eventbus.<Object>ChangeEvent`` whose first field is
``ChangeEventHeader`` and whose other fields are the object's fields in declared order, every one a union
``["null", <type>]`` defaulting to null (the record id travels in the header; ``Id``, ``IsDeleted`` and
``SystemModstamp`` are not change-event fields). Field values: text/ids/picklists ``string``, numbers ``double``
(``int`` for int fields), checkboxes ``boolean``, datetimes ``long`` epoch ms, dates ``int`` days since the epoch;
each field's ``doc`` names its Salesforce type (``Data:Text``, ``Data:DateTime``, …) as Salesforce's schemas do.
The schema id is a fingerprint of the schema JSON, so a changed schema gets a new id.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import fastavro

from ..change_topics import topic_entity_name
from ..schema import FieldDef, ObjectDef
from ..timefmt import parse_date, parse_datetime
from .bitmap import encode_bitmap

NAMESPACE = "com.sforce.eventbus"
EXCLUDED_FIELDS = frozenset({"Id", "IsDeleted", "SystemModstamp"})
CHANGE_TYPES = (
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
    "SNAPSHOT",
)
_EPOCH = dt.date(1970, 1, 1)

HEADER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ChangeEventHeader",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": list(CHANGE_TYPES)}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}


def _avro_type(fdef: FieldDef) -> tuple[str, str]:
    """(Avro type, doc) for one field."""
    if fdef.type in ("id", "reference"):
        return "string", "ForeignKey:EntityId" if fdef.type == "reference" else "Data:Id"
    if fdef.type == "boolean":
        return "boolean", "Data:Boolean"
    if fdef.type == "int":
        return "int", "Data:Integer"
    if fdef.type in ("double", "currency", "percent"):
        return "double", f"Data:{fdef.type.capitalize()}"
    if fdef.type == "datetime":
        return "long", "Data:DateTime"
    if fdef.type == "date":
        return "int", "Data:DateOnly"
    return "string", "Data:Text"


@dataclass(frozen=True)
class ChangeEventSchema:
    entity: str
    schema: dict[str, Any]  # the Avro schema as JSON data
    schema_json: str
    schema_id: str
    field_names: tuple[str, ...]  # top-level Avro field order, ChangeEventHeader first: the bitmap positions
    field_types: dict[str, str]  # object field name -> Avro type
    parsed: Any  # fastavro's parsed schema

    def encode(self, header: dict[str, Any], values: dict[str, Any]) -> bytes:
        """A bare Avro datum (no container, no schema prefix); ``values`` are Salesforce JSON values."""
        record: dict[str, Any] = {name: None for name in self.field_names}
        record["ChangeEventHeader"] = header
        for name, value in values.items():
            if name in self.field_types:
                record[name] = _to_avro(self.field_types[name], value)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, record)
        return out.getvalue()

    def bitmap(self, names: list[str]) -> list[str]:
        return encode_bitmap(names, self.field_names)


def _to_avro(avro_type: str, value: Any) -> Any:
    if value is None:
        return None
    if avro_type == "long":  # datetime
        parsed = parse_datetime(str(value))
        return int(parsed.timestamp() * 1000) if parsed else None
    if avro_type == "int" and isinstance(value, str):  # date
        day = parse_date(value)
        return (day - _EPOCH).days if day else None
    if avro_type == "double":
        return float(value)
    if avro_type == "int":
        return int(value)
    if avro_type == "boolean":
        return bool(value)
    return value if isinstance(value, str) else json.dumps(value)


def build_change_event_schema(obj: ObjectDef) -> ChangeEventSchema:
    fields: list[dict[str, Any]] = [{"name": "ChangeEventHeader", "type": HEADER_SCHEMA}]
    types: dict[str, str] = {}
    for fdef in obj.fields.values():
        if fdef.name in EXCLUDED_FIELDS:
            continue
        avro_type, doc = _avro_type(fdef)
        types[fdef.name] = avro_type
        fields.append({"name": fdef.name, "type": ["null", avro_type], "doc": doc, "default": None})
    schema = {"type": "record", "name": topic_entity_name(obj.name), "namespace": NAMESPACE, "fields": fields}
    schema_json = json.dumps(schema, separators=(",", ":"))
    digest = hashlib.sha256(schema_json.encode()).digest()[:16]
    schema_id = base64.urlsafe_b64encode(digest).decode().rstrip("=")  # 22 characters, like Salesforce's ids
    return ChangeEventSchema(
        entity=obj.name,
        schema=schema,
        schema_json=schema_json,
        schema_id=schema_id,
        field_names=tuple(f["name"] for f in fields),
        field_types=types,
        parsed=fastavro.parse_schema(schema),
    )
