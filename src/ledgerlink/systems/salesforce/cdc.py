"""Change Data Capture over Salesforce's Pub/Sub API (gRPC): a subscriber that loses nothing.

``PubSubSubscriber.run_batches(handler, fallback, stop)`` subscribes to one topic and hands the decoded
``ChangeEvent``s to ``handler`` a batch at a time: one batch is the responses that had arrived by the time the last
batch was handled (so one event when events are rare, more the further the handler falls behind); ``run`` hands
them one at a time. The replay id is saved as the watermark ``cdc:<topic>`` only *after* the handler returned, so a
crash replays at most the batch in hand (handlers must be idempotent). It resumes with CUSTOM from the watermark,
reconnects with exponential backoff on stream errors, renews the session on UNAUTHENTICATED, and calls
``fallback(reason)`` — an incremental re-read by other means — when events may have been missed:

- a GAP_* or GAP_OVERFLOW event (reason ``"gap"``), after which the stream simply continues;
- no watermark yet (``"start"``) or a watermark Salesforce no longer retains (``"replay_id_expired"``): the fallback
  runs first and the subscription then starts at EARLIEST, so changes made while the fallback ran are still
  delivered (some twice, which idempotent handlers absorb).

Flow control: ``batch_size`` events are requested at first and topped up when half are consumed. A keep-alive's
``latest_replay_id`` is saved only while events are outstanding (then the server had nothing more for us).

Liveness: each batch of responses handled (events, or a keep-alive, which Salesforce sends within 270 s on a quiet
stream) is a successful check, reported to ``checked(watermark)`` (``Ledger.trigger_checked``, which writes it at
most once a minute): the replay id stands still while nothing changes, so the stalled-trigger alerts read this. A
stream that cannot connect, or a handler that fails, reports nothing.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from ledgerlink.formats.pubsub import pubsub_api_pb2 as pb
from ledgerlink.formats.pubsub import pubsub_api_pb2_grpc as pb_grpc
from ledgerlink.store.watermarks import WatermarkStore
from ledgerlink.systems.http import make_client
from ledgerlink.systems.salesforce.auth import OAuthFlow
from ledgerlink.systems.salesforce.cdc_events import ChangeEvent, EventSchema, is_own_change, to_change_event

log = logging.getLogger(__name__)

REPLAY_ID_ERROR = "replayid"  # in Salesforce's error-code trailer (…subscription.fetch.replayid.corrupted)
REAL_PUBSUB_ADDRESS = "api.pubsub.salesforce.com:7443"

__all__ = [
    "ChangeEvent",
    "PubSubSession",
    "PubSubSettings",
    "PubSubSubscriber",
    "is_own_change",
    "oauth_session",
    "watermark_name",
]


@dataclass(frozen=True)
class PubSubSession:
    """The call metadata Salesforce wants on every Pub/Sub API call."""

    access_token: str
    instance_url: str
    tenant_id: str  # the org id

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("accesstoken", self.access_token), ("instanceurl", self.instance_url), ("tenantid", self.tenant_id))


SessionProvider = Callable[[bool], PubSubSession]  # argument: True = the last session was refused, get a new one


def oauth_session(
    flow: OAuthFlow, login_url: str, *, verify: bool | str = True, tenant_id: str | None = None
) -> SessionProvider:
    """Sessions from an OAuth flow (the same the REST connector uses); cached until refused."""
    cached: list[PubSubSession] = []
    lock = threading.Lock()

    def provide(refresh: bool) -> PubSubSession:
        with lock:
            if refresh or not cached:
                with make_client(login_url, verify=verify) as client:
                    token = flow.fetch_token(client)
                # Access tokens start with the org id ("00D…!…"); the tenant id is that org id.
                tenant = tenant_id or token.access_token.partition("!")[0]
                cached[:] = [PubSubSession(token.access_token, token.instance_url, tenant)]
            return cached[0]

    return provide


def watermark_name(topic: str) -> str:
    return f"cdc:{topic}"


@dataclass
class PubSubSettings:
    address: str  # host:port of the Pub/Sub API (REAL_PUBSUB_ADDRESS for Salesforce itself)
    topic: str  # e.g. /data/OpportunityChangeEvent
    tls: bool | None = None  # None: plaintext on loopback (the sandbox), TLS elsewhere
    ca_file: str | None = None  # trust this CA instead of the system's (the sandbox with --tls)
    batch_size: int = 100
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    watermark: str | None = None  # defaults to cdc:<topic>
    # After a fallback re-read, retained events committed more than this long before it began are skipped: the
    # re-read covered them. Must exceed the re-read's own lag (it reads up to now − lag).
    catch_up_margin_seconds: float = 30.0

    @property
    def watermark_key(self) -> str:
        return self.watermark or watermark_name(self.topic)

    def use_tls(self) -> bool:
        if self.tls is not None:
            return self.tls
        host = self.address.rsplit(":", 1)[0].strip("[]")
        return host not in ("127.0.0.1", "localhost", "::1")


class _Requests:
    """The client half of the Subscribe stream: FetchRequests queued by the consumer."""

    def __init__(self, first: pb.FetchRequest) -> None:
        self._queue: queue.Queue[pb.FetchRequest | None] = queue.Queue()
        self._queue.put(first)

    def __iter__(self) -> Iterator[pb.FetchRequest]:
        while (request := self._queue.get()) is not None:
            yield request

    def more(self, n: int) -> None:
        self._queue.put(pb.FetchRequest(num_requested=n))

    def close(self) -> None:
        self._queue.put(None)


class PubSubSubscriber:
    def __init__(
        self,
        settings: PubSubSettings,
        sessions: SessionProvider,
        watermarks: WatermarkStore,
        checked: Callable[[str], object] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.watermarks = watermarks
        self.checked = checked  # called with the watermark's name after each batch of responses handled
        self._schemas: dict[str, EventSchema] = {}
        self._channel = self._open_channel()
        self._stub = pb_grpc.PubSubStub(self._channel)
        self._call: grpc.Future | None = None
        self._call_lock = threading.Lock()
        self.connects = 0  # streams opened, for tests and metrics

    def _open_channel(self) -> grpc.Channel:
        if not self.settings.use_tls():
            return grpc.insecure_channel(self.settings.address)
        roots = open(self.settings.ca_file, "rb").read() if self.settings.ca_file else None  # noqa: SIM115
        return grpc.secure_channel(self.settings.address, grpc.ssl_channel_credentials(root_certificates=roots))

    def close(self) -> None:
        self.cancel()
        self._channel.close()

    def cancel(self) -> None:
        """End the current stream (``run`` then sees its stop event, or reconnects if it is not set)."""
        with self._call_lock:
            if self._call is not None:
                self._call.cancel()

    # -- unary calls ----------------------------------------------------------------------------------------
    def schema(self, schema_id: str) -> EventSchema:
        """The event schema, fetched once per schema id (ids are fingerprints: a changed schema has a new id)."""
        cached = self._schemas.get(schema_id)
        if cached is None:
            info = self._unary(self._stub.GetSchema, pb.SchemaRequest(schema_id=schema_id))
            assert isinstance(info, pb.SchemaInfo)
            cached = self._schemas[schema_id] = EventSchema.from_json(schema_id, json.loads(info.schema_json))
        return cached

    def topic_info(self) -> pb.TopicInfo:
        info = self._unary(self._stub.GetTopic, pb.TopicRequest(topic_name=self.settings.topic))
        assert isinstance(info, pb.TopicInfo)
        return info

    def _unary(self, method: Callable[..., object], request: object) -> object:
        try:
            return method(request, metadata=self.sessions(False).metadata(), timeout=30)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
            return method(request, metadata=self.sessions(True).metadata(), timeout=30)

    # -- the subscription -----------------------------------------------------------------------------------
    def stream(self, preset: pb.ReplayPreset, replay_id: bytes = b"") -> Iterator[pb.FetchResponse]:
        """One raw Subscribe stream (no reconnects, no watermark) requesting ``batch_size`` events at a time."""
        batch = self.settings.batch_size
        requests = _Requests(
            pb.FetchRequest(
                topic_name=self.settings.topic, replay_preset=preset, replay_id=replay_id, num_requested=batch
            )
        )
        call = self._stub.Subscribe(iter(requests), metadata=self.sessions(False).metadata())
        with self._call_lock:
            self._call = call
        outstanding = batch
        try:
            for response in call:
                outstanding -= len(response.events)
                if outstanding <= batch // 2:
                    requests.more(batch - outstanding)
                    outstanding = batch
                yield response
        finally:
            requests.close()
            call.cancel()

    def deliveries(self, preset: pb.ReplayPreset, replay_id: bytes = b"") -> Iterator[list[pb.FetchResponse]]:
        """``stream``'s responses in groups: the first waits; the rest are those that had already arrived (read
        ahead by a thread, at most ``batch_size`` responses), so a consumer that falls behind catches up in
        bigger batches instead of one event at a time."""
        inbox: queue.Queue[pb.FetchResponse | BaseException | None] = queue.Queue(maxsize=self.settings.batch_size)
        closed = threading.Event()

        def read() -> None:
            item: pb.FetchResponse | BaseException | None
            try:
                for item in self.stream(preset, replay_id):
                    if not _put(inbox, item, closed):
                        return
                item = None
            except BaseException as exc:  # handed to the consumer, which raises it in its own thread
                item = exc
            _put(inbox, item, closed)

        threading.Thread(target=read, name=f"pubsub-read:{self.settings.topic}", daemon=True).start()
        try:
            while True:
                group: list[pb.FetchResponse] = []
                item = inbox.get()
                while isinstance(item, pb.FetchResponse):
                    group.append(item)
                    if len(group) >= self.settings.batch_size or inbox.empty():
                        break
                    item = inbox.get_nowait()
                if group:
                    yield group
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
        finally:
            closed.set()
            self.cancel()

    def decode(self, event: pb.ConsumerEvent) -> ChangeEvent:
        schema = self.schema(event.event.schema_id)
        return to_change_event(schema, event.event.payload, event.replay_id, self.settings.topic)

    def run(
        self,
        handler: Callable[[ChangeEvent], None],
        fallback: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        """Deliver events one at a time to ``handler`` until ``stop`` is set (then call ``cancel()`` to end a
        waiting stream)."""

        def each(events: list[ChangeEvent]) -> None:
            for event in events:
                handler(event)

        self.run_batches(each, fallback, stop)

    def run_batches(
        self,
        handler: Callable[[list[ChangeEvent]], None],
        fallback: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        """Deliver events to ``handler`` in batches (never empty) until ``stop`` is set."""
        key = self.settings.watermark_key
        delay = self.settings.backoff_initial_seconds
        covered_before_ms = 0  # events older than this were covered by the last fallback re-read

        def catch_up(reason: str) -> None:
            nonlocal covered_before_ms
            started_ms = int(time.time() * 1000)
            fallback(reason)
            covered_before_ms = started_ms - int(self.settings.catch_up_margin_seconds * 1000)

        if not self.watermarks.get_watermark(key):
            catch_up("start")  # nothing to resume from: re-read, then take what is retained and newer
        while not stop.is_set():
            saved = self.watermarks.get_watermark(key)
            preset, replay_id = (pb.CUSTOM, bytes.fromhex(saved)) if saved else (pb.EARLIEST, b"")
            self.connects += 1
            try:
                for responses in self.deliveries(preset, replay_id):
                    delay = self.settings.backoff_initial_seconds  # a working stream resets the backoff
                    batch: list[ChangeEvent] = []
                    last_replay_id = b""
                    for response in responses:
                        for consumer_event in response.events:
                            event = self.decode(consumer_event)
                            if event.is_gap:
                                if batch:
                                    handler(batch)
                                    batch = []
                                catch_up("gap")
                            elif event.commit_timestamp >= covered_before_ms:
                                batch.append(event)
                            last_replay_id = consumer_event.replay_id
                        if not response.events and response.pending_num_requested > 0 and response.latest_replay_id:
                            last_replay_id = response.latest_replay_id
                    if batch:
                        handler(batch)
                    if last_replay_id:
                        self.watermarks.set_watermark(key, last_replay_id.hex())
                    if self.checked is not None:
                        self.checked(key)  # the stream is alive and what it brought is handed on
                    if stop.is_set():
                        return
            except grpc.RpcError as err:
                if stop.is_set():
                    return
                code = err.code()
                if code == grpc.StatusCode.INVALID_ARGUMENT and _is_replay_error(err):
                    log.warning("CDC %s: replay id %s is no longer retained; re-reading", self.settings.topic, saved)
                    catch_up("replay_id_expired")
                    self.watermarks.set_watermark(key, "")  # then EARLIEST: what changed during the re-read
                    continue
                if code == grpc.StatusCode.UNAUTHENTICATED:
                    self.sessions(True)
                    if stop.wait(delay):
                        return
                    delay = min(delay * 2, self.settings.backoff_max_seconds)
                    continue
                log.warning("CDC %s: stream failed (%s); reconnecting in %.1f s", self.settings.topic, code, delay)
            if stop.wait(delay):
                return
            delay = min(delay * 2, self.settings.backoff_max_seconds)


def _put(
    inbox: queue.Queue[pb.FetchResponse | BaseException | None],
    item: pb.FetchResponse | BaseException | None,
    closed: threading.Event,
) -> bool:
    """Put unless the consumer has gone (then False): a full inbox must not hold the reader forever."""
    while not closed.is_set():
        try:
            inbox.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _is_replay_error(err: grpc.RpcError) -> bool:
    trailers = dict(err.trailing_metadata() or ())
    details = str(err.details() or "")
    return REPLAY_ID_ERROR in str(trailers.get("error-code", "")) or "replay id" in details.lower()
