// The per-mailbox lease's decisions with an injected clock: who takes a mailbox's budget, who waits, that the rate
// bucket and a Retry-After travel with the lease, and that a waiting instance is served next.
import { describe, expect, it } from 'vitest';
import { decideTake, defaultLeaseTiming as timing, parseLeaseRow, releasedRow, renewedRow, shouldYield, type LeaseRow } from '../../../shared/budget/lease.js';
import { shapeFor } from '../../../shared/budget/tokenBucket.js';

const shape = shapeFor(10_000, 600_000, 0.9);
const held = (over: Partial<LeaseRow> = {}): LeaseRow => ({ holder: 'a', expiresAt: 20_000, bucket: { tokens: 7, at: 9_000 }, pausedUntil: 0, wantedBy: '', wantedAt: 0, ...over });

describe('mailbox lease', () => {
  it('no row yet: the first instance takes it with a full bucket', () => {
    const d = decideTake(undefined, 'a', 1_000, timing, shape);
    expect(d).toEqual({ kind: 'take', row: { holder: 'a', expiresAt: 1_000 + timing.leaseMs, bucket: { tokens: shape.capacity, at: 1_000 }, pausedUntil: 0, wantedBy: '', wantedAt: 0 } });
  });

  it('held by another instance: wait, ask for it once, and look again within the poll interval or at its expiry', () => {
    const first = decideTake(held(), 'b', 10_000, timing, shape);
    expect(first).toEqual({ kind: 'wait', retryAt: 10_000 + timing.pollMs, mark: held({ wantedBy: 'b', wantedAt: 10_000 }) });
    const again = decideTake(held({ wantedBy: 'b', wantedAt: 10_000 }), 'b', 10_100, timing, shape);
    expect(again).toEqual({ kind: 'wait', retryAt: 10_100 + timing.pollMs });
    expect(decideTake(held({ expiresAt: 10_050 }), 'b', 10_000, timing, shape)).toMatchObject({ kind: 'wait', retryAt: 10_050 });
  });

  it('released or expired: the next holder continues from the bucket and the Retry-After the last one left', () => {
    for (const row of [held({ holder: '', expiresAt: 5_000, pausedUntil: 30_000 }), held({ expiresAt: 9_999, pausedUntil: 30_000 })]) {
      const d = decideTake(row, 'b', 10_000, timing, shape);
      expect(d).toEqual({ kind: 'take', row: { ...row, holder: 'b', expiresAt: 10_000 + timing.leaseMs } });
    }
  });

  it('a released lease another instance asked for goes to that instance while its wish is fresh', () => {
    const released = held({ holder: '', expiresAt: 10_000, wantedBy: 'b', wantedAt: 9_000 });
    expect(decideTake(released, 'c', 10_000, timing, shape)).toEqual({ kind: 'wait', retryAt: 10_000 + timing.pollMs });
    expect(decideTake(released, 'b', 10_000, timing, shape)).toMatchObject({ kind: 'take', row: { holder: 'b', wantedBy: '', wantedAt: 0 } });
    // A stale wish (its instance may be gone) no longer holds the lease back.
    expect(decideTake(released, 'c', 9_000 + timing.leaseMs, timing, shape)).toMatchObject({ kind: 'take', row: { holder: 'c' } });
  });

  it('a stale wish of a vanished instance is replaced by the one waiting now', () => {
    const d = decideTake(held({ expiresAt: 100_000, wantedBy: 'x', wantedAt: 0 }), 'b', 50_000, timing, shape);
    expect(d).toMatchObject({ kind: 'wait', mark: { wantedBy: 'b', wantedAt: 50_000 } });
  });

  it('the holder yields only after another instance has waited yieldAfterMs, and never to itself', () => {
    const row = held({ wantedBy: 'b', wantedAt: 10_000 });
    expect(shouldYield(row, 'a', 10_000 + timing.yieldAfterMs - 1, timing)).toBe(false);
    expect(shouldYield(row, 'a', 10_000 + timing.yieldAfterMs, timing)).toBe(true);
    expect(shouldYield(held({ wantedBy: 'a', wantedAt: 0 }), 'a', 1e9, timing)).toBe(false);
  });

  it('renewal and release write the local bucket and keep the longer pause', () => {
    const local = { bucket: { tokens: 3, at: 12_000 }, pausedUntil: 15_000 };
    expect(renewedRow(held({ pausedUntil: 40_000 }), 12_000, timing, local)).toEqual(held({ expiresAt: 12_000 + timing.leaseMs, bucket: local.bucket, pausedUntil: 40_000 }));
    expect(releasedRow(held(), 12_000, local)).toEqual(held({ holder: '', expiresAt: 12_000, bucket: local.bucket, pausedUntil: 15_000 }));
  });

  it('a stored row is a lease only with every field of one', () => {
    expect(parseLeaseRow(held())).toEqual(held());
    for (const bad of [undefined, 'x', { ...held(), holder: 1 }, { ...held(), bucket: undefined }, { ...held(), expiresAt: 'soon' }]) expect(parseLeaseRow(bad)).toBeUndefined();
  });
});
