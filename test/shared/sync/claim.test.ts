// The wait behind another change's create claim (shared/sync/claim.ts): doubling with the claim's age, never past
// the holder's redelivery after its lock expires nor the claim going stale, and few enough attempts that a follower
// behind a dead holder stays within SYNC_MAX_ATTEMPTS (8 by default, shared/config.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyncError } from '../../../shared/errors.js';
import { claimIsLive, claimMinWaitMs, claimMs, claimWaitMs, claimedElsewhere, lockDurationMs } from '../../../shared/sync/claim.js';

const lock = 60_000;

/** The ages at which a follower that first met the claim at `firstAge` looks again, until the claim is stale. */
function schedule(firstAge: number): number[] {
  const ages = [firstAge];
  while (ages.at(-1)! < claimMs) ages.push(ages.at(-1)! + claimWaitMs(ages.at(-1)!, lock));
  return ages;
}

describe('claim back-off', () => {
  it.each([
    [0, 2_000],
    [500, 2_000],
    [3_000, 3_000],
    [16_000, 16_000],
    [40_000, 25_000], // doubling would pass the redelivery at 65 s: it stops there
    [63_500, 1_500],
    [65_000, 55_000], // after the redelivery, up to the claim going stale at 120 s
    [100_000, 20_000],
    [119_900, 250],
    [claimMs, lock], // stale: the follower takes over, so a lock duration is only a bound
    [-5, 2_000], // a clock behind the claim's time
    [Number.NaN, 2_000], // a claim without a time
    [Number.POSITIVE_INFINITY, 2_000], // not a finite age either: read as a claim without a time
  ])('a claim of age %d ms is looked at again after %d ms', (age, wait) => {
    expect(claimWaitMs(age, lock)).toBe(wait);
  });

  it('a follower behind a dead holder looks again right after the redelivery and when the claim goes stale, within 8 attempts', () => {
    const ages = schedule(100);
    expect(ages.some((a) => a > lock && a <= lock + 5_000)).toBe(true);
    expect(ages.at(-1)).toBe(claimMs);
    expect(ages.length - 1).toBeLessThanOrEqual(7);
  });

  it('no wait runs past the next moment the claim can change, and none is shorter than the floor unless that moment is nearer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: claimMs - 1 }), (age) => {
        const wait = claimWaitMs(age, lock);
        const next = age < lock + 5_000 ? lock + 5_000 : claimMs;
        expect(age + wait).toBeLessThanOrEqual(Math.max(next, age + 250));
        expect(wait).toBeGreaterThanOrEqual(Math.min(claimMinWaitMs, Math.max(250, next - age)));
      }),
      { seed: 20261207, numRuns: 200 },
    );
  });

  it("reads the changes queue's lock duration (PT1M) and refuses a duration it cannot read", () => {
    expect(lockDurationMs()).toBe(60_000);
    expect(lockDurationMs('PT30S')).toBe(30_000);
    expect(lockDurationMs('PT1M30S')).toBe(90_000);
    expect(lockDurationMs('PT10M')).toBe(600_000);
    expect(lockDurationMs('PT0.5S')).toBe(500);
    expect(lockDurationMs('PT1.25S')).toBe(1_250);
    // Nothing else than minutes and seconds, the whole text: a day, a bare PT, a number without its unit, anything
    // before or after.
    for (const iso of ['P1D', 'PT', 'PT1M30', 'PT1M1H', 'xPT1M', 'PT1M ']) expect(() => lockDurationMs(iso)).toThrow(/PTnMnS/);
  });
});

describe('a create claimed by another change', () => {
  const now = new Date('2026-12-07T12:00:00.000Z');
  const claimedAgo = (ms: number) => ({ status: 'pending' as const, claimedBy: 'change-a', updatedOn: new Date(now.getTime() - ms).toISOString() });

  it('makes a change of the same record wait (Busy, retryable) for as long as claimWaitMs gives for the claim\'s age', () => {
    for (const age of [0, 10_000, 63_000, claimMs - 1]) {
      const busy = claimedElsewhere(claimedAgo(age), 'change-b', now);
      expect(busy).toBeInstanceOf(SyncError);
      expect(busy).toMatchObject({ code: 'Busy', retryable: true, retryAfterMs: claimWaitMs(age) });
      expect(busy?.message).toMatch(/another change of this record is creating its item/);
    }
    // A change with no claim of its own (a redelivery without a correlation id) waits too.
    expect(claimedElsewhere(claimedAgo(10_000), undefined, now)?.retryAfterMs).toBe(10_000);
  });

  it('does not hold back the claim\'s own change, a pair that is not pending or not claimed, nor a stale claim', () => {
    expect(claimedElsewhere(claimedAgo(10_000), 'change-a', now)).toBeUndefined();
    expect(claimedElsewhere({ ...claimedAgo(10_000), status: 'linked' }, 'change-b', now)).toBeUndefined();
    expect(claimedElsewhere({ ...claimedAgo(10_000), claimedBy: undefined }, 'change-b', now)).toBeUndefined();
    expect(claimedElsewhere({ ...claimedAgo(10_000), claimedBy: '' }, 'change-b', now)).toBeUndefined();
    // Stale from claimMs on: the attempt that claimed it died, and this change takes the create over.
    expect(claimedElsewhere(claimedAgo(claimMs), 'change-b', now)).toBeUndefined();
    expect(claimedElsewhere(claimedAgo(claimMs + 60_000), 'change-b', now)).toBeUndefined();
  });

  it('does not wait behind a claim whose age cannot be told: no time, or a time further ahead than a claim lives', () => {
    expect(claimedElsewhere({ status: 'pending', claimedBy: 'change-a' }, 'change-b', now)).toBeUndefined();
    expect(claimedElsewhere(claimedAgo(-claimMs), 'change-b', now)).toBeUndefined();
  });

  // The claim's time is the claiming instance's clock: one running a second ahead of this one's made a live claim,
  // and going ahead with the create beside it could make a second contact or To Do task (Graph dedups only events,
  // by transactionId).
  it("waits behind a claim whose time is a little after now (another instance's clock ahead)", () => {
    for (const ahead of [5, 1_000, 30_000]) expect(claimedElsewhere(claimedAgo(-ahead), 'change-b', now)).toMatchObject({ code: 'Busy', retryAfterMs: claimWaitMs(-ahead) });
    // The same rule holds an Exchange item's create in progress (shared/sync/execute.ts createInExchange).
    expect([-1_000, 0, claimMs - 1].map(claimIsLive)).toEqual([true, true, true]);
    expect([-claimMs, claimMs, Number.NaN].map(claimIsLive)).toEqual([false, false, false]);
  });
});
