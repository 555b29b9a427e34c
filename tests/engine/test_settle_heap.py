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
