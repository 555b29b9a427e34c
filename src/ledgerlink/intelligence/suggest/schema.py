"""Schema files for suggestions: ``{"system", "object", "fields": [{"name", "type", "label", "samples"}]}``.

Only ``name`` is required. Files and fields are bounded (a describe of the widest Salesforce object has about 800
fields), and every error names the file, the field and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 5 << 20
MAX_FIELDS = 2000
MAX_SAMPLES = 20
MAX_TEXT = 500


class SchemaFileError(ValueError):
    pass


@dataclass(frozen=True)
class SchemaField:
    name: str
    type: str = ""
    label: str = ""
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectSchema:
    system: str
    object: str
    fields: tuple[SchemaField, ...]


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SchemaFileError(f"{where}: expected a string")
    text = str(value)
    if len(text) > MAX_TEXT:
        raise SchemaFileError(f"{where}: longer than {MAX_TEXT} characters")
    return text


def parse_schema(data: Any, source: str = "schema") -> ObjectSchema:
    if not isinstance(data, dict):
        raise SchemaFileError(f"{source}: expected a JSON object with 'fields'")
    fields = data.get("fields")
    if not isinstance(fields, list) or not fields:
        raise SchemaFileError(f"{source}: 'fields' must be a non-empty list")
    if len(fields) > MAX_FIELDS:
        raise SchemaFileError(f"{source}: {len(fields)} fields is over the limit of {MAX_FIELDS}")
    parsed: list[SchemaField] = []
    seen: set[str] = set()
    for index, raw in enumerate(fields):
        where = f"{source}: fields[{index}]"
        if not isinstance(raw, dict):
            raise SchemaFileError(f"{where}: expected an object with a 'name'")
        name = _text(raw.get("name"), f"{where}.name").strip()
        if not name:
            raise SchemaFileError(f"{where}.name: required")
        if name in seen:
            raise SchemaFileError(f"{where}.name: {name!r} appears twice")
        seen.add(name)
        samples = raw.get("samples") or []
        if not isinstance(samples, list):
            raise SchemaFileError(f"{where}.samples: expected a list")
        parsed.append(
            SchemaField(
                name=name,
                type=_text(raw.get("type"), f"{where}.type"),
                label=_text(raw.get("label"), f"{where}.label"),
                samples=tuple(_text(s, f"{where}.samples[{i}]") for i, s in enumerate(samples[:MAX_SAMPLES])),
            )
        )
    return ObjectSchema(
        system=_text(data.get("system"), f"{source}.system"),
        object=_text(data.get("object"), f"{source}.object"),
        fields=tuple(parsed),
    )


def load_schema(path: Path) -> ObjectSchema:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SchemaFileError(f"{path}: {size:,} bytes is over the {MAX_FILE_BYTES:,} byte limit")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaFileError(f"{path}: not JSON: {exc}") from exc
    return parse_schema(data, str(path))
