"""A module imported on first attribute access: gRPC, protobuf and fastavro cost a worker ~0.08 s of CPU at every
start, and a worker without Change Data Capture (``--no-cdc``, or no Pub/Sub address) never uses them, yet every flow
module is imported at start (``flows.load_flows``), the CDC trigger among them."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
