// The mass-delete breaker's rules, row by row: a scope's state and a request in, a verdict out, no I/O. The
// end-to-end test (test/e2e/breaker.test.ts) proves the same rules on every path through the simulators.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  breakerThresholdsSchema,
  defaultBreakerThresholds,
  emptyScopeState,
  judgeCreate,
  judgeDelete,
  judgeListing,
  type BreakerThresholds,
  type ScopeState,
} from '../../../shared/sync/breaker.js';

const now = new Date('2026-12-01T10:00:00Z');
const t: BreakerThresholds = { ...defaultBreakerThresholds, explicit: { minDeletes: 4, ratio: 0.2, hardCap: 10 }, inferred: { minDeletes: 2, ratio: 0.05, hardCap: 5 }, createCap: 3 };
const minutesAgo = (m: number) => now.getTime() - m * 60_000;
const withDeletes = (n: number, inferred = false, ago = 5): ScopeState => ({ ...emptyScopeState(), deletes: Array.from({ length: n }, () => ({ at: minutesAgo(ago), inferred })) });

describe('judgeDelete', () => {
  const rows: { rule: string; state: ScopeState; inferred: boolean; resync: boolean; pairs: number; trigger: string | undefined }[] = [
    { rule: 'a first explicit delete passes', state: emptyScopeState(), inferred: false, resync: false, pairs: 10, trigger: undefined },
    { rule: 'below minDeletes the ratio does not apply', state: withDeletes(2), inferred: false, resync: false, pairs: 2, trigger: undefined },
    { rule: 'at minDeletes, more than the ratio of the pairs at the window start trips', state: withDeletes(3), inferred: false, resync: false, pairs: 7, trigger: 'ratio' },
    { rule: 'at minDeletes, exactly the ratio passes', state: withDeletes(3), inferred: false, resync: false, pairs: 17, trigger: undefined },
    { rule: 'past the absolute cap trips even at a tiny ratio', state: withDeletes(10), inferred: false, resync: false, pairs: 10_000, trigger: 'hardCap' },
    { rule: 'at the absolute cap it still passes', state: withDeletes(9), inferred: false, resync: false, pairs: 10_000, trigger: undefined },
    { rule: 'deletes older than the window do not count', state: withDeletes(10, false, 61), inferred: false, resync: false, pairs: 10, trigger: undefined },
    { rule: 'an inferred delete meets the stricter ratio', state: withDeletes(1, true), inferred: true, resync: false, pairs: 30, trigger: 'inferredRatio' },
    { rule: 'an explicit delete is not judged by the inferred limits', state: withDeletes(1, true), inferred: false, resync: false, pairs: 30, trigger: undefined },
    { rule: 'an inferred delete meets the stricter cap', state: withDeletes(5, true), inferred: true, resync: false, pairs: 100_000, trigger: 'inferredHardCap' },
    { rule: 'explicit deletes do not use up the inferred allowance', state: withDeletes(5, false), inferred: true, resync: false, pairs: 100_000, trigger: undefined },
    { rule: 'an inferred delete during a resync is always held', state: emptyScopeState(), inferred: true, resync: true, pairs: 10_000, trigger: 'resync' },
    { rule: 'an explicit delete during a resync is judged by the counts', state: emptyScopeState(), inferred: false, resync: true, pairs: 10, trigger: undefined },
    { rule: 'a tripped scope holds every delete', state: { ...emptyScopeState(), trip: { trigger: 'emptyListing', at: now.toISOString(), detail: 'x' } }, inferred: false, resync: false, pairs: 10, trigger: 'emptyListing' },
  ];
  for (const row of rows) {
    it(row.rule, () => {
      const verdict = judgeDelete(row.state, { inferred: row.inferred, resync: row.resync, pairs: row.pairs, now }, t);
      expect(verdict.allow ? undefined : verdict.trigger).toBe(row.trigger);
    });
  }

  it('an allowed delete is counted; a tripping one trips the scope; a resync hold does not', () => {
    const ok = judgeDelete(emptyScopeState(), { inferred: false, resync: false, pairs: 10, now }, t);
    expect(ok.state.deletes).toHaveLength(1);
    const tripped = judgeDelete(withDeletes(10), { inferred: false, resync: false, pairs: 100, now }, t);
    expect(tripped.state.trip?.trigger).toBe('hardCap');
    expect(tripped.state.deletes).toHaveLength(10);
    const resync = judgeDelete(emptyScopeState(), { inferred: true, resync: true, pairs: 100, now }, t);
    expect(resync.state.trip).toBeUndefined();
  });

  it('the same delete asked for again in the window is let through uncounted; another target is counted', () => {
    // Two changes of one series compare its occurrences at once (no sessions on the changes queue) and both ask to
    // delete the same instance: counted twice, three occurrences deleted would trip a cap of 2 after one.
    const first = judgeDelete(emptyScopeState(), { inferred: false, resync: false, pairs: 100, now, target: 'dataverse:a' }, t);
    expect(first.allow).toBe(true);
    expect(first.state.deletes).toHaveLength(1);
    const again = judgeDelete(first.state, { inferred: false, resync: false, pairs: 99, now, target: 'dataverse:a' }, t);
    expect(again).toMatchObject({ allow: true, repeat: true });
    expect(again.state.deletes).toHaveLength(1);
    const other = judgeDelete(first.state, { inferred: false, resync: false, pairs: 99, now, target: 'dataverse:b' }, t);
    expect(other.allow && other.repeat).toBeFalsy();
    expect(other.state.deletes).toHaveLength(2);
    // Once the first delete has left the window, the same target counts again.
    const later = new Date(now.getTime() + (t.windowMinutes + 1) * 60_000);
    expect(judgeDelete(first.state, { inferred: false, resync: false, pairs: 99, now: later, target: 'dataverse:a' }, t).state.deletes).toHaveLength(1);
    expect(judgeDelete(first.state, { inferred: false, resync: false, pairs: 99, now: later, target: 'dataverse:a' }, t)).not.toHaveProperty('repeat');
  });

  it('the window is open at its start: a delete exactly windowMinutes old no longer counts', () => {
    expect(judgeDelete(withDeletes(10, false, 60), { inferred: false, resync: false, pairs: 10_000, now }, t).allow).toBe(true);
    expect(judgeDelete(withDeletes(10, false, 59), { inferred: false, resync: false, pairs: 10_000, now }, t).allow).toBe(false);
  });

  it('each hold says why with the figures an operator decides by', () => {
    const detail = (state: ScopeState, inferred: boolean, pairs: number, resync = false) => {
      const v = judgeDelete(state, { inferred, resync, pairs, now }, t);
      return v.allow ? undefined : v.detail;
    };
    expect(detail(withDeletes(10), false, 10_000)).toBe('11 deletes in 60 min pass the cap of 10');
    expect(detail(withDeletes(3), false, 7)).toBe('4 deletes of 10 pairs (40%) pass 20% in 60 min');
    expect(detail(withDeletes(5, true), true, 100_000)).toBe('6 inferred deletes in 60 min pass the cap of 5');
    expect(detail(withDeletes(1, true), true, 29)).toBe('2 inferred deletes of 30 pairs (6.7%) pass 5% in 60 min');
    expect(detail(emptyScopeState(), true, 10, true)).toBe('inferred during a resync');
    const tripped = judgeDelete(withDeletes(10), { inferred: false, resync: false, pairs: 10_000, now }, t).state;
    expect(detail(tripped, false, 10_000)).toBe('scope tripped: 11 deletes in 60 min pass the cap of 10');
  });

  it('property: a run of deletes never executes more than the cap in one window, nor trips below minDeletes', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 500 }), (inferredFlags, pairs) => {
        let state = emptyScopeState();
        let executed = 0;
        let executedInferred = 0;
        for (const inferred of inferredFlags) {
          const verdict = judgeDelete(state, { inferred, resync: false, pairs: Math.max(pairs - executed, 0), now }, t);
          if (verdict.allow) {
            executed += 1;
            if (inferred) executedInferred += 1;
          } else {
            expect(executed + 1).toBeGreaterThanOrEqual(Math.min(t.explicit.minDeletes, t.inferred.minDeletes));
          }
          state = verdict.state;
        }
        expect(executed).toBeLessThanOrEqual(t.explicit.hardCap);
        expect(executedInferred).toBeLessThanOrEqual(t.inferred.hardCap);
      }),
      { seed: 16, numRuns: 200 },
    );
  });
});

describe('judgeCreate', () => {
  it('creates pass up to the cap, then the scope holds every create', () => {
    let state = emptyScopeState();
    const verdicts = [];
    for (let i = 0; i < 5; i += 1) {
      const v = judgeCreate(state, now, t);
      verdicts.push(v.allow);
      state = v.state;
    }
    expect(verdicts).toEqual([true, true, true, false, false]);
    expect(state.createTrip?.trigger).toBe('createCap');
    // The delete side is not affected.
    expect(judgeDelete(state, { inferred: false, resync: false, pairs: 10, now }, t).allow).toBe(true);
  });

  it('creates older than the window (or exactly its length) do not count, and a hold says why', () => {
    const old = { ...emptyScopeState(), creates: [minutesAgo(60), minutesAgo(61), minutesAgo(90)] };
    expect(judgeCreate(old, now, t).allow).toBe(true);
    const recent = { ...emptyScopeState(), creates: [minutesAgo(59), minutesAgo(30), minutesAgo(1)] };
    const held = judgeCreate(recent, now, t);
    expect(held.allow ? undefined : held.detail).toBe('4 creates in 60 min pass the cap of 3');
    const again = judgeCreate(held.state, now, t);
    expect(again.allow ? undefined : again.detail).toBe('scope tripped: 4 creates in 60 min pass the cap of 3');
  });

  it('a create exactly windowMinutes old no longer counts towards the cap', () => {
    // Two in the window and one at its very start: the new create is the third, at the cap, and passes.
    expect(judgeCreate({ ...emptyScopeState(), creates: [minutesAgo(60), minutesAgo(30), minutesAgo(1)] }, now, t).allow).toBe(true);
    expect(judgeCreate({ ...emptyScopeState(), creates: [minutesAgo(59), minutesAgo(30), minutesAgo(1)] }, now, t).allow).toBe(false);
  });
});

describe('judgeListing', () => {
  it('an empty full listing trips a scope with enough pairs', () => {
    expect(judgeListing(emptyScopeState(), { items: 0, pairs: 5, now }, t).trip?.trigger).toBe('emptyListing');
  });
  it('an empty listing of a scope with fewer pairs, or a listing with items, does not', () => {
    expect(judgeListing(emptyScopeState(), { items: 0, pairs: 4, now }, t).trip).toBeUndefined();
    expect(judgeListing(emptyScopeState(), { items: 1, pairs: 500, now }, t).trip).toBeUndefined();
  });
  it('says how many pairs the empty listing met; a scope already tripped keeps its first trip; the rule can be turned off', () => {
    expect(judgeListing(emptyScopeState(), { items: 0, pairs: 7, now }, t).trip?.detail).toBe('a full listing returned no items while 7 pairs exist');
    const first = { trigger: 'hardCap' as const, at: '2026-12-01T09:00:00.000Z', detail: 'first' };
    expect(judgeListing({ ...emptyScopeState(), trip: first }, { items: 0, pairs: 50, now }, t).trip).toEqual(first);
    expect(judgeListing(emptyScopeState(), { items: 0, pairs: 50, now }, { ...t, emptyListingHolds: false }).trip).toBeUndefined();
  });
});

describe('breakerThresholdsSchema', () => {
  it('accepts the defaults and refuses a ratio above 1 and a cap of 0, naming the field', () => {
    expect(breakerThresholdsSchema.parse(defaultBreakerThresholds)).toEqual(defaultBreakerThresholds);
    const bad = breakerThresholdsSchema.safeParse({ ...defaultBreakerThresholds, explicit: { minDeletes: 1, ratio: 1.5, hardCap: 0 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['explicit.ratio', 'explicit.hardCap']);
  });
});
