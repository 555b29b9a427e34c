// salesforce-pubsub-api-client against the sandbox's Pub/Sub API: OAuth client-credentials login (token, then
// UserInfo), change events as they happen, flow control, the stream's end when nothing more is asked for, replay
// from a replay id and from the earliest retained event, GetTopic/GetSchema, and the documented errors.
import avro from 'avro-js';
import { login, report } from './harness.mjs';
import { Recorder, connect, metadata, rawStub, unary } from './pubsub_common.mjs';

const TOPIC = '/data/OpportunityChangeEvent';

await report(async () => {
  const out = {};
  const conn = await login({ callOptions: { client: 'js-pubsub' } });

  // 1. Live events: subscribe for 3, wait for a keep-alive (the stream is then surely set up), then write.
  const client = await connect();
  const live = new Recorder();
  client.subscribe(TOPIC, live.callback, 3);
  await live.until((r) => r.keepalives > 0, 'a keep-alive on the new subscription');
  const account = await conn.sobject('Account').create({ Name: 'Pub Sub Ltd' });
  const deal = await conn.sobject('Opportunity').create({
    Name: 'Streamed deal',
    StageName: 'Prospecting',
    CloseDate: '2026-12-24',
    Amount: 1200,
    AccountId: account.id,
  });
  await conn.sobject('Opportunity').update({ Id: deal.id, StageName: 'Closed Won', Amount: 1500 });
  await conn.sobject('Opportunity').destroy(deal.id);
  await live.until((r) => r.has('lastEvent'), 'the third event');
  // Nothing more requested: the server ends the stream after its idle window (1 s in this test's sandbox).
  await live.until((r) => r.has('end'), 'the end of the stream', 10_000);
  out.live = { events: live.summary(), types: live.types.filter((t) => t !== 'grpcKeepAlive'), info: live.info };
  out.dealId = deal.id;
  out.accountId = account.id;

  // 2. Replay after a replay id: the events that followed the CREATE.
  const replay = new Recorder();
  const createdAt = Math.min(...live.events.map((e) => e.replayId)); // the CREATE (see Recorder.summary on order)
  client.subscribeFromReplayId(TOPIC, replay.callback, 2, createdAt);
  await replay.until((r) => r.has('lastEvent'), 'two replayed events');
  out.replay = replay.summary().map((e) => [e.replayId, e.header.changeType]);

  // 3. Flow control: one event at a time from the earliest retained one, asking for more after each batch.
  const all = new Recorder();
  client.subscribeFromEarliestEvent('/data/ChangeEvents', all.callback, 1);
  await all.until((r) => r.has('lastEvent'), 'the first event of all');
  client.requestAdditionalEvents('/data/ChangeEvents', 1);
  await all.until((r) => r.events.length === 2, 'the second event of all');
  client.requestAdditionalEvents('/data/ChangeEvents', 100);
  await all.until((r) => r.keepalives > 0, 'the rest of the retained events');
  out.all = all.summary().map((e) => [e.replayId, e.header.entityName, e.header.changeType]);

  // 4. A replay id the log never issued: INVALID_ARGUMENT with Salesforce's error-code trailer.
  const bad = new Recorder();
  client.subscribeFromReplayId('/data/AccountChangeEvent', bad.callback, 1, 987654321);
  await bad.until((r) => r.errors.length > 0, 'the replay id error');
  out.badReplay = bad.errors[0];

  // 5. GetTopic and GetSchema, straight through gRPC with the client's proto.
  const stub = rawStub();
  const meta = metadata(conn.accessToken);
  const topic = await unary(stub, 'GetTopic', { topicName: TOPIC }, meta);
  const schema = await unary(stub, 'GetSchema', { schemaId: topic.value.schemaId }, meta);
  const type = avro.parse(schema.value.schemaJson);
  out.topic = {
    topicName: topic.value.topicName,
    canSubscribe: topic.value.canSubscribe,
    canPublish: topic.value.canPublish,
    schemaId: topic.value.schemaId,
    schemaIdMatchesEvents: live.events.every((e) => e.schemaId === topic.value.schemaId),
    recordName: type.getName(),
    fields: type.getFields().map((f) => f.getName()),
  };
  out.unknownTopic = await unary(stub, 'GetTopic', { topicName: '/data/NoSuchChangeEvent' }, meta);
  out.unknownSchema = await unary(stub, 'GetSchema', { schemaId: 'not-a-schema' }, meta);
  out.badToken = await unary(stub, 'GetTopic', { topicName: TOPIC }, metadata('00D000000000000!nope'));
  client.close();

  // 6. Compound fields: an account's address arrives as a nested BillingAddress, its changes as BillingAddress.City.
  const addresses = new Recorder();
  const client2 = await connect();
  client2.subscribe('/data/AccountChangeEvent', addresses.callback, 2);
  await addresses.until((r) => r.keepalives > 0, 'a keep-alive on the account subscription');
  await conn.sobject('Account').update({ Id: account.id, BillingStreet: '1 Quay St', BillingCity: 'Leeds' });
  await conn.sobject('Account').update({ Id: account.id, BillingCity: 'York', BillingStreet: null });
  await addresses.until((r) => r.has('lastEvent'), 'two account updates');
  out.addresses = addresses.summary().map((e) => ({
    changed: e.header.changedFields,
    nulled: e.header.nulledFields,
    billing: e.fields.BillingAddress ?? null,
  }));
  client2.close();

  // 7. The same session handed over from jsforce (user-supplied auth: the org id is read from the token).
  const handed = await connect({
    authType: 'user-supplied',
    accessToken: conn.accessToken,
    instanceUrl: conn.instanceUrl,
    organizationId: undefined,
  });
  const again = new Recorder();
  handed.subscribeFromEarliestEvent(TOPIC, again.callback, 3);
  await again.until((r) => r.has('lastEvent'), 'three events for the handed-over session');
  out.handedOver = again.summary().map((e) => e.header.changeType);
  handed.close();
  return out;
});
