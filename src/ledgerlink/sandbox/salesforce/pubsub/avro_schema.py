"""Avro schemas of change events (``<Object>ChangeEvent``) and the encoding of one event as a bare Avro datum.

Layout, after Salesforce's: a record ``com.sforce.eventbus.<Object>ChangeEvent`` whose first field is
``ChangeEventHeader`` and whose other fields are the object's fields in declared order, every one a union
``["null", <type>]`` defaulting to null (the record id travels in the header; ``Id``, ``IsDeleted`` and
``SystemModstamp`` are not change-event fields), address and person-name parts gathered into nested compound
records (``BillingAddress``, ``Name``) where their first part was. Field values: text/ids/picklists ``string``,
numbers ``double`` (``int`` for int fields), checkboxes ``boolean``, datetimes ``long`` epoch ms, dates ``int`` days
since the epoch; each field's ``doc`` names its Salesforce type (``Data:Text``, ``Data:DateTime``, …) as Salesforce's
schemas do.
The schema id is a fingerprint of the schema JSON, so a changed schema gets a new id.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field
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


# Compound fields travel as nested records ("Get Compound Fields in Change Events",
# https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-subscribe-compound-fields.html): an
# address as ``BillingAddress {Street, City, …}`` in place of BillingStreet, BillingCity, …, a person's name as
# ``Name {Salutation, FirstName, LastName}``; changedFields lists ``BillingAddress.City``.
ADDRESS_PARTS: tuple[tuple[str, str], ...] = (
    ("Street", "string"),
    ("City", "string"),
    ("State", "string"),
    ("PostalCode", "string"),
    ("Country", "string"),
    ("Latitude", "double"),
    ("Longitude", "double"),
    ("GeocodeAccuracy", "string"),
)
NAME_PARTS: tuple[tuple[str, str], ...] = (("Salutation", "string"), ("FirstName", "string"), ("LastName", "string"))
ADDRESS_PREFIXES = ("Billing", "Shipping", "Mailing", "Other")


@dataclass(frozen=True)
class Compound:
    name: str  # the event's field: BillingAddress, Name
    record: str  # its Avro record type: Address, Switchable_PersonName
    parts: tuple[tuple[str, str], ...]  # (component, Avro type), in the record's order
    sources: dict[str, str]  # object field -> component: BillingCity -> City


def compounds_of(obj: ObjectDef) -> list[Compound]:
    found: list[Compound] = []
    if obj.field("FirstName") is not None and obj.field("LastName") is not None:
        sources = {part: part for part, _ in NAME_PARTS if obj.field(part) is not None}
        found.append(Compound("Name", "Switchable_PersonName", NAME_PARTS, sources))
    for prefix in ADDRESS_PREFIXES:
        sources = {f"{prefix}{part}": part for part, _ in ADDRESS_PARTS if obj.field(f"{prefix}{part}") is not None}
        if sources:
            found.append(Compound(f"{prefix}Address", "Address", ADDRESS_PARTS, sources))
    return found


@dataclass(frozen=True)
class ChangeEventSchema:
    entity: str
    schema: dict[str, Any]  # the Avro schema as JSON data
    schema_json: str
    schema_id: str
    field_names: tuple[str, ...]  # top-level Avro field order, ChangeEventHeader first: the bitmap positions
    field_types: dict[str, str]  # object field name -> Avro type (components of compounds included)
    parsed: Any  # fastavro's parsed schema
    compounds: dict[str, Compound] = field(default_factory=dict)  # object field -> its compound

    def encode(self, header: dict[str, Any], values: dict[str, Any]) -> bytes:
        """A bare Avro datum (no container, no schema prefix); ``values`` are Salesforce JSON values keyed by object
        field. A compound is present when one of its components has a value, every other component null."""
        record: dict[str, Any] = {name: None for name in self.field_names}
        record["ChangeEventHeader"] = header
        for name, value in values.items():
            if name not in self.field_types:
                continue
            compound = self.compounds.get(name)
            if compound is None:
                record[name] = _to_avro(self.field_types[name], value)
            elif value is not None:
                nested = record[compound.name] or {part: None for part, _ in compound.parts}
                nested[compound.sources[name]] = _to_avro(self.field_types[name], value)
                record[compound.name] = nested
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, record)
        return out.getvalue()

    def bitmap(self, names: list[str]) -> list[str]:
        """Top-level fields as ``0x…``; components of compounds as ``<compound position>-0x…`` over the nested
        record's fields (the compound's own bit stays clear, as in Salesforce's examples)."""
        compound_names = {c.name for c in self.compounds.values()}  # e.g. Contact's derived Name: its parts say it
        top = [n for n in names if n not in self.compounds and n not in compound_names]
        out = encode_bitmap(top, self.field_names)
        nested: dict[str, list[str]] = {}
        for name in names:
            compound = self.compounds.get(name)
            if compound is not None:
                nested.setdefault(compound.name, []).append(compound.sources[name])
        for compound_name, parts in nested.items():
            compound = next(c for c in self.compounds.values() if c.name == compound_name)
            sub = encode_bitmap(parts, tuple(part for part, _ in compound.parts))
            if sub:
                out.append(f"{self.field_names.index(compound_name)}-{sub[0]}")
        if out and not out[0].startswith("0x"):
            # The top-level bitmap always leads (salesforce-pubsub-api-client reads nested entries only after it).
            out.insert(0, "0x00")
        return out


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
    compounds = compounds_of(obj)
    by_source = {source: c for c in compounds for source in c.sources}
    named = {c.name for c in compounds}  # a person's Name compound replaces the object's derived Name field
    defined: set[str] = set()
    for fdef in obj.fields.values():
        if fdef.name in EXCLUDED_FIELDS or (fdef.name in named and fdef.name not in by_source):
            continue
        avro_type, doc = _avro_type(fdef)
        types[fdef.name] = avro_type
        compound = by_source.get(fdef.name)
        if compound is None:
            fields.append({"name": fdef.name, "type": ["null", avro_type], "doc": doc, "default": None})
        elif compound.name not in {f["name"] for f in fields}:  # the compound sits where its first part was
            fields.append(_compound_field(compound, first=compound.record not in defined))
            defined.add(compound.record)
    for compound in compounds:  # a component's Avro type is the nested record's, not the object field's
        for source, part in compound.sources.items():
            types[source] = dict(compound.parts)[part]
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
        compounds=by_source,
    )


def _compound_field(compound: Compound, *, first: bool) -> dict[str, Any]:
    """The nested record; an Avro named type is defined once per schema and referred to by name after that."""
    record: Any = compound.record
    if first:
        record = {
            "type": "record",
            "name": compound.record,
            "namespace": NAMESPACE,
            "fields": [{"name": part, "type": ["null", t], "default": None} for part, t in compound.parts],
        }
    doc = "Data:Address" if compound.record == "Address" else "Data:PersonName"
    return {"name": compound.name, "type": ["null", record], "doc": doc, "default": None}
