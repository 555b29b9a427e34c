"""Real-time two-way sync: a person's change to an Account wakes customer_sync through Change Data Capture at once;
LedgerLink's own writes to Salesforce (changeOrigin client=ledgerlink) wake nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledgerlink.bootstrap import engine_settings, open_runtime
from ledgerlink.connections.build import build_crm
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import customer_sync
from ledgerlink.flows.cdc_trigger import CdcTrigger, start_sync_cdc_triggers
from ledgerlink.sandbox.runner import start_pubsub, start_sandboxes
from tests.flows.conftest import FlowEnv


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[FlowEnv, list[CdcTrigger]]]:
    sandboxes = start_sandboxes(["salesforce", "kashflow"], tmp_path / "sandboxes")
    pubsub = start_pubsub(sandboxes["salesforce"], keepalive_seconds=1)
    sf_spec = sandboxes["salesforce"].describe()
    runtime = open_runtime(engine_settings(tmp_path), sf_spec, sandboxes["kashflow"].describe())
    user = build_crm(sf_spec, client_tag="test-user")
    triggers = start_sync_cdc_triggers(runtime, pubsub.address)
    try:
        yield FlowEnv(sandboxes=sandboxes, runtime=runtime, user=user), triggers
    finally:
        for trigger in triggers:
            trigger.stop()
        user.close()
        engine.stop()
        sandboxes.stop()


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _customer(env: FlowEnv, code: str) -> dict[str, object] | None:
    return env.runtime.books.client.get_customer(code)  # type: ignore[attr-defined, no-any-return]


def test_an_account_edit_reaches_the_books_in_real_time_and_our_own_writes_wake_nothing(
    live: tuple[FlowEnv, list[CdcTrigger]],
) -> None:
    env, triggers = live
    account = triggers[0]
    assert _wait(lambda: all(t.fallbacks for t in triggers), 10)  # each subscription started with a catch-up

    account_id = env.make_account("Realtime Ltd", "CUST-RT")
    started = time.monotonic()
    assert _wait(lambda: _customer(env, "CUST-RT") is not None, 15), "the new Account never reached the books"
    created_after = time.monotonic() - started

    env.user.update("Account", account_id, {"Name": "Realtime Trading Ltd"})
    assert _wait(lambda: (_customer(env, "CUST-RT") or {}).get("Name") == "Realtime Trading Ltd", 15)
    print(f"new Account in the books after {created_after:.2f} s")

    # The bookkeeper changes the customer in the books; customer_sync writes it to Salesforce as LedgerLink.
    env.runtime.books.client.update_customer("CUST-RT", {"TelephoneNumber": "+44 113 496 0000"})  # type: ignore[attr-defined]
    for handle in customer_sync.poll(lag_seconds=0):
        engine.wait_for(handle)
    assert env.user.get("Account", account_id, ["Phone"])["Phone"] == "+44 113 496 0000"
    # That write's change event is delivered to the Account subscription and must wake nothing.
    woken = len(account.started)
    org = env.sandboxes["salesforce"].server.server.config.app.app.state.org  # type: ignore[attr-defined]
    own = [
        e for e in org.events.events_after(None, 10_000) if e.entity_name == "Account" and e.client_id == "ledgerlink"
    ]
    assert own, "customer_sync wrote the phone number to Salesforce as LedgerLink"
    delivered = lambda: int(env.ledger.get_watermark("cdc:/data/AccountChangeEvent") or "0", 16) >= own[-1].replay_id  # noqa: E731
    assert _wait(delivered, 10)
    assert len(account.started) == woken
