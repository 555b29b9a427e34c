// jsforce's REST API surface against the sandbox: CRUD one record and many (sObject Collections), upsert,
// query with queryMore and autoFetch, describe, limits, updated/deleted, composite, recent items, errors.
import { attempt, login, report } from './harness.mjs';

const CLIENT = 'js-rest';
const PAGE = 100; // the sandbox is started with query_page_size=100

await report(async () => {
  // Sforce-Call-Options: client=js-rest on every call, so the org's change events name this script.
  const conn = await login({ callOptions: { client: CLIENT } });
  const Account = conn.sobject('Account');
  const out = {};

  // -- one record -------------------------------------------------------------------------------------------
  const created = await Account.create({ Name: 'Solo', ExternalID__c: 'SOLO-1', BillingCity: 'Leeds' });
  out.created = created;
  out.retrieved = await Account.retrieve(created.id);
  out.updated = await Account.update({ Id: created.id, Phone: '0113 496 0000' });
  out.upsertExisting = await Account.upsert({ ExternalID__c: 'SOLO-1', Website: 'https://solo.example' }, 'ExternalID__c');
  out.upsertNew = await Account.upsert({ ExternalID__c: 'SOLO-2', Name: 'Solo Two' }, 'ExternalID__c');

  // -- many records: sObject Collections (at most 200 a call; allowRecursive splits 250 into two calls) -------
  const many = Array.from({ length: 250 }, (_, i) => ({ Name: `Bulky ${String(i).padStart(3, '0')}`, NumberOfEmployees: i }));
  const results = await Account.create(many, { allowRecursive: true });
  out.createdMany = { count: results.length, allSucceeded: results.every((r) => r.success) };
  const ids = results.map((r) => r.id);
  const fetched = await Account.retrieve(ids.slice(0, 5), { fields: ['Id', 'Name', 'NumberOfEmployees'] });
  out.retrievedMany = fetched.map((r) => [r.Id, r.Name, r.NumberOfEmployees]);
  const renamed = await Account.update(ids.slice(0, 3).map((Id, i) => ({ Id, Name: `Renamed ${i}` })));
  out.updatedMany = renamed.map((r) => r.success);
  const destroyed = await Account.destroy(ids.slice(-2));
  out.destroyedMany = destroyed.map((r) => [r.id, r.success]);
  const upserts = await Account.upsert(
    [
      { ExternalID__c: 'SOLO-2', Name: 'Solo Two Again' },
      { ExternalID__c: 'SOLO-3', Name: 'Solo Three' },
    ],
    'ExternalID__c',
  );
  out.upsertedMany = upserts.map((r) => [r.success, r.created]);

  // -- queries ----------------------------------------------------------------------------------------------
  const soql = "SELECT Id, Name FROM Account WHERE Name LIKE 'Bulky%' ORDER BY Name";
  const first = await conn.query(soql, { autoFetch: false });
  const second = await conn.queryMore(first.nextRecordsUrl);
  out.pages = {
    first: [first.totalSize, first.done, first.records.length, first.records[0].Name],
    second: [second.totalSize, second.done, second.records.length, second.records[0].Name],
    locator: first.nextRecordsUrl,
  };
  const all = [];
  await new Promise((resolve, reject) => {
    conn
      .query(soql)
      .on('record', (record) => all.push(record.Name))
      .on('end', resolve)
      .on('error', reject)
      .run({ autoFetch: true, maxFetch: 10000 });
  });
  out.autoFetched = { count: all.length, distinct: new Set(all).size, last: all.at(-1) };
  out.find = (
    await Account.find({ Name: { $like: 'Solo%' } }, ['Name', 'Phone', 'Website', 'ExternalID__c']).sort({ Name: 1 })
  ).map((r) => [r.Name, r.Phone, r.Website, r.ExternalID__c]);
  out.count = await Account.count({ Name: { $like: 'Bulky%' } });
  out.queryAll = (await conn.query("SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true", { scanAll: true })).totalSize;

  // -- relationships and composite with references ----------------------------------------------------------
  const composite = await conn.requestPost('/composite', {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: `/services/data/v${conn.version}/sobjects/Account`, referenceId: 'acct', body: { Name: 'Parent Co' } },
      {
        method: 'POST',
        url: `/services/data/v${conn.version}/sobjects/Contact`,
        referenceId: 'person',
        body: { LastName: 'Child', AccountId: '@{acct.id}' },
      },
      { method: 'GET', url: `/services/data/v${conn.version}/sobjects/Contact/@{person.id}?fields=AccountId`, referenceId: 'check' },
    ],
  });
  out.composite = composite.compositeResponse.map((r) => [r.referenceId, r.httpStatusCode]);
  out.compositeLink = composite.compositeResponse[2].body.AccountId === composite.compositeResponse[0].body.id;
  out.contactsWithAccount = (await conn.query("SELECT LastName, Account.Name FROM Contact WHERE LastName = 'Child'")).records.map(
    (r) => [r.LastName, r.Account?.Name],
  );

  // -- files: ContentVersion as base64 JSON and as multipart (jsforce's multipartFileFields), read back as blobs --
  const Version = conn.sobject('ContentVersion');
  const asJson = await Version.create({
    Title: 'Invoice 1',
    PathOnClient: 'invoice-1.pdf',
    VersionData: Buffer.from('%PDF-1.4 first').toString('base64'),
    FirstPublishLocationId: created.id,
  });
  const asMultipart = await Version.create(
    { Title: 'Invoice 2', PathOnClient: 'invoice-2.pdf', VersionData: Buffer.from('%PDF-1.4 second').toString('base64') },
    { multipartFileFields: { VersionData: { contentType: 'application/pdf', filename: 'invoice-2.pdf' } } },
  );
  const blob = async (id) => {
    const chunks = [];
    await new Promise((resolve, reject) =>
      Version.record(id).blob('VersionData').on('data', (c) => chunks.push(c)).on('end', resolve).on('error', reject),
    );
    return Buffer.concat(chunks).toString();
  };
  out.files = {
    bytes: [await blob(asJson.id), await blob(asMultipart.id)],
    titles: (await conn.query(`SELECT Title FROM ContentVersion WHERE Id IN ('${asJson.id}', '${asMultipart.id}') ORDER BY Title`)).records.map((r) => r.Title),
  };

  // -- SOSL through jsforce's search() ----------------------------------------------------------------------
  await conn.sobject('Contact').create({ LastName: 'Searchable', FirstName: 'Sam', Email: 'sam.searchable@example.com' });
  const found = await conn.search('FIND {Solo*} IN NAME FIELDS RETURNING Account(Name, Phone ORDER BY Name), Contact(Name)');
  out.search = found.searchRecords.map((r) => [r.attributes.type, r.Name, r.Phone ?? null]);
  const byEmail = await conn.search('FIND {sam.searchable@example.com} IN EMAIL FIELDS RETURNING Contact(FirstName, LastName)');
  out.searchEmail = byEmail.searchRecords.map((r) => [r.FirstName, r.LastName]);
  const phrase = await conn.search('FIND {"Parent Co" OR "Solo Three"} RETURNING Account(Name ORDER BY Name)');
  out.searchPhrase = phrase.searchRecords.map((r) => r.Name);
  out.searchBad = await attempt(conn.search('FIND {a}'));

  // -- metadata and the rest --------------------------------------------------------------------------------
  const describe = await Account.describe();
  const externalId = describe.fields.find((f) => f.name === 'ExternalID__c');
  out.describe = { name: describe.name, keyPrefix: describe.keyPrefix, externalId: externalId?.externalId };
  out.describeGlobal = (await conn.describeGlobal()).sobjects.some((o) => o.name === 'Opportunity');
  const limits = await conn.limits();
  out.limits = { max: limits.DailyApiRequests.Max, remaining: limits.DailyApiRequests.Remaining };
  out.limitInfo = conn.limitInfo; // from the Sforce-Limit-Info header of the last call
  // Get Updated / Get Deleted ignore the seconds of start and end: pytest checks the ids against that window.
  const now = new Date();
  const hourAgo = new Date(now.getTime() - 3600 * 1000);
  const updated = await Account.updated(hourAgo.toISOString(), now.toISOString());
  const deleted = await Account.deleted(hourAgo.toISOString(), now.toISOString());
  out.replication = {
    start: hourAgo.toISOString(),
    end: now.toISOString(),
    updatedIds: updated.ids,
    updatedCovered: updated.latestDateCovered,
    deletedIds: deleted.deletedRecords.map((r) => r.id),
    deletedCovered: deleted.latestDateCovered,
  };
  out.recent = (await conn.recent(3)).map((r) => [r.attributes.type, r.Name]);

  // -- errors: jsforce turns the list-shaped bodies into errors with errorCode ------------------------------
  out.missingName = await attempt(Account.create({ Phone: '1' }));
  out.missingRecord = await attempt(Account.retrieve('001000000000000AAA'));
  out.badField = await attempt(conn.query('SELECT Nonsense__c FROM Account'));
  out.badSoql = await attempt(conn.query('SELECT FROM Account'));
  out.deleteTwice = await Account.destroy([created.id, created.id]).catch((e) => ({ error: e.message }));
  return out;
});
