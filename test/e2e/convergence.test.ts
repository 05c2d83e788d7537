// Convergence under a seeded random mix of edits on both sides while Graph duplicates, delays and reorders its
// notifications (the vdirsyncer model: break things at random, then check the two sides agree). After the sync
// settles and one reconciliation round, every appointment pairs with exactly one event in the organizer's calendar,
// and both carry the same subject and times.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { appointments, createAppointment, daysFromNow, events, outlookEvent } from '../support/e2e.js';

type Op =
  | { kind: 'd365-create'; day: number }
  | { kind: 'd365-update'; pick: number; suffix: string }
  | { kind: 'outlook-create'; day: number }
  | { kind: 'outlook-update'; pick: number; suffix: string }
  | { kind: 'd365-delete'; pick: number }
  | { kind: 'outlook-delete'; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('d365-create' as const), day: fc.integer({ min: 2, max: 40 }) }),
  fc.record({ kind: fc.constant('d365-update' as const), pick: fc.nat(), suffix: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ kind: fc.constant('outlook-create' as const), day: fc.integer({ min: 2, max: 40 }) }),
  fc.record({ kind: fc.constant('outlook-update' as const), pick: fc.nat(), suffix: fc.constantFrom('x', 'y', 'z') }),
  fc.record({ kind: fc.constant('d365-delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('outlook-delete' as const), pick: fc.nat() }),
);

describe('convergence', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 2026, users: [{ key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' }] });
    await stack.graph.admin.setFaultPlan({ seed: 2026, notifications: { duplicate: 0.3, delay: 0.3, delayMs: { min: 5, max: 100 }, reorder: 0.5 } });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('a seeded random mix of creates, edits and deletes on both sides, under notification faults, ends with one event per appointment and equal values', async () => {
    const ops = fc.sample(fc.array(op, { minLength: 40, maxLength: 40 }), { seed: 20261126, numRuns: 1 })[0]!;
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    let n = 0;
    for (const o of ops) {
      n += 1;
      const mine = appointments(stack);
      const myEvents = await events(stack, 'alice');
      if (o.kind === 'd365-create') createAppointment(stack, 'alice', `D${n}`, daysFromNow(o.day, 8 + (n % 8)));
      if (o.kind === 'outlook-create') await outlookEvent(stack, 'alice', `O${n}`, daysFromNow(o.day, 8 + (n % 8)), { track: true });
      if (o.kind === 'd365-update' && mine.length > 0) {
        const target = mine[o.pick % mine.length]!;
        as.update('appointments', String(target.activityid), { subject: `${String(target.subject).split(' ')[0]} ${o.suffix}${n}` });
      }
      // Deletes of future items the user organizes propagate (the rule); every item here is such an item.
      if (o.kind === 'd365-delete' && mine.length > 0) as.delete('appointments', String(mine[o.pick % mine.length]!.activityid));
      if (o.kind === 'outlook-delete' && myEvents.length > 0) await stack.graph.admin.deleteEvent(alice.graph.id, myEvents[o.pick % myEvents.length]!.id);
      if (o.kind === 'outlook-update' && myEvents.length > 0) {
        const target = myEvents[o.pick % myEvents.length]!;
        await stack.graph.admin.updateEvent(alice.graph.id, target.id, { subject: `${String(target.item.subject).split(' ')[0]} ${o.suffix}${n}` });
      }
    }
    await stack.settled({ timeoutMs: 60_000 });
    await stack.graph.admin.setFaultPlan({});
    // One reconciliation round repairs anything a fault hid, then the sync must be quiet and consistent.
    await stack.host.fireTimer('reconcile');
    await stack.settled({ timeoutMs: 60_000 });

    const records = appointments(stack);
    const calendar = await events(stack, 'alice');
    expect(records.length).toBeGreaterThan(0);
    expect(calendar).toHaveLength(records.length);
    for (const record of records) {
      const pair = await stack.runtime.pairs.get(alice.graph.id, String(record.activityid));
      expect(pair?.status, `appointment ${String(record.subject)} is paired`).toBe('linked');
      const event = calendar.find((e) => e.id === pair!.exchangeId);
      expect(event?.item.subject, `subject of ${String(record.activityid)}`).toBe(record.subject);
      const start = (event!.item.start as { dateTime: string }).dateTime;
      expect(Date.parse(`${start.replace(/\.\d+$/, '')}Z`)).toBe(Date.parse(String(record.scheduledstart)));
    }
  }, 120_000);
});
