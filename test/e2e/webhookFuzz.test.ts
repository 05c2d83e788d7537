// Thousands of hostile requests at the three HTTP endpoints (Graph notifications, the Dataverse webhook, status):
// malformed, oversized, unauthentic, replayed with a forged clientState, and wrongly typed. None may get a 5xx,
// none may enqueue anything, each gets the 4xx its kind of fault calls for, and afterwards the host still answers
// a valid validation handshake. Seeded: a failure prints its seed and path, and replays with them.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { webhookKeyHeader } from '../../shared/webhooks/dataverseWebhook.js';

const seed = 20261201;
const sampleContext = JSON.parse(readFileSync(new URL('../fixtures/microsoft/dataverse-webhook-remoteexecutioncontext.json', import.meta.url), 'utf8')) as Record<string, unknown>;

interface Answer {
  status: number;
  body: string;
}

/** One raw HTTP request (node:http, so any method, path and header can be sent as written). */
function send(stack: Stack, method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
  // Framed with Content-Length whatever the method: node:http sends an unframed body for GET and HEAD, which is a
  // broken HTTP stream rather than a hostile request.
  const framing = bytes === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(bytes.length) };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: stack.host.port, method, path, headers: { ...framing, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (bytes !== undefined) req.write(bytes);
    req.end();
  });
}

/** A value of any JSON type, some of them deep or large. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
/** Strings that break naive parsers and table keys: separators, controls, surrogates, long runs. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom('', '/', '\\', '#', '?', '%', '..', '\u0000', '\ud800', '\udfff', "'", '"', '<script>', 'null', '{}', ' '.repeat(300)),
  fc.integer({ min: 600, max: 20_000 }).map((n) => 'k'.repeat(n)),
);
const notJson = fc.oneof(fc.constantFrom('{"value": [', '{', '[', 'nul', '{"a":}', '\u0000', ''), fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => !isJson(s)));

/** The Dataverse endpoint-key header, or none. */
function keyHeader(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { [webhookKeyHeader]: key };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('webhook fuzzing: no hostile request gets a 5xx or enqueues anything', () => {
  let stack: Stack;
  let enqueued = 0;
  let knownSubscription: { id: string; mailboxId: string };
  beforeAll(async () => {
    stack = await startStack({ seed: 61 });
    await stack.settled();
    const sub = (await stack.runtime.subscriptions.list())[0]!;
    knownSubscription = { id: sub.id, mailboxId: sub.mailboxId };
    stack.serviceBus.events.on('enqueued', (e: { queue: string }) => {
      if (e.queue === changesQueue.name) enqueued += 1;
    });
  }, 60_000);
  afterAll(async () => stack?.close());

  const graphPath = () => `/api/graph/notifications?code=${encodeURIComponent(stack.functionKey)}`;
  const dataversePath = () => `/api/dataverse/webhook?code=${encodeURIComponent(stack.functionKey)}`;

  /** A notification batch shaped like Graph's, with any field forged or broken; never the real clientState. */
  const forgedNotification = fc.record({
    subscriptionId: fc.oneof(fc.uuid(), nastyString, fc.constant('KNOWN')),
    clientState: fc.oneof(nastyString, fc.uuid()),
    changeType: fc.oneof(fc.constantFrom('created', 'updated', 'deleted'), nastyString),
    resource: fc.oneof(nastyString, fc.constant('Users/x/Events/AAMkAFake=')),
    tenantId: fc.oneof(fc.uuid(), nastyString),
    lifecycleEvent: fc.option(fc.oneof(fc.constantFrom('reauthorizationRequired', 'subscriptionRemoved', 'missed'), nastyString), { nil: undefined }),
    extra: fc.option(anyJson, { nil: undefined }),
  });

  it('Graph notifications: 1,200 malformed, oversized, forged and wrongly typed requests', async () => {
    const before = enqueued;
    const kinds = fc.oneof(
      // Forged batches: unknown subscriptions, or the known one with a clientState that is not its own.
      fc.array(forgedNotification, { minLength: 1, maxLength: 5 }).map((items) => ({
        what: 'forged',
        body: JSON.stringify({
          value: items.map(({ extra, lifecycleEvent, ...n }) => ({
            ...n,
            subscriptionId: n.subscriptionId === 'KNOWN' ? knownSubscription.id : n.subscriptionId,
            ...(lifecycleEvent === undefined ? { resourceData: { '@odata.type': '#Microsoft.Graph.Event', id: 'AAMkAFake=', '@odata.etag': 'W/"1"' } } : { lifecycleEvent }),
            ...(extra === undefined ? {} : { extra }),
          })),
        }),
        expect: [400, 401],
      })),
      anyJson.map((value) => ({ what: 'any JSON', body: JSON.stringify(value), expect: [400, 401] })),
      notJson.map((text) => ({ what: 'not JSON', body: text, expect: [400] })),
      fc.constant({ what: 'oversized', body: JSON.stringify({ value: [], pad: 'x'.repeat(1024 * 1024 + 16) }), expect: [413] }),
    );
    await fc.assert(
      fc.asyncProperty(kinds, fc.boolean(), async (req, withKey) => {
        const path = withKey ? graphPath() : '/api/graph/notifications?code=wrong-key';
        const answer = await send(stack, 'POST', path, req.body);
        expect(answer.status, `${req.what}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        expect(withKey ? req.expect : [401], `${req.what} (key ${withKey}): ${answer.status} ${answer.body.slice(0, 200)}`).toContain(answer.status);
      }),
      { seed, numRuns: 1_200, endOnFailure: true },
    );
    await stack.settled();
    expect(enqueued - before).toBe(0);
  }, 240_000);

  it('Dataverse webhook: 1,200 unauthentic, malformed and wrongly typed deliveries', async () => {
    const before = enqueued;
    const mutatedContext = fc
      .record({ field: fc.constantFrom(...Object.keys(sampleContext)), value: anyJson, drop: fc.boolean() })
      .map(({ field, value, drop }) => {
        const copy: Record<string, unknown> = structuredClone(sampleContext);
        if (drop) delete copy[field];
        else copy[field] = value;
        return JSON.stringify(copy);
      });
    const kinds = fc.oneof(
      // Unauthentic: a real-looking context with a missing or wrong endpoint key.
      fc.tuple(fc.oneof(mutatedContext, fc.constant(JSON.stringify(sampleContext))), fc.option(nastyString.filter((k) => k.length < 4_096 && /^[\x21-\x7e]*$/.test(k)), { nil: undefined })).map(([body, key]) => ({
        what: 'unauthentic',
        body,
        headers: keyHeader(key),
        expect: [401],
      })),
      // A key header larger than any front end accepts: 431 before anything of ours runs.
      fc.constant({ what: 'oversized header', body: JSON.stringify(sampleContext), headers: { [webhookKeyHeader]: 'k'.repeat(20_000) }, expect: [431] }),
      // Authentic key, but a body that is not a RemoteExecutionContext (wrong types, not an object, not JSON).
      fc.oneof(anyJson.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)), notJson).map((body) => ({
        what: 'malformed',
        body,
        headers: { [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY! },
        expect: [400],
      })),
      fc.record({ PrimaryEntityId: nastyString, PrimaryEntityName: fc.oneof(nastyString, fc.constantFrom('appointment', 'task', 'contact')), MessageName: fc.oneof(nastyString, fc.integer()) }).map((fields) => ({
        what: 'wrongly typed',
        body: JSON.stringify({ ...sampleContext, ...fields, PrimaryEntityId: typeof fields.PrimaryEntityId === 'string' && /^[0-9a-f-]{36}$/i.test(fields.PrimaryEntityId) ? 'x' : fields.PrimaryEntityId }),
        headers: { [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY! },
        expect: [400],
      })),
      fc.constant({ what: 'oversized', body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 16) }), headers: { [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY! }, expect: [413] }),
    );
    await fc.assert(
      fc.asyncProperty(kinds, async (req) => {
        const answer = await send(stack, 'POST', dataversePath(), req.body, req.headers);
        expect(answer.status, `${req.what}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        expect(req.expect, `${req.what}: ${answer.status} ${answer.body.slice(0, 200)}`).toContain(answer.status);
      }),
      { seed, numRuns: 1_200, endOnFailure: true },
    );
    await stack.settled();
    expect(enqueued - before).toBe(0);
  }, 240_000);

  it('status and stray requests: 600 wrong methods, keys, paths and query strings', async () => {
    const before = enqueued;
    const kinds = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path: fc.oneof(
        fc.constant('/api/status'),
        fc.constantFrom('/', '//', '/api', '/api/', '/api/%', '/api/%zz', '/api/status/..', '/api/graph/notifications/x', '/api/../api/status', '/api/status%00'),
        fc.webPath().map((p) => `/api${p}`),
      ),
      query: fc.oneof(fc.constant(''), fc.webQueryParameters().map((q) => `?${q}`), fc.constant('?code=wrong'), fc.constant('?code=')),
      body: fc.option(fc.oneof(notJson, anyJson.map((v) => JSON.stringify(v))), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(kinds, async (req) => {
        const answer = await send(stack, req.method, `${req.path}${req.query}`, req.body);
        expect(answer.status, `${req.method} ${req.path}${req.query}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        // Without the function key nothing but a 4xx comes back (a missing route is 404, the key check 401).
        expect(answer.status, `${req.method} ${req.path}${req.query}`).toBeGreaterThanOrEqual(400);
      }),
      { seed, numRuns: 600, endOnFailure: true },
    );
    await stack.settled();
    expect(enqueued - before).toBe(0);
  }, 120_000);

  it('after the storm the host still answers a valid validation handshake and a keyed status call', async () => {
    const token = 'Validation: Token after the storm <&>';
    const answer = await send(stack, 'POST', `${graphPath()}&validationToken=${encodeURIComponent(token)}`, '');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(token);
    const status = await send(stack, 'GET', `/api/status?code=${encodeURIComponent(stack.functionKey)}`, undefined);
    expect(status.status).toBe(200);
  });
});
