"""End to end: a person turns an opportunity Closed Won in Salesforce; the CDC trigger (Pub/Sub over gRPC) starts
the flow, the invoice number is written back within seconds, and the write-back's own event starts nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from dbos import DBOS

from ledgerlink.alerts.rules import Watched
from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.engine.runtime import wait_for
from ledgerlink.flows.cdc_trigger import CdcTrigger, start_cdc_trigger, watched_with
from ledgerlink.flows.opportunity_to_invoice import FLOW, INVOICE_NUMBER_FIELD, WATERMARK, poll_won
from ledgerlink.sandbox.runner import start_pubsub, start_sandboxes
from ledgerlink.sandbox.salesforce.timefmt import format_ms
from ledgerlink.store.tables import TriggerCheck
from tests.flows.conftest import FlowEnv


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[FlowEnv, CdcTrigger]]:
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    pubsub = start_pubsub(sandboxes["salesforce"], keepalive_seconds=1)
    sf_spec = sandboxes["salesforce"].describe()
    runtime = open_runtime(engine_settings(tmp_path), sf_spec, sandboxes["kashflow"].describe())
    user = build_crm(sf_spec, client_tag="test-user")
    trigger = start_cdc_trigger(runtime, pubsub.address, poll_lag_seconds=0)
    try:
        yield FlowEnv(sandboxes=sandboxes, runtime=runtime, user=user), trigger
    finally:
        trigger.stop()
        user.close()
        engine.stop()
        sandboxes.stop()


def _wait(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_closed_won_is_invoiced_in_real_time_and_the_echo_starts_nothing(live: tuple[FlowEnv, CdcTrigger]) -> None:
    env, trigger = live
    assert _wait(lambda: trigger.fallbacks == ["start"], 5)  # first start: polled once, then subscribed
    account = env.make_account("Northwind Traders", "NW-001")
    _, entry = env.make_product("WID-1", 25.0)
    opp = env.make_opportunity(stage="Prospecting", account_id=account, lines=[(entry, 4, 25.0)])
    won_at = time.monotonic()
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    assert _wait(lambda: env.user.get("Opportunity", opp, [INVOICE_NUMBER_FIELD]).get(INVOICE_NUMBER_FIELD), 10)
    latency = time.monotonic() - won_at
    print(f"\nClosed Won → invoice number written back in {latency:.2f} s")
    assert latency < 5
    # Let the write-back's own change event arrive and every started run finish.
    org = env.sandboxes["salesforce"].server.server.config.app.app.state.org  # type: ignore[union-attr]
    latest = org.events.latest_replay_id()
    watermark = "cdc:/data/OpportunityChangeEvent"
    assert _wait(lambda: int(env.ledger.get_watermark(watermark) or "0", 16) >= latest, 5)
    # The live stream's checks are recorded under its watermark, watched with the flow's polling one.
    assert trigger.flow == FLOW and trigger.watermark == watermark

    def stream_checked() -> bool:
        with env.ledger.session() as s:
            return s.get(TriggerCheck, watermark) is not None

    assert _wait(stream_checked, 5)
    assert watched_with({FLOW: Watched((WATERMARK,))}, [trigger]) == {FLOW: Watched((WATERMARK, watermark))}
    for workflow_id in list(trigger.started):
        wait_for(DBOS.retrieve_workflow(workflow_id))
    assert env.ledger.count_audit(flow=FLOW, action="updated") == 1
    assert len(env.kashflow_invoices()) == 1
    # The write-back was delivered (client=ledgerlink) and started no run. (LedgerLink's other writes are the
    # invoice PDF's file, chained by the invoice run: ContentVersion and what Salesforce derives from it.)
    own = [
        e for e in org.events.events_after(None, 1000) if e.client_id == "ledgerlink" and e.entity_name == "Opportunity"
    ]
    assert len(own) == 1
    assert not any(format_ms(e.commit_timestamp) in wid for e in own for wid in trigger.started)


def test_a_flow_switched_off_while_subscribed_invoices_nothing_and_its_poll_catches_up_when_back_on(
    live: tuple[FlowEnv, CdcTrigger],
) -> None:
    env, trigger = live
    assert _wait(lambda: trigger.fallbacks == ["start"], 5)
    settings = env.runtime.settings
    on = settings.flows
    settings.flows = replace(on, enabled_flows={**on.enabled_flows, FLOW: False})  # as settings_watch applies an edit
    started_before = list(trigger.started)
    account = env.make_account("Switched Off Ltd", "SO-001")
    _, entry = env.make_product("WID-2", 10.0)
    opp = env.make_opportunity(stage="Prospecting", account_id=account, lines=[(entry, 1, 10.0)])
    env.user.update("Opportunity", opp, {"StageName": "Closed Won"})
    org = env.sandboxes["salesforce"].server.server.config.app.app.state.org  # type: ignore[union-attr]
    latest = org.events.latest_replay_id()
    watermark = "cdc:/data/OpportunityChangeEvent"
    assert _wait(lambda: int(env.ledger.get_watermark(watermark) or "0", 16) >= latest, 5)  # the event was seen
    assert trigger.started == started_before and env.kashflow_invoices() == []
    settings.flows = on  # back on: the polling trigger reads the deal it missed
    for handle in poll_won(lag_seconds=0):
        wait_for(handle)
    assert _wait(lambda: env.user.get("Opportunity", opp, [INVOICE_NUMBER_FIELD]).get(INVOICE_NUMBER_FIELD), 10)
    assert len(env.kashflow_invoices()) == 1
