"""Probes: a polling slot a flow's probe finds empty is spent without a run, and a probe never says "nothing" when
its trigger would have done something (every probed flow, over HTTP against the sandboxes)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Future
from decimal import Decimal

import pytest
from dbos import DBOS
from sqlalchemy import select

from ledgerlink.demo.seed import seed
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.flows import Flow, registered_flows
from ledgerlink.engine.worker import SLOT_CLAIM, Probes, start_triggers
from ledgerlink.flows.defined_flows import TRIGGER
from ledgerlink.model import Payment
from ledgerlink.store import Ledger
from ledgerlink.store.tables import Watermark
from tests.flows.conftest import FlowEnv


def _probed(env: FlowEnv) -> list[Flow]:
    settings = env.runtime.settings.flows
    return [
        f
        for f in registered_flows().values()
        if f.probe is not None and f.trigger is not None and f.enabled(settings) and settings.is_enabled(f.name)
    ]


def _state(ledger: Ledger) -> tuple[dict[str, str], int, int]:
    """What a trigger run may change: the watermarks (slot claims aside), the audit log, and the runs DBOS holds."""
    with ledger.session() as s:
        marks = {w.name: w.value for w in s.scalars(select(Watermark)) if not w.name.startswith(SLOT_CLAIM)}
    return marks, ledger.count_audit(), len(DBOS.list_workflows())


def _quiet(timeout: float = 60) -> None:
    """Every run the triggers started has finished (their write-backs are changes the next look sees)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not DBOS.list_workflows(status=["ENQUEUED", "PENDING"]):
            return
        time.sleep(0.1)
    raise AssertionError("runs still going after a minute")


def _look_and_run(env: FlowEnv, said: dict[str, set[bool]]) -> None:
    """Each probed flow: ask its probe, run its trigger; where the probe said no, the run changed nothing."""
    for flow in _probed(env):
        assert flow.probe is not None and flow.trigger is not None
        answer = flow.probe(0.0)
        said.setdefault(flow.name, set()).add(answer)
        before = _state(env.ledger)
        engine.wait_for(DBOS.start_workflow(flow.trigger, 0.0))
        _quiet()
        if not answer:
            marks, audits, runs = _state(env.ledger)
            assert marks == before[0], f"{flow.name}: its probe found nothing, but its trigger moved a watermark"
            assert audits == before[1], f"{flow.name}: its probe found nothing, but its trigger wrote"
            assert runs == before[2] + 1, f"{flow.name}: its probe found nothing, but its trigger started runs"


def test_a_probe_says_nothing_only_when_its_trigger_would_do_nothing(flow_env: FlowEnv) -> None:
    env = flow_env
    env.runtime.settings.flows.late_payment = False  # hourly, no probe: not what this is about
    said: dict[str, set[bool]] = {}
    seed(env.user, accounts=3, opportunities=5, won_share=1.0, seed=5)
    for _ in range(4):  # from the seed to quiet: each round's write-backs are the next round's changes
        _look_and_run(env, said)
    assert not any(f.probe(0.0) for f in _probed(env) if f.probe is not None)  # quiet now: every probe says so

    # Changes each probe must see, then quiet again.
    account = env.user.create("Account", {"Name": "Probe Newcomer Ltd", "BillingPostalCode": "LS1 1AA"})
    env.user.update("Account", account, {"Phone": "0113 496 0000"})
    env.user.create("Product2", {"Name": "Probe widget", "ProductCode": "PRB-1", "IsActive": True})
    [won] = list(env.user.query("SELECT Id, Accounting_Invoice_Number__c FROM Opportunity LIMIT 1"))
    env.runtime.books.record_payment(
        won["Accounting_Invoice_Number__c"],
        Payment(invoice_number=won["Accounting_Invoice_Number__c"], amount=Decimal("1.00"), paid_on=dt.date.today()),
    )
    env.user.create("Payment__c", {"Opportunity__c": won["Id"], "Amount__c": 1.0, "Payment_Date__c": "2026-01-05"})
    env.user.update("Opportunity", won["Id"], {"Name": "Renamed after invoicing"})
    before = {f.name: f.probe(0.0) for f in _probed(env) if f.probe is not None}
    for name in ("customer_sync", "product_sync", "payment_sync", "payment_to_books", "invoice_changes"):
        assert before.get(name, True), f"{name}: its probe missed a change"
    for _ in range(4):
        _look_and_run(env, said)
    # Every probe woke for a change and slept when quiet; user-defined flows have none published here (their probe
    # wakes for one: tests/nocode).
    assert all(True in said[f.name] and False in said[f.name] for f in _probed(env) if f.name != TRIGGER), said
    assert said[TRIGGER] == {False}


def _flow(name: str, probe: Callable[[float], bool] | None) -> Flow:
    return Flow(
        name=name,
        description="",
        source=("crm", "X"),
        watermark="x",
        replay=lambda _id: None,  # type: ignore[arg-type,return-value]
        poll=lambda **_kw: [],
        trigger=lambda _lag: None,
        probe=probe,
    )


def test_probes_run_the_trigger_when_unsure_or_due_and_one_worker_probes_a_slot(
    flow_env: FlowEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = flow_env.ledger
    here, there = Probes(ledger, full_every=60, wait=0.2), Probes(ledger, full_every=60, wait=0.2)
    try:
        quiet = _flow("quiet", lambda _lag: False)
        assert here.look(quiet, 0) is None  # never ran here: the first slot runs the trigger
        here.ran("quiet")
        look = here.look(quiet, 0)
        # Ran lately and nothing new: the slot is skipped.
        assert isinstance(look, Future) and here.empty("quiet", look, time.monotonic() + 0.2)

        def broken(_lag: float) -> bool:
            raise RuntimeError("no answer")

        def slow(_lag: float) -> bool:
            time.sleep(1)
            return False

        for name, probe in (("broken", broken), ("slow", slow)):
            here.ran(name)
            look = here.look(_flow(name, probe), 0)
            assert look is not None and not here.empty(name, look, time.monotonic() + 0.2)  # unsure: it runs
        # A slot's probes share one deadline: two hung ones hold the slot up once, not twice.
        for name in ("slow1", "slow2"):
            here.ran(name)
        looks = {name: here.look(_flow(name, slow), 0) for name in ("slow1", "slow2")}
        began, until = time.monotonic(), time.monotonic() + 0.2
        assert not any(here.empty(name, look, until) for name, look in looks.items() if isinstance(look, Future))
        assert all(isinstance(look, Future) for look in looks.values()) and time.monotonic() - began < 0.5
        stale = Probes(ledger, full_every=0.0)
        stale.ran("quiet")
        assert stale.look(quiet, 0) is None  # its full run is due: no probe
        stale.close()

        assert not here.taken(quiet, 100, 1.0) and there.taken(quiet, 100, 1.0)  # of two workers, one probes slot 100
        assert not there.taken(quiet, 101, 1.0) and here.taken(quiet, 101, 1.0)
        # One claim a slot for all the flows of a period: the winner probes them all, with no second write.
        other = _flow("other", lambda _lag: False)
        claims: list[str] = []
        advance = ledger.advance_watermark
        monkeypatch.setattr(
            ledger, "advance_watermark", lambda name, value: claims.append(name) or advance(name, value)
        )
        assert not there.taken(other, 101, 1.0) and here.taken(other, 101, 1.0)
        assert claims == []
        assert not here.taken(other, 102, 5.0) and there.taken(other, 102, 5.0)  # another period, its own claim
        assert claims == [f"{SLOT_CLAIM}every-5s"] * 2
        assert ledger.get_watermark(f"{SLOT_CLAIM}every-1s") == f"{101:015d}"
        assert not here.taken(_flow("unprobed", None), 101, 1.0)  # no probe: DBOS deduplicates its trigger as before
    finally:
        here.close()
        there.close()


def test_an_idle_slot_starts_no_run(flow_env: FlowEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's loop with probes: once every probed flow's trigger ran, an idle slot enqueues none of them."""
    env = flow_env
    env.runtime.settings.flows.late_payment = False
    probes = Probes(env.ledger)
    try:
        started: dict[str, int] = {}
        first = start_triggers(env.runtime, poll_interval=3600, started=started, probes=probes)
        assert {f.name for f in _probed(env)} <= set(first)  # the first slot runs every trigger
        _quiet()
        for _ in range(3):  # the first runs' own writes may still be news to a probe
            for name in list(started):
                started[name] -= 1
            again = start_triggers(env.runtime, poll_interval=3600, started=started, probes=probes)
            _quiet()
        probed = {f.name for f in _probed(env)}
        assert not probed & set(again), again  # idle: no probed flow's trigger ran
        unprobed = {f.name for f in registered_flows().values() if f.trigger is not None} - probed
        assert set(again) <= unprobed
    finally:
        probes.close()
