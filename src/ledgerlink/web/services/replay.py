"""Replaying failed records: hands a record back to its flow. The flows own the how; the console only asks."""

from __future__ import annotations

from typing import Protocol


class ReplayUnavailable(Exception):
    """The engine isn't running in this process, or the flow has no replay."""


class Replayer(Protocol):
    def replay(self, flow: str, source_id: str) -> str:
        """Enqueue a fresh run; returns its run id."""
        ...


class EngineReplayer:
    """Replays through the DBOS runtime started in this process (``ledgerlink serve --engine`` or a test).

    The run reads the mappings as they are now (the loader notices an edited file), so fixing a mapping in the
    editor and replaying is all it takes."""

    def replay(self, flow: str, source_id: str) -> str:
        from ledgerlink.engine.flows import registered_flows
        from ledgerlink.engine.runtime import current

        entry = registered_flows().get(flow)
        if entry is None:
            raise ReplayUnavailable(f"flow {flow!r} has no replay")
        try:
            current()
        except RuntimeError:
            raise ReplayUnavailable(
                "the engine is not running in this console (start it with `serve --engine`)"
            ) from None
        return str(entry.replay(source_id).get_workflow_id())
