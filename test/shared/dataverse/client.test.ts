// The Dataverse client's $batch (issue 19 item 4), against the real simulator over HTTPS with a real token: calls that
// wait for the budget go out as one $batch, and each caller gets its own answer or error exactly as if its call had
// gone alone; a batch that fails as a whole fails each caller as its own call; an answer that is not one
// well-formed part per call fails every caller (retryable), never a silent success.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataverseApi } from '../../../shared/dataverse/client.js';
import { DataverseBudget } from '../../../shared/budget/dataverseBudget.js';
import { SyncError } from '../../../shared/errors.js';
import { APP_ID, startHarness, type Harness } from '../../sim/dataverse/support.js';

/** The URL a fetch call asks for. */
const urlOf = (input: string | URL | Request): string => (typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/**
 * A client whose budget has one request token, taken by a first call, on a clock the test moves: the next calls wait
 * for a token together until `release` moves the clock on, and then go out with that one token.
 */
async function waitingClient(h: Harness, fetchFn?: typeof fetch) {
  const tokens = () => Promise.resolve(h.token);
  let clock = Date.now();
  // 10 requests per 5 minutes: a bucket of one token, the next one 33 s later on this clock.
  const budget = new DataverseBudget({ mode: 'local', lanes: [{ clientId: APP_ID, tokens }], requestsPer5Minutes: 10, concurrent: 4, instanceId: 'client-test', maxWaitMs: 600_000, now: () => clock });
  const api = new DataverseApi({ url: h.sim.url, tokens, budget, batchMax: 20, retry: { attempts: 1, maxWaitMs: 0, baseDelayMs: 1 }, ...(fetchFn ? { fetch: fetchFn } : {}) });
  await api.whoAmI();
  return {
    api,
    release: () => {
      clock += 40_000;
    },
  };
}

async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { code: string; status: number | undefined; retryAfterMs: number | undefined }> {
  try {
    return { ok: await p };
  } catch (error) {
    if (!(error instanceof SyncError)) throw error;
    return { code: error.code, status: error.status, retryAfterMs: error.retryAfterMs };
  }
}

describe('DataverseApi $batch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.reset();
    h.sim.admin.setFaultPlan({});
    h.sim.admin.setBatchPartThrottling('batch');
  });

  async function seedTask(n: number): Promise<string> {
    const res = await h.api('tasks', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { activityid: id(n), subject: `seed ${n}` } });
    return res.headers.get('etag')!;
  }

  it('a call that does not wait goes alone, with no $batch', async () => {
    const tokens = () => Promise.resolve(h.token);
    const budget = new DataverseBudget({ mode: 'local', lanes: [{ clientId: APP_ID, tokens }], requestsPer5Minutes: 6000, concurrent: 4, instanceId: 'alone' });
    const api = new DataverseApi({ url: h.sim.url, tokens, budget });
    await Promise.all([api.whoAmI(), api.get('task', id(1)), api.get('task', id(2))]);
    const counts = h.sim.admin.requestCounts();
    expect(counts.byRoute['POST $batch']).toBeUndefined();
    expect(counts.total).toBe(3);
  });

  it('calls that wait only for a free slot (concurrency) wait alone: a batch would hold one slot for all its parts', async () => {
    const tokens = () => Promise.resolve(h.token);
    const budget = new DataverseBudget({ mode: 'local', lanes: [{ clientId: APP_ID, tokens }], requestsPer5Minutes: 6000, concurrent: 1, instanceId: 'concurrency' });
    const api = new DataverseApi({ url: h.sim.url, tokens, budget });
    const hold = h.sim.admin.holdRequests('^GET .*/WhoAmI');
    const holder = api.whoAmI();
    await hold.waitForHeld(1);
    const calls = Promise.all([api.get('task', id(1)), api.get('task', id(2)), api.get('task', id(3))]);
    hold.release();
    await holder;
    expect(await calls).toEqual([undefined, undefined, undefined]);
    const counts = h.sim.admin.requestCounts();
    expect(counts.byRoute['POST $batch']).toBeUndefined();
    expect(counts.total).toBe(4);
  });

  it('waiting calls share one $batch and each caller gets its own answer: record and etag, 412, 404, already exists, a per-part 429 with its Retry-After', async () => {
    h.sim.admin.setBatchPartThrottling('part');
    const etag = await seedTask(1);
    await seedTask(2);
    h.sim.admin.setFaultPlan({ requests: { match: `^PATCH .*tasks\\(${id(3)}\\)$`, throttle: { probability: 1, burst: 1, retryAfterSeconds: 3 } } });
    const before = h.sim.admin.requestCounts();
    const { api, release } = await waitingClient(h);
    const calls = [
      outcome(api.create('task', id(10), { subject: 'created in a batch' })),
      outcome(api.update('task', id(1), { subject: 'stale' }, { ifMatch: 'W/"1"' })),
      outcome(api.get('task', id(99))),
      outcome(api.delete('task', id(98))),
      outcome(api.update('task', id(3), { subject: 'throttled' })),
      outcome(api.create('task', id(2), { subject: 'exists' })),
      outcome(api.update('task', id(1), { subject: 'current' }, { ifMatch: etag })),
    ];
    release();
    const [created, stale, missing, deleted, throttled, exists, current] = await Promise.all(calls);
    expect(created).toMatchObject({ ok: { activityid: id(10), subject: 'created in a batch' } });
    expect((created as { ok: Record<string, unknown> }).ok['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(stale).toMatchObject({ code: 'PreconditionFailed', status: 412 });
    expect(missing).toEqual({ ok: undefined });
    expect(deleted).toEqual({ ok: undefined });
    expect(throttled).toMatchObject({ code: 'Throttled', status: 429, retryAfterMs: 3000 });
    expect(exists).toMatchObject({ code: 'AlreadyExists' });
    expect(current).toMatchObject({ ok: { subject: 'current' } });
    const after = h.sim.admin.requestCounts();
    // The first WhoAmI and one $batch of the 7 calls: 2 requests for service protection.
    expect(after.total - before.total).toBe(2);
    expect(after.batchParts - before.batchParts).toBe(7);
    expect(h.sim.admin.records('tasks').map((t) => t.subject).sort()).toEqual(['current', 'created in a batch', 'seed 2'].sort());
  });

  it('a call whose header value has a line break fails alone, and cannot split the batch for the others', async () => {
    await seedTask(1);
    const { api, release } = await waitingClient(h);
    const before = h.sim.admin.requestCounts().batchParts;
    const calls = [
      outcome(api.update('task', id(1), { subject: 'injected' }, { ifMatch: 'W/"1"\r\n\r\nDELETE /api/data/v9.2/tasks(x) HTTP/1.1' })),
      outcome(api.create('task', id(10), { subject: 'fine' })),
      outcome(api.create('task', id(11), { subject: 'fine too' })),
    ];
    release();
    const [injected, fine, fineToo] = await Promise.all(calls);
    // As alone, where fetch refuses such a header before sending (the client's Transient for a call that did not go).
    expect(injected).toMatchObject({ code: 'Transient' });
    expect(fine).toMatchObject({ ok: { subject: 'fine' } });
    expect(fineToo).toMatchObject({ ok: { subject: 'fine too' } });
    expect(h.sim.admin.records('tasks').map((t) => t.subject).sort()).toEqual(['fine', 'fine too', 'seed 1']);
    // The call with the line break was never sent: the batch had the other two parts only.
    expect(h.sim.admin.requestCounts().batchParts - before).toBe(2);
  });

  it('a 429 for the whole batch is every caller\'s own 429, with the Retry-After, and nothing is written', async () => {
    h.sim.admin.setFaultPlan({ requests: { match: '^POST .*/\\$batch$', throttle: { probability: 1, burst: 1, retryAfterSeconds: 4 } } });
    const { api, release } = await waitingClient(h);
    const calls = [outcome(api.create('task', id(10), { subject: 'a' })), outcome(api.update('task', id(3), { subject: 'b' })), outcome(api.get('task', id(4)))];
    release();
    for (const o of await Promise.all(calls)) expect(o).toMatchObject({ code: 'Throttled', status: 429, retryAfterMs: 4000 });
    expect(h.sim.admin.records('tasks')).toEqual([]);
  });

  it('a 503 for the whole batch and a transport failure of the batch fail each caller as Transient', async () => {
    h.sim.admin.setFaultPlan({ requests: { match: '^POST .*/\\$batch$', serverError: { probability: 1, status: 503 } } });
    let { api, release } = await waitingClient(h);
    let calls = [outcome(api.create('task', id(10), { subject: 'a' })), outcome(api.get('task', id(4)))];
    release();
    for (const o of await Promise.all(calls)) expect(o).toMatchObject({ code: 'Transient', status: 503 });

    h.sim.admin.setFaultPlan({});
    const broken: typeof fetch = async (input, init) => {
      if (urlOf(input).endsWith('/$batch')) throw new TypeError('fetch failed: socket hang up');
      return fetch(input, init);
    };
    ({ api, release } = await waitingClient(h, broken));
    calls = [outcome(api.create('task', id(11), { subject: 'b' })), outcome(api.get('task', id(4)))];
    release();
    for (const o of await Promise.all(calls)) expect(o).toMatchObject({ code: 'Transient' });
  });

  it('a short or malformed batch answer fails every caller as Transient, even the ones whose part was answered', async () => {
    const tamper = (change: (text: string, boundary: string) => string): typeof fetch => async (input, init) => {
      const res = await fetch(input, init);
      if (!urlOf(input).endsWith('/$batch')) return res;
      const type = res.headers.get('content-type') ?? '';
      const boundary = /boundary=([^;]+)/.exec(type)![1]!;
      return new Response(change(await res.text(), boundary), { status: res.status, headers: res.headers });
    };
    const dropLast = tamper((text, b) => {
      const cut = text.lastIndexOf(`--${b}\r\nContent-Type`);
      return `${text.slice(0, cut)}--${b}--\r\n`;
    });
    const unclosed = tamper((text, b) => text.replace(`--${b}--`, ''));
    const badStatus = tamper((text) => text.replace(/HTTP\/1\.1 201 Created/, 'HTTP/1.1 2O1 Created'));
    for (const [label, f] of [['short', dropLast], ['unclosed', unclosed], ['bad status line', badStatus]] as const) {
      h.reset();
      const { api, release } = await waitingClient(h, f);
      const calls = [outcome(api.create('task', id(10), { subject: label })), outcome(api.create('task', id(11), { subject: label }))];
      release();
      const results = await Promise.all(calls);
      for (const o of results) expect(o, label).toMatchObject({ code: 'Transient' });
    }
  });
});
