"""A worker's start-up objects are frozen out of the collector's sight, and garbage made before is freed first."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from ledgerlink.engine.worker import settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on collecting as before


def test_garbage_is_freed_before_the_heap_is_frozen(thawed: None) -> None:
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle
    before = gc.get_freeze_count()
    settle_heap()
    assert gone() is None  # collected, not frozen for ever
    assert gc.get_freeze_count() > before  # what lives is frozen


def test_the_command_line_starts_with_the_collector_off_and_turns_it_back_on(thawed: None) -> None:
    """``cli.entry`` turns the collector off for start-up; any command but ``worker`` turns it on before it runs,
    and the worker once started (``settle_heap``)."""
    import subprocess
    import sys

    probe = (
        "import gc, sys\n"
        "from ledgerlink.cli import entry\n"
        "import typer\n"
        "seen = []\n"
        "from ledgerlink.cli import app\n"
        "@app.command('gc-state')\n"
        "def state() -> None:\n"
        "    seen.append(gc.isenabled())\n"
        "sys.argv = ['ledgerlink', 'gc-state']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(seen)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[True]"

    gc.disable()
    try:
        settle_heap()
        assert gc.isenabled()
    finally:
        gc.enable()
