"""The Salesforce Pub/Sub API (gRPC ``eventbus.v1.PubSub``) over the sandbox org's change-event log.

Served: ``Subscribe`` and ``ManagedSubscribe`` (bidirectional streams), ``GetSchema``, ``GetTopic``. ``Publish`` and
``PublishStream`` answer UNIMPLEMENTED (no platform events yet).

- **Auth**: every call carries metadata ``accesstoken`` (an unexpired, unrevoked access token of the org, as
  issued by ``/services/oauth2/token``), ``instanceurl`` (any non-empty value) and ``tenantid`` (the org id, 15 or
  18 characters). Otherwise UNAUTHENTICATED, trailer ``error-code: sfdc.platform.eventbus.grpc.service.auth.error``.
- **Topics**: ``/data/ChangeEvents`` (every object) and ``/data/<Object>ChangeEvent`` for every object of the org
  (custom ``X__c`` → ``/data/X__ChangeEvent``); others → NOT_FOUND. ``GetTopic`` gives ``schema_id`` (empty for
  ``/data/ChangeEvents``, whose events each carry their object's schema id), ``can_subscribe`` true,
  ``can_publish`` false.
- **Subscribe**: the first FetchRequest's ``topic_name``, ``replay_preset`` (LATEST, EARLIEST, CUSTOM) and
  ``replay_id`` set the start; later requests only add ``num_requested`` (a different topic → INVALID_ARGUMENT).
  The server never sends more events than requested and not yet delivered (``pending_num_requested`` says how many
  remain); batches hold at most 100 events. With requested events pending and nothing to send for
  ``keepalive_seconds`` (270 s by default) it sends an empty FetchResponse whose ``latest_replay_id`` is the
  stream's position: every event up to it was delivered or is not on the topic, so resuming after it (CUSTOM) loses
  nothing. With nothing pending, no keep-alive comes, and the stream closes ``idle_close_seconds`` (60 s) after the
  last response unless the client asks for more (Subscribe RPC Method, "Subscribe Keepalive Behavior").
- **ManagedSubscribe** (beta): the first ManagedFetchRequest names a ``ManagedEventSubscription`` (Tooling API,
  ``tooling.py``) by id or developer name; it must be in the RUN state. Delivery is as for Subscribe, starting after
  the replay id last committed (``CommitReplayRequest``, answered by a response carrying ``commit_response``), or at
  its ``defaultReplay`` when none was, or its ``errorRecoveryReplay`` when that id is no longer retained.
- **Replay ids**: the log's replay id as 8 big-endian bytes, opaque to clients. A CUSTOM replay id that is
  malformed, newer than the log, or older than what is retained (72 h, ``event_retention_seconds``) is refused with
  INVALID_ARGUMENT, message "The Replay ID validation failed…", trailer
  ``error-code: sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted``, as Salesforce does.
- **Payload**: a bare Avro binary datum (no container, no header) of the schema ``GetSchema(schema_id)`` returns
  (see ``avro_schema.py``): ``ChangeEventHeader`` plus every object field, null unless it changed (CREATE and
  UNDELETE carry every non-null field, DELETE none).
- **Compound fields**: address parts (``BillingStreet``, ``BillingCity``, …) travel as a nested ``BillingAddress``
  record (``Street``, ``City``, …) and a person's ``FirstName``/``LastName`` as ``Name``, where the first part was
  in the object's field order, as Salesforce sends them ("Get Compound Fields in Change Events").
- **Bitmaps**: ``changedFields``, ``nulledFields`` and ``diffFields`` are Salesforce's hex bitmaps over the schema's
  top-level field order (``bitmap.py``): ``["0x<hex>", "<pos>-0x<hex>"…]`` where bit i (LSB = 0) stands for Avro
  field i (``ChangeEventHeader`` is 0) and ``<pos>-`` entries for the parts of the compound at that position.
  ``diffFields`` is always empty (no text diffs).
- **Gaps**: ``PubSubServer.inject_gap(count, overflow=False, entity=None)`` makes the next ``count`` committed
  events arrive as ``GAP_<type>`` (record ids kept, no values) or ``GAP_OVERFLOW`` (no record ids), the same for
  every subscriber, so a client's fallback re-read can be tested.

Start it with ``ledgerlink.sandbox.runner.start_pubsub(sandbox)`` or ``serve_pubsub(org)``; the gRPC stubs are
``pubsub_api_pb2`` / ``pubsub_api_pb2_grpc`` (regeneration: README.md).
"""

from .server import DEFAULT_IDLE_CLOSE_SECONDS, DEFAULT_KEEPALIVE_SECONDS, PubSubServer, serve_pubsub

__all__ = ["DEFAULT_IDLE_CLOSE_SECONDS", "DEFAULT_KEEPALIVE_SECONDS", "PubSubServer", "serve_pubsub"]
