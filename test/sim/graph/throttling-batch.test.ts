import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventBody, startTestGraph, USERS, type TestGraph, pluck, type Loose } from './support.js';

describe('Graph simulator: throttling and $batch', () => {
  let g: TestGraph;
  let adele: string;
  let bob: string;
  beforeAll(async () => {
    g = await startTestGraph({ limits: { requestsPerWindow: 3, windowMs: 1_000 } });
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    await g.sim.admin.setLimits({ requestsPerWindow: 3, windowMs: 1_000, concurrentRequests: 4 });
    [adele, bob] = (await g.sim.admin.seedUsers(USERS)).map((u) => u.id) as [string, string];
  });

  it('answers 429 with Retry-After and the documented body once an app exceeds the window for one mailbox, without affecting other mailboxes', async () => {
    for (let i = 0; i < 3; i += 1) expect((await g.raw('GET', `/users/${adele}/events`)).status).toBe(200);
    const throttled = await g.raw('GET', `/users/${adele}/events`);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Object.keys(throttled.body.error).sort()).toEqual(['code', 'innerError', 'message']);
    expect(throttled.body.error).toMatchObject({ code: 'TooManyRequests', innerError: { code: '429', status: '429' } });
    expect((await g.raw('GET', `/users/${bob}/events`)).status).toBe(200);
    expect((await g.sim.admin.requests()).throttled).toBe(1);
  });

  it("lets the SDK's retry handler honour Retry-After and succeed", async () => {
    for (let i = 0; i < 3; i += 1) await g.raw('GET', `/users/${adele}/events`);
    const res = await g.client.api(`/users/${adele}/events`).get();
    expect(res.value).toEqual([]);
    const stats = await g.sim.admin.requests();
    expect(stats.byStatus['429']).toBeGreaterThanOrEqual(1);
    expect(stats.byRoute['GET /users/{u}/events']).toBeGreaterThanOrEqual(5);
  });

  it('limits concurrent requests per app and mailbox to 4', async () => {
    await g.sim.admin.setLimits({ requestsPerWindow: 1000 });
    const hold = g.sim.admin.holdRequests();
    const finished: number[] = [];
    let twoDone!: () => void;
    const twoFinished = new Promise<void>((resolve) => (twoDone = resolve));
    const requests = Array.from({ length: 6 }, () =>
      g.raw('GET', `/users/${adele}/events`).then((r) => {
        finished.push(r.status);
        if (finished.length === 2) twoDone();
        return r.status;
      }),
    );
    await hold.waitForHeld(4);
    await twoFinished;
    expect(finished).toEqual([429, 429]);
    hold.release();
    expect((await Promise.all(requests)).sort()).toEqual([200, 200, 200, 200, 429, 429]);
    // The accounting counts demand: 4 in flight and one more arriving make 5 at once, though the fifth was refused.
    const stats = await g.sim.admin.requests();
    expect(stats.peakConcurrentByMailbox[adele]).toBe(5);
    expect(stats.peakConcurrentByMailbox[bob]).toBeUndefined();
  });

  it('a mailbox called one request at a time peaks at 1', async () => {
    await g.sim.admin.setLimits({ requestsPerWindow: 1000 });
    for (let i = 0; i < 3; i += 1) expect((await g.raw('GET', `/users/${adele}/events`)).status).toBe(200);
    expect((await g.sim.admin.requests()).peakConcurrentByMailbox[adele]).toBe(1);
  });

  it('runs $batch requests with dependsOn in order, fails dependants of a failed request with 424, and refuses more than 20 requests', async () => {
    await g.sim.admin.setLimits({ requestsPerWindow: 1000 });
    const created = await g.client.api(`/users/${adele}/events`).post(eventBody('batched'));
    const batch = await g.client.api('/$batch').post({
      requests: [
        { id: '1', method: 'PATCH', url: `/users/${adele}/events/${created.id}`, headers: { 'Content-Type': 'application/json' }, body: { subject: 'renamed' } },
        { id: '2', dependsOn: ['1'], method: 'GET', url: `/users/${adele}/events/${created.id}?$select=subject` },
        { id: '3', method: 'GET', url: `/users/${adele}/events/does-not-exist` },
        { id: '4', dependsOn: ['3'], method: 'GET', url: `/users/${adele}/events` },
        { id: '5', method: 'POST', url: `/users/${adele}/events`, body: eventBody('no content type') },
      ],
    });
    const byId = new Map(batch.responses.map((r: Loose): [string, Loose] => [String(r.id), r]));
    expect((byId.get('1') as Loose).status).toBe(200);
    expect((byId.get('2') as Loose).body.subject).toBe('renamed');
    expect((byId.get('3') as Loose).status).toBe(404);
    expect((byId.get('3') as Loose).body.error.code).toBe('ErrorItemNotFound');
    expect((byId.get('4') as Loose).status).toBe(424);
    expect((byId.get('5') as Loose).status).toBe(400);
    const tooMany = await g.raw('POST', '/$batch', { requests: Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: `/users/${adele}/events` })) });
    expect(tooMany.status).toBe(400);
  });

  it('throttles each request of a batch on its own: 200 for the batch, 429 with retry-after inside it', async () => {
    const batch = await g.raw('POST', '/$batch', { requests: Array.from({ length: 5 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: `/users/${adele}/events` })) });
    expect(batch.status).toBe(200);
    const statuses = pluck(batch.body.responses, 'status').sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const throttled = batch.body.responses.find((r: Loose) => r.status === 429);
    expect(throttled.headers['Retry-After']).toBeDefined();
  });
});
