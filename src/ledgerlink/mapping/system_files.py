"""Where each system's mapping templates and field schema are: each system plugin registers its own files (the
systems registry does it as it loads them), so this package names no system."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

_templates: dict[str, Path] = {}
_schemas: dict[str, Path] = {}
_lock = threading.Lock()
_listeners: list[Callable[[], None]] = []


def register_system_files(system: str, templates: Path | None, schema: Path | None) -> None:
    """``templates``: a folder of ``<name>.yaml`` mappings, found as ``<system>/<name>``; ``schema``: the system's
    objects and fields (``{Object: {field: type}}``), which mapping paths are checked against."""
    with _lock:
        if templates is not None:
            _templates[system] = templates
        if schema is not None:
            _schemas[system] = schema
    for listener in _listeners:
        listener()


def template_roots() -> dict[str, Path]:
    """Each system's templates folder, by system name."""
    with _lock:
        return dict(_templates)


def schema_file(system: str) -> Path | None:
    with _lock:
        return _schemas.get(system)


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever a system registers its files (caches built from them start again)."""
    _listeners.append(listener)
