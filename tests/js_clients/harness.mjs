// What every scenario script shares: the sandbox settings, a JSON report for the pytest side, and small helpers.
import fs from 'node:fs';
import jsforce from 'jsforce';

/** The sandbox's address and credentials, as the pytest fixture passes them (see conftest.py). */
export const sandbox = JSON.parse(process.env.LEDGERLINK_SANDBOX ?? '{}');

/** JSON that survives BigInt (the Pub/Sub client decodes Avro longs beyond 2^53 as BigInt). */
export function toJson(value) {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Run ``main`` and write its result (or its error) where pytest reads it; exit non-zero on error. */
export async function report(main) {
  let outcome;
  try {
    outcome = { ok: true, result: await main() };
  } catch (error) {
    outcome = { ok: false, error: describeError(error) };
  }
  fs.writeFileSync(process.env.LEDGERLINK_REPORT, toJson(outcome));
  // gRPC channels and keep-alive sockets may linger; the report is written, so leave now.
  process.exit(outcome.ok ? 0 : 1);
}

/** The parts of an error a test asserts on: jsforce sets name/errorCode, gRPC sets code/details/metadata. */
export function describeError(error) {
  if (!error) return null;
  const out = {
    name: error.name,
    message: error.message,
    errorCode: error.errorCode,
    code: error.code,
    details: error.details,
    fields: error.fields,
  };
  if (error.metadata && typeof error.metadata.getMap === 'function') out.metadata = error.metadata.getMap();
  if (error.cause) out.cause = describeError(error.cause);
  return out;
}

/** Await ``promise`` and return ``{ok, value}`` or ``{ok: false, error}``, for calls expected to fail. */
export async function attempt(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

/** A jsforce connection logged in with the OAuth 2.0 username-password flow (jsforce's ``loginByOAuth2``). */
export async function login(options = {}) {
  const conn = new jsforce.Connection({
    loginUrl: sandbox.baseUrl,
    oauth2: { loginUrl: sandbox.baseUrl, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    ...options,
  });
  await conn.login(sandbox.username, sandbox.password);
  return conn;
}

/** POST to the sandbox's test-only admin API (no auth), e.g. ``admin('expire-tokens')``. */
export async function admin(path, body) {
  const response = await fetch(`${sandbox.baseUrl}/__admin/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`admin ${path}: HTTP ${response.status}`);
  return response.json();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until ``check()`` is truthy, polling every 20 ms; throws after ``timeoutMs``. */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
