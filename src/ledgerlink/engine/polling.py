"""Watermark polling of Salesforce: the trigger that loses nothing.

Records are read in ``(SystemModstamp, Id)`` order, resuming with
``(SystemModstamp = :ts AND Id > :id) OR SystemModstamp > :ts``, only up to ``now − lag`` (commits land late),
and the watermark is saved only after a page has been durably handed on (enqueued in DBOS). The poll itself
is a workflow in each flow module (``flows/opportunity_to_invoice.poll_won_opportunities``) that calls ``drain``.

Polling is the catch-up path, and a backfill goes through it, so ``drain`` keeps at most a window of its runs
waiting in the queue: a change event enqueued meanwhile competes with that window, not with the whole backfill.
(DBOS sweeps a partitioned queue's partitions, the shards, in random order: priorities alone would not let it
overtake a backfill's runs in other shards.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, WorkflowHandle

from ledgerlink.engine.runtime import BACKFILL_PRIORITY, RESULT_POLL_SECONDS, current

EPOCH = "1970-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Position:
    modstamp: str  # SOQL datetime literal, e.g. 2024-01-01T00:00:00.000Z
    record_id: str

    def encode(self) -> str:
        return f"{self.modstamp}|{self.record_id}"

    @classmethod
    def decode(cls, text: str | None) -> Position:
        if not text:
            return cls(EPOCH, "")
        stamp, _, record_id = text.partition("|")
        return cls(stamp, record_id)


def soql_datetime(value: str) -> str:
    """Salesforce's JSON datetime (``2022-07-28T12:49:16.000+0000``) as a SOQL literal in UTC."""
    parsed = dt.datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def incremental_soql(sobject: str, fields: list[str], where: str | None, since: Position, upper: str | None) -> str:
    resume = (
        f"(SystemModstamp = {since.modstamp} AND Id > '{since.record_id}') OR SystemModstamp > {since.modstamp}"
        if since.record_id
        else f"SystemModstamp > {since.modstamp}"
    )
    clauses = [f"({resume})"]
    if upper:
        clauses.append(f"SystemModstamp <= {upper}")
    if where:
        clauses.insert(0, f"({where})")
    columns = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *fields]))
    return f"SELECT {columns} FROM {sobject} WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp, Id"


def upper_bound(lag_seconds: float, now: dt.datetime | None = None) -> str | None:
    """``now − lag`` as a SOQL literal; None for no lag (tests and the demo, where nothing commits late)."""
    if lag_seconds <= 0:
        return None
    upper = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=lag_seconds)
    return upper.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RunWindow:
    """At most ``size`` runs unfinished: ``admit`` waits until one of them finishes when the window is full.

    Used by triggers to keep their backlog out of DBOS's queue: a partitioned queue is swept in random order,
    so a deep backlog is unfair to its oldest runs and to the change events behind it. Waiting here keeps the order
    and costs nothing while it waits. Inside a workflow the wait is a
    durable step (DBOS.wait_first), so a recovered trigger replays it."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.unfinished: dict[str, WorkflowHandle[Any]] = {}

    def admit(self) -> None:
        while len(self.unfinished) >= self.size:
            done = DBOS.wait_first(list(self.unfinished.values()), polling_interval_sec=RESULT_POLL_SECONDS)
            del self.unfinished[done.workflow_id]

    def add(self, handle: WorkflowHandle[Any]) -> str:
        self.unfinished[handle.workflow_id] = handle
        return handle.workflow_id


@DBOS.step(name="ledgerlink.engine.polling.backfill_window")
def backfill_window() -> int:
    """The window, read once per trigger run and checkpointed: a trigger recovered after the setting changed
    replays with the window it started with, so its steps come in the same order."""
    return current().settings.backfill_window


def drain(
    read: Callable[[float], dict[str, Any]],
    enqueue: Callable[[str, str, int], WorkflowHandle[Any]],
    save: Callable[[str], None],
    lag_seconds: float,
    page_size: int,
) -> list[str]:
    """The polling loop (call it from the flow's trigger workflow): each page is enqueued before the watermark
    moves past it, so a worker killed mid-poll resumes exactly there. ``read`` returns a page: ``records`` (Id,
    SystemModstamp) to run, ``position`` after the page, ``seen`` (records read). Returns the ids of the runs it
    started.

    At most ``EngineSettings.backfill_window`` of its runs are unfinished at a time: before enqueuing one more,
    it waits (durably, DBOS.wait_first) for any of them to finish."""
    window = RunWindow(backfill_window())
    started: list[str] = []
    while True:
        page = read(lag_seconds)
        for record in page["records"]:
            window.admit()
            started.append(window.add(enqueue(record["Id"], record["SystemModstamp"], BACKFILL_PRIORITY)))
        if page["position"]:
            save(page["position"])
        if page["seen"] < page_size:
            return started
