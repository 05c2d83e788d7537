import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventBody, startTestGraph, USERS, Webhook, type TestGraph, pluck, type Loose } from './support.js';

const sample = (name: string): Loose => JSON.parse(readFileSync(new URL(`../../fixtures/microsoft/${name}`, import.meta.url), 'utf8'));
const keysDeep = (o: unknown): unknown => (o && typeof o === 'object' && !Array.isArray(o) ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, keysDeep(v)])) : typeof o);
const inMinutes = (g: TestGraph, minutes: number) => g.sim.admin.now().then((now) => new Date(Date.parse(now) + minutes * 60_000).toISOString());

describe('Graph simulator: subscriptions and change notifications', () => {
  let g: TestGraph;
  let user: string;
  let hook: Webhook;
  let life: Webhook;
  beforeAll(async () => {
    g = await startTestGraph({
      // The answer timeout leaves room for a loaded CI machine: a webhook that answers late is retried (as Graph
      // does), and a retry here would add a duplicate the assertions below do not expect.
      notifications: { responseTimeoutMs: 600, validationTimeoutMs: 300, retryInitialDelayMs: 20, retryMaxDelayMs: 80, retryForMs: 1500 },
    });
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    user = (await g.sim.admin.seedUsers(USERS))[0]!.id;
    hook = await new Webhook().start();
    life = await new Webhook().start('/api/lifecycle');
  });
  afterEach(async () => {
    await g.sim.admin.notificationsSettled();
    await hook.close();
    await life.close();
  });

  const subscribe = async (extra: Record<string, unknown> = {}): Promise<Loose> =>
    g.client.api('/subscriptions').post({
      changeType: 'created,updated,deleted',
      notificationUrl: hook.url,
      lifecycleNotificationUrl: life.url,
      resource: `/users/${user}/events`,
      expirationDateTime: await inMinutes(g, 3 * 24 * 60),
      clientState: 'secret-state',
      ...extra,
    });

  it('validates both endpoints with the decoded-token handshake, keeping the query string, and answers like the documented response', async () => {
    const sub = await subscribe();
    const validations = [...hook.posts, ...life.posts].filter((p) => p.query.has('validationToken'));
    expect(validations).toHaveLength(2);
    expect(hook.posts[0]!.query.get('code')).toBe('fn-key');
    expect(hook.posts[0]!.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(hook.posts[0]!.query.get('validationToken')).toMatch(/^Validation: Testing client application reachability for subscription Request-Id: /);
    const documented = sample('graph-subscription-create-response.json');
    for (const key of Object.keys(documented)) expect(sub, key).toHaveProperty(key);
    expect(keysDeep({ ...sub, lifecycleNotificationUrl: 'x' })).toMatchObject(keysDeep(documented) as object);
    expect(sub.expirationDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
  });

  it('refuses creation when the handshake fails, times out or the URL is not https (localhost http excepted)', async () => {
    for (const [mode, code] of [
      ['wrong', 'ValidationError'],
      ['json', 'ValidationError'],
      ['status500', 'ValidationError'],
      ['hang', 'InvalidRequest'],
    ] as const) {
      hook.validation = mode;
      const res = await g.raw('POST', '/subscriptions', { changeType: 'created', notificationUrl: hook.url, resource: `/users/${user}/events`, expirationDateTime: await inMinutes(g, 60), clientState: 'x' });
      expect(res.status, mode).toBe(400);
      expect(res.body.error.code, mode).toBe(code);
    }
    const insecure = await g.raw('POST', '/subscriptions', { changeType: 'created', notificationUrl: 'http://example.com/hook', resource: `/users/${user}/events`, expirationDateTime: await inMinutes(g, 60) });
    expect(insecure.status).toBe(400);
    expect(await g.sim.admin.subscriptions()).toEqual([]);
  });

  it('caps the lifetime at 10,080 minutes for events, raises short ones to 45 minutes, refuses past ones, and refuses app-only To Do subscriptions with 403', async () => {
    const tooFar = await g.raw('POST', '/subscriptions', { changeType: 'created', notificationUrl: hook.url, resource: `/users/${user}/events`, expirationDateTime: await inMinutes(g, 10_081) });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.error.message).toContain('10080 minutes');
    const past = await g.raw('POST', '/subscriptions', { changeType: 'created', notificationUrl: hook.url, resource: `/users/${user}/events`, expirationDateTime: await inMinutes(g, -1) });
    expect(past.status).toBe(400);
    const short = await subscribe({ expirationDateTime: await inMinutes(g, 5) });
    expect(Date.parse(short.expirationDateTime) - Date.parse(await g.sim.admin.now())).toBeGreaterThanOrEqual(44 * 60_000);
    const lists = await g.client.api(`/users/${user}/todo/lists`).get();
    const todo = await g.raw('POST', '/subscriptions', { changeType: 'created', notificationUrl: hook.url, resource: `/users/${user}/todo/lists/${lists.value[0].id}/tasks`, expirationDateTime: await inMinutes(g, 60) });
    expect(todo.status).toBe(403);
  });

  it("notifies the app of its own writes and of a person's, in the documented shape, batching changes of one tick into one POST", async () => {
    const sub = await subscribe();
    const created = await g.client.api(`/users/${user}/events`).post(eventBody('echo'));
    await hook.waitForItems(1);
    const [first] = hook.items();
    const documented = sample('graph-change-notification-basic.json').value[0];
    expect(Object.keys(first)).toEqual(Object.keys(documented));
    expect(Object.keys(first.resourceData)).toEqual(Object.keys(documented.resourceData));
    expect(first).toMatchObject({
      subscriptionId: sub.id,
      clientState: 'secret-state',
      changeType: 'created',
      resource: `Users/${user}/Events/${created.id}`,
      tenantId: g.sim.tenantId,
      resourceData: { '@odata.type': '#Microsoft.Graph.Event', '@odata.id': `Users/${user}/Events/${created.id}`, '@odata.etag': created['@odata.etag'], id: created.id },
    });
    expect(hook.notifications[0]!.query.get('code')).toBe('fn-key');
    await Promise.all([g.sim.admin.createEvent(user, eventBody('p1')), g.sim.admin.createEvent(user, eventBody('p2')), g.sim.admin.createEvent(user, eventBody('p3'))]);
    await hook.waitForItems(4);
    expect(hook.notifications[1]!.json.value).toHaveLength(3);
  });

  it('retries a failing or slow endpoint with backoff, then gives up and sends a missed lifecycle notification', async () => {
    await subscribe();
    hook.answers = [500, 503];
    hook.delays = [0, 0, 800];
    await g.sim.admin.createEvent(user, eventBody('retry'));
    await g.sim.admin.notificationsSettled();
    const attempts = (await g.sim.admin.notifications()).filter((d) => d.url === hook.url);
    expect(attempts.map((a) => a.status)).toEqual([500, 503, 0, 202]);
    expect(attempts[2]!.error).toContain('no answer within 600 ms');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);

    hook.answers = Array.from({ length: 50 }, () => 500);
    await g.sim.admin.createEvent(user, eventBody('lost'));
    await g.sim.admin.notificationsSettled();
    expect(pluck(life.items(), 'lifecycleEvent')).toEqual(['missed']);
  });

  it('sends lifecycle notifications in the documented shape, renews, reauthorizes, deletes, and expires subscriptions with the clock', async () => {
    const sub = await subscribe();
    expect(await g.sim.admin.sendLifecycle(sub.id, 'reauthorizationRequired')).toBe(true);
    await life.waitForItems(1);
    expect(Object.keys(life.items()[0]).sort()).toEqual(Object.keys(sample('graph-lifecycle-notification-reauthorizationrequired.json').value[0]).sort());
    expect((await g.raw('POST', `/subscriptions/${sub.id}/reauthorize`)).status).toBe(204);
    const renewed = await g.client.api(`/subscriptions/${sub.id}`).patch({ expirationDateTime: await inMinutes(g, 10_000) });
    expect(Date.parse(renewed.expirationDateTime)).toBeGreaterThan(Date.parse(sub.expirationDateTime));
    await g.sim.admin.advanceClock(10_001 * 60_000);
    expect((await g.raw('GET', `/subscriptions/${sub.id}`)).status).toBe(404);
    await g.sim.admin.createEvent(user, eventBody('after expiry'));
    await g.sim.admin.notificationsSettled();
    expect(hook.items()).toEqual([]);

    const other = await subscribe();
    await g.sim.admin.sendLifecycle(other.id, 'subscriptionRemoved');
    // Found by its event, not its position: a late answer to the first lifecycle POST may have been retried.
    const removed = (i: Loose) => i.lifecycleEvent === 'subscriptionRemoved';
    for (let n = 2; !life.items().some(removed); n += 1) await life.waitForItems(n);
    expect(life.items().find(removed)).toMatchObject({ lifecycleEvent: 'subscriptionRemoved', subscriptionId: other.id, clientState: 'secret-state' });
    expect((await g.raw('GET', `/subscriptions/${other.id}`)).status).toBe(404);
    const third = await subscribe();
    expect((await g.raw('DELETE', `/subscriptions/${third.id}`)).status).toBe(204);
    expect((await g.raw('DELETE', `/subscriptions/${third.id}`)).status).toBe(404);
  });
});
