"""Mapping files for the editor: list, read (user override or shipped template), validate, preview, save.

Everything goes through the mapping package's public API (``load_mapping``, ``Mapping.apply``,
``MappingLoadError``, ``MappingError``); this module only decides where files live and fetches sample records.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlink.mapping.loader import template_file, template_files
from ledgerlink.mapping.system_files import template_roots
from ledgerlink.store import Ledger
from ledgerlink.systems.registry import get_system

NAME_RE = re.compile(r"^([a-z0-9_]{1,64})/[a-z0-9_]{1,80}\Z")


class MappingNameError(ValueError):
    pass


def _valid(name: str) -> bool:
    try:
        check_name(name)
    except MappingNameError:
        return False
    return True


@dataclass(frozen=True)
class MappingFile:
    name: str  # "<system>/<name>"
    overridden: bool

    @property
    def system(self) -> str:
        return self.name.split("/", 1)[0]


@dataclass
class Problem:
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None


@dataclass
class Preview:
    problems: list[Problem] = field(default_factory=list)
    values: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    record_id: str | None = None
    record_source: str | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def check_name(name: str) -> str:
    match = NAME_RE.match(name)
    if not match or match.group(1) not in template_roots():
        raise MappingNameError(
            "a mapping is named <system>/<name> with a registered system, e.g. salesforce/opportunity_to_canonical"
        )
    return name


def override_path(overrides_dir: Path, name: str) -> Path:
    return overrides_dir / f"{check_name(name)}.yaml"


def template_path(name: str) -> Path | None:
    return template_file(check_name(name))


def list_files(overrides_dir: Path) -> list[MappingFile]:
    names = set(template_files())
    if overrides_dir.is_dir():
        names.update(f"{p.parent.name}/{p.stem}" for p in overrides_dir.glob("*/*.yaml"))
    valid = sorted(n for n in names if _valid(n))
    return [MappingFile(n, override_path(overrides_dir, n).exists()) for n in valid]


def read_text(overrides_dir: Path, name: str) -> tuple[str, bool] | None:
    """(yaml text, overridden?) — the user's copy wins over the template, as load_mapping does."""
    for path, overridden in ((override_path(overrides_dir, name), True), (template_path(name), False)):
        if path is not None and path.exists():
            return path.read_text(encoding="utf-8"), overridden
    return None


def _parse(text: str) -> Any:
    """The YAML document, or None: bounded like the mapping loader (no aliases, capped size)."""
    from ledgerlink.mapping.errors import MappingLoadError
    from ledgerlink.mapping.yaml_source import load_yaml_document

    try:
        return load_yaml_document(text, "<text>").data
    except MappingLoadError:
        return None


def source_of(text: str) -> tuple[str | None, str | None]:
    """(system, object) the mapping reads, from its ``source:`` block; (None, None) if it doesn't parse."""
    doc = _parse(text)
    source = doc.get("source") if isinstance(doc, dict) else None
    if not isinstance(source, dict):
        return None, None
    return (
        str(source.get("system")) if source.get("system") else None,
        str(source.get("object")) if source.get("object") else None,
    )


def load_text(name: str, text: str, overrides_dir: Path | None = None) -> tuple[Any | None, list[Problem]]:
    """Compile ``text`` as mapping ``name`` without touching the real file: (mapping, problems)."""
    from ledgerlink.mapping import MappingLoadError, load_mapping_text
    from ledgerlink.mapping.loader import default_schemas

    try:
        return load_mapping_text(text, name, schemas=default_schemas(overrides_dir)), []
    except MappingLoadError as exc:
        return None, [Problem(exc.message, exc.line, exc.column)]
    except Exception as exc:  # a loader bug must show as a problem in the editor, not a crash
        return None, [Problem(f"{type(exc).__name__}: {exc}")]


def apply(mapping: Any, record: dict[str, Any], ledger: Ledger, target: tuple[str | None, str | None]) -> Preview:
    from ledgerlink.mapping import MappingError, TransformContext

    ctx = TransformContext(lookup_xref=lambda system, obj, rid, other: ledger.lookup(system, obj, rid, other))
    try:
        mapped = mapping.apply(record, ctx)
    except MappingError as exc:
        return Preview(problems=[Problem(exc.message, field=exc.field)])
    except Exception as exc:
        return Preview(problems=[Problem(f"{type(exc).__name__}: {exc}")])
    values = dict(mapped.values)
    preview = Preview(values=_jsonable(values), provenance=_jsonable(dict(getattr(mapped, "provenance", {}) or {})))
    preview.problems.extend(_canonical_problems(values, target))
    return preview


def _canonical_problems(values: dict[str, Any], target: tuple[str | None, str | None]) -> list[Problem]:
    """A to-canonical mapping must produce a valid canonical entity: check it as the flow will."""
    system, obj = target
    if system != "canonical" or not obj:
        return []
    from pydantic import BaseModel, ValidationError

    import ledgerlink.model as model

    entity = getattr(model, obj, None)
    if not (isinstance(entity, type) and issubclass(entity, BaseModel)):
        return []
    try:
        entity.model_validate(values)
    except ValidationError as exc:
        return [Problem(e["msg"], field=".".join(str(p) for p in e["loc"])) for e in exc.errors()[:20]]
    return []


def target_of(text: str) -> tuple[str | None, str | None]:
    doc = _parse(text)
    target = doc.get("target") if isinstance(doc, dict) else None
    if not isinstance(target, dict):
        return None, None
    return (str(target.get("system") or "") or None, str(target.get("object") or "") or None)


def fields_read(text: str, name: str, overrides_dir: Path | None) -> set[str]:
    """The top-level source fields a (saved) mapping reads: what a viewer's preview may see of a record."""
    mapping, _problems = load_text(name, text, overrides_dir)
    found: set[str] = set()
    rules = list(getattr(mapping, "rules", []) or [])
    while rules:
        rule = rules.pop()
        found.update(path.segments[0].name for path, _loc in rule.source_paths if path.segments)
        rules.extend(rule.children)
    return found | {"Id", "attributes"}


def only_fields(record: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in fields}


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def save(overrides_dir: Path, name: str, text: str) -> Path:
    """Write atomically: a crash mid-save leaves the old file, never half of the new one."""
    path = override_path(overrides_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


# --- sample records -------------------------------------------------------------------------------------------

_cache: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
CACHE_SECONDS = 30.0


def fetch_sample(spec: dict[str, Any], cache_key: str, obj: str, record_id: str) -> dict[str, Any] | None:
    """The live record from the source system, read the way the flow reads it (cached briefly: the editor
    previews on every keystroke and must not spend the API budget)."""
    key = (cache_key, obj, record_id)
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    record = _fetch(spec, obj, record_id)
    if record is not None:
        _cache[key] = (time.monotonic(), record)
    return record


def _fetch(spec: dict[str, Any], obj: str, record_id: str) -> dict[str, Any] | None:
    if get_system(spec["system"]).role != "crm":
        return None
    if not record_id.isalnum() or not obj.replace("_", "").isalnum():
        return None
    from ledgerlink.connections.build import build_crm

    soql = _flow_query(obj)
    client = build_crm(spec, client_tag="ledgerlink-console")
    try:
        if soql:
            rows = list(client.query(soql.format(id=record_id)))
            return rows[0] if rows else None
        return client.get(obj, record_id)
    finally:
        client.close()


def _flow_query(obj: str) -> str | None:
    """The flows' own SOQL for an object, so the preview sees the same shape (related records included)."""
    try:
        from ledgerlink.flows import opportunity_to_invoice as o2i
    except ImportError:
        return None
    return {"Opportunity": o2i.OPPORTUNITY_SOQL, "Account": o2i.ACCOUNT_SOQL}.get(obj)
