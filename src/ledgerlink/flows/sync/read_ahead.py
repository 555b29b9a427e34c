"""The next page of a pass, read while this one is settled.

A pass reads a page, settles it (its creates in the books take most of the time), saves its watermark, then reads
the next page: the books sat idle while Salesforce answered. A page that is full starts reading the next one (from
the position it will save) on a thread of its own; the next step takes that read when its saved watermark is that
very position, and otherwise reads as usual. Only a read moves ahead, nothing is written: a restart, a retried
step or a failed read simply reads again in the step, as before. The rows are as fresh as any page's: a record
changed after the read is past the watermark and read later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

Key = tuple[str, str, str]  # (run id, watermark name, position the page starts after)

_lock = threading.Lock()
_pages: dict[Key, Future[Any]] = {}
_reader: ThreadPoolExecutor | None = None


def start(run_id: str, watermark: str, position: str, read: Callable[[], Any]) -> None:
    """Read the page after ``position`` in the background (the only one kept for this run and watermark)."""
    global _reader
    with _lock:
        for key in [k for k in _pages if k[0] != run_id or k[1] == watermark]:
            _pages.pop(key).cancel()
        if _reader is None:
            _reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        _pages[(run_id, watermark, position)] = _reader.submit(read)


def take(run_id: str, watermark: str, position: str) -> Any | None:
    """The page read ahead from ``position``, or None (none was, or its read failed: read it in the step)."""
    with _lock:
        page = _pages.pop((run_id, watermark, position), None)
    if page is None:
        return None
    try:
        return page.result()
    except Exception:  # the step's own read reports it, with the step's retries
        return None
