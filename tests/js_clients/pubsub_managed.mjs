// Managed event subscriptions (beta) as salesforce-pubsub-api-client uses them: the ManagedEventSubscription is
// made and changed through jsforce's Tooling API; the client looks it up by developer name or id, subscribes with
// ManagedSubscribe, commits replay ids, and a second connection resumes after the last commit.
import { attempt, login, report, sleep } from './harness.mjs';
import { Recorder, connect, metadata, rawStub } from './pubsub_common.mjs';

const NAME = 'Js_Deals';
const TOPIC = '/data/OpportunityChangeEvent';

/** ManagedSubscribe straight through gRPC, for the errors the client checks before it calls. */
function rawManaged(stub, meta, request) {
  return new Promise((resolve) => {
    const call = stub.ManagedSubscribe(meta);
    const timer = setTimeout(() => {
      call.cancel();
      resolve({ ok: true });
    }, 5000);
    call.on('data', () => {});
    call.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, code: error.code, details: error.details, errorCode: error.metadata?.get('error-code')[0] });
    });
    call.write(request);
  });
}

await report(async () => {
  // The Tooling API's ManagedEventSubscription exists from API 60.0; the client itself queries it at v62.0.
  const conn = await login({ version: '62.0', callOptions: { client: 'js-managed' } });
  const Deal = conn.sobject('Opportunity');
  const deal = (name) => Deal.create({ Name: name, StageName: 'Prospecting', CloseDate: '2026-12-31' });
  const out = { deals: [] };
  for (const name of ['Managed 1', 'Managed 2', 'Managed 3']) out.deals.push((await deal(name)).id);

  const Subscriptions = conn.tooling.sobject('ManagedEventSubscription');
  const created = await Subscriptions.create({
    FullName: NAME,
    Metadata: { label: 'JS deals', topicName: TOPIC, defaultReplay: 'EARLIEST', errorRecoveryReplay: 'LATEST', state: 'RUN' },
  });
  out.created = created;
  // The raw Tooling query response, as the client reads it (it checks "size").
  const soql = `SELECT Id, DeveloperName, Metadata FROM ManagedEventSubscription WHERE DeveloperName = '${NAME}'`;
  const found = await conn.request(`/services/data/v62.0/tooling/query/?q=${encodeURIComponent(soql)}`);
  out.toolingQuery = { size: found.size, totalSize: found.totalSize, entityTypeName: found.entityTypeName, record: found.records[0] };
  out.badTopic = await attempt(
    Subscriptions.create({ FullName: 'Js_Nowhere', Metadata: { label: 'x', topicName: '/data/NowhereChangeEvent', state: 'RUN' } }),
  );

  // First connection: the first two events (defaultReplay EARLIEST), then commit the second one's replay id.
  const first = await connect();
  const one = new Recorder();
  await first.subscribeWithManagedSubscription(NAME, one.callback, 2);
  await one.until((r) => r.has('lastEvent'), 'two managed events');
  const committed = Math.max(...one.events.map((e) => e.replayId)); // the client may deliver them out of order
  first.commitReplayId(created.id, committed);
  await one.until((r) => r.keepalives > 0, 'the commit response'); // no events: the client calls it a keep-alive
  out.first = { events: one.summary().map((e) => [e.replayId, e.header.recordIds[0]]), info: one.info, committed };
  first.close();

  // Second connection, by record id: it resumes after the committed replay id, so the third deal comes next.
  const second = await connect();
  const two = new Recorder();
  await second.subscribeWithManagedSubscription(created.id, two.callback, 5);
  await two.until((r) => r.events.length === 1, 'the event after the committed one');
  out.fourthDeal = (await deal('Managed 4')).id;
  await two.until((r) => r.events.length === 2, 'a live event on the managed subscription');
  const lastGood = Math.max(...two.events.map((e) => e.replayId));
  second.commitReplayId(created.id, lastGood);
  second.commitReplayId(created.id, 987654321); // never issued: refused in the commit response, not stored
  await sleep(300);
  out.second = { events: two.summary().map((e) => [e.replayId, e.header.recordIds[0]]), lastGood };
  second.close();

  // Stopped: the client refuses by itself (it reads Metadata.state), and the server refuses ManagedSubscribe.
  await Subscriptions.update({ Id: created.id, Metadata: { state: 'STOP' } });
  const third = await connect();
  out.stopped = await attempt(third.subscribeWithManagedSubscription(NAME, new Recorder().callback, 1));
  third.close();
  const stub = rawStub();
  const meta = metadata(conn.accessToken);
  out.rawStopped = await rawManaged(stub, meta, { developerName: NAME, numRequested: 1 });
  out.rawUnknown = await rawManaged(stub, meta, { developerName: 'No_Such_Subscription', numRequested: 1 });

  // A throwaway subscription, deleted again.
  const temp = await Subscriptions.create({ FullName: 'Js_Temp', Metadata: { label: 'temp', topicName: '/data/ChangeEvents' } });
  await Subscriptions.destroy(temp.id);
  out.afterDelete = (await conn.tooling.query("SELECT Id FROM ManagedEventSubscription WHERE DeveloperName = 'Js_Temp'")).totalSize;
  return out;
});
