"""Replaying failed records: hands a record back to its flow. The flows own the how; the console only asks."""

from __future__ import annotations

import importlib
from typing import Protocol

# flow name -> module exposing ``replay(source_id) -> WorkflowHandle``
FLOW_MODULES = {"opportunity_to_invoice": "ledgerlink.flows.opportunity_to_invoice"}


class ReplayUnavailable(Exception):
    """The engine isn't running in this process, or the flow has no replay."""


class Replayer(Protocol):
    def replay(self, flow: str, source_id: str) -> str:
        """Enqueue a fresh run; returns its run id."""
        ...


def forget_cached_mappings() -> None:
    """Flows cache loaded mappings; after an edit, the next run must read the new file."""
    for module_name in FLOW_MODULES.values():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cached = getattr(module, "_mapping", None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


class EngineReplayer:
    """Replays through the DBOS runtime started in this process (``ledgerlink serve --engine`` or a test)."""

    def replay(self, flow: str, source_id: str) -> str:
        module_name = FLOW_MODULES.get(flow)
        if module_name is None:
            raise ReplayUnavailable(f"flow {flow!r} has no replay")
        from ledgerlink.engine.runtime import current

        try:
            current()
        except RuntimeError:
            raise ReplayUnavailable(
                "the engine is not running in this console (start it with `serve --engine`)"
            ) from None
        forget_cached_mappings()
        module = importlib.import_module(module_name)
        handle = module.replay(source_id)
        return str(handle.get_workflow_id())
