// The seeded fault plan (same seed, same run) and the admin API over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseAdminClient, type FaultPlan } from '../../../dev/sim/dataverse/index.js';
import { APP_ID, startHarness, WebhookReceiver, type Harness } from './support.js';

const plan: FaultPlan = {
  requests: { match: '^POST .*/tasks$', throttle: { probability: 0.15, burst: 2, retryAfterSeconds: 3 }, serverError: { probability: 0.1, status: 503 } },
  webhooks: { dropProbability: 0.2, duplicateProbability: 0.2, delay: { probability: 0.2, ms: 5 }, reorderProbability: 0.2 },
};

async function register(h: Harness, url: string): Promise<void> {
  const messageId = (await h.api(`sdkmessages?$filter=name eq 'Create'`)).json.value[0].sdkmessageid;
  const endpoint = (await h.api('serviceendpoints', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { name: 'f', contract: 8, url, authtype: 4, authvalue: 'k' } })).json.serviceendpointid;
  const res = await h.api('sdkmessageprocessingsteps', {
    method: 'POST',
    body: { name: 'f', mode: 1, stage: 40, 'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpoint})`, 'sdkmessageid@odata.bind': `/sdkmessages(${messageId})` },
  });
  expect(res.status).toBe(204);
}

/** One scripted run: 30 sequential creates under the fault plan; returns everything observable. */
async function run(seed: number, hook: WebhookReceiver) {
  const h = await startHarness({ seed, faults: plan });
  try {
    await register(h, `${hook.url}/faults`);
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await h.api('tasks', { method: 'POST', body: { subject: `t${i}` } });
      outcomes.push(`${res.status}:${res.headers.get('odata-entityid')?.slice(-37, -1) ?? res.json?.error?.code}`);
    }
    await h.sim.admin.flushWebhooks();
    const deliveries = h.sim.admin.deliveries().map((d) => `${d.sequence}:${d.recordId}:${d.state}:${d.faults.join('+')}:${d.duplicateOf ?? ''}`);
    return { outcomes, deliveries };
  } finally {
    await h.close();
  }
}

describe('Dataverse simulator fault plan', () => {
  let hook: WebhookReceiver;
  beforeAll(async () => {
    hook = await new WebhookReceiver().start();
  });
  afterAll(async () => hook.close());

  it('gives the same run for the same seed, and a different one for another seed', async () => {
    const a = await run(11, hook);
    const b = await run(11, hook);
    const c = await run(12, hook);
    expect(b).toEqual(a);
    expect(c.outcomes).not.toEqual(a.outcomes);
    // The plan really bites: throttles, server errors, drops and duplicates all happen.
    const all = [...a.outcomes, ...a.deliveries].join(' ');
    for (const fault of ['429:0x80072322', '503:0x80040216', 'dropped', 'duplicated', 'reordered', 'delayed']) expect(all).toContain(fault);
  });

  it('answers injected 429s with the plan Retry-After and injected 5xx in the error shape', async () => {
    const h = await startHarness({ seed: 3, faults: { requests: { throttle: { probability: 1, burst: 1, retryAfterSeconds: 9 } } } });
    try {
      const res = await h.api('WhoAmI');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('9');
      expect(res.json.error.code).toBe('0x80072322');
      h.sim.admin.setFaultPlan({ requests: { serverError: { probability: 1, status: 502 } } });
      const failed = await h.api('WhoAmI');
      expect(failed.status).toBe(502);
      expect(failed.json).toEqual({ error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
      h.sim.admin.setFaultPlan({});
      expect((await h.api('WhoAmI')).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('loses the answer to a request that took effect (afterExecution), as many times as the plan says', async () => {
    const h = await startHarness({ seed: 4 });
    try {
      h.sim.admin.setFaultPlan({ requests: { match: '^PATCH ', serverError: { probability: 1, status: 503, afterExecution: true, times: 2 } } });
      const id = '5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b';
      const create = () => h.api(`tasks(${id})`, { method: 'PATCH', headers: { 'If-None-Match': '*' }, body: { subject: 'written once' } });
      expect((await create()).status).toBe(503);
      expect(h.sim.admin.record('tasks', id)?.subject).toBe('written once');
      // The repeat finds the record (412 from If-None-Match), but that answer is lost too.
      expect((await create()).status).toBe(503);
      expect((await create()).status).toBe(412);
      expect(h.sim.admin.records('tasks').filter((t) => t.subject === 'written once')).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('drops, duplicates and reorders webhook deliveries observably at the endpoint', async () => {
    const h = await startHarness({ seed: 5, webhookConcurrency: 1 });
    try {
      await register(h, `${hook.url}/order`);
      hook.clear();
      h.sim.admin.setFaultPlan({ webhooks: { reorderProbability: 1 } });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await h.api('tasks', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: `o${i}` } })).json.activityid);
      await h.sim.admin.flushWebhooks();
      const order = hook.received.map((r) => (JSON.parse(r.body) as { PrimaryEntityId: string }).PrimaryEntityId);
      expect(order).toEqual([ids[1], ids[0], ids[3], ids[2]]);

      hook.clear();
      h.sim.admin.setFaultPlan({ webhooks: { duplicateProbability: 1 } });
      await h.api('tasks', { method: 'POST', body: { subject: 'dup' } });
      await h.sim.admin.flushWebhooks();
      expect(hook.received).toHaveLength(2);
      expect(hook.received[0]!.headers['x-request-id']).toBe(hook.received[1]!.headers['x-request-id']);
      expect(hook.received[0]!.body).toBe(hook.received[1]!.body);

      hook.clear();
      h.sim.admin.setFaultPlan({ webhooks: { dropProbability: 1 } });
      await h.api('tasks', { method: 'POST', body: { subject: 'drop' } });
      await h.sim.admin.flushWebhooks();
      expect(hook.received).toHaveLength(0);
      expect(h.sim.admin.deliveries({ state: 'dropped' })).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

describe('Dataverse simulator admin API over HTTP', () => {
  let h: Harness;
  let hook: WebhookReceiver;
  let admin: DataverseAdminClient;
  beforeAll(async () => {
    h = await startHarness();
    hook = await new WebhookReceiver().start();
    admin = new DataverseAdminClient(h.sim.url);
  });
  afterAll(async () => {
    await hook.close();
    await h.close();
  });

  it('resets, seeds, acts as a person, inspects deliveries and counters, and validates its input', async () => {
    await admin.reset();
    await admin.seedApplicationUser({ clientId: APP_ID });
    const [carol] = await admin.seedUsers([{ fullname: 'Carol Cole', internalemailaddress: 'carol@contoso.test' }]);
    expect(carol!.fullname).toBe('Carol Cole');
    const [contactId] = await admin.seedRecords('contacts', [{ firstname: 'Dee', lastname: 'Dunn' }], carol!.systemuserid);
    expect((await admin.record('contacts', contactId!))['_ownerid_value']).toBe(carol!.systemuserid);
    await register(h, `${hook.url}/admin`);
    const created = await admin.act({ action: 'create', userId: carol!.systemuserid, set: 'tasks', body: { subject: 'From the UI' } });
    const [delivery] = await admin.waitForDeliveries({ count: 1, where: { entity: 'task', message: 'Create' } });
    expect(delivery!.initiatingUserId).toBe(carol!.systemuserid);
    expect(delivery!.recordId).toBe(created['activityid']);
    const completed = await admin.act({ action: 'complete', userId: carol!.systemuserid, set: 'tasks', id: String(created['activityid']) });
    expect(completed).toMatchObject({ statecode: 1, statuscode: 5 });
    expect((await admin.records('tasks', `statecode eq 1`)).map((r) => r['subject'])).toEqual(['From the UI']);
    const counts = await admin.requestCounts();
    expect(counts.byRoute['POST sdkmessageprocessingsteps']).toBe(1);
    await expect(admin.setFaultPlan({ webhooks: { dropProbability: 2 } })).rejects.toThrow(/webhooks\.dropProbability/);
    await expect(admin.act({ action: 'update', userId: 'nope', set: 'tasks', id: 'x', body: {} })).rejects.toThrow(/userId: must be a GUID/);
    const limits = await admin.setLimits({ requestsPerWindow: 100 });
    expect(limits.requestsPerWindow).toBe(100);
    expect(limits.concurrentRequests).toBe(52);
    await admin.advanceClock(1000);
    await admin.expireChangeTrackingTokens();
    await admin.reset();
    expect(await admin.deliveries()).toEqual([]);
  });
});
