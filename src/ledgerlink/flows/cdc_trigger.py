"""Real-time trigger for opportunity_to_invoice: Change Data Capture on ``/data/OpportunityChangeEvent``.

Which events start a run: CREATE, UPDATE and UNDELETE events **not** made by LedgerLink (``changeOrigin`` without
``client=<our tag>``: our own write-back must not start another run) whose changed fields include one of
``StageName``, ``IsWon``, ``Amount`` or ``AccountId`` (a CREATE or UNDELETE always qualifies: every field is new).
Those are the fields that can make an opportunity invoiceable; the workflow itself re-checks Closed Won and the
amount, so a superfluous run only reads. DELETE events start nothing.

The record ids of the qualifying events are enqueued by shard, one ``opportunity_to_invoice_batch`` run per shard,
each with the commit time formatted like ``SystemModstamp`` as its version. A record's runs, from either trigger,
share its shard and never overlap; one that finds the invoice already made only reads. A shard with
``event_window`` runs unfinished holds its changes until one finishes (``engine.shard_dispatch``), without holding
up the stream or the other shards.

Nothing is missed: the subscriber (``systems.salesforce.cdc``) keeps its replay id in the ledger (watermark
``cdc:/data/OpportunityChangeEvent``) once every event up to it is enqueued; on a GAP event, an expired replay id,
or a first start without a replay id, it enqueues the polling trigger
(``opportunity_to_invoice.poll_won_opportunities``) as the fallback, without waiting for it: a catch-up of many
deals runs beside the events, which overtake it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ledgerlink.engine.polling import enqueue
from ledgerlink.engine.runtime import Runtime, enqueue_trigger, shard_key
from ledgerlink.engine.shard_dispatch import ShardDispatcher
from ledgerlink.flows import opportunity_to_invoice as o2i
from ledgerlink.store.watermarks import WatermarkStore

if TYPE_CHECKING:
    from ledgerlink.alerts.rules import Watched
    from ledgerlink.engine.flows import Flow
    from ledgerlink.systems.salesforce.cdc import ChangeEvent, PubSubSubscriber

# The Pub/Sub client (gRPC, protobuf, Avro) is imported when a trigger subscribes: every worker loads this module
# with the flows, and one without CDC (or with it switched off) never needs it.

log = logging.getLogger(__name__)

TOPIC = "/data/OpportunityChangeEvent"
TRIGGER_FIELDS = frozenset({"StageName", "IsWon", "Amount", "AccountId"})
STARTING_TYPES = frozenset({"CREATE", "UNDELETE"})


def version_of(event: ChangeEvent) -> str:
    """The commit time as Salesforce writes SystemModstamp (``2024-05-01T10:00:00.123+0000``)."""
    return event.commit_time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{event.commit_timestamp % 1000:03d}+0000"


def should_enqueue(event: ChangeEvent, client_tag: str = "ledgerlink") -> bool:
    from ledgerlink.systems.salesforce.cdc import is_own_change

    if event.entity != "Opportunity" or is_own_change(event, client_tag):
        return False
    if event.change_type in STARTING_TYPES:
        return True
    return event.change_type == "UPDATE" and not TRIGGER_FIELDS.isdisjoint(event.changed_fields)


@dataclass
class CdcTrigger:
    """One Pub/Sub subscription in a background thread: ``on_events`` for each batch of change events (one event
    when they are rare, more when the trigger falls behind), ``on_fallback`` when events may have been missed
    (first start, gap, expired replay id). Both return the workflow ids they started."""

    subscriber: PubSubSubscriber
    on_events: Callable[[list[ChangeEvent]], list[str]]
    on_fallback: Callable[[str], list[str]]
    name: str = "cdc-trigger"
    flow: str | None = None  # the flow whose trigger this subscription is (stalled alerts watch it with the flow)
    on_stop: Callable[[], None] | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    started: list[str] = field(default_factory=list)  # workflow ids enqueued, oldest first
    fallbacks: list[str] = field(default_factory=list)  # reasons the polling fallback ran
    thread: threading.Thread | None = None

    @property
    def watermark(self) -> str:
        """The subscription's watermark (its replay id): its checks are recorded under it too."""
        return self.subscriber.settings.watermark_key

    def handle(self, events: list[ChangeEvent]) -> None:
        self.started.extend(self.on_events(events))

    def fallback(self, reason: str) -> None:
        log.info("%s: %s, running the polling trigger", self.name, reason)
        self.started.extend(self.on_fallback(reason))
        self.fallbacks.append(reason)

    def _run(self) -> None:
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                self.subscriber.run_batches(self.handle, self.fallback, self.stop_event)
            except Exception:
                # e.g. the engine's database was briefly unavailable: the watermark did not move, so retrying
                # hands the same event on again.
                log.exception("%s failed; restarting in %.1f s", self.name, delay)
                if self.stop_event.wait(delay):
                    return
                delay = min(delay * 2, 30.0)

    def start(self) -> CdcTrigger:
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.subscriber.cancel()
        if self.thread is not None:
            self.thread.join(timeout)
        self.subscriber.close()
        if self.on_stop is not None:
            self.on_stop()


def _subscriber(
    runtime: Runtime,
    pubsub_address: str,
    topic: str,
    tls: bool | None,
    ca_file: str | None,
    poll_lag_seconds: float | None = None,
    watermarks: WatermarkStore | None = None,
) -> PubSubSubscriber:
    from ledgerlink.systems.salesforce.cdc import PubSubSettings, PubSubSubscriber, oauth_session

    sf = runtime.crm.settings
    if ca_file is None and isinstance(sf.verify, str):
        ca_file = sf.verify  # the sandbox with TLS: the same CA signs both servers
    lag = runtime.settings.poll_lag_seconds if poll_lag_seconds is None else poll_lag_seconds
    return PubSubSubscriber(
        PubSubSettings(
            address=pubsub_address, topic=topic, tls=tls, ca_file=ca_file, catch_up_margin_seconds=lag + 5.0
        ),
        oauth_session(sf.auth, sf.login_url, verify=sf.verify),
        watermarks or runtime.ledger,
        checked=runtime.ledger.trigger_checked,  # straight to the ledger: the dispatcher holds replay ids only
    )


def start_cdc_trigger(
    runtime: Runtime,
    pubsub_address: str,
    *,
    tls: bool | None = None,
    ca_file: str | None = None,
    poll_lag_seconds: float | None = None,
) -> CdcTrigger:
    """The opportunity → invoice trigger, subscribed in a background thread; ``.stop()`` ends it."""
    client_tag = runtime.crm.settings.client_tag
    # At most event_window runs per shard unfinished (by default one: the running one): more changes wait in the
    # dispatcher and go in the shard's next run, so the busier the worker, the bigger its runs. The dispatcher is
    # the subscriber's watermark store: the replay id moves only past events handed on.
    dispatcher = ShardDispatcher(
        functools.partial(enqueue, o2i.FLOW),
        runtime.settings.event_window,
        runtime.ledger,
        name="cdc:opportunity:dispatch",
    )

    def on_events(events: list[ChangeEvent]) -> list[str]:
        # Runs for one opportunity never overlap: each shard's runs go one at a time (the queue's partitions).
        changes: dict[str, tuple[str, str]] = {}  # opportunity id → (its shard, its newest modification)
        if not runtime.settings.flows.is_enabled(o2i.FLOW):
            events = []  # switched off while the worker runs: its polling trigger catches up once it is back on
        for event in events:
            if should_enqueue(event, client_tag):
                for record_id in event.record_ids:
                    changes[record_id] = (shard_key(o2i.FLOW, record_id), version_of(event))
        dispatcher.add(changes)
        return []  # the dispatcher records its runs in the trigger's ``started`` (some start later)

    def on_fallback(reason: str) -> list[str]:
        # The polling trigger is enqueued, not awaited: it is durable on its own, and a catch-up of many deals must
        # not hold this thread (the events behind it are the ones that should overtake it). Deduplicated by flow:
        # one already waiting or running reads the same changes, and the worker's polling passes again anyway.
        if not runtime.settings.flows.is_enabled(o2i.FLOW):
            return []
        lag = runtime.settings.poll_lag_seconds if poll_lag_seconds is None else poll_lag_seconds
        workflow_id = f"trigger:{o2i.FLOW}:cdc-{reason}-{uuid.uuid4().hex[:12]}"
        return [workflow_id] if enqueue_trigger(o2i.FLOW, o2i.poll_won_opportunities, workflow_id, lag) else []

    subscriber = _subscriber(runtime, pubsub_address, TOPIC, tls, ca_file, poll_lag_seconds, dispatcher)
    return CdcTrigger(
        subscriber=subscriber,
        on_events=on_events,
        on_fallback=on_fallback,
        name="cdc:opportunity",
        flow=o2i.FLOW,
        on_stop=dispatcher.stop,
        started=dispatcher.started,
    ).start()


# Which flow's trigger a change to each object wakes: the two-way syncs read their own watermarks, so an event only
# needs to say "something changed"; LedgerLink's own writes (changeOrigin client=ledgerlink) wake nothing.
SYNC_TOPICS: dict[str, str] = {
    "/data/AccountChangeEvent": "customer_sync",
    "/data/ContactChangeEvent": "customer_sync",
    "/data/Product2ChangeEvent": "product_sync",
    "/data/PricebookEntryChangeEvent": "product_sync",
}


@dataclass
class FlowWaker:
    """Wakes one flow's polling trigger. A wake that finds the trigger busy (DBOS deduplicates by flow) may come
    after the busy run read its last page, so it is retried until one lands: no change waits for the next poll."""

    entry: Flow
    lag_seconds: float
    pending: threading.Event = field(default_factory=threading.Event)
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def wake(self, key: str) -> list[str]:
        workflow_id = f"trigger:{self.entry.name}:cdc:{key}"
        assert self.entry.trigger is not None
        if enqueue_trigger(self.entry.name, self.entry.trigger, workflow_id, self.lag_seconds):
            return [workflow_id]
        self.pending.set()
        return []

    def _retry(self) -> None:
        while not self.stop_event.wait(0.25):
            if self.pending.is_set() and self.wake(f"retry:{time.time_ns()}"):
                self.pending.clear()

    def start(self) -> FlowWaker:
        self.thread = threading.Thread(target=self._retry, name=f"wake:{self.entry.name}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)


def start_sync_cdc_triggers(
    runtime: Runtime,
    pubsub_address: str,
    *,
    tls: bool | None = None,
    ca_file: str | None = None,
    poll_lag_seconds: float = 0.0,
) -> list[CdcTrigger]:
    """Real-time triggers for customer_sync and product_sync: a change someone else made to an Account, Contact,
    Product2 or price wakes that flow's polling trigger at once (a burst of edits wakes it once or twice, not once
    per edit); the worker's regular polling stays the safety net."""
    from ledgerlink.engine.flows import registered_flows
    from ledgerlink.systems.salesforce.cdc import is_own_change

    client_tag = runtime.crm.settings.client_tag
    # Only the flows switched on in the settings file ([flows.<name>] enabled).
    topics = {topic: flow for topic, flow in SYNC_TOPICS.items() if runtime.settings.flows.is_enabled(flow)}
    wakers = {
        flow: FlowWaker(registered_flows()[flow], poll_lag_seconds).start() for flow in dict.fromkeys(topics.values())
    }
    triggers = []
    for index, (topic, flow) in enumerate(topics.items()):
        waker = wakers[flow]

        def on_events(events: list[ChangeEvent], waker: FlowWaker = waker) -> list[str]:
            if not runtime.settings.flows.is_enabled(waker.entry.name):
                return []  # switched off while the worker runs (settings_watch): its next poll reads the changes
            theirs = [event for event in events if not is_own_change(event, client_tag)]
            return waker.wake(str(theirs[-1].commit_timestamp)) if theirs else []

        def on_fallback(reason: str, waker: FlowWaker = waker, topic: str = topic) -> list[str]:
            if not runtime.settings.flows.is_enabled(waker.entry.name):
                return []
            return waker.wake(f"{topic}:{reason}:{time.time_ns()}")

        # The last subscription of each flow stops that flow's waker with it.
        last_of_flow = flow not in list(topics.values())[index + 1 :]
        trigger = CdcTrigger(
            subscriber=_subscriber(runtime, pubsub_address, topic, tls, ca_file, poll_lag_seconds),
            on_events=on_events,
            on_fallback=on_fallback,
            name=f"cdc:{topic.removeprefix('/data/')}",
            flow=flow,
            on_stop=waker.stop if last_of_flow else None,
        )
        triggers.append(trigger.start())
    return triggers


def watched_with(triggers: Mapping[str, Watched], subscriptions: list[CdcTrigger]) -> dict[str, Watched]:
    """What a worker's stalled-trigger alerts watch: each enabled flow's polling trigger (``triggers``) and, for a
    flow this worker also subscribes to change events for, each subscription's watermark (a dead stream is a stalled
    trigger though the polling safety net still runs). A flow switched off is not in ``triggers``, nor its
    subscriptions."""
    watched = dict(triggers)
    for subscription in subscriptions:
        flow = subscription.flow
        if flow is not None and flow in watched and subscription.watermark not in watched[flow].marks:
            watched[flow] = replace(watched[flow], marks=(*watched[flow].marks, subscription.watermark))
    return watched


__all__ = [
    "SYNC_TOPICS",
    "TOPIC",
    "CdcTrigger",
    "FlowWaker",
    "should_enqueue",
    "start_cdc_trigger",
    "start_sync_cdc_triggers",
    "version_of",
    "watched_with",
]
