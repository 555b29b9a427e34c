"""Mapping previews run here, in a separate process with a memory cap, a time limit and a cap on output size.

Mapping text comes from the browser, and even bounded YAML can hold an expression that builds a huge value in one
call (``$pad``): whatever it does, it happens in a child process that is killed when it overruns, never on the
console's event loop. The pool is spawned (not forked from the threaded server) and kept warm between previews.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import resource
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

WORKERS = 2
STARTUP_SECONDS = 120.0  # spawning a worker imports the mapping package: not counted in a preview's time limit


def _ping() -> bool:
    return True


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's address space at what it uses after its imports plus ``memory_mb``."""
    import ledgerlink.mapping
    import ledgerlink.model
    import ledgerlink.web.services.mappings  # noqa: F401
    from ledgerlink.systems.registry import load_systems

    load_systems()  # the registered systems: mapping owners and templates are checked against them

    with open("/proc/self/status", encoding="ascii") as status:
        vm_kb = next((int(line.split()[1]) for line in status if line.startswith("VmSize:")), 0)
    cap = vm_kb * 1024 + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


_ledgers: dict[str, Any] = {}


def _run(
    name: str, text: str, record: dict[str, Any], ledger_url: str, mappings_dir: str | None, output_bytes: int
) -> str:
    """In the child: compile, apply, check; the answer as JSON text no longer than ``output_bytes``."""
    from ledgerlink.store import Ledger
    from ledgerlink.web.services import mappings as svc

    try:
        mapping, problems = svc.load_text(name, text, Path(mappings_dir) if mappings_dir else None)
        if mapping is None:
            result = svc.Preview(problems=problems)
        else:
            if ledger_url not in _ledgers:
                _ledgers[ledger_url] = Ledger(ledger_url, run_migrations=False)
            ledger = _ledgers[ledger_url]
            result = svc.apply(mapping, record, ledger, svc.target_of(text))
        answer = json.dumps(
            {
                "values": result.values,
                "provenance": result.provenance,
                "problems": [p.__dict__ for p in result.problems],
            },
            default=str,
        )
    except MemoryError:
        return json.dumps({"problems": [{"message": "the preview needed more memory than allowed; stopped"}]})
    if len(answer) > output_bytes:
        return json.dumps(
            {"problems": [{"message": f"the preview's output is larger than {output_bytes} bytes; not shown"}]}
        )
    return answer


class PreviewWorker:
    """Runs previews in a small, lazily started process pool; a preview that overruns kills the pool."""

    def __init__(self, seconds: float, memory_mb: int, output_bytes: int) -> None:
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.output_bytes = output_bytes
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._warm: asyncio.Future[Any] | None = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    WORKERS,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_limit_memory,
                    initargs=(self.memory_mb,),
                )
            return self._pool

    def _kill(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool, self._warm = None, None
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> tuple[concurrent.futures.ProcessPoolExecutor, asyncio.Future[Any]]:
        """Start every worker now (the pool spawns on demand), without waiting: the editor page calls this, so
        the workers are ready by the first preview. Call from the event loop."""
        pool = self._executor()
        loop = asyncio.get_running_loop()
        if self._warm is None or self._warm.get_loop() is not loop:
            self._warm = asyncio.gather(*(loop.run_in_executor(pool, _ping) for _ in range(WORKERS)))
        return pool, self._warm

    async def preview(
        self, name: str, text: str, record: dict[str, Any], ledger_url: str, mappings_dir: Path | None
    ) -> dict[str, Any]:
        """``{"values", "provenance", "problems": [{"message", "line"?, "column"?, "field"?}]}``."""
        pool, warm = self.warm()
        try:
            await asyncio.wait_for(asyncio.shield(warm), STARTUP_SECONDS)
        except (TimeoutError, BrokenProcessPool):
            self._kill(pool)
            return {"problems": [{"message": "the preview worker did not start; try again"}]}
        loop = asyncio.get_running_loop()
        args = (name, text, record, ledger_url, str(mappings_dir) if mappings_dir else None, self.output_bytes)
        try:
            future = loop.run_in_executor(pool, _run, *args)
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(future, self.seconds))
            return answer
        except TimeoutError:
            self._kill(pool)
            return {"problems": [{"message": f"the preview took longer than {self.seconds:g} s; stopped"}]}
        except BrokenProcessPool:
            self._kill(pool)
            return {"problems": [{"message": "the preview worker stopped (out of memory?); try again"}]}

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            self._kill(pool)
