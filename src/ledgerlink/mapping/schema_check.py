"""Check mapping paths against a SchemaProvider at load time: a typo in a field name fails the load, not a sync run."""

from __future__ import annotations

from ledgerlink.mapping.paths import Path
from ledgerlink.mapping.schemas import SchemaProvider

_SUBQUERY_META = {"totalSize", "done", "nextRecordsUrl"}


class PathCheckError(ValueError):
    pass


def check_path(provider: SchemaProvider, system: str, obj: str | None, path: Path) -> str | None:
    """Walk ``path`` from ``obj``; return the object it ends on (for element rules), None when not an object or unknown.

    Raises PathCheckError for a field the schema does not have. Unknown objects are not checked.
    """
    current = obj
    segments = path.segments
    index = 0
    while index < len(segments):
        if current is None:
            return None
        fields = provider.fields(system, current)
        if fields is None:
            return None
        segment = segments[index]
        info = fields.get(segment.name)
        if info is None:
            raise PathCheckError(_unknown(system, current, segment.name))
        if segment.kind == "select" and info.object:
            element = provider.fields(system, info.object)
            if element is not None and segment.key not in element:
                raise PathCheckError(_unknown(system, info.object, segment.key))
        if info.type == "children":
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is not None and following.name in _SUBQUERY_META:
                return None
            if following is not None and following.name == "records":
                index += 1
            current = info.object
        elif info.type in ("reference", "object", "list") and info.object:
            current = info.object
        elif info.type in ("map", "list"):
            return None  # free-form keys (custom_fields) or a list of scalars (address lines)
        elif index + 1 < len(segments):
            raise PathCheckError(f"{system} {current}.{segment.name} is a {info.type}, not an object")
        else:
            current = None
        index += 1
    return current


def _unknown(system: str, obj: str, name: str) -> str:
    if system == "salesforce" and name.endswith("__c"):
        return (
            f"custom field {name!r} is not in the {system} {obj} schema: add it from a describe "
            "(ExtendedSchemaProvider) or in mappings/schema_extensions.yaml"
        )
    return f"unknown field {name!r} on {system} {obj}"
