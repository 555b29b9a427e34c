// jsforce's Bulk API 2.0 client against the sandbox: ingest (insert, upsert, update, delete, hardDelete, an
// aborted job and its unprocessed records) and query jobs (query, queryAll, relationship columns).
import { login, report } from './harness.mjs';

function rows(count, make) {
  return Array.from({ length: count }, (_, i) => make(i));
}

async function readAll(stream) {
  const records = [];
  await new Promise((resolve, reject) => {
    stream.on('record', (record) => records.push(record));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return records;
}

await report(async () => {
  const conn = await login({ callOptions: { client: 'js-bulk' } });
  conn.bulk2.pollInterval = 50;
  conn.bulk2.pollTimeout = 60_000;
  const out = {};
  const load = (object, operation, input, extra = {}) =>
    conn.bulk2.loadAndWaitForResults({ object, operation, input, ...extra });

  // insert 300 good rows and 2 without the required Name.
  const inserts = [
    ...rows(300, (i) => ({ Name: `Bulk2 ${String(i).padStart(3, '0')}`, ExternalID__c: `B2-${i}`, NumberOfEmployees: i })),
    { ExternalID__c: 'B2-bad-1' },
    { ExternalID__c: 'B2-bad-2' },
  ];
  const inserted = await load('Account', 'insert', inserts);
  out.insert = {
    ok: inserted.successfulResults.length,
    failed: inserted.failedResults.map((r) => [r.ExternalID__c, r.sf__Error.split(':')[0]]),
    created: inserted.successfulResults.every((r) => r.sf__Created === 'true'),
    unprocessed: inserted.unprocessedRecords.length,
  };
  const ids = Object.fromEntries(inserted.successfulResults.map((r) => [r.ExternalID__c, r.sf__Id]));

  // upsert on the external id: three existing rows renamed, two new ones.
  const upserted = await load(
    'Account',
    'upsert',
    [
      ...rows(3, (i) => ({ ExternalID__c: `B2-${i}`, Name: `Upserted ${i}` })),
      ...rows(2, (i) => ({ ExternalID__c: `B2-new-${i}`, Name: `Bulk2 new ${i}` })),
    ],
    { externalIdFieldName: 'ExternalID__c' },
  );
  out.upsert = upserted.successfulResults.map((r) => [r.ExternalID__c, r.sf__Created]).sort();

  // update by Id. jsforce takes the CSV header from the first record, so the null (written as #N/A, which
  // clears the field) goes in a job of its own.
  const updated = await load('Account', 'update', rows(10, (i) => ({ Id: ids[`B2-${10 + i}`], Phone: `0200 ${i}` })));
  const cleared = await load('Account', 'update', [{ Id: ids['B2-20'], NumberOfEmployees: null }]);
  out.update = { ok: updated.successfulResults.length + cleared.successfulResults.length, failed: updated.failedResults.length };

  // delete (to the recycle bin) and hardDelete (gone for good).
  const deleted = await load('Account', 'delete', rows(5, (i) => ({ Id: ids[`B2-${30 + i}`] })));
  const hardDeleted = await load('Account', 'hardDelete', rows(5, (i) => ({ Id: ids[`B2-${40 + i}`] })));
  out.delete = [deleted.successfulResults.length, hardDeleted.successfulResults.length];

  // Contacts under one of the accounts, for a relationship column in a query.
  await load('Contact', 'insert', rows(3, (i) => ({ LastName: `Bulkson ${i}`, AccountId: ids['B2-50'] })));

  // query jobs (one page of results: see test_jsforce_bulk2.py on jsforce and Sforce-Locator).
  const accounts = await readAll(
    await conn.bulk2.query("SELECT Id, Name, ExternalID__c, NumberOfEmployees, Phone FROM Account WHERE Name LIKE 'Bulk2%'"),
  );
  out.query = {
    count: accounts.length,
    distinct: new Set(accounts.map((a) => a.Id)).size,
    sample: accounts.find((a) => a.ExternalID__c === 'B2-10'),
    cleared: accounts.find((a) => a.ExternalID__c === 'B2-20')?.NumberOfEmployees,
  };
  const withDeleted = await readAll(
    await conn.bulk2.query("SELECT Id, IsDeleted FROM Account WHERE Name LIKE 'Bulk2%'", { scanAll: true }),
  );
  out.queryAll = { count: withDeleted.length, deleted: withDeleted.filter((a) => a.IsDeleted === 'true').length };
  const contacts = await readAll(
    await conn.bulk2.query("SELECT LastName, Account.Name FROM Contact WHERE LastName LIKE 'Bulkson%' ORDER BY LastName"),
  );
  out.contacts = contacts.map((c) => [c.LastName, c['Account.Name']]);

  // An aborted job: its rows are never processed and come back from unprocessedrecords.
  const job = conn.bulk2.createJob({ object: 'Account', operation: 'insert' });
  await job.open();
  await job.uploadData(rows(4, (i) => ({ Name: `Never ${i}` })));
  await job.abort();
  const info = await job.check();
  out.aborted = { state: info.state, unprocessed: (await job.getUnprocessedRecords()).map((r) => r.Name).sort() };
  await job.delete();
  return out;
});
