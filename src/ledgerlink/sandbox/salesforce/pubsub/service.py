"""``eventbus.v1.PubSub`` served by grpcio: authentication, Subscribe with flow control and keep-alives, GetSchema,
GetTopic. Publish, PublishStream and ManagedSubscribe answer UNIMPLEMENTED (the base servicer's behaviour)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import NoReturn

import grpc

from ledgerlink.formats.pubsub import pubsub_api_pb2 as pb
from ledgerlink.formats.pubsub import pubsub_api_pb2_grpc as pb_grpc

from .core import PubSubCore, ReplayIdInvalid, Topic, encode_replay_id

# Salesforce's error codes travel as the "error-code" trailer; clients match on them.
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_ID_ERROR = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_ERROR = "sfdc.platform.eventbus.grpc.service.topic.not.found"
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
    """How many more events the client has asked for; fed by the request-reading thread."""

    def __init__(self, first: int) -> None:
        self._lock = threading.Lock()
        self.pending = max(first, 0)
        self.closed = False
        self.error: tuple[grpc.StatusCode, str] | None = None

    def add(self, n: int) -> None:
        with self._lock:
            self.pending += max(n, 0)

    def take(self, n: int) -> None:
        with self._lock:
            self.pending -= n


class PubSubService(pb_grpc.PubSubServicer):
    def __init__(self, core: PubSubCore, keepalive_seconds: float = 270.0) -> None:
        self.core = core
        self.keepalive_seconds = keepalive_seconds

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
        wakeup = self.core.wakeup
        threading.Thread(
            target=self._read_requests, args=(request_iterator, topic, flow), name="pubsub-requests", daemon=True
        ).start()

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
            if flow.pending > 0:
                events, position = self.core.next_batch(topic, position, min(flow.pending, 100))
                if events:
                    flow.take(len(events))
                    last_sent = time.monotonic()
                    yield pb.FetchResponse(
                        events=events,
                        latest_replay_id=encode_replay_id(position),
                        rpc_id=rpc_id,
                        pending_num_requested=flow.pending,
                    )
                    continue
            idle = time.monotonic() - last_sent
            if idle >= self.keepalive_seconds:
                # Everything up to `position` was delivered or is not on this topic: a safe point to resume from.
                last_sent = time.monotonic()
                yield pb.FetchResponse(
                    latest_replay_id=self.core.resume_point(position), rpc_id=rpc_id, pending_num_requested=flow.pending
                )
                continue
            wakeup.wait(seen, self.keepalive_seconds - idle)

    def _read_requests(self, requests: Iterator[pb.FetchRequest], topic: Topic, flow: _FlowControl) -> None:
        try:
            for request in requests:
                if request.topic_name and request.topic_name != topic.name:
                    flow.error = (grpc.StatusCode.INVALID_ARGUMENT, "The topic can't change within a subscription.")
                flow.add(request.num_requested)  # replay settings of later requests are ignored, as documented
                self.core.wakeup.poke()
        except Exception:  # cancelled or broken: the response loop must end too
            flow.closed = True
            self.core.wakeup.poke()
        # A client that half-closes its side still gets what it asked for, so a normal end closes nothing.
