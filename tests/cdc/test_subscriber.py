"""The CDC subscriber: resume without loss or duplicates, fallbacks on expiry and gaps, echo recognition."""

from __future__ import annotations

import time
from pathlib import Path

from ledgerlink.store import Ledger
from ledgerlink.store.tables import TriggerCheck
from ledgerlink.systems.salesforce.cdc import is_own_change

from .conftest import KEEPALIVE_SECONDS, CdcEnv, Collector, MemoryWatermarks


def _opportunity_replay_ids(env: CdcEnv) -> list[bytes]:
    return [
        e.replay_id.to_bytes(8, "big")
        for e in env.org.events.events_after(None, 10_000)
        if e.entity_name == "Opportunity"
    ]


def test_reconnect_with_last_replay_id_misses_nothing_and_repeats_nothing(cdc_env: CdcEnv) -> None:
    watermarks = MemoryWatermarks()
    opp = cdc_env.make_opportunity()
    for n in range(4):
        cdc_env.user.update("Opportunity", opp, {"Amount": 100 + n})
    first = Collector(cdc_env.subscriber(watermarks=watermarks, batch_size=1), stop_after=3).start()
    first.thread.join(timeout=5)
    assert not first.thread.is_alive() and len(first.events) == 3
    assert first.fallbacks == ["start"]  # no replay id yet: re-read, then EARLIEST
    for n in range(3):
        cdc_env.user.update("Opportunity", opp, {"Amount": 200 + n})
    second = Collector(cdc_env.subscriber(watermarks=watermarks)).start()
    try:
        got = second.wait_for(5)
    finally:
        second.stop()
    assert second.fallbacks == []  # resumed with CUSTOM from the saved replay id
    seen = [e.replay_id for e in [*first.events, *got]]
    assert seen == _opportunity_replay_ids(cdc_env)
    assert [e.values.get("Amount") for e in got] == [102.0, 103.0, 200.0, 201.0, 202.0]
    assert watermarks.values["cdc:/data/OpportunityChangeEvent"] == seen[-1].hex()


def test_expired_replay_id_calls_the_fallback_then_delivers_what_is_retained(cdc_env: CdcEnv) -> None:
    watermarks = MemoryWatermarks()
    cdc_env.make_opportunity("Old")
    first = Collector(cdc_env.subscriber(watermarks=watermarks), stop_after=1).start()
    first.thread.join(timeout=5)
    cdc_env.org.events.prune(now_ms=2**62)  # the saved replay id falls out of retention
    new = cdc_env.make_opportunity("New")
    second = Collector(cdc_env.subscriber(watermarks=watermarks)).start()
    try:
        assert second.wait_for_fallback("replay_id_expired")
        got = second.wait_for(1)
    finally:
        second.stop()
    assert [e.record_ids for e in got] == [(new,)]


def test_gap_event_calls_the_fallback_and_the_stream_goes_on(cdc_env: CdcEnv) -> None:
    collector = Collector(cdc_env.subscriber(watermarks=MemoryWatermarks())).start()
    try:
        assert collector.wait_for_fallback("start")
        cdc_env.pubsub.inject_gap(1, entity="Opportunity")
        lost = cdc_env.make_opportunity("Lost in a gap")
        after = cdc_env.make_opportunity("After the gap")
        assert collector.wait_for_fallback("gap")
        got = collector.wait_for(1)
    finally:
        collector.stop()
    assert [e.record_ids for e in got] == [(after,)]
    assert lost not in {rid for e in got for rid in e.record_ids}


def test_own_writes_are_recognised_by_change_origin(cdc_env: CdcEnv) -> None:
    opp = cdc_env.make_opportunity()
    cdc_env.ledgerlink.update("Opportunity", opp, {"Invoice_Status__c": "Unpaid"})
    collector = Collector(cdc_env.subscriber(watermarks=MemoryWatermarks())).start()
    try:
        person, ours = collector.wait_for(2)
    finally:
        collector.stop()
    assert person.client_id == "test-user" and not is_own_change(person)
    assert ours.client_id == "ledgerlink" and is_own_change(ours)
    assert ours.changed_fields == ("LastModifiedDate", "Invoice_Status__c")


def test_a_quiet_stream_checks_in_on_each_keep_alive_and_a_dead_one_does_not(cdc_env: CdcEnv, tmp_path: Path) -> None:
    """No change for a while: the replay id stands still, but each keep-alive (Salesforce: within 270 s; here 0.3 s)
    is a successful check of the subscription, recorded (throttled) in the ledger for the stalled-trigger alerts.
    Once the stream is gone, nothing more is recorded."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    ledger.check_every = 0.0  # every check written: the keep-alives are what is counted here
    checks: list[str] = []

    def checked(name: str) -> None:
        checks.append(name)
        ledger.trigger_checked(name)

    collector = Collector(cdc_env.subscriber(checked=checked)).start()
    try:
        deadline = time.monotonic() + 5
        while len(checks) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.events == [] and checks[:3] == ["cdc:/data/OpportunityChangeEvent"] * 3
        with ledger.session() as s:
            assert s.get(TriggerCheck, "cdc:/data/OpportunityChangeEvent") is not None
        cdc_env.pubsub.stop(grace=0)  # the stream dies (the subscriber keeps reconnecting, in vain)
        time.sleep(KEEPALIVE_SECONDS)
        dead = len(checks)
        time.sleep(KEEPALIVE_SECONDS * 5)
        assert len(checks) == dead
    finally:
        collector.stop()
