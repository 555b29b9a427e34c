"""A vendor sandbox for the length of one test (for test modules that start their own, apart from the shared ones)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledgerlink.sandbox.runner import Sandbox, start_sandbox


@contextmanager
def sandbox_running(system: str, data_dir: Path) -> Iterator[Sandbox]:
    """``system``'s sandbox on 127.0.0.1 with its data in ``data_dir``, stopped when the block ends."""
    running = start_sandbox(system, data_dir)
    try:
        yield running
    finally:
        running.stop()
