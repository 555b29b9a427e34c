"""The use cases, each a short durable workflow in a module of its own that registers itself with the engine
(``engine.flows.register``). ``load_flows`` imports them all, so DBOS knows every workflow before it launches."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from ledgerlink.engine.flows import Flow, registered_flows

GROUP = "ledgerlink.flows"  # other packages' flows: an entry point naming a module that registers its flows


def load_flows() -> dict[str, Flow]:
    """Import every flow module here (a module whose name starts with ``_`` is a helper) and every module
    registered under the ``ledgerlink.flows`` entry points; returns the flows registered."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and not module.ispkg:
            importlib.import_module(f"{__name__}.{module.name}")
    for point in entry_points(group=GROUP):
        importlib.import_module(point.value)
    return registered_flows()
