"""Real-time trigger for opportunity_to_invoice: Change Data Capture on ``/data/OpportunityChangeEvent``.

Which events start a run: CREATE, UPDATE and UNDELETE events **not** made by LedgerLink (``changeOrigin`` without
``client=<our tag>``: our own write-back must not start another run) whose changed fields include one of
``StageName``, ``IsWon``, ``Amount`` or ``AccountId`` (a CREATE or UNDELETE always qualifies: every field is new).
Those are the fields that can make an opportunity invoiceable; the workflow itself re-checks Closed Won and the
amount, so a superfluous run only reads. DELETE events start nothing.

Each record id of a qualifying event is enqueued as ``opportunity_to_invoice.enqueue(id, version)`` with the commit
time formatted like ``SystemModstamp`` as the version — the same workflow id the polling trigger uses for the same
modification in the sandbox, so both triggers together still run a modification once.

Nothing is missed: the subscriber (``connectors.salesforce.cdc``) keeps its replay id in the ledger (watermark
``cdc:/data/OpportunityChangeEvent``) after the event is enqueued; on a GAP event, an expired replay id, or a first
start without a replay id, it calls ``opportunity_to_invoice.poll_won()``, the polling trigger, as the fallback.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from ledgerlink.connectors.salesforce.cdc import (
    ChangeEvent,
    PubSubSettings,
    PubSubSubscriber,
    is_own_change,
    oauth_session,
)
from ledgerlink.engine.runtime import Runtime
from ledgerlink.flows import opportunity_to_invoice as o2i

log = logging.getLogger(__name__)

TOPIC = "/data/OpportunityChangeEvent"
TRIGGER_FIELDS = frozenset({"StageName", "IsWon", "Amount", "AccountId"})
STARTING_TYPES = frozenset({"CREATE", "UNDELETE"})


def version_of(event: ChangeEvent) -> str:
    """The commit time as Salesforce writes SystemModstamp (``2024-05-01T10:00:00.123+0000``)."""
    return event.commit_time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{event.commit_timestamp % 1000:03d}+0000"


def should_enqueue(event: ChangeEvent, client_tag: str = "ledgerlink") -> bool:
    if event.entity != "Opportunity" or is_own_change(event, client_tag):
        return False
    if event.change_type in STARTING_TYPES:
        return True
    return event.change_type == "UPDATE" and not TRIGGER_FIELDS.isdisjoint(event.changed_fields)


@dataclass
class CdcTrigger:
    subscriber: PubSubSubscriber
    client_tag: str
    poll_lag_seconds: float | None
    stop_event: threading.Event = field(default_factory=threading.Event)
    started: list[str] = field(default_factory=list)  # workflow ids enqueued, oldest first
    fallbacks: list[str] = field(default_factory=list)  # reasons the polling fallback ran
    thread: threading.Thread | None = None

    def handle(self, event: ChangeEvent) -> None:
        # Runs for one opportunity never overlap: the engine's per-record queue serialises them by record id.
        if not should_enqueue(event, self.client_tag):
            return
        for record_id in event.record_ids:
            handle = o2i.enqueue(record_id, version_of(event))
            self.started.append(handle.get_workflow_id())

    def fallback(self, reason: str) -> None:
        log.info("CDC trigger: %s, running the polling trigger", reason)
        handles = o2i.poll_won(lag_seconds=self.poll_lag_seconds)
        self.started.extend(h.get_workflow_id() for h in handles)
        self.fallbacks.append(reason)

    def _run(self) -> None:
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                self.subscriber.run(self.handle, self.fallback, self.stop_event)
            except Exception:
                # e.g. the engine's database was briefly unavailable: the watermark did not move, so retrying
                # hands the same event on again.
                log.exception("CDC trigger failed; restarting in %.1f s", delay)
                if self.stop_event.wait(delay):
                    return
                delay = min(delay * 2, 30.0)

    def start(self) -> CdcTrigger:
        self.thread = threading.Thread(target=self._run, name="cdc-trigger", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.subscriber.cancel()
        if self.thread is not None:
            self.thread.join(timeout)
        self.subscriber.close()


def start_cdc_trigger(
    runtime: Runtime,
    pubsub_address: str,
    *,
    tls: bool | None = None,
    ca_file: str | None = None,
    poll_lag_seconds: float | None = None,
) -> CdcTrigger:
    """Subscribe in a background thread; ``.stop()`` ends it. The runtime must be started (DBOS launched)."""
    sf = runtime.salesforce.settings
    if ca_file is None and isinstance(sf.verify, str):
        ca_file = sf.verify  # the sandbox with TLS: the same CA signs both servers
    subscriber = PubSubSubscriber(
        PubSubSettings(address=pubsub_address, topic=TOPIC, tls=tls, ca_file=ca_file),
        oauth_session(sf.auth, sf.login_url, verify=sf.verify),
        runtime.ledger,
    )
    trigger = CdcTrigger(subscriber=subscriber, client_tag=sf.client_tag, poll_lag_seconds=poll_lag_seconds)
    return trigger.start()


__all__ = ["TOPIC", "CdcTrigger", "should_enqueue", "start_cdc_trigger", "version_of"]
