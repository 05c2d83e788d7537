// Subscription lifecycle against the whole local stack: renewal ahead of the expiry Graph
// returned across simulated days, each lifecycle notification handled, a subscription that expired at Graph
// recreated and caught up, and a mailbox marked degraded when a subscription can be neither renewed nor recreated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { renewSubscriptions } from '../../shared/sync/timers.js';

const hour = 3600_000;

describe('subscription lifecycle', () => {
  let stack: Stack;
  let offset = 0;
  beforeAll(async () => {
    stack = await startStack({ seed: 9, now: () => new Date(Date.now() + offset) });
  }, 60_000);
  afterAll(async () => stack?.close());

  async function advance(ms: number) {
    offset += ms;
    await stack.graph.admin.advanceClock(ms);
    stack.dataverse.admin.advanceClock(ms);
  }
  const stored = async (mailboxId: string, kind: 'events' | 'contacts') => (await stack.runtime.subscriptions.list(mailboxId)).filter((s) => s.resourceKind === kind);
  const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });

  it('renews every subscription within 24 hours of the expiry Graph returned, so none lapses over ten simulated days', async () => {
    let renewed = 0;
    for (let step = 0; step < 20; step++) {
      await advance(12 * hour);
      const result = await renewSubscriptions(stack.runtime);
      expect(result.failed).toBe(0);
      renewed += result.renewed;
      const live = new Map((await stack.graph.admin.subscriptions()).map((s) => [s.id, s.expirationDateTime]));
      for (const sub of await stack.runtime.subscriptions.list()) {
        // Still alive at Graph, and the stored expiry is the one Graph returned.
        expect(live.get(sub.id)).toBeDefined();
        expect(Date.parse(sub.expirationDateTime)).toBe(Date.parse(live.get(sub.id)!));
        expect(Date.parse(sub.expirationDateTime) - stack.runtime.now().getTime()).toBeGreaterThan(24 * hour - 12 * hour);
      }
    }
    // Four subscriptions (two mailboxes, events and contacts), each renewed about every six days.
    expect(renewed).toBeGreaterThanOrEqual(4);
    expect(renewed).toBeLessThanOrEqual(12);
  });

  it('reauthorizes on reauthorizationRequired', async () => {
    const alice = stack.users.alice!;
    const [sub] = await stored(alice.graph.id, 'events');
    const route = 'POST /subscriptions/{id}/reauthorize';
    const before = (await stack.graph.admin.requests()).byRoute[route] ?? 0;
    expect(await stack.graph.admin.sendLifecycle(sub!.id, 'reauthorizationRequired')).toBe(true);
    await stack.settled();
    expect((await stack.graph.admin.requests()).byRoute[route]).toBe(before + 1);
    expect((await stored(alice.graph.id, 'events')).map((s) => s.id)).toEqual([sub!.id]);
  });

  it('recreates a removed subscription with a new clientState and catches up what was missed meanwhile', async () => {
    const alice = stack.users.alice!;
    const [old] = await stored(alice.graph.id, 'events');
    // A change whose notification is lost, then the subscription is removed.
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    const start = new Date(stack.runtime.now().getTime() + 48 * hour);
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Made while unsubscribed', start: graphTime(start), end: graphTime(new Date(start.getTime() + hour)), categories: [trackedCategory] });
    await stack.graph.admin.setFaultPlan({});
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments', `subject eq 'Made while unsubscribed'`)).toHaveLength(0);

    expect(await stack.graph.admin.sendLifecycle(old!.id, 'subscriptionRemoved')).toBe(true);
    await stack.settled();
    const now = await stored(alice.graph.id, 'events');
    expect(now).toHaveLength(1);
    expect(now[0]!.id).not.toBe(old!.id);
    expect(now[0]!.clientState).not.toBe(old!.clientState);
    const atGraph = (await stack.graph.admin.subscriptions()).filter((s) => s.userId === alice.graph.id && /events$/i.test(s.resource));
    expect(atGraph.map((s) => s.id)).toEqual([now[0]!.id]);
    expect(atGraph[0]!.lifecycleNotificationUrl).not.toBeNull();
    expect(stack.dataverse.admin.records('appointments', `subject eq 'Made while unsubscribed'`)).toHaveLength(1);
    expect(await stack.runtime.cursors.get('catchup', alice.graph.id)).toBeUndefined();

    // The new subscription notifies: a later change arrives without reconciliation.
    const later = new Date(start.getTime() + 24 * hour);
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'After recreation', start: graphTime(later), end: graphTime(new Date(later.getTime() + hour)), categories: [trackedCategory] });
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments', `subject eq 'After recreation'`)).toHaveLength(1);
  });

  it('catches up by delta on missed', async () => {
    const alice = stack.users.alice!;
    const [sub] = await stored(alice.graph.id, 'contacts');
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Gina', surname: 'Missed', emailAddresses: [{ address: 'gina@fabrikam.example', name: 'Gina Missed' }], categories: [trackedCategory] });
    await stack.graph.admin.setFaultPlan({});
    await stack.settled();
    expect(stack.dataverse.admin.records('contacts', `lastname eq 'Missed'`)).toHaveLength(0);
    expect(await stack.graph.admin.sendLifecycle(sub!.id, 'missed')).toBe(true);
    await stack.settled();
    expect(stack.dataverse.admin.records('contacts', `lastname eq 'Missed'`)).toHaveLength(1);
    expect((await stored(alice.graph.id, 'contacts')).map((s) => s.id)).toEqual([sub!.id]);
  });

  it('defect 10: a subscription that expired at Graph is recreated by the renewal timer, and what changed meanwhile is caught up', async () => {
    const bob = stack.users.bob!;
    const [sub] = await stored(bob.graph.id, 'events');
    // The renewal timer did not run (the app was stopped) until a day after the expiry Graph returned.
    await advance(Date.parse(sub!.expirationDateTime) - stack.runtime.now().getTime() + 24 * hour);
    expect((await stack.graph.admin.subscriptions()).map((s) => s.id)).not.toContain(sub!.id);
    const start = new Date(stack.runtime.now().getTime() + 48 * hour);
    // Made while nothing was subscribed: Graph sends no notification for it.
    await stack.graph.admin.createEvent(bob.graph.id, { subject: 'Made while expired', start: graphTime(start), end: graphTime(new Date(start.getTime() + hour)), categories: [trackedCategory] });
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments', `subject eq 'Made while expired'`)).toHaveLength(0);

    const result = await renewSubscriptions(stack.runtime);
    expect(result.failed).toBe(0);
    await stack.settled();
    const mailbox = await stack.runtime.mailboxes.get(bob.graph.id);
    expect(mailbox?.state).toBe('active');
    const now = await stored(bob.graph.id, 'events');
    expect(now).toHaveLength(1);
    expect(now[0]!.id).not.toBe(sub!.id);
    expect((await stack.graph.admin.subscriptions()).map((s) => s.id)).toContain(now[0]!.id);
    expect(stack.dataverse.admin.records('appointments', `subject eq 'Made while expired'`)).toHaveLength(1);
    expect(await stack.runtime.cursors.get('catchup', bob.graph.id)).toBeUndefined();

    // The new subscription notifies: a later change arrives without reconciliation.
    await stack.graph.admin.createEvent(bob.graph.id, { subject: 'After the new subscription', start: graphTime(new Date(start.getTime() + 24 * hour)), end: graphTime(new Date(start.getTime() + 25 * hour)), categories: [trackedCategory] });
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments', `subject eq 'After the new subscription'`)).toHaveLength(1);
  });

  it('marks the mailbox degraded, naming the subscription, when an expired subscription can be neither renewed nor recreated', async () => {
    const bob = stack.users.bob!;
    const [sub] = await stored(bob.graph.id, 'contacts');
    await stack.graph.admin.expireSubscription(sub!.id);
    await advance(Date.parse(sub!.expirationDateTime) - stack.runtime.now().getTime() - 2 * hour);
    await stack.graph.admin.failNext({ method: 'POST', path: '^/subscriptions$', status: 403, code: 'ExtensionError', message: 'Operation: Create; Exception: [Status Code: Forbidden]', times: 10 });
    const result = await renewSubscriptions(stack.runtime);
    expect(result.failed).toBeGreaterThanOrEqual(1);
    const mailbox = await stack.runtime.mailboxes.get(bob.graph.id);
    expect(mailbox?.state).toBe('degraded');
    expect(mailbox?.stateReason).toContain(sub!.id);
  });
});
