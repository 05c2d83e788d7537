// Reconciliation against the whole local stack: changes whose notifications were dropped are
// repaired by one reconciliation; evicted Graph delta tokens and expired Dataverse change-tracking tokens start
// over without creating duplicates; the status report shows it, with no secrets and no item contents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { buildStatus } from '../../shared/status/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';

const hour = 3600_000;

describe('reconciliation', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 10 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });
  const inDays = (days: number) => new Date(Date.now() + days * 24 * hour);

  async function snapshot() {
    const alice = stack.users.alice!;
    const items = await stack.graph.admin.items({ user: alice.graph.id });
    return {
      events: items.filter((i) => i.kind === 'event').map((i) => String(i.item.subject)).sort(),
      contacts: items.filter((i) => i.kind === 'contact').map((i) => String(i.item.surname)).sort(),
      todo: items.filter((i) => i.kind === 'todoTask').map((i) => String(i.item.title)).sort(),
      appointments: stack.dataverse.admin.records('appointments').map((r) => String(r.subject)).sort(),
      dvContacts: stack.dataverse.admin.records('contacts').map((r) => String(r.lastname)).sort(),
      tasks: stack.dataverse.admin.records('tasks').map((r) => String(r.subject)).sort(),
    };
  }

  it('a first reconciliation of a synced mailbox changes nothing', async () => {
    const alice = stack.users.alice!;
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Live event', start: graphTime(inDays(2)), end: graphTime(new Date(inDays(2).getTime() + hour)), categories: [trackedCategory] });
    await stack.settled();
    const before = await snapshot();
    expect(before.appointments).toEqual(['Live event']);
    const writes = stack.runtime.calls.graphWrite + stack.runtime.calls.dataverseWrite;
    const result = await reconcileAll(stack.runtime);
    expect(result.dataverse.errors).toEqual([]);
    expect(result.mailboxes.flatMap((m) => m.errors)).toEqual([]);
    await stack.settled();
    expect(await snapshot()).toEqual(before);
    expect(stack.runtime.calls.graphWrite + stack.runtime.calls.dataverseWrite).toBe(writes);
  });

  it('repairs changes whose notifications were dropped, on both sides, within one reconciliation', async () => {
    const alice = stack.users.alice!;
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Dropped event', start: graphTime(inDays(3)), end: graphTime(new Date(inDays(3).getTime() + hour)), categories: [trackedCategory] });
    await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Hal', surname: 'Dropped', emailAddresses: [{ address: 'hal@fabrikam.example', name: 'Hal Dropped' }], categories: [trackedCategory] });
    await stack.graph.admin.setFaultPlan({});
    // A Dataverse change whose webhook never came (seeded without raising one).
    stack.dataverse.admin.seedRecords('contacts', [{ firstname: 'Ida', lastname: 'Unnotified', emailaddress1: 'ida@fabrikam.example' }], { ownerId: alice.systemUserId });
    await stack.settled();
    const lost = await snapshot();
    expect(lost.appointments).not.toContain('Dropped event');
    expect(lost.dvContacts).not.toContain('Dropped');
    expect(lost.contacts).not.toContain('Unnotified');

    const result = await reconcileAll(stack.runtime);
    expect(result.dataverse.enqueued).toBe(1);
    await stack.settled();
    const repaired = await snapshot();
    expect(repaired.appointments).toEqual(['Dropped event', 'Live event']);
    expect(repaired.dvContacts).toEqual(['Dropped', 'Unnotified']);
    expect(repaired.contacts).toEqual(['Dropped', 'Unnotified']);
  });

  it('defect 8: a future tracked event deleted in Outlook, its notification lost, is deleted in Dynamics 365 by reconciliation', async () => {
    const alice = stack.users.alice!;
    const event = await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Deleted while unheard', start: graphTime(inDays(5)), end: graphTime(new Date(inDays(5).getTime() + hour)), categories: [trackedCategory] });
    await stack.settled();
    const [record] = stack.dataverse.admin.records('appointments', `subject eq 'Deleted while unheard'`);
    expect(record).toBeDefined();
    // A round now records the event in the stored delta link, so the next one reports it as @removed.
    await reconcileAll(stack.runtime);
    await stack.settled();
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.graph.admin.deleteEvent(alice.graph.id, String(event.id));
    await stack.graph.admin.setFaultPlan({});
    await stack.settled();
    expect(stack.dataverse.admin.record('appointments', String(record!.activityid))).toBeDefined();

    await reconcileAll(stack.runtime);
    await stack.settled();
    // The organizer deleted a future meeting: the appointment is deleted (shared/sync/engine.ts applyExchangeDelete).
    expect(stack.dataverse.admin.record('appointments', String(record!.activityid))).toBeUndefined();
    expect(await stack.runtime.pairs.get(alice.graph.id, String(record!.activityid))).toBeUndefined();
  });

  it('starts over on an evicted delta token or an expired change-tracking token and creates no duplicates', async () => {
    const alice = stack.users.alice!;
    const before = await snapshot();
    expect(await stack.graph.admin.evictDeltaTokens(alice.graph.id)).toBeGreaterThan(0);
    stack.dataverse.admin.expireChangeTrackingTokens();
    // One change lost meanwhile, which the full round must find.
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Lost before eviction', start: graphTime(inDays(4)), end: graphTime(new Date(inDays(4).getTime() + hour)), categories: [trackedCategory] });
    await stack.graph.admin.setFaultPlan({});
    await stack.settled();

    const result = await reconcileAll(stack.runtime);
    const aliceResult = result.mailboxes.find((m) => m.mailboxId === alice.graph.id)!;
    expect(aliceResult.resynced).toBeGreaterThanOrEqual(2);
    expect(result.dataverse.resynced).toBeGreaterThanOrEqual(1);
    await stack.settled();
    const after = await snapshot();
    expect(after).toEqual({ ...before, events: [...before.events, 'Lost before eviction'].sort(), appointments: [...before.appointments, 'Lost before eviction'].sort() });
  });

  it('reports per mailbox the reconciliation, subscriptions and backlog, without secrets or item contents', async () => {
    const report = await buildStatus(stack.runtime);
    const alice = report.mailboxes.find((m) => m.id === stack.users.alice!.graph.id)!;
    expect(alice.state).toBe('active');
    expect(alice.subscriptions.map((s) => s.resourceKind).sort()).toEqual(['contacts', 'events']);
    expect(alice.lastReconcile?.errors).toEqual([]);
    expect(report.dataverseReconcile?.errors).toEqual([]);
    expect(report.backlog).toMatchObject({ queued: 0, deadLettered: 0 });
    const text = JSON.stringify(report);
    for (const sub of await stack.runtime.subscriptions.list()) expect(text).not.toContain(sub.clientState);
    for (const subject of ['Live event', 'Dropped event', 'Hal', 'fabrikam']) expect(text).not.toContain(subject);
  });
});
