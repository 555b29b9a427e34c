"""Mapping suggestions in the editor: for the fields of the mapping's source object it doesn't read yet, the target
field each should fill (``intelligence.suggest``, offline), to add one by one or all at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from ledgerlink.intelligence.suggest import ObjectSchema, SchemaField, suggest
from ledgerlink.mapping.schemas import DEFAULT_SCHEMAS
from ledgerlink.web.services.mappings import source_of, target_of

MIN_CONFIDENCE = 0.5
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,120}$")


@dataclass(frozen=True)
class Offer:
    source: str
    target: str
    confidence: float

    @property
    def pick(self) -> str:
        return f"{self.target}={self.source}"


def _schema(system: str, obj: str) -> ObjectSchema | None:
    fields = DEFAULT_SCHEMAS.fields(system, obj)
    if not fields:
        return None
    return ObjectSchema(system, obj, tuple(SchemaField(f.name, f.type) for f in fields.values()))


def _used(text: str) -> tuple[set[str], set[str]]:
    """(source fields read, target fields written) by the mapping's top-level rules."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return set(), set()
    fields: Any = doc.get("fields") if isinstance(doc, dict) else None
    sources: set[str] = set()
    targets: set[str] = set()
    rules = (
        fields.items() if isinstance(fields, dict) else ((r.get("to"), r) for r in fields or [] if isinstance(r, dict))
    )
    for target, rule in rules:
        targets.add(str(target).split(".")[0])
        origin = rule if isinstance(rule, str) else (rule or {}).get("from") if isinstance(rule, dict) else None
        for path in origin if isinstance(origin, list) else [origin]:
            if isinstance(path, str):
                sources.add(path.split(".")[0].split("[")[0])
    return sources, targets


def offers(text: str) -> list[Offer]:
    """Suggested rules the mapping lacks, best first."""
    src, tgt = source_of(text), target_of(text)
    if None in src or None in tgt:
        return []
    source = _schema(str(src[0]), str(src[1]))
    target = _schema(str(tgt[0]), str(tgt[1]))
    if source is None or target is None:
        return []
    read, written = _used(text)
    out = [
        Offer(s.source, s.target, s.confidence)
        for s in suggest(source, target)
        if s.target and s.confidence >= MIN_CONFIDENCE and s.source not in read and s.target not in written
    ]
    return sorted(out, key=lambda o: -o.confidence)


def add_rules(text: str, picks: list[str]) -> str:
    """The YAML with ``target: source`` rules added at the top of its ``fields:`` block (dict form only)."""
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.rstrip() == "fields:"), None)
    if at is None:
        raise ValueError("the mapping has no top-level 'fields:' block to add rules to")
    following = next((line for line in lines[at + 1 :] if line.strip()), "  ")
    if following.lstrip().startswith("- "):
        raise ValueError("suggestions are added to the dict form of 'fields:' only")
    indent = following[: len(following) - len(following.lstrip())] or "  "
    new = []
    for pick in picks:
        target, _, source = pick.partition("=")
        if not (_SAFE_NAME.match(target) and _SAFE_NAME.match(source)):
            raise ValueError(f"not a field name: {pick[:80]!r}")
        new.append(f"{indent}{target}: {source}  # suggested")
    return "\n".join([*lines[: at + 1], *new, *lines[at + 1 :]]) + "\n"
