"""``eventbus.v1.PubSub`` served by grpcio: authentication, Subscribe and ManagedSubscribe with flow control,
keep-alives and the idle close, GetSchema, GetTopic. Publish and PublishStream answer UNIMPLEMENTED (the base
servicer's behaviour)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc

from ledgerlink.formats.pubsub import pubsub_api_pb2 as pb
from ledgerlink.formats.pubsub import pubsub_api_pb2_grpc as pb_grpc

from ..tooling import subscriptions_of
from .core import PubSubCore, ReplayIdInvalid, Topic, encode_replay_id

# Salesforce's error codes travel as the "error-code" trailer; clients match on them.
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_ID_ERROR = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_ERROR = "sfdc.platform.eventbus.grpc.service.topic.not.found"
MANAGED_ERROR = "sfdc.platform.eventbus.grpc.subscription.managed.invalid"  # not published: our own name
REPLAY_ID_MESSAGE = (
    "The Replay ID validation failed. Ensure that the replay_id field value in FetchRequest is valid "
    "and refers to an event that is within the retention window."
)


def _rpc_id() -> str:
    return str(uuid.uuid4())


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, error_code: str, message: str) -> NoReturn:
    rpc_id = _rpc_id()
    context.set_trailing_metadata((("error-code", error_code), ("rpc-id", rpc_id)))
    context.abort(code, f"{message} rpcId: {rpc_id}")
    raise AssertionError("unreachable")  # abort raises


class _FlowControl:
    """How many more events the client has asked for, and commit answers to send; fed by the request-reading
    thread."""

    def __init__(self, first: int) -> None:
        self._lock = threading.Lock()
        self.pending = max(first, 0)
        self.closed = False
        self.error: tuple[grpc.StatusCode, str] | None = None
        self._commits: list[pb.CommitReplayResponse] = []

    def add(self, n: int) -> None:
        with self._lock:
            self.pending += max(n, 0)

    def take(self, n: int) -> None:
        with self._lock:
            self.pending -= n

    def answer(self, commit: pb.CommitReplayResponse) -> None:
        with self._lock:
            self._commits.append(commit)

    def answers(self) -> list[pb.CommitReplayResponse]:
        with self._lock:
            commits, self._commits = self._commits, []
        return commits


class PubSubService(pb_grpc.PubSubServicer):
    def __init__(self, core: PubSubCore, keepalive_seconds: float = 270.0, idle_close_seconds: float = 60.0) -> None:
        self.core = core
        self.keepalive_seconds = keepalive_seconds
        self.idle_close_seconds = idle_close_seconds

    # -- authentication -------------------------------------------------------------------------------------
    def _authenticate(self, context: grpc.ServicerContext) -> None:
        metadata = {key.lower(): value for key, value in context.invocation_metadata()}
        token = str(metadata.get("accesstoken", ""))
        tenant = str(metadata.get("tenantid", ""))
        org_id = self.core.org.config.org_id
        if not token or not metadata.get("instanceurl") or tenant[:15] != org_id[:15]:
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, "Missing or invalid authentication metadata.")
        if self.core.org.tokens.validate(token) is None:
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, "The session is invalid or has expired.")

    def _topic(self, context: grpc.ServicerContext, name: str) -> Topic:
        topic = self.core.topic(name)
        if topic is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, TOPIC_ERROR, f"Topic {name!r} not found or not subscribable.")
        return topic

    # -- unary RPCs -----------------------------------------------------------------------------------------
    def GetTopic(self, request: pb.TopicRequest, context: grpc.ServicerContext) -> pb.TopicInfo:
        self._authenticate(context)
        topic = self._topic(context, request.topic_name)
        schema = self.core.schema_for(topic.entity) if topic.entity else None
        return pb.TopicInfo(
            topic_name=topic.name,
            tenant_guid=self.core.org.config.org_id,
            can_publish=False,  # change events are published by the org itself
            can_subscribe=True,
            schema_id=schema.schema_id if schema else "",
            rpc_id=_rpc_id(),
        )

    def GetSchema(self, request: pb.SchemaRequest, context: grpc.ServicerContext) -> pb.SchemaInfo:
        self._authenticate(context)
        schema = self.core.schema_by_id(request.schema_id)
        if schema is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, TOPIC_ERROR, f"Schema {request.schema_id!r} not found.")
        return pb.SchemaInfo(schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=_rpc_id())

    # -- Subscribe ------------------------------------------------------------------------------------------
    def Subscribe(
        self, request_iterator: Iterator[pb.FetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.FetchResponse]:
        self._authenticate(context)
        first = next(request_iterator, None)
        if first is None:
            return
        topic = self._topic(context, first.topic_name)
        try:
            position = self.core.start_after(first.replay_preset, first.replay_id)
        except ReplayIdInvalid:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ID_ERROR, REPLAY_ID_MESSAGE)
        flow = _FlowControl(first.num_requested)

        def read() -> None:
            for request in _requests(request_iterator, flow):
                if request.topic_name and request.topic_name != topic.name:
                    flow.error = (grpc.StatusCode.INVALID_ARGUMENT, "The topic can't change within a subscription.")
                flow.add(request.num_requested)  # replay settings of later requests are ignored, as documented
                self.core.wakeup.poke()
            self.core.wakeup.poke()  # the client went away (or half-closed): let the response loop look

        yield from self._deliver(context, topic, position, flow, read, pb.FetchResponse)

    # -- ManagedSubscribe (beta) ----------------------------------------------------------------------------
    def ManagedSubscribe(
        self, request_iterator: Iterator[pb.ManagedFetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ManagedFetchResponse]:
        """Subscribe through a ManagedEventSubscription (Tooling API record, by id or developer name): it resumes
        after the replay id the client last committed with a CommitReplayRequest, answered in a
        ManagedFetchResponse's ``commit_response`` (ManagedSubscribe RPC Method,
        https://developer.salesforce.com/docs/platform/pub-sub-api/references/methods/managedsubscribe-rpc.html).
        Salesforce publishes no error codes for an unknown or stopped subscription; these answer NOT_FOUND and
        FAILED_PRECONDITION."""
        self._authenticate(context)
        first = next(request_iterator, None)
        if first is None:
            return
        store = subscriptions_of(self.core.org)
        sub = store.get(first.subscription_id or first.developer_name)
        if sub is None:
            name = first.subscription_id or first.developer_name
            _abort(context, grpc.StatusCode.NOT_FOUND, MANAGED_ERROR, f"Managed subscription {name!r} not found.")
        if sub.state != "RUN":
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                MANAGED_ERROR,
                f"Managed subscription {sub.developer_name} is in the {sub.state} state.",
            )
        topic = self._topic(context, sub.topic_name)
        position = self.core.managed_start_after(sub)
        flow = _FlowControl(first.num_requested)
        core = self.core

        def read() -> None:
            for request in _requests(itertools.chain([first], request_iterator), flow):
                named = request.subscription_id or request.developer_name
                if named and getattr(store.get(named), "id", None) != sub.id:
                    flow.error = (grpc.StatusCode.INVALID_ARGUMENT, "The subscription can't change within a stream.")
                if request.HasField("commit_replay_id_request"):
                    flow.answer(core.commit(sub, request.commit_replay_id_request))
                if request is not first:
                    flow.add(request.num_requested)
                core.wakeup.poke()
            core.wakeup.poke()

        yield from self._deliver(context, topic, position, flow, read, pb.ManagedFetchResponse)

    # -- delivery, shared by both ---------------------------------------------------------------------------
    def _deliver(
        self,
        context: grpc.ServicerContext,
        topic: Topic,
        position: int,
        flow: _FlowControl,
        read_requests: Callable[[], None],
        response_type: Any,
    ) -> Iterator[Any]:
        """Events as they are committed, never more than requested; keep-alives and the idle close as documented
        (Subscribe RPC Method, https://developer.salesforce.com/docs/platform/pub-sub-api/references/methods/subscribe-rpc.html):
        with requested events still pending and none to send, an empty response within ``keepalive_seconds``
        (270 s); with none pending, the stream stays open ``idle_close_seconds`` (60 s) after the last response
        for the client to ask for more, then closes."""
        wakeup = self.core.wakeup
        threading.Thread(target=read_requests, name="pubsub-requests", daemon=True).start()

        def closed() -> None:
            flow.closed = True
            wakeup.poke()

        context.add_callback(closed)
        rpc_id = _rpc_id()
        last_sent = time.monotonic()
        while context.is_active() and not flow.closed:
            if flow.error is not None:
                code, message = flow.error
                _abort(context, code, "sfdc.platform.eventbus.grpc.subscription.fetch.invalid.request", message)
            seen = wakeup.generation()
            for commit in flow.answers():
                last_sent = time.monotonic()
                yield response_type(
                    commit_response=commit,
                    latest_replay_id=self.core.resume_point(position),
                    rpc_id=rpc_id,
                    pending_num_requested=flow.pending,
                )
            if flow.pending > 0:
                events, position = self.core.next_batch(topic, position, min(flow.pending, 100))
                if events:
                    flow.take(len(events))
                    last_sent = time.monotonic()
                    yield response_type(
                        events=events,
                        latest_replay_id=encode_replay_id(position),
                        rpc_id=rpc_id,
                        pending_num_requested=flow.pending,
                    )
                    continue
            idle = time.monotonic() - last_sent
            if flow.pending <= 0:
                if idle >= self.idle_close_seconds:
                    return  # nothing asked for within the window: the server ends the stream
                wakeup.wait(seen, self.idle_close_seconds - idle)
                continue
            if idle >= self.keepalive_seconds:
                # Everything up to `position` was delivered or is not on this topic: a safe point to resume from.
                last_sent = time.monotonic()
                yield response_type(
                    latest_replay_id=self.core.resume_point(position), rpc_id=rpc_id, pending_num_requested=flow.pending
                )
                continue
            wakeup.wait(seen, self.keepalive_seconds - idle)


def _requests(requests: Iterator[Any], flow: _FlowControl) -> Iterator[Any]:
    """The client's requests until it cancels or breaks the stream, which ends the response loop too. A client that
    half-closes its side still gets what it asked for, so a normal end closes nothing."""
    try:
        yield from requests
    except Exception:
        flow.closed = True
