"""The run history's retention (``engine.history``), on a real worker's DBOS database, SQLite and PostgreSQL: finished
runs older than the horizon are forgotten with their steps, input and output; runs still going, runs DBOS gave up
recovering and runs whose parent is still going are kept; polling runs expire on their own, shorter horizon."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dbos import DBOSClient
from pydantic import ValidationError

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.demo.seed import seed
from ledgerlink.engine import history
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.worker import start_triggers
from ledgerlink.sandbox.runner import start_sandboxes
from ledgerlink.settings.model import DatabaseSettings
from ledgerlink.store.database import is_sqlite, normalise_url

DAY_MS = 24 * 3600 * 1000


class History:
    """The runtime's DBOS tables, read and aged by hand (as if the runs had finished days ago)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        self.prefix = "" if is_sqlite(url) else "dbos."

    def scalar(self, sql: str, **params: object) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(sql.format(p=self.prefix)), params).scalar_one())

    def execute(self, sql: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql.format(p=self.prefix)), params)

    def ids(self, where: str = "1=1", **params: object) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(f"SELECT workflow_uuid FROM {self.prefix}workflow_status WHERE {where} ORDER BY workflow_uuid"),
                params,
            )
            return [row[0] for row in rows]

    def age(self, days: float, where: str = "1=1") -> None:
        self.execute(
            f"UPDATE {{p}}workflow_status SET completed_at = completed_at - :ms WHERE {where}", ms=days * DAY_MS
        )

    def steps_of(self, workflow_id: str) -> int:
        return self.scalar("SELECT COUNT(*) FROM {p}operation_outputs WHERE workflow_uuid = :id", id=workflow_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def worked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DBOSClient, History]]:
    """A runtime that has run every flow's trigger over a few won deals, all finished."""
    ledger_url = None
    if request.param == "postgresql":
        ledger_url = normalise_url(request.getfixturevalue("postgres_url"))
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    settings = engine_settings(tmp_path, ledger_url=ledger_url)
    runtime = open_runtime(settings, sandboxes["salesforce"].describe(), sandboxes["kashflow"].describe())
    client = history.open_client(settings.system_database_url)
    try:
        from ledgerlink.connections.build import build_crm

        user = build_crm(sandboxes["salesforce"].describe(), client_tag="test-user")
        seed(user, accounts=2, opportunities=4, seed=7)
        user.close()
        runtime.settings.flows.late_payment = False
        assert start_triggers(runtime, poll_interval=3600, started={})
        _wait_until_all_finished(client)
        yield client, History(settings.system_database_url)
    finally:
        client.destroy()
        engine.stop()
        sandboxes.stop()


def _wait_until_all_finished(client: DBOSClient, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        going = client.list_workflows(status=sorted(history.ACTIVE), load_input=False, load_output=False)
        if not going:
            return
        time.sleep(0.3)
    raise AssertionError(f"runs still going after {timeout} s: {[w.workflow_id for w in going]}")


def test_finished_runs_past_the_horizon_are_forgotten_with_their_steps(worked: tuple[DBOSClient, History]) -> None:
    client, db = worked
    records = db.ids("workflow_uuid NOT LIKE 'trigger:%' AND status = 'SUCCESS'")
    triggers = db.ids("workflow_uuid LIKE 'trigger:%'")
    assert records and triggers  # the triggers started record runs (invoices, PDFs, customer sync)
    old, recent = records[0], records[1:]
    assert db.steps_of(old) > 0
    db.age(8, f"workflow_uuid = '{old}'")

    result = history.prune(client, history.Retention(run_days=7, polling_hours=0), batch=2)

    assert result.deleted == 1 and result.finished
    assert old not in db.ids()
    assert db.steps_of(old) == 0  # its steps went with it (DBOS's payload tables have no cascade)
    for table in ("workflow_input", "workflow_output"):
        assert db.scalar(f"SELECT COUNT(*) FROM {{p}}{table} WHERE workflow_uuid = :id", id=old) == 0
    assert set(recent + triggers) <= set(db.ids())  # younger than a week: kept


def test_polling_runs_expire_on_their_own_shorter_horizon(worked: tuple[DBOSClient, History]) -> None:
    client, db = worked
    before = db.ids()
    db.age(2 / 24)  # everything finished two hours ago

    result = history.prune(client, history.Retention(run_days=7, polling_hours=1), batch=3)

    left = db.ids()
    assert result.deleted == len([w for w in before if w.startswith("trigger:")]) > 0
    assert left == [w for w in before if not w.startswith("trigger:")]  # the invoices' runs: a week


def test_runs_still_going_given_up_on_or_with_a_parent_going_are_kept(worked: tuple[DBOSClient, History]) -> None:
    client, db = worked
    records = db.ids("workflow_uuid NOT LIKE 'trigger:%' AND status = 'SUCCESS'")
    assert len(records) >= 4
    parent, child, given_up, child_of_given_up = records[:4]
    db.age(30)
    # A parent still running (as if recovering), whose child finished long ago; a run DBOS gave up recovering (a
    # person may resume it, and it replays its steps: its child is kept too).
    set_status = "UPDATE {p}workflow_status SET status = :status WHERE workflow_uuid = :id"
    db.execute(set_status, status="PENDING", id=parent)
    db.execute(set_status, status="MAX_RECOVERY_ATTEMPTS_EXCEEDED", id=given_up)
    set_parent = "UPDATE {p}workflow_status SET parent_workflow_id = :parent WHERE workflow_uuid = :id"
    db.execute(set_parent, parent=parent, id=child)
    db.execute(set_parent, parent=given_up, id=child_of_given_up)

    result = history.prune(client, history.Retention(run_days=7, polling_hours=0), batch=2)

    assert db.ids() == sorted([parent, child, given_up, child_of_given_up])  # the polling runs, as old, are gone
    assert result.kept_for_parent == 2 and result.finished


def test_a_pass_stops_at_its_time_budget_and_the_next_goes_on(worked: tuple[DBOSClient, History]) -> None:
    client, db = worked
    db.age(30)
    count = len(db.ids())

    stopped = history.prune(client, history.Retention(), budget_seconds=0)
    assert not stopped.finished and stopped.deleted == 0 and len(db.ids()) == count

    done = history.prune(client, history.Retention(), batch=2)
    assert done.finished and done.deleted == count and db.ids() == []


def test_the_pruner_thread_forgets_old_runs_and_stops_when_told(worked: tuple[DBOSClient, History]) -> None:
    _, db = worked
    db.age(30)
    stop = threading.Event()
    thread = history.start_history_pruner(
        engine.current().settings.system_database_url, history.Retention(), stop, first_after=0.05, every=0.2
    )
    assert thread is not None
    try:
        deadline = time.monotonic() + 20
        while db.ids() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db.ids() == []
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_keeping_everything_starts_no_pruner() -> None:
    never = history.Retention(run_days=0, polling_hours=0)
    assert never.horizons(datetime.now(UTC)) == []
    assert history.start_history_pruner("sqlite:///unused.sqlite", never, threading.Event()) is None


def test_polling_runs_alone_can_expire_while_the_rest_is_kept_for_ever() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert history.Retention(run_days=0, polling_hours=6).horizons(now) == [("trigger:", now - timedelta(hours=6))]


@pytest.mark.parametrize(
    ("days", "hours", "message"),
    [
        (1, 24, "keep at least 3 days (change events are replayed for up to 72 hours), or 0 for ever"),
        (7, 0.5, "keep polling runs at least 1 hour, or 0 to keep them as long as other runs"),
        (-1, 24, "greater than or equal to 0"),
        (4000, 24, "less than or equal to 3650"),
    ],
)
def test_a_retention_too_short_for_event_replay_is_refused(days: float, hours: float, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DatabaseSettings(history_days=days, poll_history_hours=hours)
    assert history.Retention.from_settings(DatabaseSettings()) == history.Retention(run_days=7, polling_hours=6)
