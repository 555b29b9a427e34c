"""The flows the engine drives, as they register themselves: each flow module ends with ``register(Flow(...))``
(its trigger, schedule and switch), so the engine, the CLI and the console iterate them without naming one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbos import WorkflowHandle

from ledgerlink.alerts.rules import Watched
from ledgerlink.settings import longest_gap_seconds

if TYPE_CHECKING:
    from ledgerlink.engine.runtime import FlowSettings

# The connection a flow's record runs write to, by role: their queue is that connection's (its concurrency and
# rate limit), named after its system. A flow names the role, not the system.
CRM = "crm"
ACCOUNTING = "accounting"
CONNECTION_ROLES = (CRM, ACCOUNTING)
# A lane is a second queue of a connection for work nobody waits on (invoice PDFs): few runs at once per worker, so
# it never takes the worker's CPU from the runs people do wait on (an invoice's number written back).
BACKGROUND = "background"


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    source: tuple[str, str]  # (role, object) the flow reads: role "crm" or "accounting"
    watermark: str  # the ledger watermark its polling trigger keeps
    replay: Callable[[str], WorkflowHandle[Any]]  # fresh run for one source record
    poll: Callable[..., list[WorkflowHandle[Any]]]  # run the trigger now; returns the started runs
    # The trigger workflow a worker starts on its own schedule (argument: the poll lag in seconds); None for
    # flows started otherwise (on a cron schedule, ``on_worker_start`` installs it).
    trigger: Callable[[float], Any] | None = None
    period_seconds: float | None = None  # how often; None = every polling interval
    # A look, outside any run, at whether the trigger has anything to do (argument: the poll lag): reads only,
    # True when unsure. A worker spends a slot the probe finds empty without a run (no checkpoints, no history)
    # but still runs the trigger every ``engine.worker.FULL_POLL_SECONDS``. None: the trigger runs every slot.
    probe: Callable[[float], bool] | None = None
    enabled: Callable[[FlowSettings], bool] = lambda _settings: True
    on_worker_start: Callable[[], Any] | None = None  # e.g. install a DBOS cron schedule, idempotently
    clock: Callable[[FlowSettings], str] | None = None  # the cron that schedule fires on (from the settings)
    # The workflow that takes a batch of record ids of one shard (what change events and polling pages start),
    # and the role of the connection its runs write to (their queue).
    batch: Callable[[list[str]], Any] | None = None
    writes_to: str = ACCOUNTING
    lane: str | None = None  # BACKGROUND: its record runs go to the connection's background lane
    # Trial runs (`ledgerlink sync FLOW --limit N [--dry-run]`), called with the flow's dependencies (flows.deps):
    # the next ``limit`` source records the trigger would take, and what running them would write, writing nothing.
    pending: Callable[[Any, int], list[str]] | None = None
    preview: Callable[[Any, list[str]], list[dict[str, Any]]] | None = None


_flows: dict[str, Flow] = {}
_lock = threading.Lock()


def register(flow: Flow, *, replace: bool = False) -> Flow:
    """Add ``flow``; ``replace`` lets a flow whose definition changes at run time (a user-defined one) be
    registered again under its name."""
    with _lock:
        if not replace and flow.name in _flows and _flows[flow.name] != flow:
            raise ValueError(f"two flows are named {flow.name!r}")
        _flows[flow.name] = flow
    return flow


def unregister(name: str) -> None:
    with _lock:
        _flows.pop(name, None)


def registered_flows() -> dict[str, Flow]:
    with _lock:
        return dict(_flows)


def watched_triggers(settings: FlowSettings, now: float | None = None) -> dict[str, Watched]:
    """What the stalled-trigger alert rules watch, by flow name: each enabled flow's trigger watermark and how long
    that trigger rightly stays still between runs (``still_seconds``)."""
    now = time.time() if now is None else now
    return {
        name: Watched((entry.watermark,), still_seconds(entry, settings, now))
        for name, entry in registered_flows().items()
        if _watched(entry, settings)
    }


def _watched(entry: Flow, settings: FlowSettings) -> bool:
    """A pattern (the user-defined flows' umbrella, ``defined.*``) is no watermark: each defined flow is registered
    with its own."""
    return "*" not in entry.watermark and entry.enabled(settings) and settings.is_enabled(entry.name)


def still_seconds(entry: Flow, settings: FlowSettings, now: float) -> float:
    """How long a flow's trigger rightly stays still between two runs: the user's schedule for the flow (a cron's
    longest gap, or its interval), else the flow's own clock or period; 0 for one that polls at the worker's
    interval."""
    schedule = settings.schedules.get(entry.name)
    if schedule is not None and schedule.cron:
        return longest_gap_seconds(schedule.cron, now)
    if schedule is not None and schedule.interval_seconds:
        return schedule.interval_seconds
    if entry.clock is not None:
        return longest_gap_seconds(entry.clock(settings), now)
    return entry.period_seconds or 0.0


def get_flow(name: str) -> Flow:
    flows = registered_flows()
    if name not in flows:
        raise KeyError(f"no flow named {name!r}; flows: {', '.join(sorted(flows))}")
    return flows[name]
