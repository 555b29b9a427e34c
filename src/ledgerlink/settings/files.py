"""The settings file (``ledgerlink.toml``): read, validated with errors that name the file, the line and the key,
and written back key by key with its comments and layout kept (tomlkit), as the console and ``init`` do.

TOML, not YAML: one obvious way to write each value (no "no" turning into false, no indentation to get wrong), a
parser in the standard library's spirit with line numbers, and a round-trip editor (tomlkit) so an edit made in the
console leaves the user's comments in place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from tomlkit.exceptions import ParseError
from tomlkit.items import AoT, Table

from ledgerlink.settings.model import ENGINE_FIELDS, EXTRA_FLOWS, LedgerLinkSettings

DEFAULT_FILE = Path("ledgerlink.toml")
MAX_FILE_BYTES = 1024 * 1024  # a settings file is a page or two; refuse anything absurd before parsing it
ENV_PREFIX = "LEDGERLINK_"
Loc = tuple[str | int, ...]


class SettingsError(ValueError):
    """One or more problems with the settings, each naming where: ``file:line: key: message``."""

    def __init__(self, path: Path | None, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems  # (line, key, message)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for line, key, message in self.problems:
            if key.startswith(ENV_PREFIX):
                out.append(f"environment: {key}: {message}")
                continue
            where = str(self.path) if self.path else "settings"
            where = f"{where}:{line}" if line else where
            out.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        return out


def settings_path(path: Path | None = None) -> Path:
    """The file in use: the one given, else ``$LEDGERLINK_SETTINGS``, else ``./ledgerlink.toml``."""
    return path or Path(os.environ.get("LEDGERLINK_SETTINGS") or DEFAULT_FILE)


@contextmanager
def _engine_fields(extra_fields: dict[str, Any] | None, extra_flows: Sequence[str]) -> Iterator[None]:
    fields_token = ENGINE_FIELDS.set(extra_fields or {})
    flows_token = EXTRA_FLOWS.set(frozenset(extra_flows))
    try:
        yield
    finally:
        ENGINE_FIELDS.reset(fields_token)
        EXTRA_FLOWS.reset(flows_token)


def parse_text(text: str, path: Path | None = None) -> tomlkit.TOMLDocument:
    if len(text.encode()) > MAX_FILE_BYTES:
        raise SettingsError(path, [(None, "", f"the file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise SettingsError(path, [(exc.line, "", f"not valid TOML: {exc}")]) from None


def load_text(
    text: str,
    path: Path | None = None,
    *,
    extra_fields: dict[str, Any] | None = None,
    extra_flows: Sequence[str] = (),
    environ: bool = True,
) -> LedgerLinkSettings:
    """Validate settings text (plus the environment's overrides unless ``environ`` is false)."""
    data = parse_text(text, path).unwrap()
    with _engine_fields(extra_fields, extra_flows):
        try:
            if environ:
                return LedgerLinkSettings(**data)
            return _FileOnly(**data)
        except ValidationError as exc:
            raise SettingsError(path, _problems(exc, text)) from None


def load_settings(
    path: Path | None = None,
    *,
    extra_fields: dict[str, Any] | None = None,
    extra_flows: Sequence[str] = (),
    required: bool = False,
) -> LedgerLinkSettings:
    """The settings in force: the file (when it exists, or ``required``) with the environment over it."""
    file = settings_path(path)
    if not file.exists():
        if required:
            raise SettingsError(file, [(None, "", "no such file (write one with `ledgerlink init`)")])
        return load_text("", None, extra_fields=extra_fields, extra_flows=extra_flows)
    if file.stat().st_size > MAX_FILE_BYTES:
        raise SettingsError(file, [(None, "", f"the file is larger than {MAX_FILE_BYTES} bytes")])
    return load_text(file.read_text(), file, extra_fields=extra_fields, extra_flows=extra_flows)


class _FileOnly(LedgerLinkSettings):
    """The file without the environment: what an edit writes is checked on its own."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


# --- where an error is --------------------------------------------------------------------------------------


def _problems(exc: ValidationError, text: str) -> list[tuple[int | None, str, str]]:
    lines = key_lines(text)
    out: list[tuple[int | None, str, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if unknown := re.match(r"(?:unknown key|no flow named) '([^']+)'", message):
            loc = (*loc, unknown.group(1))
        elif error["type"] == "extra_forbidden":
            message = "unknown key"
        # A key set in the environment is reported under its variable's name.
        variable = _env_name(loc)
        if variable:
            out.append((None, variable, message))
            continue
        out.append((_line_of(loc, lines), ".".join(str(p) for p in loc), message))
    return out


def _env_name(loc: Loc) -> str | None:
    parts = [str(p) for p in loc if isinstance(p, str)]
    for size in range(len(parts), 0, -1):
        name = ENV_PREFIX + "__".join(parts[:size]).upper()
        if name in {k.upper() for k in os.environ}:
            return name
    return None


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for size in range(len(loc), 0, -1):
        if loc[:size] in lines:
            return lines[loc[:size]]
    return None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key))


def key_lines(text: str) -> dict[Loc, int]:
    """Each key's (and table's) line, 1-based, by its path: ``("flows", "order_to_invoice", "enabled") → 12``."""
    out: dict[Loc, int] = {}
    table: Loc = ()
    arrays: dict[Loc, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            path: Loc = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = arrays.get(path, -1) + 1
                arrays[path] = index
                out.setdefault(path, number)
                path = (*path, index)
            table = path
            out.setdefault(table, number)
            continue
        if key := _KEY.match(line):
            out.setdefault((*table, *_split_key(key.group(1))), number)
    return out


# --- writing back -------------------------------------------------------------------------------------------


def set_value(doc: tomlkit.TOMLDocument, loc: Sequence[str], value: Any) -> None:
    """Set ``loc`` (a key path) in the document, making tables as needed; None removes the key."""
    node: Any = doc
    for part in loc[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
        if not isinstance(node, Table | tomlkit.TOMLDocument | dict) or isinstance(node, AoT):
            raise SettingsError(None, [(None, ".".join(loc), "is not a table")])
    if value is None:
        if loc[-1] in node:
            del node[loc[-1]]
        return
    node[loc[-1]] = value


def write_settings(
    path: Path,
    changes: dict[tuple[str, ...], Any],
    *,
    extra_fields: dict[str, Any] | None = None,
    extra_flows: Sequence[str] = (),
) -> LedgerLinkSettings:
    """Apply ``changes`` (key path → value) to the file, keeping its comments; the result is validated (file alone,
    not the environment) before anything is written, so a bad edit leaves the file as it was."""
    text = path.read_text() if path.exists() else ""
    doc = parse_text(text, path)
    for loc, value in changes.items():
        set_value(doc, loc, value)
    new_text = tomlkit.dumps(doc)
    load_text(new_text, path, extra_fields=extra_fields, extra_flows=extra_flows, environ=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text)
    tmp.replace(path)  # atomic: a reader sees the old file or the new one
    return load_text(new_text, path, extra_fields=extra_fields, extra_flows=extra_flows)
