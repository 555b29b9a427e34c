"""``ledgerlink mapping``: list mappings, check files (file:line:col errors), preview a record through a mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ledgerlink.mapping.errors import MappingError, MappingLoadError
from ledgerlink.mapping.loader import list_mappings, load_mapping

mapping_app = typer.Typer(help="Declarative mappings: list, check and preview.", no_args_is_help=True)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@mapping_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every template and user mapping; a user copy overrides the template of the same name."""
    infos = list_mappings()
    if as_json:
        rows = [
            {"name": i.name, "path": str(i.path), "source": i.source, "target": i.target, "overridden": i.overridden}
            for i in infos
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "source", "target", "origin", "path")
    for info in infos:
        origin = "user (overrides template)" if info.overridden else info.origin
        table.add_row(info.name, info.source, info.target, origin, str(info.path))
    _console().print(table)


@mapping_app.command("check")
def check_command(
    files: Annotated[list[str], typer.Argument(help="Mapping files or template names.")],
) -> None:
    """Load, compile and schema-check mappings; exit 1 with file:line:column messages on errors."""
    failed = 0
    for name in files:
        try:
            mapping = load_mapping(name)
        except MappingLoadError as exc:
            failed += 1
            typer.echo(f"{exc.file}:{exc.line}:{exc.column}: error: {exc.message}", err=True)
            continue
        typer.echo(f"{mapping.file or name}: ok ({len(mapping.rules)} rules, filter: {mapping.filter_kind or 'none'})")
    if failed:
        raise typer.Exit(code=1)


def _read_record(text: str) -> Any:
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    return json.loads(raw)


@mapping_app.command("preview")
def preview_command(
    file: Annotated[str, typer.Argument(help="Mapping file or template name.")],
    record: Annotated[str, typer.Option("--record", "-r", help="The source record as JSON, or @path to a JSON file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the mapped values as JSON.")] = False,
) -> None:
    """Map one record and show each target value beside the rule that produced it."""
    try:
        mapping = load_mapping(file)
    except MappingLoadError as exc:
        typer.echo(f"{exc.file}:{exc.line}:{exc.column}: error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    try:
        source = _read_record(record)
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"error: cannot read the record: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if not isinstance(source, dict):
        typer.echo("error: the record must be a JSON object", err=True)
        raise typer.Exit(code=2)
    try:
        result = mapping.apply(source)
    except MappingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    if as_json:
        typer.echo(json.dumps(result.values, indent=2, default=str, ensure_ascii=False))
        return
    console = _console()
    if not mapping.matches(source):
        console.print(f"[yellow]note: the record does not pass the filter ({mapping.spec.filter})[/yellow]")
    table = Table(
        "target field", "value", "rule", title=f"{mapping.name}: {mapping.source.object} → {mapping.target.object}"
    )
    provenance = result.provenance
    for target, value in _flatten(result.values):
        rule = provenance.get(target) or provenance.get(_rule_key(target), "")
        table.add_row(target, json.dumps(value, default=str, ensure_ascii=False), rule)
    console.print(table)


def _flatten(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    # Nested dicts and lists of dicts become dotted rows so each value sits beside its rule.
    rows: list[tuple[str, Any]] = []
    if isinstance(values, dict) and values:
        for key, value in values.items():
            rows.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        for index, value in enumerate(values):
            rows.extend(_flatten(value, f"{prefix}[{index}]"))
    else:
        rows.append((prefix, values))
    return rows


def _rule_key(target: str) -> str:
    """``lines[0].quantity`` → ``lines[].quantity`` (how provenance names element rules)."""
    out, depth, skipping = [], 0, False
    for char in target:
        if char == "[":
            depth += 1
            skipping = True
            out.append("[")
            continue
        if char == "]":
            depth -= 1
            skipping = depth > 0
            out.append("]")
            continue
        if not skipping:
            out.append(char)
    return "".join(out)


@mapping_app.command("suggest")
def suggest_command(
    source: Annotated[
        Path, typer.Option("--source", help="Source schema JSON: {system, object, fields: [{name, …}]}.")
    ],
    target: Annotated[Path, typer.Option("--target", help="Target schema JSON, the same format.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Suggest, for each source field, the target field it should fill (or none), offline."""
    # Imported here: the suggestion model is only loaded when asked for.
    from ledgerlink.intelligence.suggest import SchemaFileError, load_schema, suggest

    try:
        source_schema, target_schema = load_schema(source), load_schema(target)
    except SchemaFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    suggestions = suggest(source_schema, target_schema)
    if as_json:
        typer.echo(json.dumps([s.to_json() for s in suggestions], indent=2, ensure_ascii=False))
        return
    title = f"{source_schema.system}/{source_schema.object} → {target_schema.system}/{target_schema.object}"
    table = Table("source field", "target field", "confidence", title=title)
    for s in suggestions:
        table.add_row(s.source, s.target or "[dim](none)[/dim]", f"{s.confidence:.2f}")
    _console().print(table)
