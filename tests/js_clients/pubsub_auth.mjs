// Every way salesforce-pubsub-api-client signs in (OAuth client credentials, JWT bearer, username-password over
// SOAP login(), a session handed over), each then reading one event; and jsforce's own SOAP login and logout.
import jsforce from 'jsforce';
import { attempt, login, report, sandbox } from './harness.mjs';
import { Recorder, connect } from './pubsub_common.mjs';

async function readOne(auth) {
  const client = await connect(auth);
  try {
    const recorder = new Recorder();
    client.subscribeFromEarliestEvent('/data/AccountChangeEvent', recorder.callback, 1);
    await recorder.until((r) => r.has('lastEvent') || r.errors.length > 0, 'one event or an error');
    if (recorder.errors.length) throw Object.assign(new Error('subscription failed'), { cause: recorder.errors[0] });
    return recorder.summary()[0].header.recordIds;
  } finally {
    client.close();
  }
}

await report(async () => {
  const conn = await login();
  const account = await conn.sobject('Account').create({ Name: 'Signed in' });
  const out = { accountId: account.id };
  out.clientCredentials = await attempt(readOne({}));
  out.jwt = await attempt(
    readOne({ authType: 'oauth-jwt-bearer', username: sandbox.username, privateKey: sandbox.privateKey }),
  );
  out.usernamePassword = await attempt(
    readOne({ authType: 'username-password', username: sandbox.username, password: sandbox.password }),
  );
  out.userSupplied = await attempt(
    readOne({ authType: 'user-supplied', accessToken: conn.accessToken, instanceUrl: conn.instanceUrl }),
  );

  // jsforce without a client secret logs in with SOAP login(), and logs out with SOAP logout().
  const soap = new jsforce.Connection({ loginUrl: sandbox.baseUrl });
  out.soapLogin = await attempt(soap.login(sandbox.username, sandbox.password));
  if (out.soapLogin.ok) {
    out.soapQuery = (await soap.query('SELECT Id, Name FROM Account')).records.map((r) => r.Name);
    const token = soap.accessToken;
    await soap.logout();
    const after = new jsforce.Connection({ instanceUrl: sandbox.baseUrl, accessToken: token });
    out.afterLogout = await attempt(after.query('SELECT Id FROM Account'));
  }
  const wrong = new jsforce.Connection({ loginUrl: sandbox.baseUrl });
  out.soapWrongPassword = await attempt(wrong.login(sandbox.username, 'wrong'));
  return out;
});
