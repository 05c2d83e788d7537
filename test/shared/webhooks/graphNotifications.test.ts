// The Graph notification handler's decisions (shared/webhooks/graphNotifications.ts), request in, answer and queue
// messages out, through the handler's own ports: the subscriptions it knows and what it enqueues are plain data
// here. test/e2e/webhooks.test.ts and test/e2e/webhookFuzz.test.ts prove the same endpoint through the host.
import { describe, expect, it } from 'vitest';
import type { ChangeMessageInput } from '../../../shared/servicebus/messages.js';
import type { SubscriptionRecord } from '../../../shared/storage/subscriptionStore.js';
import { handleGraphNotifications, type GraphNotificationDeps } from '../../../shared/webhooks/graphNotifications.js';
import { maxWebhookBodyBytes, type WebhookRequest } from '../../../shared/webhooks/http.js';
import { SyncError } from '../../../shared/errors.js';
import { subscriptionProbePrefix } from '../../../shared/doctor/index.js';

const mailboxId = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
const clientState = 'a-client-state-of-32-characters!';
const sub = (id: string, resourceKind: string): SubscriptionRecord => ({
  id, mailboxId, resourceKind, resource: `users/${mailboxId}/x`, clientState, expirationDateTime: '2026-12-03T00:00:00Z', createdOn: '2026-12-01T00:00:00Z',
});
const subscriptions = new Map([['sub-events', sub('sub-events', 'events')], ['sub-contacts', sub('sub-contacts', 'contacts')], ['sub-future', sub('sub-future', 'somethingNewer')]]);

function harness(options: { paired?: Record<string, string>; enqueueFails?: boolean | Error; getFails?: Error } = {}) {
  const enqueued: ChangeMessageInput[][] = [];
  const lookups: string[] = [];
  const pairLookups: string[] = [];
  const logs: { level: string; message: string; props?: Record<string, unknown> }[] = [];
  const deps: GraphNotificationDeps = {
    getSubscription: (id) => {
      lookups.push(id);
      return options.getFails ? Promise.reject(options.getFails) : Promise.resolve(subscriptions.get(id));
    },
    pairedDataverseId: (_mailbox, exchangeId) => {
      pairLookups.push(exchangeId);
      return Promise.resolve(options.paired?.[exchangeId]);
    },
    enqueue: (messages) => {
      if (options.enqueueFails) return Promise.reject(options.enqueueFails instanceof Error ? options.enqueueFails : new SyncError('Transient', 'queue down'));
      enqueued.push(messages);
      return Promise.resolve();
    },
    log: (level, message, props) => logs.push({ level, message, props }),
    now: () => new Date('2026-12-02T10:00:00Z'),
  };
  return { deps, enqueued, lookups, pairLookups, logs };
}

const request = (body: unknown, query = ''): WebhookRequest => ({
  method: 'POST', url: `https://host/api/graph/notifications${query}`, headers: new Headers({ 'content-type': 'application/json' }), query: new URLSearchParams(query), body: typeof body === 'string' ? body : JSON.stringify(body),
});
const change = (subscriptionId: string, changeType: string, id: string, extra: Record<string, unknown> = {}) => ({
  subscriptionId, clientState, changeType, resource: `Users/${mailboxId}/Events/${id}`, resourceData: { id, '@odata.etag': 'W/"DwAAABYAAA=="', ...extra },
});

describe('Graph notifications handler', () => {
  it('answers the validation handshake with the token as plain text, before looking at the body', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request('not json', '?validationToken=a%20token'), h.deps);
    expect(res).toEqual({ status: 200, body: 'a token', headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    expect(h.enqueued).toEqual([]);
  });

  it('enqueues one message per authentic change, with the item, its etag, the mailbox and the resource of the subscription', async () => {
    const h = harness({ paired: { AAMk2: '11111111-1111-4111-8111-111111111111' } });
    const res = await handleGraphNotifications(request({ value: [change('sub-events', 'created', 'AAMk1'), change('sub-events', 'updated', 'AAMk2'), change('sub-contacts', 'deleted', 'AAMk3', { '@odata.etag': '' })] }), h.deps);
    expect(res).toEqual({ status: 202 });
    expect(h.enqueued).toHaveLength(1);
    const [created, updated, deleted] = h.enqueued[0]!;
    expect(created).toMatchObject({ source: 'exchange', mailboxId, resource: 'event', itemId: 'AAMk1', changeType: 'created', etag: 'W/"DwAAABYAAA=="', receivedAt: '2026-12-02T10:00:00.000Z' });
    expect(created).not.toHaveProperty('dataverseId');
    expect(updated).toMatchObject({ itemId: 'AAMk2', changeType: 'updated', dataverseId: '11111111-1111-4111-8111-111111111111' });
    // An empty etag is no etag (the echo check must not compare against '').
    expect(deleted).toMatchObject({ resource: 'contact', itemId: 'AAMk3', changeType: 'deleted' });
    expect(deleted).not.toHaveProperty('etag');
    // One lookup per subscription, however many notifications it has in the batch.
    expect(h.lookups).toEqual(['sub-events', 'sub-contacts']);
    // A created item has no pair yet: only the updated and deleted ones are looked up.
    expect(h.pairLookups).toEqual(['AAMk2', 'AAMk3']);
    // The log says what was enqueued, by counts and correlation ids: no item id, no resource.
    expect(h.logs.at(-1)).toEqual({
      level: 'info',
      message: 'graph notifications enqueued',
      props: { enqueued: 3, rejected: 0, unhandled: 0, correlationIds: h.enqueued[0]!.map((m) => m.correlationId) },
    });
    expect(h.enqueued[0]!.map((m) => m.correlationId).every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
  });

  it('a created notification never takes the pair of an earlier item with its id', async () => {
    const h = harness({ paired: { AAMk1: '11111111-1111-4111-8111-111111111111' } });
    await handleGraphNotifications(request({ value: [change('sub-events', 'created', 'AAMk1')] }), h.deps);
    expect(h.enqueued[0]![0]).not.toHaveProperty('dataverseId');
    expect(h.pairLookups).toEqual([]);
  });

  it('enqueues a lifecycle notification as a lifecycle message of its subscription', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request({ value: [{ subscriptionId: 'sub-events', clientState, lifecycleEvent: 'reauthorizationRequired' }] }), h.deps);
    expect(res.status).toBe(202);
    expect(h.enqueued[0]).toEqual([expect.objectContaining({ source: 'lifecycle', subscriptionId: 'sub-events', lifecycleEvent: 'reauthorizationRequired' })]);
  });

  it('drops a notification with a wrong or missing clientState or an unknown subscription, and keeps the authentic ones', async () => {
    const h = harness();
    const forged = { ...change('sub-events', 'updated', 'AAMkX'), clientState: 'a-client-state-of-32-characters?' };
    const missing = { ...change('sub-events', 'updated', 'AAMkY'), clientState: undefined };
    const res = await handleGraphNotifications(request({ value: [forged, missing, change('nobody', 'updated', 'AAMkZ'), change('sub-events', 'updated', 'AAMk1')] }), h.deps);
    expect(res.status).toBe(202);
    expect(h.enqueued[0]!.map((m) => (m as { itemId: string }).itemId)).toEqual(['AAMk1']);
    // An operator reads why a notification was dropped, by subscription id only (no item id, no clientState).
    expect(h.logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(Array(3).fill('graph notification dropped: unknown subscription or wrong clientState'));
    expect(h.logs.filter((l) => l.level === 'warn').map((l) => l.props)).toEqual([
      { subscriptionId: 'sub-events', known: true },
      { subscriptionId: 'sub-events', known: true },
      { subscriptionId: 'nobody', known: false },
    ]);
  });

  it('answers 401 and enqueues nothing when no notification is authentic', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request({ value: [{ ...change('sub-events', 'updated', 'AAMkX'), clientState: 'wrong' }, change('nobody', 'updated', 'AAMkZ')] }), h.deps);
    expect(res).toEqual({ status: 401, jsonBody: { error: { code: 'NotAuthentic', message: 'none of the 2 notification(s) matched a known subscription and its clientState' } } });
    expect(h.enqueued).toEqual([]);
  });

  it('accepts and drops an authentic notification of a subscription kind this version does not sync (202, nothing enqueued)', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request({ value: [change('sub-future', 'updated', 'AAMk1')] }), h.deps);
    expect(res).toEqual({ status: 202 });
    expect(h.enqueued).toEqual([]);
    expect(h.logs).toEqual([{ level: 'info', message: 'graph notification dropped: a resource the sync does not handle', props: { subscriptionId: 'sub-future', resourceKind: 'somethingNewer', changeType: 'updated' } }]);
  });

  it('a batch mixing an unhandled kind with an authentic change still enqueues the change', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request({ value: [change('sub-future', 'updated', 'AAMk1'), change('sub-events', 'updated', 'AAMk2')] }), h.deps);
    expect(res.status).toBe(202);
    expect(h.enqueued[0]!.map((m) => (m as { itemId: string }).itemId)).toEqual(['AAMk2']);
    expect(h.logs.at(-1)).toMatchObject({ message: 'graph notifications enqueued', props: { enqueued: 1, rejected: 0, unhandled: 1 } });
  });

  it('a batch mixing an unhandled kind with a forged notification is still accepted (the authentic one is dropped, not retried)', async () => {
    const h = harness();
    const res = await handleGraphNotifications(request({ value: [change('sub-future', 'updated', 'AAMk1'), change('nobody', 'updated', 'AAMk2')] }), h.deps);
    expect(res.status).toBe(202);
    expect(h.enqueued).toEqual([]);
  });

  it("records an authentic notification of the doctor's probe subscription for the doctor and queues nothing; a forged probe is rejected like any unknown one", async () => {
    const h = harness();
    const probes: { id: string; clientState: string; notification: { changeType: string; itemId: string } }[] = [];
    const probeState = `${subscriptionProbePrefix}the-probe`;
    h.deps.onSubscriptionProbe = (id, state, notification) => {
      probes.push({ id, clientState: state, notification });
      return Promise.resolve(state === probeState);
    };
    const probe = { ...change('sub-probe', 'created', 'AAMkP'), clientState: probeState };
    expect(await handleGraphNotifications(request({ value: [probe] }), h.deps)).toEqual({ status: 202 });
    expect(probes).toEqual([{ id: 'sub-probe', clientState: probeState, notification: { changeType: 'created', itemId: 'AAMkP' } }]);
    expect(h.enqueued).toEqual([]);
    // Logged by subscription and change type, never the item id.
    expect(h.logs).toEqual([{ level: 'info', message: 'graph notification of a doctor probe recorded', props: { subscriptionId: 'sub-probe', changeType: 'created' } }]);
    const forged = await handleGraphNotifications(request({ value: [{ ...probe, clientState: `${subscriptionProbePrefix}guessed` }] }), h.deps);
    expect(forged.status).toBe(401);
    // A clientState without the prefix never reaches the probe lookup.
    await handleGraphNotifications(request({ value: [change('sub-unknown', 'created', 'AAMkQ')] }), h.deps);
    expect(probes).toHaveLength(2);
    // An authentic probe next to a real change: the change is still enqueued.
    const mixed = harness();
    mixed.deps.onSubscriptionProbe = h.deps.onSubscriptionProbe;
    expect(await handleGraphNotifications(request({ value: [probe, change('sub-events', 'updated', 'AAMk1')] }), mixed.deps)).toEqual({ status: 202 });
    expect(mixed.enqueued[0]!.map((m) => (m as { itemId: string }).itemId)).toEqual(['AAMk1']);
  });

  it('answers 503 (so Graph retries) when the queue cannot take the messages, naming no item', async () => {
    const h = harness({ enqueueFails: true });
    const res = await handleGraphNotifications(request({ value: [change('sub-events', 'updated', 'AAMk1')] }), h.deps);
    expect(res).toEqual({ status: 503, jsonBody: { error: { code: 'EnqueueFailed', message: 'the change queue is unavailable; retry later' } } });
    expect(h.logs.at(-1)).toEqual({ level: 'error', message: 'graph notifications could not be enqueued; Graph will retry', props: { count: 1, code: 'Transient' } });
    // A failure that is not one of ours is logged as Unknown, its message (which may hold anything) left out.
    const odd = harness({ enqueueFails: new Error('socket closed for AAMk1') });
    expect((await handleGraphNotifications(request({ value: [change('sub-events', 'updated', 'AAMk1')] }), odd.deps)).status).toBe(503);
    expect(odd.logs.at(-1)).toEqual({ level: 'error', message: 'graph notifications could not be enqueued; Graph will retry', props: { count: 1, code: 'Unknown' } });
  });

  it('answers 400 naming the problem for a key the stores refuse, and lets any other failure through', async () => {
    const bad = harness({ getFails: new SyncError('InvalidInput', 'subscription id is not a valid key') });
    expect(await handleGraphNotifications(request({ value: [change('sub-events', 'updated', 'AAMk1')] }), bad.deps)).toEqual({
      status: 400, jsonBody: { error: { code: 'InvalidNotification', message: 'notification batch rejected: subscription id is not a valid key' } },
    });
    const down = harness({ getFails: new SyncError('Transient', 'table down') });
    await expect(handleGraphNotifications(request({ value: [change('sub-events', 'updated', 'AAMk1')] }), down.deps)).rejects.toThrow('table down');
  });

  it('answers 400 for a body that is not JSON or not a batch, naming the failing path, and 413 for an oversized one', async () => {
    const h = harness();
    expect(await handleGraphNotifications(request('{'), h.deps)).toEqual({ status: 400, jsonBody: { error: { code: 'InvalidJson', message: 'request body is not valid JSON' } } });
    const empty = await handleGraphNotifications(request({ value: [] }), h.deps);
    expect(empty.status).toBe(400);
    expect(empty.jsonBody).toMatchObject({ error: { code: 'InvalidNotification' } });
    expect(JSON.stringify(empty.jsonBody)).toContain('notification batch rejected at value');
    const root = await handleGraphNotifications(request('[]'), h.deps);
    expect(JSON.stringify(root.jsonBody)).toContain('rejected at (root)');
    const big = await handleGraphNotifications(request(' '.repeat(maxWebhookBodyBytes + 1)), h.deps);
    expect(big.status).toBe(413);
    expect(h.enqueued).toEqual([]);
  });
});
