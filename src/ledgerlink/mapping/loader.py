"""Find, parse, validate, compile and schema-check mapping files.

Names like ``salesforce/opportunity_to_canonical`` resolve to the user's
``<mappings dir>/salesforce/opportunity_to_canonical.yaml`` when there is one (the mappings dir is
``$LEDGERLINK_MAPPINGS_DIR``, else ``./mappings``), else to the template the system's plugin ships
(``systems/<system>/templates/opportunity_to_canonical.yaml``). Anything ending in .yaml/.yml, or an existing path
with a separator, is read as a file.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ledgerlink.mapping.compiler import CompiledRule, RuleCompileError, compile_rules
from ledgerlink.mapping.errors import MappingLoadError
from ledgerlink.mapping.expressions import ExpressionSyntaxError
from ledgerlink.mapping.filters import compile_filter
from ledgerlink.mapping.mapping import Mapping
from ledgerlink.mapping.schema_check import PathCheckError, check_path
from ledgerlink.mapping.schemas import DEFAULT_SCHEMAS, ExtendedSchemaProvider, SchemaProvider
from ledgerlink.mapping.spec import FilterSpec, MappingSpec
from ledgerlink.mapping.system_files import template_roots
from ledgerlink.mapping.yaml_source import YamlDocument, load_data, load_yaml_document

SCHEMA_EXTENSIONS_FILE = "schema_extensions.yaml"


@dataclass(frozen=True)
class MappingInfo:
    name: str
    path: Path
    source: str  # "system.Object"
    target: str
    overridden: bool  # a user file replaces the template of the same name
    origin: str  # "template" or "user"


def template_file(name: str) -> Path | None:
    """The shipped template ``<system>/<name>``, if its system registered one by that name."""
    system, _, stem = name.partition("/")
    root = template_roots().get(system)
    if root is None or not stem or "/" in stem:
        return None
    candidate = root / f"{stem}.yaml"
    return candidate if candidate.is_file() else None


def template_files() -> dict[str, Path]:
    """Every shipped template by name (``<system>/<name>``)."""
    roots = template_roots().items()
    return {f"{system}/{file.stem}": file for system, root in roots for file in sorted(root.glob("*.yaml"))}


def user_mappings_dir() -> Path:
    configured = os.environ.get("LEDGERLINK_MAPPINGS_DIR")
    return Path(configured) if configured else Path.cwd() / "mappings"


def resolve(name: str, mappings_dir: Path | None = None) -> tuple[str, Path]:
    """(mapping name, file) for a template name or a file path; raises MappingLoadError when nothing is found."""
    if name.endswith((".yaml", ".yml")) or (os.sep in name and Path(name).exists()):
        path = Path(name)
        if not path.is_file():
            raise MappingLoadError(name, 1, 1, "no such mapping file")
        return path.stem, path
    clean = name.strip("/")
    user_file = (mappings_dir or user_mappings_dir()) / f"{clean}.yaml"
    if user_file.is_file():
        return clean, user_file
    shipped = template_file(clean)
    if shipped is not None:
        return clean, shipped
    if not template_roots():
        raise MappingLoadError(
            name, 1, 1, "no system has registered its templates (ledgerlink.systems.registry.load_systems())"
        )
    raise MappingLoadError(
        name, 1, 1, f"no mapping named {name!r} in {mappings_dir or user_mappings_dir()} or the templates"
    )


def default_schemas(mappings_dir: Path | None = None) -> SchemaProvider:
    """The static schemas, extended by ``<mappings dir>/schema_extensions.yaml`` ({system: {object: {field: type}}})."""
    extensions = (mappings_dir or user_mappings_dir()) / SCHEMA_EXTENSIONS_FILE
    if not extensions.is_file():
        return DEFAULT_SCHEMAS
    document = load_yaml_document(extensions.read_text(encoding="utf-8"), str(extensions))
    if not isinstance(document.data, dict):
        raise MappingLoadError(str(extensions), 1, 1, "expected {system: {object: {field: type}}}")
    try:
        return ExtendedSchemaProvider(DEFAULT_SCHEMAS, document.data)
    except (ValueError, AttributeError, TypeError) as exc:
        raise MappingLoadError(str(extensions), 1, 1, f"bad schema extension: {exc}") from exc


_CACHE: dict[tuple[int, int, int, int, str], Mapping] = {}
_CACHE_LOCK = threading.Lock()


def _regular_file(path: str) -> os.stat_result | None:
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def _locate(name: str, directory: Path | None) -> tuple[str, str | Path, os.stat_result]:
    """``resolve``'s answer and the file's stat. A template name (the flows' case, once or more per record) is
    looked up with plain ``os.stat`` calls: ``Path`` objects and ``Path.resolve`` cost a quarter of a
    millisecond a call, more than the mapping they look up."""
    if not name.endswith((".yaml", ".yml")) and not (os.sep in name and os.path.exists(name)):
        clean = name.strip("/")
        base = str(directory) if directory is not None else os.environ.get("LEDGERLINK_MAPPINGS_DIR")
        user_file = os.path.join(base or os.path.join(os.getcwd(), "mappings"), f"{clean}.yaml")
        found = _regular_file(user_file)
        if found is not None:
            return clean, user_file, found
        system, _, stem = clean.partition("/")
        root = template_roots().get(system)
        if root is not None and stem and "/" not in stem:
            shipped = os.path.join(root, f"{stem}.yaml")
            found = _regular_file(shipped)
            if found is not None:
                return clean, shipped, found
    mapping_name, path = resolve(name, directory)  # a file path, or nothing found (its error)
    return mapping_name, path, path.stat()


def load_mapping(
    name: str, *, schemas: SchemaProvider | None = None, mappings_dir: Path | str | None = None
) -> Mapping:
    """Load and compile a mapping by template name or file path. Cached per file version when ``schemas`` is default."""
    directory = Path(mappings_dir) if mappings_dir is not None else None
    mapping_name, where, found = _locate(name, directory)
    # The file's identity and version: (device, inode) names it whatever path reached it (no realpath per call).
    key = (found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size, mapping_name)
    if schemas is None:
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
    path = Path(where)
    provider = schemas if schemas is not None else default_schemas(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingLoadError(str(path), 1, 1, f"cannot read: {exc}") from exc
    mapping = compile_document(load_yaml_document(text, str(path)), mapping_name, provider, path)
    if schemas is None and provider is DEFAULT_SCHEMAS:
        with _CACHE_LOCK:
            _CACHE[key] = mapping
    return mapping


def load_mapping_text(text: str, name: str = "<text>", *, schemas: SchemaProvider | None = None) -> Mapping:
    """Compile a mapping from YAML text (the console's editor preview)."""
    return compile_document(load_yaml_document(text, name), name, schemas or DEFAULT_SCHEMAS, None)


def compile_document(doc: YamlDocument, name: str, schemas: SchemaProvider, path: Path | None) -> Mapping:
    spec = _validate(doc)
    try:
        rules = compile_rules(spec.fields, ("fields",), spec.owner)
    except RuleCompileError as exc:
        raise doc.error(exc.loc, str(exc), at_value=exc.at_value, offset=exc.offset) from exc
    predicate, filter_kind = None, None
    if spec.filter is not None:
        text = spec.filter.expr if isinstance(spec.filter, FilterSpec) else spec.filter
        loc: tuple[str | int, ...] = ("filter", "expr") if isinstance(spec.filter, FilterSpec) else ("filter",)
        try:
            predicate, filter_paths, filter_kind = compile_filter(text)
        except ExpressionSyntaxError as exc:
            raise doc.error(loc, str(exc), at_value=True, offset=exc.position) from exc
        for filter_path in filter_paths:
            _check(doc, loc, schemas, spec.source.system, spec.source.object, filter_path, "source")
    for rule in rules:
        _check_rule(doc, schemas, spec, rule, spec.source.object, spec.target.object)
    return Mapping(name, path, spec, rules, predicate, filter_kind)


def _validate(doc: YamlDocument) -> MappingSpec:
    try:
        return MappingSpec.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors()
        # Union members each report an error; the deepest one is the one about what the author wrote.
        worst = max(errors, key=lambda e: len(e["loc"]))
        loc = worst["loc"]
        if worst["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif worst["type"] == "missing":
            message = f"missing required key {loc[-1]!r}"
        else:
            where = ".".join(str(p) for p in loc if not _is_union_tag(p))
            message = f"{where}: {worst['msg']}" if where else worst["msg"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 and worst["type"] != "extra_forbidden" else ""
        raise doc.error(loc[:-1] if worst["type"] == "missing" else loc, message + more) from exc


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in ("RuleSpec", "FilterSpec", "str") or "[" in part)


def _check(
    doc: YamlDocument,
    loc: tuple[str | int, ...],
    schemas: SchemaProvider,
    system: str,
    obj: str | None,
    path: Any,
    side: str,
) -> str | None:
    try:
        return check_path(schemas, system, obj, path)
    except PathCheckError as exc:
        raise doc.error(loc, f"{side} {path.text}: {exc}", at_value=side == "source") from exc


def _check_rule(
    doc: YamlDocument,
    schemas: SchemaProvider,
    spec: MappingSpec,
    rule: CompiledRule,
    source_obj: str | None,
    target_obj: str | None,
) -> None:
    element_source: str | None = None
    for path, loc in rule.source_paths:
        base = spec.source.object if path.from_root else source_obj
        element_source = _check(doc, loc, schemas, spec.source.system, base, path, "source")
    element_target = None
    if rule.target_path is not None:
        element_target = _check(doc, rule.loc, schemas, spec.target.system, target_obj, rule.target_path, "target")
    for child in rule.children:
        _check_rule(doc, schemas, spec, child, element_source, element_target)


def list_mappings(mappings_dir: Path | str | None = None) -> list[MappingInfo]:
    """Every template and user mapping, the user's copy winning (``overridden``) where both exist."""
    user_dir = Path(mappings_dir) if mappings_dir is not None else user_mappings_dir()
    templates = template_files()
    found: dict[str, tuple[Path, str]] = {name: (file, "template") for name, file in templates.items()}
    if user_dir.is_dir():
        for file in sorted(user_dir.glob("*/*.yaml")):
            found[f"{file.parent.name}/{file.stem}"] = (file, "user")
    template_names = set(templates)
    infos = []
    for name, (file, origin) in sorted(found.items()):
        source, target = _endpoints(file)
        infos.append(MappingInfo(name, file, source, target, origin == "user" and name in template_names, origin))
    return infos


def _endpoints(file: Path) -> tuple[str, str]:
    # Listing must not fail on one broken user file; it shows "?" and `check` explains.
    try:
        data = load_data(file.read_text(encoding="utf-8")) or {}
        source, target = data.get("source") or {}, data.get("target") or {}
        return (
            f"{source.get('system', '?')}.{source.get('object', '?')}",
            f"{target.get('system', '?')}.{target.get('object', '?')}",
        )
    except (yaml.YAMLError, OSError, AttributeError):
        return "?", "?"
