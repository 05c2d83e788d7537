// The token bucket's rules with an injected clock: the shape keeps every sliding window under the allowance, a
// bucket never fills past capacity, and a reshape keeps the fill level.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullBucket, parseBucket, refill, reshape, shapeFor, take } from '../../../shared/budget/tokenBucket.js';

describe('token bucket', () => {
  it('takes a token while there is one and says how long until the next when empty', () => {
    const shape = { capacity: 2, refillPerMs: 0.01 };
    let state = fullBucket(shape, 0);
    for (let i = 0; i < 2; i += 1) {
      const r = take(shape, state, 0);
      expect(r.waitMs).toBe(0);
      state = r.state;
    }
    const empty = take(shape, state, 0);
    expect(empty.waitMs).toBe(100);
    expect(take(shape, empty.state, 100).waitMs).toBe(0);
  });

  it('never fills past capacity, and a clock going back adds nothing', () => {
    const shape = { capacity: 5, refillPerMs: 1 };
    expect(refill(shape, { tokens: 1, at: 0 }, 1e9).tokens).toBe(5);
    expect(refill(shape, { tokens: 1, at: 1000 }, 0)).toEqual({ tokens: 1, at: 1000 });
  });

  it('admits at most the allowance in any sliding window, whatever the arrival pattern (property)', () => {
    // Graph's 10,000 per 10 minutes scaled down: 100 per 1,000 ms at 90%.
    const shape = shapeFor(100, 1000, 0.9);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 400 }), (gaps) => {
        let state = fullBucket(shape, 0);
        let now = 0;
        const admitted: number[] = [];
        for (const gap of gaps) {
          now += gap;
          const r = take(shape, state, now);
          state = r.state;
          if (r.waitMs === 0) admitted.push(now);
        }
        for (let i = 0; i < admitted.length; i += 1) {
          const inWindow = admitted.filter((t) => t >= admitted[i]! && t < admitted[i]! + 1000).length;
          expect(inWindow).toBeLessThanOrEqual(90);
        }
      }),
      { seed: 19, numRuns: 200 },
    );
  });

  it('a reshape (another instance count) keeps the fill level, not the token count', () => {
    const half = shapeFor(50, 1000);
    const whole = shapeFor(100, 1000);
    expect(reshape(whole, half, { tokens: whole.capacity / 2, at: 7 })).toEqual({ tokens: half.capacity / 2, at: 7 });
  });

  it('a stored bucket is read only when it is one', () => {
    expect(parseBucket({ tokens: 3, at: 5 })).toEqual({ tokens: 3, at: 5 });
    for (const bad of [undefined, null, 'x', { tokens: -1, at: 0 }, { tokens: 1 }, { tokens: Number.NaN, at: 0 }]) expect(parseBucket(bad)).toBeUndefined();
  });
});
