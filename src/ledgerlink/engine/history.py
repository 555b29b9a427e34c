"""How long the engine keeps its finished runs, and the pass that forgets the older ones.

DBOS keeps every run it ever ran (its status row, input, output and one row per step) and DBOS 3.4 has no retention
of its own, so a worker that does nothing but poll every 5 s grows its database by ~5,800 runs an hour
(benchmarks/README.md, run history). Each worker prunes runs that finished before the settings' horizon
(``[database] history_days``; polling runs, which are most of them and matter least, ``poll_history_hours``),
oldest first, in small batches and a bounded time per pass, so a pass never holds the database for long.

What is kept whatever its age: runs still queued or running, runs DBOS gave up recovering (a person looks at those),
and runs whose parent is still going (a recovering parent may ask for its child's result). What a run did stays in
the ledger: the audit log, the links between records and the failed records are not DBOS's and are not touched.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ledgerlink.store.database import is_sqlite

if TYPE_CHECKING:
    from dbos import DBOSClient

    from ledgerlink.engine.runtime import Runtime
    from ledgerlink.settings.model import DatabaseSettings

log = logging.getLogger(__name__)

# Terminal states a run can be forgotten in. MAX_RECOVERY_ATTEMPTS_EXCEEDED is terminal too, but it is a run that
# crashed its workers again and again: it stays until a person has looked (and resumed or cancelled it).
FORGETTABLE = ["SUCCESS", "ERROR", "CANCELLED"]
ACTIVE = {"PENDING", "ENQUEUED", "DELAYED"}
# A parent in these may still replay its steps, and so ask for its children's results: theirs are kept.
PARENT_MAY_RESUME = ACTIVE | {"MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
POLLING_PREFIX = "trigger:"  # the polling and change-event triggers' runs (engine.worker, flows.cdc_trigger)
BATCH = 500  # runs deleted per transaction
PASS_BUDGET_SECONDS = 5.0  # a pass stops after this long; the next one goes on where it stopped
FIRST_PASS_AFTER_SECONDS = 60.0  # not while the worker is still starting up
PASS_EVERY_SECONDS = 600.0


@dataclass(frozen=True)
class Retention:
    """How long finished runs are kept; 0 keeps them for ever."""

    run_days: float = 7.0
    polling_hours: float = 6.0

    @classmethod
    def from_settings(cls, database: DatabaseSettings | None) -> Retention:
        """The settings file's ``[database]`` retention (read when the worker starts, as the rest of it is)."""
        if database is None:
            return cls()
        return cls(run_days=database.history_days, polling_hours=database.poll_history_hours)

    def horizons(self, now: datetime) -> list[tuple[str | None, datetime]]:
        """(id prefix or None for every run, finished before) for each horizon in force."""
        horizons: list[tuple[str | None, datetime]] = []
        if self.run_days > 0:
            horizons.append((None, now - timedelta(days=self.run_days)))
        if self.polling_hours > 0:
            horizons.append((POLLING_PREFIX, now - timedelta(hours=self.polling_hours)))
        return horizons


@dataclass
class PruneResult:
    deleted: int = 0
    kept_for_parent: int = 0
    finished: bool = True  # False: the pass ran out of time with more to forget


def prune(
    client: DBOSClient,
    retention: Retention,
    *,
    now: datetime | None = None,
    budget_seconds: float = PASS_BUDGET_SECONDS,
    batch: int = BATCH,
) -> PruneResult:
    """Forget the finished runs older than ``retention`` allows, oldest first, for up to ``budget_seconds``."""
    now = now or datetime.now(UTC)
    deadline = time.monotonic() + budget_seconds
    result = PruneResult()
    for prefix, before in retention.horizons(now):
        skip = 0  # runs kept for their parent stay at the head of the list: page past them
        while True:
            if time.monotonic() >= deadline:
                result.finished = False
                return result
            runs = client.list_workflows(
                status=FORGETTABLE,
                completed_before=before.isoformat(),
                workflow_id_prefix=prefix,
                limit=batch,
                offset=skip,
                load_input=False,
                load_output=False,
            )
            if not runs:
                break
            parents = {run.parent_workflow_id for run in runs if run.parent_workflow_id}
            going = _still_going(client, parents) if parents else set()
            forget = [run.workflow_id for run in runs if run.parent_workflow_id not in going]
            kept = len(runs) - len(forget)
            if forget:
                client.delete_workflows(forget)
            result.deleted += len(forget)
            result.kept_for_parent += kept
            skip += kept
            if len(runs) < batch:
                break
    return result


def _still_going(client: DBOSClient, workflow_ids: set[str]) -> set[str]:
    runs = client.list_workflows(workflow_ids=sorted(workflow_ids), load_input=False, load_output=False)
    return {run.workflow_id for run in runs if run.status in PARENT_MAY_RESUME}


def open_client(system_database_url: str) -> DBOSClient:
    """A DBOS client on the engine's system database, for the pruner (the engine's own DBOS has no delete that
    does not log every id)."""
    from dbos import DBOSClient

    if is_sqlite(system_database_url):
        from ledgerlink.engine.runtime import sqlite_system_engine

        # Its own engine with the runtime's pragmas (WAL, busy timeout): a delete waits for a busy writer.
        return DBOSClient(system_database_engine=sqlite_system_engine(system_database_url))
    return DBOSClient(system_database_url=system_database_url, system_database_pool_size=2)


def start_history_pruner(
    system_database_url: str,
    retention: Retention,
    stop: threading.Event,
    *,
    first_after: float = FIRST_PASS_AFTER_SECONDS,
    every: float = PASS_EVERY_SECONDS,
) -> threading.Thread | None:
    """Prune in a thread of the worker every ``every`` seconds until ``stop`` is set; None when nothing expires."""
    if not retention.horizons(datetime.now(UTC)):
        return None

    def loop() -> None:
        client: DBOSClient | None = None
        wait = first_after
        while not stop.wait(wait):
            try:
                client = client or open_client(system_database_url)
                result = prune(client, retention)
                if result.deleted:
                    log.info("run history: forgot %d finished runs", result.deleted)
                # More left over: go on soon rather than in ten minutes.
                wait = every if result.finished else min(every, 10.0)
            except Exception:  # one failed pass must not end pruning; the next one tries again
                log.exception("pruning the run history failed")
                wait = every
        if client is not None:
            client.destroy()

    thread = threading.Thread(target=loop, name="run-history", daemon=True)
    thread.start()
    return thread


def start_for(runtime: Runtime, stop: threading.Event) -> threading.Thread | None:
    """The pruner of ``runtime``'s system database, with the retention of its settings file."""
    app = runtime.settings.app
    retention = Retention.from_settings(app.database if app is not None else None)
    return start_history_pruner(runtime.settings.system_database_url, retention, stop)
