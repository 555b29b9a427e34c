// jsforce's OAuth 2.0 flows against the sandbox: username-password, client credentials, JWT bearer, refresh on an
// expired session, revocation; and the identity of each session (Identity URL, Resources by Version).
import crypto from 'node:crypto';
import jsforce from 'jsforce';
import { admin, attempt, login, report, sandbox } from './harness.mjs';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** An RS256 assertion as Salesforce's JWT bearer flow documents it: iss, sub, aud, exp (at most 3 minutes ahead). */
function assertion(privateKey) {
  const header = base64url(JSON.stringify({ alg: 'RS256' }));
  const claims = base64url(
    JSON.stringify({
      iss: sandbox.clientId,
      sub: sandbox.username,
      aud: sandbox.baseUrl,
      exp: Math.floor(Date.now() / 1000) + 120,
    }),
  );
  const signature = crypto.sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), privateKey);
  return `${header}.${claims}.${base64url(signature)}`;
}

async function whoAmI(conn) {
  const identity = await conn.identity();
  return {
    userInfo: conn.userInfo,
    identity: {
      id: identity.id,
      user_id: identity.user_id,
      organization_id: identity.organization_id,
      username: identity.username,
      display_name: identity.display_name,
      rest: identity.urls?.rest,
    },
    accountCount: (await conn.query('SELECT COUNT() FROM Account')).totalSize,
  };
}

await report(async () => {
  const out = {};

  // 1. Username-password (jsforce picks OAuth 2.0 over SOAP when the connection has a client id and secret).
  const password = await login();
  out.password = { instanceUrl: password.instanceUrl, ...(await whoAmI(password)) };

  // 2. Client credentials, through jsforce's generic authorize().
  const credentials = new jsforce.Connection({
    oauth2: { loginUrl: sandbox.baseUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
  });
  await credentials.authorize({ grant_type: 'client_credentials' });
  out.clientCredentials = await whoAmI(credentials);

  // 3. JWT bearer, signed here with the key whose certificate the org holds.
  const jwt = new jsforce.Connection({ oauth2: { loginUrl: sandbox.baseUrl } });
  await jwt.authorize({ grant_type: JWT_GRANT, assertion: assertion(sandbox.privateKey) });
  out.jwt = await whoAmI(jwt);

  // 4. A session made only of a token and an instance URL: identity() has no Identity URL yet, so jsforce reads
  //    it from the Resources by Version ("identity").
  const bare = new jsforce.Connection({ instanceUrl: password.instanceUrl, accessToken: password.accessToken });
  out.bare = await whoAmI(bare);

  // 5. Refresh: the org expires every access token; jsforce meets INVALID_SESSION_ID (401) and refreshes.
  const tokens = await password.oauth2.authenticate(sandbox.username, sandbox.password);
  const refreshing = new jsforce.Connection({
    oauth2: { loginUrl: sandbox.baseUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    instanceUrl: tokens.instance_url,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
  });
  let refreshed = 0;
  refreshing.on('refresh', () => {
    refreshed += 1;
  });
  out.expired = (await admin('expire-tokens')).expired;
  const afterExpiry = await refreshing.query('SELECT Id FROM User');
  out.refresh = {
    hadRefreshToken: Boolean(tokens.refresh_token),
    refreshed,
    users: afterExpiry.totalSize,
    newToken: refreshing.accessToken !== tokens.access_token,
  };

  // 6. Revocation: the revoked token no longer opens a session.
  const victim = await login();
  const token = victim.accessToken;
  await victim.oauth2.revokeToken(token);
  const revoked = new jsforce.Connection({ instanceUrl: victim.instanceUrl, accessToken: token });
  out.revoked = await attempt(revoked.query('SELECT Id FROM Account'));

  // 7. A wrong password and an unknown client are OAuth errors, not HTTP noise.
  const wrong = new jsforce.Connection({
    oauth2: { loginUrl: sandbox.baseUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
  });
  out.wrongPassword = await attempt(wrong.login(sandbox.username, 'not-the-password'));
  const stranger = new jsforce.Connection({
    oauth2: { loginUrl: sandbox.baseUrl, clientId: 'someone-else', clientSecret: 'nope' },
  });
  out.unknownClient = await attempt(stranger.authorize({ grant_type: 'client_credentials' }));
  return out;
});
