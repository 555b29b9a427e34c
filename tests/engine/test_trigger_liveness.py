"""Trigger liveness over real HTTP: a trigger whose polls succeed on a quiet source is not stalled however long its
watermark stands still (the worker's probes and the triggers' own runs record their checks); one whose polls fail
is; and an idle worker writes each trigger's check once per throttle period, not once per poll."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path

import pytest
from dbos import DBOS
from sqlalchemy import event, inspect, text, update

from ledgerlink.alerts import check_and_send
from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import Flow, registered_flows
from ledgerlink.engine.worker import Probes, start_triggers
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import AlertRule
from ledgerlink.store.database import alembic_config, current_revision, head_revision, make_engine, normalise_url
from ledgerlink.store.tables import TriggerCheck, Watermark, utcnow
from tests.engine.test_probes import _probed, _quiet
from tests.flows.conftest import FlowEnv


def _stalled_rule(ledger: Ledger) -> None:
    with ledger.session() as s:
        s.add(
            AlertRule(
                name="stalled", kind="stalled_trigger", threshold=0, window_minutes=60, cooldown_minutes=0, enabled=1
            )
        )


def _overnight(ledger: Ledger) -> None:
    """Two hours pass with nothing new: every watermark last moved, and every check was last written, then. (The
    throttle of this process's checks is shortened and waited out, as two hours would.)"""
    then = utcnow() - dt.timedelta(hours=2)
    with ledger.session() as s:
        s.execute(update(Watermark).values(updated_at=then))
        s.execute(update(TriggerCheck).values(checked_at=then))
    ledger.check_every = 0.3
    time.sleep(0.35)


def _only_polled_every_slot(env: FlowEnv) -> None:
    """The flows on a period of their own (hourly, every 5 or 15 min, daily) switched off: they are not what this is
    about, and the Account balances' own writes would be news to the Account sync."""
    flows = env.runtime.settings.flows
    flows.late_payment = flows.account_balances = flows.invoice_history = False


def _to_quiet(env: FlowEnv) -> list[Flow]:
    """A few deals invoiced, then every probed trigger run until its source has nothing new: the probed flows."""
    seed(env.user, accounts=2, opportunities=3, won_share=1.0, seed=5)
    for _ in range(4):  # each round's write-backs are the next round's changes
        for flow in _probed(env):
            assert flow.trigger is not None
            engine.wait_for(DBOS.start_workflow(flow.trigger, 0.0))
            _quiet()
    probed = _probed(env)
    assert not any(flow.probe(0.0) for flow in probed if flow.probe is not None)
    return probed


def test_a_quiet_source_polled_successfully_is_not_stalled_after_the_window(flow_env: FlowEnv) -> None:
    env, ledger = flow_env, flow_env.ledger
    _only_polled_every_slot(env)
    probed = _to_quiet(env)
    watched = {flow.name: flow.watermark for flow in probed if "*" not in flow.watermark}
    assert o2i.FLOW in watched and "customer_sync" in watched
    _stalled_rule(ledger)
    _overnight(ledger)
    [fired] = check_and_send(ledger, triggers=watched)  # no worker ran meanwhile: that is a stall (the stalest one)
    assert fired.message.endswith("has not checked successfully for 120 min")

    # The night again, with a worker this time: its probes find nothing in each slot (no run, and no watermark moves).
    _overnight(ledger)
    probes = Probes(ledger)
    try:
        for flow in probed:
            probes.ran(flow.name)  # their triggers ran lately: the slot asks the probes
        ran = start_triggers(env.runtime, poll_interval=3600, started={}, probes=probes)
        _quiet()
    finally:
        probes.close()
    assert not set(ran) & set(watched), ran  # the checks below are the probes'
    assert check_and_send(ledger, triggers=watched) == []

    # And with the triggers' own runs (a full poll, or a worker without probes): read to the end, nothing new.
    _overnight(ledger)
    for flow in probed:
        assert flow.trigger is not None
        engine.wait_for(DBOS.start_workflow(flow.trigger, 0.0))
    _quiet()
    with ledger.session() as s:  # nothing new, so no watermark of theirs moved
        marks = s.query(Watermark).filter(Watermark.name.in_(list(watched.values())))
        moved = [w.name for w in marks if w.updated_at.replace(tzinfo=dt.UTC) > utcnow() - dt.timedelta(hours=1)]
    assert moved == []
    assert check_and_send(ledger, triggers=watched) == []


def test_a_trigger_whose_polls_fail_is_stalled_until_one_succeeds(flow_env: FlowEnv) -> None:
    env, ledger = flow_env, flow_env.ledger
    entry = registered_flows()[o2i.FLOW]
    assert entry.trigger is not None
    seed(env.user, accounts=1, opportunities=2, won_share=1.0, seed=3)
    for _ in range(4):  # invoiced, then the write-backs read: quiet
        env.poll_and_run()
        _quiet()
    assert entry.probe is not None and not entry.probe(0.0)
    _stalled_rule(ledger)
    _overnight(ledger)
    env.set_faults("salesforce", error_rate=1.0)  # every call answered 500/503
    probes = Probes(ledger, wait=30)
    try:
        probes.ran(entry.name)
        look = probes.look(entry, 0.0)
        assert look is not None and not probes.empty(entry.name, look, time.monotonic() + 30)  # failed: "unsure"
    finally:
        probes.close()
    with pytest.raises(Exception, match=r"gave up|503|500"):
        engine.wait_for(DBOS.start_workflow(entry.trigger, 0.0))
    [fired] = check_and_send(ledger, triggers={entry.name: entry.watermark})
    assert fired.message == f"the trigger of {o2i.FLOW} ({o2i.WATERMARK}) has not checked successfully for 120 min"

    env.set_faults("salesforce", error_rate=0.0)  # Salesforce answers again: one successful (empty) poll ends it
    assert engine.wait_for(DBOS.start_workflow(entry.trigger, 0.0)) == {}
    assert check_and_send(ledger, triggers={entry.name: entry.watermark}) == []


def test_an_idle_worker_writes_each_triggers_check_once_per_period_not_once_per_poll(flow_env: FlowEnv) -> None:
    env, ledger = flow_env, flow_env.ledger
    _only_polled_every_slot(env)
    period = 1.0
    ledger.check_every = period
    statements: list[str] = []
    written: Counter[str] = Counter()

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if "ll_trigger_check" in statement:
            statements.append(statement)

    checked = ledger.trigger_checked

    def spy(*names: str) -> list[str]:
        done = checked(*names)
        written.update(done)
        return done

    ledger.trigger_checked = spy  # type: ignore[method-assign]
    probes = Probes(ledger)
    started: dict[str, int] = {}
    try:
        start_triggers(env.runtime, poll_interval=3600, started=started, probes=probes)  # the first slot runs all
        _quiet()
        statements.clear()
        written.clear()
        began, slots = time.monotonic(), 0
        while time.monotonic() - began < 3 * period:
            for name in list(started):
                started[name] -= 1  # a new slot
            assert not set(start_triggers(env.runtime, poll_interval=3600, started=started, probes=probes)) & {
                flow.name for flow in _probed(env)
            }
            slots += 1
            time.sleep(0.05)
        elapsed = time.monotonic() - began
    finally:
        probes.close()
    probed = {flow.watermark for flow in _probed(env) if "*" not in flow.watermark}
    print(f"\n{slots} idle slots in {elapsed:.1f} s: {len(statements)} statements, {dict(written)}")
    assert slots >= 20
    assert set(written) == probed  # each probed trigger's check was refreshed by the probes
    assert all(count <= elapsed / period + 1 for count in written.values()), written
    assert len(statements) <= elapsed / period + 1  # the probes' checks fall due together: one statement a period


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_existing_ledger_upgrades_to_trigger_checks_and_keeps_its_watermarks(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A ledger made by the release before (migration 0006) is upgraded when it is next opened: the new table
    appears empty beside the watermarks, which are kept; until a trigger checks, the rule reads the watermarks as
    before. The downgrade drops the table only."""
    from alembic import command

    url = (
        f"sqlite:///{tmp_path / 'l.db'}"
        if backend == "sqlite"
        else normalise_url(request.getfixturevalue("postgres_url"))
    )
    config = alembic_config(url)
    command.upgrade(config, "0006")
    old = make_engine(url)
    with old.begin() as conn:
        conn.execute(
            text("INSERT INTO ll_watermark (name, value, updated_at) VALUES (:name, 'x', :at)"),
            {"name": o2i.WATERMARK, "at": utcnow() - dt.timedelta(hours=2)},
        )
    assert current_revision(old) == "0006"
    old.dispose()

    ledger = Ledger(url)  # as every process opens it: migrated to the newest
    try:
        assert current_revision(ledger.engine) == head_revision() == "0007"
        assert ledger.get_watermark(o2i.WATERMARK) == "x"
        _stalled_rule(ledger)
        triggers = {o2i.FLOW: o2i.WATERMARK}
        assert len(check_and_send(ledger, triggers=triggers)) == 1  # no check yet: the watermark's time, as before
        assert ledger.trigger_checked(o2i.WATERMARK) == [o2i.WATERMARK]
        assert check_and_send(ledger, triggers=triggers) == []
        # Another worker's check (on PostgreSQL too): the row moves on, never back.
        other = Ledger(url)
        with ledger.session() as s:
            first = s.get(TriggerCheck, o2i.WATERMARK)
            assert first is not None
            first_at = first.checked_at
        assert other.trigger_checked(o2i.WATERMARK) == [o2i.WATERMARK]
        with ledger.session() as s:
            assert s.get(TriggerCheck, o2i.WATERMARK).checked_at > first_at  # type: ignore[union-attr]
        other.dispose()
    finally:
        ledger.dispose()
    command.downgrade(config, "0006")
    down = make_engine(url)
    try:
        assert "ll_trigger_check" not in inspect(down).get_table_names()
        with down.connect() as conn:
            assert conn.execute(text("SELECT value FROM ll_watermark")).scalar_one() == "x"
    finally:
        down.dispose()
