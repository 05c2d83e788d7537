// The periodic work fans out over the work queue (shared/sync/work.ts): a timer sends one sweep, the sweep pages
// through the due mailboxes, each mailbox's work runs in its own session, outstanding work is not doubled, and the
// To Do poll's interval adapts (shared/sync/schedule.ts). The product's clock is driven by the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { workQueue } from '../../shared/servicebus/queues.js';
import { processWork } from '../../shared/sync/work.js';
import { nextReconcileAt } from '../../shared/sync/schedule.js';
import type { EntityEvent } from '../../dev/sim/servicebus/entity.js';
import { tracked } from '../support/e2e.js';

const users = ['alice', 'bob', 'carol'].map((key) => ({ key, userPrincipalName: `${key}@contoso.example`, displayName: `${key[0]!.toUpperCase()}${key.slice(1)} Tester`, timeZone: 'UTC' }));

describe('periodic work fans out per mailbox', () => {
  let stack: Stack;
  let clock = Date.now();
  const enqueued: string[] = [];
  const row = async (id: string) => stack.runtime.tables.client('mailboxes').getEntity<Record<string, unknown>>('mailbox', id.toLowerCase());
  const ids = () => Object.values(stack.users).map((u) => u.graph.id);

  beforeAll(async () => {
    stack = await startStack({
      seed: 19,
      users,
      now: () => new Date(clock),
      everyFireDoesAll: false,
      env: { SYNC_SWEEP_PAGE_SIZE: '1', SYNC_TODO_POLL_MIN_SECONDS: '60', SYNC_TODO_POLL_MAX_SECONDS: '240', SYNC_RECONCILE_PERIOD_MINUTES: '15', SYNC_RENEW_CHECK_MINUTES: '30' },
    });
    await stack.settled();
    stack.serviceBus.events.on('enqueued', (e: EntityEvent) => {
      if (e.queue === workQueue.name) enqueued.push(e.messageId);
    });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('the timer sends one sweep; the sweep pages one mailbox at a time and every mailbox is polled in its own session', async () => {
    enqueued.length = 0;
    await stack.host.fireTimer('pollTodo');
    // What the timer itself sent, before any sweep ran further: one message.
    expect(enqueued.filter((id) => id.startsWith('s|pollTodo|')).length).toBeGreaterThanOrEqual(1);
    await stack.settled();
    // Page size 1: three pages (the third finds no next page), one work message per mailbox.
    expect(enqueued.filter((id) => id.startsWith('s|pollTodo|'))).toHaveLength(3);
    const work = enqueued.filter((id) => id.startsWith('w|pollTodo|'));
    expect(work).toHaveLength(3);
    for (const id of ids()) expect(work.filter((w) => w.includes(id.toLowerCase()))).toHaveLength(1);
    for (const id of ids()) {
      const r = await row(id);
      expect(r.pollTodoRunning).toBe('');
      // A first poll that found nothing: the interval starts at the minimum.
      expect(r.pollTodoIntervalSeconds).toBe(60);
      expect(r.pollTodoDueAt).toBe(new Date(clock + 60_000).toISOString());
    }
  });

  it('a mailbox not yet due is not polled; each quiet poll doubles the interval up to the maximum', async () => {
    enqueued.length = 0;
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(enqueued.filter((id) => id.startsWith('w|'))).toEqual([]);
    const intervals: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      clock += 61_000 * 8;
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      intervals.push(Number((await row(ids()[0]!)).pollTodoIntervalSeconds));
    }
    expect(intervals).toEqual([120, 240, 240]);
  });

  it('a change found by the poll resets the interval to the minimum, and so does a change synced from Dynamics 365', async () => {
    const alice = stack.users.alice!;
    await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Fan-out task', categories: [tracked] } });
    clock += 241_000;
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Fan-out task')).toHaveLength(1);
    expect((await row(alice.graph.id)).pollTodoIntervalSeconds).toBe(60);

    // Bob is idle (240 s); a Dataverse appointment he owns reaches his calendar, and his poll comes back to 60 s.
    const bob = stack.users.bob!;
    expect((await row(bob.graph.id)).pollTodoIntervalSeconds).toBe(240);
    const start = new Date(Date.now() + 3 * 86400_000);
    stack.dataverse.admin.as(bob.systemUserId).create('appointments', { subject: 'Fan-out visit', scheduledstart: start.toISOString(), scheduledend: new Date(start.getTime() + 3600_000).toISOString() });
    await stack.settled();
    const after = await row(bob.graph.id);
    expect(after.pollTodoIntervalSeconds).toBe(60);
    expect(Date.parse(String(after.pollTodoDueAt))).toBeLessThanOrEqual(clock + 60_000);
  });

  it('outstanding work is not enqueued again by the next sweep, even when the mailbox would be due', async () => {
    clock += 3_600_000;
    const run = new Date(clock).toISOString();
    // The Graph simulator slow enough that the first poll has not finished when the next sweep comes.
    await stack.graph.admin.setFaultPlan({ seed: 1, latency: { minMs: 400, maxMs: 400 } });
    try {
      enqueued.length = 0;
      // The first page of a sweep, run here: one mailbox enqueued (the host runs its poll and the later pages).
      expect(await processWork(stack.runtime, { v: 1, type: 'sweep', task: 'pollTodo', run, page: 0 })).toMatchObject({ enqueued: 1, nextPage: true });
      const [first] = enqueued.filter((id) => id.startsWith('w|pollTodo|'));
      const mailboxId = ids().find((id) => first?.includes(id.toLowerCase()))!;
      expect(mailboxId).toBeDefined();
      // Past the longest poll interval, so only its outstanding work keeps the mailbox from being due.
      clock += 300_000;
      const second = new Date(clock).toISOString();
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      expect(enqueued.filter((id) => id === `w|pollTodo|${mailboxId.toLowerCase()}|${second}`)).toEqual([]);
      expect(enqueued.filter((id) => id.startsWith(`w|pollTodo|${mailboxId.toLowerCase()}|`))).toEqual([first]);
    } finally {
      await stack.graph.admin.setFaultPlan({});
    }
  });

  it('reconciliation is due at each mailbox\'s own place in the period', async () => {
    for (const id of ids()) {
      const due = Date.parse(String((await row(id)).reconcileDueAt));
      // Same place in every period: the stored time and the computed one differ by whole periods.
      const computed = nextReconcileAt(id, new Date(clock), { SYNC_TODO_POLL_MIN_SECONDS: 60, SYNC_TODO_POLL_MAX_SECONDS: 240, SYNC_RECONCILE_PERIOD_MINUTES: 15, SYNC_RENEW_CHECK_MINUTES: 30 });
      expect(Math.abs((due - computed.getTime()) % 900_000)).toBe(0);
    }
    const places = new Set(await Promise.all(ids().map(async (id) => Date.parse(String((await row(id)).reconcileDueAt)) % 900_000)));
    expect(places.size).toBe(3);
  });

  it('the reconciliation timer starts the decision retention pass once a day, and the pass runs on the work queue', async () => {
    enqueued.length = 0;
    // An old decision of an item paired nowhere: the pass drops it (SYNC_DECISIONS_DROP_AFTER_DAYS, 30 by default).
    const gone = 'cccc0000-0000-0000-0000-000000000001';
    await stack.runtime.decisions.record(ids()[0], { at: new Date(clock - 40 * 86_400_000).toISOString(), direction: 'toExchange', decision: 'Delete', reason: 'deleted in Dynamics 365', outcome: 'deleted', dataverseId: gone });
    expect(await stack.runtime.decisions.lookup({ dataverseId: gone })).toHaveLength(1);
    await stack.host.fireTimer('reconcile');
    await stack.settled();
    expect(enqueued.filter((id) => id.startsWith('r|'))).toHaveLength(1);
    expect(await stack.runtime.decisions.lookup({ dataverseId: gone })).toEqual([]);
    // The next minute's timer finds the pass started today: no second one.
    clock += 60_000;
    await stack.host.fireTimer('reconcile');
    await stack.settled();
    expect(enqueued.filter((id) => id.startsWith('r|'))).toHaveLength(1);
  });

  it('the To Do poll\'s timer starts the attention pass: pages of the mailboxes needing attention only, never the whole registry', async () => {
    const [a, b, c] = ids() as [string, string, string];
    await stack.runtime.mailboxes.patch(b, { state: 'degraded', stateReason: 'subscription could not be renewed' });
    await stack.runtime.mailboxes.patch(c, { state: 'blocked', blockCode: 'graph.mailboxUnavailable' });
    try {
      enqueued.length = 0;
      clock += 60_000;
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      // Page size 1, two mailboxes needing attention: at least two pages of this run (Table Storage may answer a
      // last, empty page after a continuation token).
      const pages = enqueued.filter((id) => id.startsWith('a|'));
      expect(pages.length).toBeGreaterThanOrEqual(2);
      expect(pages).toEqual(expect.arrayContaining([0, 1].map((p) => `a|${new Date(clock).toISOString()}|${p}`)));
      const first = await processWork(stack.runtime, { v: 1, type: 'attention', run: new Date(clock + 1).toISOString(), page: 0 });
      expect(first).toMatchObject({ nextPage: true });
      const found = 'attention' in first ? first.attention : [];
      expect(found).toHaveLength(1);
      expect([b, c].map((id) => id.toLowerCase())).toContain(found[0]!.mailboxId.toLowerCase());
      expect(found.map((f) => f.mailboxId.toLowerCase())).not.toContain(a.toLowerCase());
    } finally {
      await stack.runtime.mailboxes.patch(b, { state: 'active', stateReason: undefined });
      await stack.runtime.mailboxes.patch(c, { state: 'active', blockCode: undefined });
    }
  });
});
