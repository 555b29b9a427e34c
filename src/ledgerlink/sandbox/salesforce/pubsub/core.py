"""The org side of the Pub/Sub server, free of gRPC: topics, schemas, replay ids, batches, gaps and wake-ups."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ledgerlink.formats.pubsub import pubsub_api_pb2 as pb

from ..change_topics import topic_entity
from ..errors import ApiError
from ..events import ChangeEvent
from ..managed_subscriptions import ManagedSubscription
from ..org import SalesforceOrg
from ..tooling import subscriptions_of
from .avro_schema import ChangeEventSchema, build_change_event_schema

_PRESETS = {"LATEST": pb.LATEST, "EARLIEST": pb.EARLIEST}
SCAN_SIZE = 500  # events read from the log per query while looking for a topic's events
MAX_BATCH = 100  # events per FetchResponse


def encode_replay_id(replay_id: int) -> bytes:
    """Replay ids go out as 8 opaque bytes (big-endian); clients must not interpret them. Never empty: Salesforce
    always sends one, and salesforce-pubsub-api-client decodes ``latest_replay_id`` without checking."""
    return max(replay_id, 0).to_bytes(8, "big")


def decode_replay_id(raw: bytes) -> int | None:
    return int.from_bytes(raw, "big") if len(raw) == 8 else None


@dataclass(frozen=True)
class Topic:
    name: str
    entity: str | None  # None: every object's change events

    def matches(self, event: ChangeEvent) -> bool:
        return self.entity is None or event.entity_name == self.entity


@dataclass
class _GapRule:
    after: int  # the rule covers the first `count` events (of `entity`) committed after this replay id
    count: int
    overflow: bool
    entity: str | None
    replay_ids: list[int] = field(default_factory=list)


class GapInjector:
    """Turns chosen future events into GAP events, the same for every subscriber (for testing fallbacks)."""

    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self._rules: list[_GapRule] = []
        self._lock = threading.Lock()

    def inject(self, count: int = 1, *, overflow: bool = False, entity: str | None = None) -> None:
        after = self.org.events.latest_replay_id() or 0
        with self._lock:
            self._rules.append(_GapRule(after, count, overflow, entity))

    def kind(self, event: ChangeEvent) -> str | None:
        """``GAP_OVERFLOW``, ``GAP_<type>`` or None for a normal event."""
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            if event.replay_id <= rule.after:
                continue
            if len(rule.replay_ids) < rule.count:  # resolved lazily, once the events exist; then fixed
                candidates = self.org.events.events_after(rule.after, 10_000)
                rule.replay_ids = [
                    e.replay_id for e in candidates if rule.entity is None or e.entity_name == rule.entity
                ][: rule.count]
            if event.replay_id in rule.replay_ids:
                return "GAP_OVERFLOW" if rule.overflow else f"GAP_{event.change_type}"
        return None


class Wakeup:
    """Wakes subscription loops when an event is committed or a client asks for more.

    ``ChangeEventLog.condition`` is notified while the committing thread holds the database lock, so waiting on it
    while also querying the log could deadlock; one pump thread waits on it alone and bumps a generation counter
    here, on a condition no database code touches.
    """

    def __init__(self, latest: Callable[[], int | None], log_condition: threading.Condition) -> None:
        self._latest = latest
        self._log_condition = log_condition
        self._cond = threading.Condition()
        self._generation = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pubsub-wakeup", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        last = self._latest()
        while not self._stopped.is_set():
            with self._log_condition:
                # The timeout bounds the delay of a notification that lands while we query below.
                self._log_condition.wait(0.2)
            latest = self._latest()
            if latest != last:
                last = latest
                self.poke()

    def poke(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        with self._cond:
            if self._generation == seen and timeout > 0:
                self._cond.wait(timeout)

    def stop(self) -> None:
        self._stopped.set()
        self.poke()
        self._thread.join(timeout=2)


class ReplayIdInvalid(Exception):
    """The CUSTOM replay id is malformed, unknown, or older than what the log retains."""


class PubSubCore:
    def __init__(self, org: SalesforceOrg) -> None:
        self.org = org
        self.gaps = GapInjector(org)
        self.wakeup = Wakeup(org.events.latest_replay_id, org.events.condition)
        self._schemas: dict[str, ChangeEventSchema] = {}
        self._lock = threading.Lock()

    # -- topics and schemas ---------------------------------------------------------------------------------
    def topic(self, name: str) -> Topic | None:
        exists, entity = topic_entity(self.org.schema, name)
        return Topic(name, entity) if exists else None

    def schema_for(self, entity: str) -> ChangeEventSchema | None:
        with self._lock:
            cached = self._schemas.get(entity)
            if cached is None:
                obj = self.org.schema.get(entity)
                if obj is None:
                    return None
                cached = self._schemas[entity] = build_change_event_schema(obj)
            return cached

    def schema_by_id(self, schema_id: str) -> ChangeEventSchema | None:
        for obj in self.org.schema.objects.values():
            schema = self.schema_for(obj.name)
            if schema is not None and schema.schema_id == schema_id:
                return schema
        return None

    # -- replay positions -----------------------------------------------------------------------------------
    def start_after(self, preset: int, raw_replay_id: bytes) -> int:
        """The replay id a new subscription starts after (0 = before everything)."""
        log = self.org.events
        if preset == pb.EARLIEST:
            earliest = log.earliest_replay_id()
            return earliest - 1 if earliest is not None else log.last_issued_replay_id()
        if preset != pb.CUSTOM:
            return log.last_issued_replay_id()
        replay_id = decode_replay_id(raw_replay_id)
        log.prune()  # judge retention against now, not against the last automatic prune
        earliest, latest = log.earliest_replay_id(), log.latest_replay_id()
        if replay_id is not None and earliest is None and replay_id == log.last_issued_replay_id():
            return replay_id  # a keep-alive's position while nothing is retained: resuming there loses nothing
        # As Salesforce: the event the id names must still be retained (and must exist).
        if replay_id is None or earliest is None or latest is None or not (earliest <= replay_id <= latest):
            raise ReplayIdInvalid(raw_replay_id.hex())
        return replay_id

    def managed_start_after(self, sub: ManagedSubscription) -> int:
        """Where a managed subscription resumes: after its committed replay id; from ``errorRecoveryReplay`` when
        that id is no longer retained; from ``defaultReplay`` when nothing was committed (Managed Event
        Subscriptions, https://developer.salesforce.com/docs/platform/pub-sub-api/guide/managed-sub.html)."""
        if sub.committed_replay_id is not None:
            try:
                return self.start_after(pb.CUSTOM, encode_replay_id(sub.committed_replay_id))
            except ReplayIdInvalid:
                return self.start_after(_PRESETS[sub.error_recovery_replay], b"")
        return self.start_after(_PRESETS[sub.default_replay], b"")

    def commit(self, sub: ManagedSubscription, request: pb.CommitReplayRequest) -> pb.CommitReplayResponse:
        """Store a committed replay id; one the log never issued is refused in the response's ``error``."""
        now_ms = int(time.time() * 1000)
        replay_id = decode_replay_id(request.replay_id)
        latest = self.org.events.latest_replay_id() or 0
        if replay_id is None or replay_id > latest:
            return pb.CommitReplayResponse(
                commit_request_id=request.commit_request_id,
                replay_id=request.replay_id,
                error=pb.Error(code=pb.COMMIT, msg="The replay ID to commit is invalid."),
                process_time=now_ms,
            )
        try:
            subscriptions_of(self.org).commit(sub.id, replay_id)
        except ApiError:  # deleted through the Tooling API while the stream was open
            return pb.CommitReplayResponse(
                commit_request_id=request.commit_request_id,
                replay_id=request.replay_id,
                error=pb.Error(code=pb.COMMIT, msg="The managed subscription no longer exists."),
                process_time=now_ms,
            )
        return pb.CommitReplayResponse(
            commit_request_id=request.commit_request_id, replay_id=request.replay_id, process_time=now_ms
        )

    def resume_point(self, position: int) -> bytes:
        """``position`` as the replay id a keep-alive carries: every event up to it was delivered or is not on the
        topic, so a client may resume after it (CUSTOM)."""
        return encode_replay_id(position)

    # -- delivery -------------------------------------------------------------------------------------------
    def next_batch(self, topic: Topic, after: int, limit: int) -> tuple[list[pb.ConsumerEvent], int]:
        """Up to ``limit`` of the topic's events after ``after``, and the new position (last event looked at)."""
        out: list[pb.ConsumerEvent] = []
        position = after
        while len(out) < limit:
            scanned = self.org.events.events_after(position, SCAN_SIZE)
            for event in scanned:
                position = event.replay_id
                if topic.matches(event):
                    out.append(self.consumer_event(event))
                    if len(out) == limit:
                        break
            if len(scanned) < SCAN_SIZE:
                break
        return out, position

    def consumer_event(self, event: ChangeEvent) -> pb.ConsumerEvent:
        schema = self.schema_for(event.entity_name)
        assert schema is not None, f"no schema for {event.entity_name}"
        gap = self.gaps.kind(event)
        header = event.header()
        values = event.fields
        if gap is not None:
            # A gap event says only that something happened: no values, no field lists (and for an overflow,
            # not even which records).
            header.update(changeType=gap, changedFields=[], nulledFields=[], diffFields=[])
            if gap == "GAP_OVERFLOW":
                header["recordIds"] = []
            values = {}
        else:
            header["changedFields"] = schema.bitmap(event.changed_fields)
            header["nulledFields"] = schema.bitmap(event.nulled_fields)
            header["diffFields"] = schema.bitmap(event.diff_fields)
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.org.config.org_id}/{event.replay_id}")
        return pb.ConsumerEvent(
            event=pb.ProducerEvent(id=str(event_id), schema_id=schema.schema_id, payload=schema.encode(header, values)),
            replay_id=encode_replay_id(event.replay_id),
        )

    def close(self) -> None:
        self.wakeup.stop()
