// The schedule of the periodic work: adaptive To Do poll intervals and reconciliation spread over its period.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialSchedule, nextDue, nextPollInterval, nextReconcileAt, reconcileOffsetMs, type ScheduleSettings } from '../../../shared/sync/schedule.js';

const settings: ScheduleSettings = { SYNC_TODO_POLL_MIN_SECONDS: 60, SYNC_TODO_POLL_MAX_SECONDS: 900, SYNC_RECONCILE_PERIOD_MINUTES: 15, SYNC_RENEW_CHECK_MINUTES: 30 };

describe('adaptive To Do poll interval', () => {
  it.each([
    [undefined, false, 60, 'first poll: the minimum'],
    [60, true, 60, 'active: the minimum'],
    [480, true, 60, 'active after idling: back to the minimum'],
    [60, false, 120, 'quiet: doubled'],
    [480, false, 900, 'quiet: doubled up to the maximum'],
    [900, false, 900, 'at the maximum it stays'],
  ])('last %s, active %s -> %s (%s)', (last, active, expected, _why) => {
    expect(nextPollInterval(last, active, settings)).toBe(expected);
  });

  it('0 and 0 poll at every run', () => {
    const zero = { ...settings, SYNC_TODO_POLL_MIN_SECONDS: 0, SYNC_TODO_POLL_MAX_SECONDS: 0 };
    expect([nextPollInterval(undefined, false, zero), nextPollInterval(0, false, zero)]).toEqual([0, 0]);
  });

  it('always stays within [min, max]', () => {
    fc.assert(
      fc.property(fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }), fc.boolean(), fc.integer({ min: 0, max: 3600 }), fc.integer({ min: 0, max: 86400 }), (last, active, a, b) => {
        const s = { ...settings, SYNC_TODO_POLL_MIN_SECONDS: Math.min(a, b), SYNC_TODO_POLL_MAX_SECONDS: Math.max(a, b) };
        const next = nextPollInterval(last, active, s);
        return next >= s.SYNC_TODO_POLL_MIN_SECONDS && next <= s.SYNC_TODO_POLL_MAX_SECONDS;
      }),
      { seed: 19 },
    );
  });
});

describe('reconciliation spread over its period', () => {
  it('1,000 mailboxes fall into every minute of 15, none with more than twice its share', () => {
    const period = 15 * 60_000;
    const perMinute = new Array<number>(15).fill(0);
    // Entra object ids are GUIDs; a seeded sequence of them.
    const ids = fc.sample(fc.uuid(), { numRuns: 1000, seed: 19 });
    for (const id of ids) perMinute[Math.floor(reconcileOffsetMs(id, period) / 60_000)]! += 1;
    expect(Math.min(...perMinute)).toBeGreaterThan(0);
    expect(Math.max(...perMinute)).toBeLessThan((2 * 1000) / 15);
  });

  it('the next round is after now, within one period, at the same place every period', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: 2 ** 41 }), (id, t) => {
        const now = new Date(t);
        const next = nextReconcileAt(id, now, settings).getTime();
        const period = 15 * 60_000;
        return next > t && next <= t + period && ((next - reconcileOffsetMs(id, period)) % period === 0);
      }),
      { seed: 19 },
    );
  });

  it('a period of 0 reconciles at every run', () => {
    const now = new Date('2026-12-02T06:00:00Z');
    expect(nextReconcileAt('x', now, { ...settings, SYNC_RECONCILE_PERIOD_MINUTES: 0 })).toEqual(now);
  });

  it('a period of 0 puts every mailbox at the start of it, a number (the remainder of a division by 0 is NaN)', () => {
    expect(reconcileOffsetMs('6e0b4c1a-0000-4000-8000-000000000001', 0)).toBe(0);
  });

  it('a mailbox id in upper case has the same place (Entra object ids reach the registry in either case)', () => {
    const id = '6e0b4c1a-0000-4000-8000-00000000000a';
    expect(reconcileOffsetMs(id.toUpperCase(), 15 * 60_000)).toBe(reconcileOffsetMs(id, 15 * 60_000));
  });
});

describe('when each task is due', () => {
  const now = new Date('2026-12-02T06:00:00Z');
  const id = '6e0b4c1a-0000-4000-8000-000000000001';

  it('a new mailbox polls To Do and checks its subscriptions at once, and is reconciled at its place in the period', () => {
    const first = initialSchedule(settings)(id, now);
    expect(first).toEqual({ pollTodo: now, reconcile: nextReconcileAt(id, now, settings), renew: now });
    // Its place, not at once: a thousand mailboxes enabled together must not all be reconciled in the same minute.
    expect(first.reconcile.getTime()).toBeGreaterThan(now.getTime());
  });

  it('the To Do poll is next due its interval after the run', () => {
    expect(nextDue('pollTodo', id, now, settings, 120)).toEqual(new Date('2026-12-02T06:02:00Z'));
  });

  it('the reconciliation is next due at the place of the mailbox in the next period, not after an interval', () => {
    expect(nextDue('reconcile', id, now, settings, 120)).toEqual(nextReconcileAt(id, now, settings));
  });

  it('the subscription check is next due SYNC_RENEW_CHECK_MINUTES after the run', () => {
    expect(nextDue('renew', id, now, settings, 120)).toEqual(new Date('2026-12-02T06:30:00Z'));
  });
});
