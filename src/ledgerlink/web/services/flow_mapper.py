"""The visual field mapper's data: a source object's fields and a target's side by side (from the systems' shipped
schemas and the canonical model), the transform library, and the offline suggestions for the pair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ledgerlink.mapping.schemas import DEFAULT_SCHEMAS
from ledgerlink.mapping.transforms.registry import REGISTRY
from ledgerlink.systems import registry

MAX_FIELDS = 400


@dataclass(frozen=True)
class Side:
    system: str
    object: str
    fields: list[tuple[str, str]]  # (name, type)


def choices() -> list[str]:
    """Every ``system/Object`` the schemas know, the canonical model included."""
    found = [f"canonical/{o}" for o in DEFAULT_SCHEMAS.objects("canonical")]
    for system in registry.names():
        found += [f"{system}/{o}" for o in DEFAULT_SCHEMAS.objects(system)]
    return found


def side(choice: str) -> Side | None:
    system, _, obj = choice.partition("/")
    fields = DEFAULT_SCHEMAS.fields(system, obj) if system and obj else None
    if not fields:
        return None
    listed = [(f.name, f.type) for f in fields.values() if f.type not in ("children", "list", "object", "map")]
    return Side(system, obj, listed[:MAX_FIELDS])


def suggestions(source: Side, target: Side) -> dict[str, dict[str, Any]]:
    """Source field → {target, confidence}, from the offline suggestion model ("Intelligence, offline")."""
    try:
        from ledgerlink.intelligence.suggest import ObjectSchema, SchemaField, suggest
    except ImportError:  # the intelligence extra is not installed: the mapper works without suggestions
        return {}
    src = ObjectSchema(source.system, source.object, tuple(SchemaField(n, t) for n, t in source.fields))
    dst = ObjectSchema(target.system, target.object, tuple(SchemaField(n, t) for n, t in target.fields))
    return {
        s.source: {"target": s.target, "confidence": round(s.confidence, 2)}
        for s in suggest(src, dst)
        if s.target is not None
    }


def transforms() -> list[tuple[str, str]]:
    return sorted((name, (info.doc or "").strip().split("\n")[0][:120]) for name, info in REGISTRY.items())


def page(source: str, target: str) -> dict[str, Any]:
    options = choices()
    src = side(source) if source in options else None
    dst = side(target) if target in options else None
    return {
        "options": options,
        "source": source,
        "target": target,
        "src": src,
        "dst": dst,
        "suggested": suggestions(src, dst) if src and dst else {},
        "transforms": transforms(),
    }


def mapping_yaml(source: str, target: str, pairs: list[tuple[str, str, str]]) -> str:
    """A mapping document for the pairs (source field, target field, transform or "")."""
    src_system, _, src_obj = source.partition("/")
    dst_system, _, dst_obj = target.partition("/")
    fields: dict[str, Any] = {}
    for src_field, dst_field, transform in pairs:
        rule: dict[str, Any] = {"from": src_field}
        if transform:
            rule["transforms"] = [transform]
        fields[dst_field] = rule
    direction = "to_canonical" if dst_system == "canonical" else "from_canonical"
    doc = {
        "description": f"{source} → {target} (made in the field mapper)",
        "source": {"system": src_system, "object": src_obj},
        "target": {"system": dst_system, "object": dst_obj},
        "direction": direction,
        "fields": fields,
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
