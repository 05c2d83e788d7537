import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphSimAdminClient, type FaultPlan } from '../../../dev/sim/graph/index.js';
import { eventBody, startTestGraph, USERS, Webhook, type TestGraph, pluck, type Loose } from './support.js';

const PLAN: FaultPlan = { serverErrors: { probability: 0.25, afterExecution: 0.5 }, throttleBursts: { probability: 0.1, length: 2, retryAfterSeconds: 0 }, latency: { probability: 0.2, minMs: 1, maxMs: 3 } };

/** Drives a fixed sequence of requests and returns what happened. */
async function run(seed: number): Promise<{ statuses: number[]; history: string[]; events: number }> {
  const g = await startTestGraph({ seed, faults: PLAN });
  try {
    const user = (await g.sim.admin.seedUsers(USERS))[0]!.id;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const r = i % 3 === 0 ? await g.raw('POST', `/users/${user}/events`, eventBody(`e${i}`)) : await g.raw('GET', `/users/${user}/events?$top=1`);
      statuses.push(r.status);
    }
    return { statuses, history: await g.sim.admin.faultHistory(), events: (await g.sim.admin.items({ kind: 'event' })).length };
  } finally {
    await g.sim.close();
  }
}

describe('Graph simulator: seeded fault plan', () => {
  it('gives the same faults for the same seed and different ones for another seed', async () => {
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a).toEqual(b);
    expect(a.statuses.some((s) => s >= 500)).toBe(true);
    expect(a.statuses.some((s) => s === 429)).toBe(true);
    expect(c.history).not.toEqual(a.history);
  });

  describe('targeted faults', () => {
    let g: TestGraph;
    let user: string;
    let hook: Webhook;
    beforeAll(async () => {
      g = await startTestGraph({ notifications: { retryInitialDelayMs: 10, retryMaxDelayMs: 20, retryForMs: 200 } });
      user = (await g.sim.admin.seedUsers(USERS))[0]!.id;
      hook = await new Webhook().start();
    });
    afterAll(async () => {
      await g.sim.admin.notificationsSettled();
      await hook.close();
      await g.sim.close();
    });

    it('loses the response of a write that took effect (scripted 504 after execution), so only transactionId keeps the retry from duplicating', async () => {
      await g.sim.admin.failNext({ method: 'POST', path: '/events$', status: 504, afterExecution: true });
      const body = eventBody('lost response', { transactionId: 'tx-lost-1' });
      const first = await g.raw('POST', `/users/${user}/events`, body);
      expect(first.status).toBe(504);
      const retry = await g.raw('POST', `/users/${user}/events`, body);
      expect(retry.status).toBe(201);
      const matching = await g.client.api(`/users/${user}/events`).filter("transactionId eq 'tx-lost-1'").get();
      expect(pluck(matching.value, 'id')).toEqual([retry.body.id]);
    });

    it('drops, duplicates and delays notifications, removes subscriptions and evicts delta tokens when the plan says so', async () => {
      const exp = new Date(Date.parse(await g.sim.admin.now()) + 3600_000).toISOString();
      await g.client.api('/subscriptions').post({ changeType: 'created', notificationUrl: hook.url, lifecycleNotificationUrl: hook.url, resource: `/users/${user}/events`, expirationDateTime: exp, clientState: 's' });
      await g.sim.admin.setFaultPlan({ seed: 3, notifications: { duplicate: 1, delay: 1, delayMs: { min: 5, max: 10 } } });
      await g.sim.admin.createEvent(user, eventBody('dup'));
      await g.sim.admin.notificationsSettled();
      expect(hook.items().filter((n) => n.changeType === 'created')).toHaveLength(2);
      await g.sim.admin.setFaultPlan({ seed: 3, notifications: { drop: 1, missedOnDrop: true } });
      await g.sim.admin.createEvent(user, eventBody('dropped'));
      await g.sim.admin.notificationsSettled();
      expect(hook.items().map((n: Loose): unknown => n.changeType ?? n.lifecycleEvent)).toEqual(['created', 'created', 'missed']);
      await g.sim.admin.setFaultPlan({ seed: 3, subscriptionRemoval: 1, deltaTokenEviction: 1 });
      await g.sim.admin.createEvent(user, eventBody('removed'));
      await g.sim.admin.notificationsSettled();
      expect(hook.items().at(-1)).toMatchObject({ lifecycleEvent: 'subscriptionRemoved' });
      expect(await g.sim.admin.subscriptions()).toEqual([]);
      const first = await g.client.api(`/users/${user}/todo/lists/delta`).get();
      const evicted = await g.raw('GET', first['@odata.deltaLink']);
      expect(evicted.status).toBe(410);
      await g.sim.admin.setFaultPlan({});
    });

    it('is driven the same way over HTTP by the admin client', async () => {
      const admin = new GraphSimAdminClient(g.sim.baseUrl);
      const [dave] = await admin.seedUsers([{ userPrincipalName: 'dave@contoso.test', timeZone: 'America/New_York' }]);
      expect(dave!.timeZone).toBe('Eastern Standard Time');
      const created = await admin.createEvent('dave@contoso.test', eventBody('from outside', { attendees: [{ emailAddress: { address: 'adele@contoso.test' }, type: 'required' }] }));
      expect(created.isOrganizer).toBe(true);
      const tagged = await admin.setCategory('dave@contoso.test', 'event', created.id as string, 'Tracked to Dynamics 365', true);
      expect(tagged.categories).toEqual(['Tracked to Dynamics 365']);
      expect((await admin.invitations({ user: 'dave@contoso.test' })).map((i) => i.type)).toEqual(['request']);
      expect((await admin.items({ user: dave!.id, kind: 'event' })).map((i) => i.id)).toEqual([created.id]);
      const before = Date.parse(await admin.now());
      const after = Date.parse(await admin.advanceClock(86_400_000));
      expect(after - before).toBeGreaterThanOrEqual(86_400_000);
      expect((await admin.requests()).total).toBeGreaterThan(0);
      await admin.notificationsSettled();
      await expect(admin.act({ action: 'delete', user: 'nobody@contoso.test', kind: 'event', id: 'x' })).rejects.toMatchObject({ status: 404 });
    });
  });
});
