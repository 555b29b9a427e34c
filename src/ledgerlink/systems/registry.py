"""Every system LedgerLink knows, found through the ``ledgerlink.systems`` entry points.

Each entry point names a ``SystemSpec``: ours in ``pyproject.toml``, another package's in its own. Loading the
registry also tells the mapping loader where each system's templates and schema are.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from ledgerlink.mapping.system_files import register_system_files
from ledgerlink.systems.spec import Role, SystemSpec

log = logging.getLogger(__name__)
GROUP = "ledgerlink.systems"

_systems: dict[str, SystemSpec] | None = None
_lock = threading.Lock()


class UnknownSystem(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def _discover() -> dict[str, SystemSpec]:
    found: dict[str, SystemSpec] = {}
    for point in entry_points(group=GROUP):
        spec = point.load()
        if not isinstance(spec, SystemSpec):
            raise TypeError(f"entry point {point.name} = {point.value} is not a SystemSpec")
        if spec.name != point.name:
            raise ValueError(f"entry point {point.name} names the system {spec.name!r}: they must agree")
        if spec.name in found:
            log.warning("system %s is registered twice; keeping %s", spec.name, found[spec.name].package)
            continue
        found[spec.name] = spec
        register_system_files(spec.name, spec.templates_dir(), spec.schema_file())
    return dict(sorted(found.items()))


def load_systems(*, refresh: bool = False) -> dict[str, SystemSpec]:
    """Every registered system by name (discovered once per process; ``refresh`` looks again)."""
    global _systems
    with _lock:
        if _systems is None or refresh:
            _systems = _discover()
        return _systems


def get_system(name: str) -> SystemSpec:
    systems = load_systems()
    if name not in systems:
        raise UnknownSystem(f"no system named {name!r}; systems: {', '.join(systems) or '(none registered)'}")
    return systems[name]


def systems_in_role(role: Role) -> list[SystemSpec]:
    return [spec for spec in load_systems().values() if spec.role == role]


def names(role: Role | None = None) -> list[str]:
    return [spec.name for spec in load_systems().values() if role is None or spec.role == role]
