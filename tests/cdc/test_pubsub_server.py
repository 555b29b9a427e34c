"""The sandbox's Pub/Sub API seen through raw gRPC: events, headers, bitmaps, presets, flow control, auth."""

from __future__ import annotations

import io
import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import fastavro
import grpc
import pytest

from ledgerlink.formats.pubsub import pubsub_api_pb2 as pb
from ledgerlink.formats.pubsub import pubsub_api_pb2_grpc as pb_grpc
from ledgerlink.sandbox.salesforce.pubsub import serve_pubsub
from ledgerlink.sandbox.salesforce.tooling import subscriptions_of
from ledgerlink.systems.salesforce.cdc_bitmap import decode_bitmap

from .conftest import KEEPALIVE_SECONDS, CdcEnv


class RawStream:
    """A Subscribe call whose requests the test sends one by one."""

    def __init__(self, env: CdcEnv, first: pb.FetchRequest, metadata: tuple[tuple[str, str], ...] | None = None):
        self.channel = grpc.insecure_channel(env.pubsub.address)
        self.stub = pb_grpc.PubSubStub(self.channel)
        self.requests: queue.Queue[pb.FetchRequest | None] = queue.Queue()
        self.requests.put(first)
        self.call = self.stub.Subscribe(self._iter(), metadata=metadata or env.session().metadata())
        self.responses = iter(self.call)

    def _iter(self) -> Iterator[pb.FetchRequest]:
        while (request := self.requests.get()) is not None:
            yield request

    def next(self) -> pb.FetchResponse:
        return next(self.responses)

    def events_until_keepalive(self) -> list[pb.ConsumerEvent]:
        events: list[pb.ConsumerEvent] = []
        while (response := self.next()).events:
            events.extend(response.events)
        return events

    def events(self, count: int) -> list[pb.ConsumerEvent]:
        events: list[pb.ConsumerEvent] = []
        while len(events) < count:
            events.extend(self.next().events)
        return events

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.channel.close()


def _request(topic: str = "/data/OpportunityChangeEvent", **kw: object) -> pb.FetchRequest:
    return pb.FetchRequest(topic_name=topic, **kw)  # type: ignore[arg-type]


def test_rest_update_arrives_as_avro_event_with_header_and_bitmaps(cdc_env: CdcEnv) -> None:
    opp = cdc_env.make_opportunity()
    cdc_env.user.update("Opportunity", opp, {"StageName": "Closed Won", "Amount": 1250, "Description": None})
    stream = RawStream(cdc_env, _request(replay_preset=pb.EARLIEST, num_requested=10))
    try:
        events = stream.events_until_keepalive()
        assert len(events) == 2  # CREATE, UPDATE
        update = events[1]
        schema_info = stream.stub.GetSchema(
            pb.SchemaRequest(schema_id=update.event.schema_id), metadata=cdc_env.session().metadata()
        )
    finally:
        stream.close()
    schema = json.loads(schema_info.schema_json)
    assert schema["name"] == "OpportunityChangeEvent"
    assert schema["fields"][0]["name"] == "ChangeEventHeader"
    # A bare Avro datum: no container magic, readable with the schema alone.
    assert not update.event.payload.startswith(b"Obj\x01")
    record = fastavro.schemaless_reader(io.BytesIO(update.event.payload), fastavro.parse_schema(schema), None)
    assert isinstance(record, dict)
    header = record["ChangeEventHeader"]
    assert header["entityName"] == "Opportunity"
    assert header["changeType"] == "UPDATE"
    assert header["recordIds"] == [opp]
    assert header["changeOrigin"].endswith(";client=test-user")
    assert len(header["changedFields"]) == 1 and header["changedFields"][0].startswith("0x")
    # Salesforce's published decoding: hex → bits, reversed, index = Avro field position.
    bits = bin(int(header["changedFields"][0], 16))[2:][::-1]
    by_position = {schema["fields"][i]["name"] for i, bit in enumerate(bits) if bit == "1"}
    assert by_position == {"StageName", "Amount", "IsWon", "IsClosed", "LastModifiedDate"}
    assert set(decode_bitmap(header["changedFields"], schema)) == by_position
    assert header["nulledFields"] == []  # Description was already empty: not a change
    assert record["StageName"] == "Closed Won" and record["Amount"] == 1250.0
    assert record["Name"] is None  # unchanged fields are null
    assert int.from_bytes(update.replay_id, "big") == cdc_env.org.events.latest_replay_id()


def test_latest_starts_at_the_tip_and_earliest_replays_what_is_retained(cdc_env: CdcEnv) -> None:
    first = cdc_env.make_opportunity("Before")
    latest = RawStream(cdc_env, _request(replay_preset=pb.LATEST, num_requested=10))
    earliest = RawStream(cdc_env, _request(replay_preset=pb.EARLIEST, num_requested=10))
    try:
        assert latest.next().events == []  # a keep-alive: the subscription is in place
        second = cdc_env.make_opportunity("After")
        seen_latest = latest.events_until_keepalive()
        seen_earliest = earliest.events(2)
        assert earliest.events_until_keepalive() == []
    finally:
        latest.close()
        earliest.close()
    assert [_record_id(cdc_env, e) for e in seen_latest] == [second]
    assert [_record_id(cdc_env, e) for e in seen_earliest] == [first, second]


def _record_id(env: CdcEnv, event: pb.ConsumerEvent) -> str:
    sub = env.subscribers[0] if env.subscribers else env.subscriber()
    return sub.decode(event).record_ids[0]


def test_num_requested_limits_what_is_sent_until_more_is_asked(cdc_env: CdcEnv) -> None:
    for n in range(5):
        cdc_env.make_opportunity(f"Deal {n}")
    stream = RawStream(cdc_env, _request(replay_preset=pb.EARLIEST, num_requested=2))
    try:
        first = stream.next()
        assert (len(first.events), first.pending_num_requested) == (2, 0)
        got = list(first.events)
        # Nothing pending: no keep-alive and no event until the client asks for more.
        stream.requests.put(pb.FetchRequest(num_requested=2))
        more = stream.events(2)
        assert len(more) == 2
        stream.requests.put(pb.FetchRequest(num_requested=10, replay_preset=pb.LATEST))  # replay settings ignored
        rest = stream.events_until_keepalive()
    finally:
        stream.close()
    replay_ids = [int.from_bytes(e.replay_id, "big") for e in [*got, *more, *rest]]
    assert len(replay_ids) == 5 and replay_ids == sorted(set(replay_ids))


def test_keepalive_comes_within_the_interval_with_the_latest_replay_id(cdc_env: CdcEnv) -> None:
    cdc_env.make_opportunity()
    stream = RawStream(cdc_env, _request(replay_preset=pb.LATEST, num_requested=5))
    try:
        response = stream.next()
    finally:
        stream.close()
    assert response.events == [] and response.pending_num_requested == 5
    assert int.from_bytes(response.latest_replay_id, "big") == cdc_env.org.events.latest_replay_id()
    assert cdc_env.pubsub.core is not None and KEEPALIVE_SECONDS < 1


def test_a_stream_with_nothing_requested_closes_after_the_idle_window(cdc_env: CdcEnv) -> None:
    """Subscribe RPC Method, "Subscribe Keepalive Behavior": with no events pending, the client must send a new
    FetchRequest within 60 seconds of the last FetchResponse or the stream closes; no keep-alive comes meanwhile."""
    idle = serve_pubsub(cdc_env.org, keepalive_seconds=KEEPALIVE_SECONDS, idle_close_seconds=0.6)
    cdc_env.make_opportunity()
    channel = grpc.insecure_channel(idle.address)
    try:
        stub = pb_grpc.PubSubStub(channel)
        requests = iter([_request(replay_preset=pb.EARLIEST, num_requested=1)])
        started = time.monotonic()
        responses = list(stub.Subscribe(requests, metadata=cdc_env.session().metadata()))
        elapsed = time.monotonic() - started
    finally:
        channel.close()
        idle.stop()
    assert [len(r.events) for r in responses] == [1]  # the event, then no keep-alive: the stream just ends
    assert 0.6 <= elapsed < 5


@pytest.mark.parametrize("problem", ["bad token", "expired token", "wrong tenant", "no metadata"])
def test_bad_credentials_are_unauthenticated(cdc_env: CdcEnv, problem: str) -> None:
    session = cdc_env.session()
    metadata = session.metadata()
    if problem == "bad token":
        metadata = (("accesstoken", "00D5g0000000001!forged"), metadata[1], metadata[2])
    elif problem == "expired token":
        cdc_env.org.tokens.expire_all_access_tokens()
    elif problem == "wrong tenant":
        metadata = (metadata[0], metadata[1], ("tenantid", "00D000000000000AAA"))
    else:
        metadata = ()
    channel = grpc.insecure_channel(cdc_env.pubsub.address)
    stub = pb_grpc.PubSubStub(channel)
    try:
        with pytest.raises(grpc.RpcError) as unary:
            stub.GetTopic(pb.TopicRequest(topic_name="/data/OpportunityChangeEvent"), metadata=metadata)
        assert unary.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as streaming:
            next(iter(stub.Subscribe(iter([_request(num_requested=1)]), metadata=metadata)))
        assert streaming.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()


def test_topics_and_schemas(cdc_env: CdcEnv) -> None:
    sub = cdc_env.subscriber("/data/AccountChangeEvent")
    info = sub.topic_info()
    assert info.can_subscribe and not info.can_publish and info.tenant_guid == cdc_env.org.config.org_id
    assert sub.schema(info.schema_id).schema["name"] == "AccountChangeEvent"
    everything = cdc_env.subscriber("/data/ChangeEvents")
    account = cdc_env.user.create("Account", {"Name": "Acme"})
    opp = cdc_env.make_opportunity(AccountId=account)
    events = [everything.decode(e) for r in _take(everything, 2) for e in r.events]
    assert [(e.entity, e.record_ids[0]) for e in events] == [("Account", account), ("Opportunity", opp)]
    with pytest.raises(grpc.RpcError) as missing:
        cdc_env.subscriber("/data/NoSuchChangeEvent").topic_info()
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def _take(sub: object, count: int) -> list[pb.FetchResponse]:
    from ledgerlink.systems.salesforce.cdc import PubSubSubscriber

    assert isinstance(sub, PubSubSubscriber)
    out: list[pb.FetchResponse] = []
    got = 0
    for response in sub.stream(pb.EARLIEST):
        out.append(response)
        got += len(response.events)
        if got >= count:
            break
    return out


def test_expired_or_unknown_replay_id_is_refused_like_salesforce(cdc_env: CdcEnv) -> None:
    cdc_env.make_opportunity()
    old = cdc_env.org.events.latest_replay_id()
    assert old is not None
    cdc_env.org.events.prune(now_ms=2**62)  # 72 h later: everything is gone
    cdc_env.make_opportunity()
    for replay_id in (old.to_bytes(8, "big"), (old + 1000).to_bytes(8, "big"), b"\x01\x02"):
        stream = RawStream(cdc_env, _request(replay_preset=pb.CUSTOM, replay_id=replay_id, num_requested=1))
        try:
            with pytest.raises(grpc.RpcError) as refused:
                stream.next()
        finally:
            stream.close()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Replay ID validation failed" in str(refused.value.details())
        trailers = dict(refused.value.trailing_metadata() or ())
        assert trailers["error-code"].endswith("replayid.corrupted")


def _commit(request_id: str, replay_id: bytes) -> pb.ManagedFetchRequest:
    commit = pb.CommitReplayRequest(commit_request_id=request_id, replay_id=replay_id)
    return pb.ManagedFetchRequest(commit_replay_id_request=commit)


def test_managed_subscription_commits_and_recovers_from_a_lost_replay_id(cdc_env: CdcEnv) -> None:
    """ManagedSubscribe (beta): starts at defaultReplay, answers each CommitReplayRequest in a response's
    commit_response (an error for a replay id never issued), and when the committed id is no longer retained
    resumes at errorRecoveryReplay."""
    store = subscriptions_of(cdc_env.org)
    metadata = {"label": "py", "topicName": "/data/OpportunityChangeEvent", "defaultReplay": "EARLIEST"}
    store.create("Py_Deals", {**metadata, "errorRecoveryReplay": "LATEST"}, lambda _: True)
    first = cdc_env.make_opportunity("First")
    cdc_env.make_opportunity("Second")
    channel = grpc.insecure_channel(cdc_env.pubsub.address)
    stub = pb_grpc.PubSubStub(channel)

    def managed(first_request: pb.ManagedFetchRequest) -> tuple[queue.Queue[pb.ManagedFetchRequest | None], Any]:
        requests: queue.Queue[pb.ManagedFetchRequest | None] = queue.Queue()
        requests.put(first_request)
        call = stub.ManagedSubscribe(iter(requests.get, None), metadata=cdc_env.session().metadata())
        return requests, call

    try:
        requests, call = managed(pb.ManagedFetchRequest(developer_name="Py_Deals", num_requested=1))
        responses = iter(call)
        got = next(responses)
        assert len(got.events) == 1
        replay_id = got.events[0].replay_id
        requests.put(
            pb.ManagedFetchRequest(
                commit_replay_id_request=pb.CommitReplayRequest(commit_request_id="c1", replay_id=replay_id)
            )
        )
        ok = next(responses).commit_response
        assert ok.commit_request_id == "c1" and not ok.HasField("error") and ok.replay_id == replay_id
        never = (10**9).to_bytes(8, "big")
        requests.put(
            pb.ManagedFetchRequest(
                commit_replay_id_request=pb.CommitReplayRequest(commit_request_id="c2", replay_id=never)
            )
        )
        refused = next(responses).commit_response
        assert refused.commit_request_id == "c2" and refused.error.code == pb.COMMIT
        requests.put(None)
        call.cancel()
        stored = store.get("Py_Deals")
        assert stored is not None and stored.committed_replay_id == int.from_bytes(replay_id, "big")
        assert first in cdc_env.org.events.events_after(int.from_bytes(replay_id, "big") - 1, 1)[0].record_ids

        # 72 hours later the committed event is gone: the subscription resumes at LATEST, so only new events come.
        cdc_env.org.events.prune(now_ms=2**62)
        requests, call = managed(pb.ManagedFetchRequest(subscription_id=stored.id, num_requested=5))
        responses = iter(call)
        keepalive = next(responses)
        assert keepalive.events == [] and keepalive.pending_num_requested == 5
        third = cdc_env.make_opportunity("Third")
        event = next(r for r in responses if r.events).events[0]
        assert int.from_bytes(event.replay_id, "big") == cdc_env.org.events.latest_replay_id()
        assert cdc_env.org.events.events_after(None, 10)[-1].record_ids == [third]
        requests.put(None)
        call.cancel()
    finally:
        channel.close()
