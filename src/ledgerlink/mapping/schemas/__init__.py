"""Field schemas of each system, for checking mapping paths at load time.

A ``SchemaProvider`` answers ``fields(system, object)`` with the known fields, or None for an object it does not know
(then paths into it are not checked). The static provider ships the objects of the API references plus the canonical
model; ``ExtendedSchemaProvider`` adds fields from a live describe (e.g. an org's ``Region__c``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from ledgerlink.mapping import system_files
from ledgerlink.mapping.schemas.canonical import canonical_schema
from ledgerlink.mapping.yaml_source import load_data

_RELATIONS = ("reference", "children", "list", "object")


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    type: str  # string, id, int, decimal, bool, date, datetime, map, list, or a relation kind from _RELATIONS
    object: str | None = None  # the related object for relations and lists of objects


class SchemaProvider(Protocol):
    def fields(self, system: str, object: str) -> dict[str, FieldInfo] | None: ...


def _parse_object(fields: Mapping[str, Any]) -> dict[str, FieldInfo]:
    parsed: dict[str, FieldInfo] = {}
    for name, spec in fields.items():
        if isinstance(spec, FieldInfo):
            parsed[name] = spec
        elif isinstance(spec, Mapping):
            ((kind, target),) = spec.items()
            if kind not in _RELATIONS:
                raise ValueError(f"{name}: unknown relation {kind!r}")
            parsed[name] = FieldInfo(name, kind, str(target))
        else:
            parsed[name] = FieldInfo(name, str(spec))
    return parsed


@cache
def _static_system(system: str) -> dict[str, dict[str, FieldInfo]]:
    if system == "canonical":
        return canonical_schema()
    schema = system_files.schema_file(system)
    if schema is None or not schema.is_file():
        return {}
    raw = load_data(schema.read_text(encoding="utf-8")) or {}
    return {obj: _parse_object(fields or {}) for obj, fields in raw.items()}


system_files.on_change(_static_system.cache_clear)


class StaticSchemaProvider:
    """The shipped schemas: each system's ``schema.yaml`` (registered by its plugin); canonical from the pydantic
    model."""

    def fields(self, system: str, object: str) -> dict[str, FieldInfo] | None:
        return _static_system(system).get(object)

    def objects(self, system: str) -> list[str]:
        return sorted(_static_system(system))


class ExtendedSchemaProvider:
    """A base provider plus extra fields per system and object, e.g. from a Salesforce describe call.

    ``extra`` is ``{system: {object: {field: type | FieldInfo | {reference: Object}}}}``.
    """

    def __init__(self, base: SchemaProvider, extra: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        self.base = base
        self.extra = {system: {obj: _parse_object(f) for obj, f in objs.items()} for system, objs in extra.items()}

    def fields(self, system: str, object: str) -> dict[str, FieldInfo] | None:
        known = self.base.fields(system, object)
        added = self.extra.get(system, {}).get(object)
        if added is None:
            return known
        return {**(known or {}), **added}


def fields_from_describe(describe: Mapping[str, Any]) -> dict[str, FieldInfo]:
    """Fields of a Salesforce ``GET sobjects/{Object}/describe`` result (its ``fields``: name, type, referenceTo)."""
    parsed: dict[str, FieldInfo] = {}
    for entry in describe.get("fields", []):
        name, kind = str(entry["name"]), str(entry.get("type", "string"))
        parsed[name] = FieldInfo(name, "id" if kind == "reference" else kind)
        relationship, targets = entry.get("relationshipName"), entry.get("referenceTo") or []
        if relationship and targets:
            parsed[str(relationship)] = FieldInfo(str(relationship), "reference", str(targets[0]))
    return parsed


DEFAULT_SCHEMAS = StaticSchemaProvider()

__all__ = [
    "DEFAULT_SCHEMAS",
    "ExtendedSchemaProvider",
    "FieldInfo",
    "SchemaProvider",
    "StaticSchemaProvider",
    "fields_from_describe",
]
