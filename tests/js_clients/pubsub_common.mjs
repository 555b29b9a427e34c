// Shared by the Pub/Sub scripts: a salesforce-pubsub-api-client connected to the sandbox, a recorder of its
// callbacks, and a raw gRPC stub built from the client's own copy of Salesforce's pubsub_api.proto.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import PubSubApiClient from 'salesforce-pubsub-api-client';
import { describeError, sandbox, waitFor } from './harness.mjs';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A connected client. The client pins its own CA bundle for gRPC (NODE_EXTRA_CA_CERTS does not reach it), so
 * the sandbox's generated certificate is accepted with its documented testing switch, rejectUnauthorizedSsl.
 */
export async function connect(auth = {}) {
  const client = new PubSubApiClient(
    {
      authType: 'oauth-client-credentials',
      loginUrl: sandbox.baseUrl,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      pubSubEndpoint: sandbox.pubsub,
      rejectUnauthorizedSsl: false,
      ...auth,
    },
    quiet,
  );
  await client.connect();
  return client;
}

/** Collects what a subscription's callback receives. */
export class Recorder {
  constructor() {
    this.events = [];
    this.types = [];
    this.errors = [];
    this.keepalives = 0;
    this.info = null;
    this.callback = (info, type, data) => {
      this.info = { ...info };
      this.types.push(type);
      if (type === 'event') this.events.push(data);
      else if (type === 'error') this.errors.push(describeError(data));
      else if (type === 'grpcKeepAlive') this.keepalives += 1;
    };
  }

  has(type) {
    return this.types.includes(type);
  }

  async until(check, what, timeoutMs = 15_000) {
    await waitFor(() => check(this), timeoutMs, what);
  }

  /** The parts of the events a test asserts on, in replay order (see test_pubsub_client.py on the client's order). */
  summary() {
    return [...this.events].sort((a, b) => a.replayId - b.replayId).map((e) => ({
      replayId: e.replayId,
      schemaId: e.schemaId,
      header: e.payload.ChangeEventHeader,
      fields: Object.fromEntries(
        Object.entries(e.payload).filter(([k, v]) => k !== 'ChangeEventHeader' && v !== null && v !== undefined),
      ),
    }));
  }
}

/** The client's bundled pubsub_api.proto (a verbatim copy of Salesforce's), for calls the client doesn't wrap. */
export function rawStub() {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('salesforce-pubsub-api-client'));
  const proto = fs.readdirSync(dist).find((name) => /^pubsub_api.*\.proto$/.test(name));
  const definition = protoLoader.loadSync(path.join(dist, proto), {});
  const { PubSub } = grpc.loadPackageDefinition(definition).eventbus.v1;
  // Here the sandbox's CA is trusted properly (the pytest side passes it as NODE_EXTRA_CA_CERTS).
  const ca = fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS);
  return new PubSub(sandbox.pubsub, grpc.credentials.createSsl(ca));
}

/** gRPC metadata as the Pub/Sub API documents it: accesstoken, instanceurl, tenantid. */
export function metadata(accessToken) {
  const meta = new grpc.Metadata();
  meta.add('accesstoken', accessToken);
  meta.add('instanceurl', sandbox.baseUrl);
  meta.add('tenantid', sandbox.orgId);
  return meta;
}

/** A unary call as a promise: ``{ok, value}`` or ``{ok: false, error}``. */
export function unary(stub, method, request, meta) {
  return new Promise((resolve) => {
    stub[method](request, meta, (error, value) =>
      resolve(error ? { ok: false, error: describeError(error) } : { ok: true, value }),
    );
  });
}
