// The breaker's gate (shared/sync/breakerGate.ts) on Azurite: the thresholds it takes from the configuration, the
// pair count its ratio is of (the scope's kind only, counted again once it is five minutes old, one less per delete
// that goes ahead, never below zero), what it answers and stores for deletes, creates and empty listings, what it
// logs, and when it clears a scope. The rules themselves are breaker.ts's (test/shared/sync/breaker.test.ts); the
// e2e breaker test reaches the gate only through whole changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { createLogger, type LogLevel, type LogProps } from '../../../shared/log.js';
import { defaultBreaker, type BreakerLimits } from '../../../shared/settings/index.js';
import { BreakerStore, type BreakerScope, type HeldEntry } from '../../../shared/storage/breakerStore.js';
import { PairStore, type Pair } from '../../../shared/storage/pairStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import type { BreakerThresholds } from '../../../shared/sync/breaker.js';
import { BreakerGate, thresholdsFromConfig } from '../../../shared/sync/breakerGate.js';

const minute = 60_000;
const t0 = Date.parse('2026-12-08T08:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms);

describe('thresholdsFromConfig', () => {
  it('copies the limits and starts counting inferred deletes at half of minDeletes, rounded up', () => {
    const limits: BreakerLimits = { ...defaultBreaker, windowMinutes: 30, emptyListingHolds: false, emptyListingMinPairs: 7, holdResyncInferredDeletes: false, minDeletes: 9, deleteRatio: 0.3, deleteCap: 40, inferredDeleteRatio: 0.1, inferredDeleteCap: 12, createCap: 50 };
    expect(thresholdsFromConfig(limits)).toEqual({
      windowMinutes: 30,
      emptyListingHolds: false,
      emptyListingMinPairs: 7,
      holdResyncInferredDeletes: false,
      explicit: { minDeletes: 9, ratio: 0.3, hardCap: 40 },
      inferred: { minDeletes: 5, ratio: 0.1, hardCap: 12 },
      createCap: 50,
    });
    expect(thresholdsFromConfig({ ...limits, minDeletes: 10 }).inferred.minDeletes).toBe(5);
    // Half of 1 is still 1: an inferred delete never starts counting at 0.
    expect(thresholdsFromConfig({ ...limits, minDeletes: 1 }).inferred.minDeletes).toBe(1);
  });
});

describe('breaker gate (Azurite)', () => {
  let azurite: StartedAzurite;
  let store: BreakerStore;
  let pairs: PairStore;
  const lines: { level: LogLevel; message: string; props: LogProps }[] = [];
  const log = createLogger((level, message, props) => lines.push({ level, message, props }), 'debug');
  /** Thresholds by mailbox, so each test's scope has its own. */
  const limits = new Map<string, BreakerThresholds>();
  let gate: BreakerGate;
  /** A second worker's gate on the same tables, through clients of its own (see the concurrent-delete test). */
  let other: { gate: BreakerGate; pairsClient: ReturnType<ReturnType<typeof createTables>['client']> };

  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'gatetest' });
    await tables.ensureTables();
    store = new BreakerStore(tables.client('breaker'), tables.client('quarantine'));
    pairs = new PairStore(tables.client('pairs'));
    const thresholds = (mailboxId: string) => Promise.resolve(limits.get(mailboxId) ?? thresholdsFromConfig(defaultBreaker));
    gate = new BreakerGate(store, pairs, thresholds, log);
    const second = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'gatetest' });
    const pairsClient = second.client('pairs');
    other = { gate: new BreakerGate(new BreakerStore(second.client('breaker'), second.client('quarantine')), new PairStore(pairsClient), thresholds, log), pairsClient };
  });
  afterAll(async () => azurite?.close());

  let n = 0;
  /** A fresh mailbox id and its contact scope, with `contacts` contact pairs and `tasks` task pairs. */
  async function scopeWith(contacts: number, tasks: number, t: Partial<BreakerThresholds> = {}): Promise<BreakerScope> {
    n += 1;
    const mailboxId = `0000000${n}-0000-4000-8000-000000000000`.slice(-36);
    limits.set(mailboxId, { ...thresholdsFromConfig(defaultBreaker), ...t });
    await addPairs(mailboxId, 'contact', contacts);
    await addPairs(mailboxId, 'task', tasks);
    return { mailboxId, kind: 'contact', direction: 'toExchange' };
  }
  let ids = 0;
  async function addPairs(mailboxId: string, kind: 'contact' | 'task', count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      ids += 1;
      const pair: Pair = { mailboxId, kind, dataverseEntity: kind, dataverseId: `aaaaaaaa-0000-4000-8000-${String(ids).padStart(12, '0')}`, exchangeId: `AAMk-${ids}`, base: {}, status: 'linked' };
      await pairs.create(pair);
    }
  }
  const explicitOnly = (minDeletes: number, ratio: number, hardCap = 100): Partial<BreakerThresholds> => ({ explicit: { minDeletes, ratio, hardCap } });
  const del = (ms: number, target?: string) => ({ inferred: false, resync: false, now: at(ms), ...(target === undefined ? {} : { target }) });

  it("counts only the scope's kind for the ratio, one pair less per delete that goes ahead", async () => {
    // 10 contacts beside 30 tasks: with 40 pairs counted, 3 deletes would be 7.5 % and pass.
    const scope = await scopeWith(10, 30, explicitOnly(1, 0.2));
    expect(await gate.admitDelete(scope, del(0, 'dataverse:a'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 9, at: t0 });
    expect(await gate.admitDelete(scope, del(minute, 'dataverse:b'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 8, at: t0 });
    // 3 of the 10 the window started with (8 left + the 2 done) pass 20 %: the answer holds no state.
    expect(await gate.admitDelete(scope, del(2 * minute, 'dataverse:c'))).toEqual({ allow: false, trigger: 'ratio', detail: '3 deletes of 10 pairs (30%) pass 20% in 60 min' });
    const state = await store.get(scope);
    expect(state.trip?.trigger).toBe('ratio');
    expect(state.pairs).toEqual({ count: 8, at: t0 });
  });

  it('does not count a repeated delete again, neither in the window nor in the pairs', async () => {
    const scope = await scopeWith(5, 0, explicitOnly(1, 0.5));
    expect(await gate.admitDelete(scope, del(0, 'exchange:x'))).toEqual({ allow: true });
    expect(await gate.admitDelete(scope, del(minute, 'exchange:x'))).toEqual({ allow: true });
    const state = await store.get(scope);
    expect(state.deletes).toHaveLength(1);
    expect(state.pairs?.count).toBe(4);
  });

  it('keeps a pair count for five minutes and counts again after that', async () => {
    const scope = await scopeWith(4, 0, explicitOnly(3, 0.5));
    expect(await gate.admitDelete(scope, del(0, 'a'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 3, at: t0 });
    // Twenty more pairs: not seen while the count is younger than five minutes.
    await addPairs(scope.mailboxId, 'contact', 20);
    expect(await gate.admitDelete(scope, del(5 * minute - 1, 'b'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 2, at: t0 });
    // At five minutes the count is stale: 24 pairs are there now, and the delete leaves 23.
    expect(await gate.admitDelete(scope, del(5 * minute, 'c'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 23, at: t0 + 5 * minute });
  });

  it('an empty listing uses a pair count younger than five minutes as it is stored', async () => {
    const scope = await scopeWith(6, 0, { emptyListingMinPairs: 5 });
    await gate.admitDelete(scope, del(0, 'a'));
    await addPairs(scope.mailboxId, 'contact', 10);
    expect(await gate.noteListing(scope, 0, at(minute))).toBe(true);
    const state = await store.get(scope);
    expect(state.trip?.detail).toBe('a full listing returned no items while 5 pairs exist');
    expect(state.pairs).toEqual({ count: 5, at: t0 });
  });

  it('two workers deleting in one scope at once each take one pair off the count', async () => {
    // The other worker counts the pairs first; while it lists them, this worker's delete goes through and stores its
    // count. The other's write then finds the state changed and decides again on the stored count, so both deletes
    // are taken off it; deciding on its own count (made before this worker's write) would lose one of them.
    const scope = await scopeWith(10, 0, explicitOnly(5, 0.5));
    const name = 'interleave';
    let interleaved = false;
    other.pairsClient.pipeline.addPolicy({
      name,
      sendRequest: async (request, next) => {
        if (!interleaved) {
          interleaved = true;
          expect(await gate.admitDelete(scope, del(0, 'first'))).toEqual({ allow: true });
        }
        return next(request);
      },
    });
    try {
      expect(await other.gate.admitDelete(scope, del(1000, 'second'))).toEqual({ allow: true });
    } finally {
      other.pairsClient.pipeline.removePolicy({ name });
    }
    expect(interleaved).toBe(true);
    const state = await store.get(scope);
    expect(state.deletes.map((d) => d.target)).toEqual(['first', 'second']);
    expect(state.pairs).toEqual({ count: 8, at: t0 });
  });

  it('never counts the pairs below zero', async () => {
    const scope = await scopeWith(0, 2, explicitOnly(5, 0.5));
    expect(await gate.admitDelete(scope, del(0, 'a'))).toEqual({ allow: true });
    expect((await store.get(scope)).pairs).toEqual({ count: 0, at: t0 });
  });

  it('holds creates past the cap, and says which trigger and why', async () => {
    const scope = await scopeWith(0, 0, { createCap: 2 });
    expect(await gate.admitCreate(scope, at(0))).toEqual({ allow: true });
    expect(await gate.admitCreate(scope, at(1000))).toEqual({ allow: true });
    expect((await store.get(scope)).creates).toEqual([t0, t0 + 1000]);
    expect(await gate.admitCreate(scope, at(2000))).toEqual({ allow: false, trigger: 'createCap', detail: '3 creates in 60 min pass the cap of 2' });
    expect((await store.get(scope)).createTrip?.trigger).toBe('createCap');
  });

  it('trips on an empty full listing once, logs it once, and stores the pairs it counted', async () => {
    const scope = await scopeWith(6, 1, { emptyListingMinPairs: 5 });
    lines.length = 0;
    // A listing with items says nothing about a failure: nothing is counted or stored.
    expect(await gate.noteListing(scope, 3, at(0))).toBe(false);
    expect(await store.get(scope)).toEqual({ deletes: [], creates: [] });
    expect(await gate.noteListing(scope, 0, at(0))).toBe(true);
    const state = await store.get(scope);
    expect(state.trip).toEqual({ trigger: 'emptyListing', at: at(0).toISOString(), detail: 'a full listing returned no items while 6 pairs exist' });
    expect(state.pairs).toEqual({ count: 6, at: t0 });
    // Tripped already: the next empty listing is not a new trip.
    expect(await gate.noteListing(scope, 0, at(minute))).toBe(false);
    expect(lines).toEqual([
      {
        level: 'warn',
        message: 'breaker tripped: a full listing returned no items while pairs exist',
        props: { mailboxId: scope.mailboxId, kind: 'contact', direction: 'toExchange', pairs: 6, trigger: 'emptyListing' },
      },
    ]);
    // A held delete of the tripped scope says why it was held.
    expect(await gate.admitDelete(scope, del(2 * minute, 'x'))).toEqual({ allow: false, trigger: 'emptyListing', detail: 'scope tripped: a full listing returned no items while 6 pairs exist' });
  });

  it('does not trip on an empty listing of a scope with fewer pairs than the minimum', async () => {
    const scope = await scopeWith(4, 9, { emptyListingMinPairs: 5 });
    expect(await gate.noteListing(scope, 0, at(0))).toBe(false);
    expect((await store.get(scope)).trip).toBeUndefined();
  });

  const entry = (scope: BreakerScope, over: Partial<HeldEntry> = {}): HeldEntry => ({
    mailboxId: scope.mailboxId,
    kind: scope.kind,
    direction: scope.direction,
    op: 'delete',
    side: 'exchange',
    dataverseEntity: 'contact',
    dataverseId: 'bbbbbbbb-0000-4000-8000-000000000001',
    exchangeId: 'AAMk-held',
    inferred: false,
    trigger: 'ratio',
    reason: 'deleted in Dynamics 365',
    firstSeen: at(0).toISOString(),
    lastSeen: at(0).toISOString(),
    ...over,
  });

  it('quarantines a held write and logs its ids and trigger, not its reason', async () => {
    const scope = await scopeWith(0, 0);
    lines.length = 0;
    await gate.hold(entry(scope));
    await gate.hold(entry(scope, { op: 'create', dataverseId: undefined, exchangeId: 'AAMk-new', trigger: 'createCap', firstSeen: at(1000).toISOString() }));
    expect((await store.held(scope)).map((e) => [e.op, e.exchangeId])).toEqual([
      ['delete', 'AAMk-held'],
      ['create', 'AAMk-new'],
    ]);
    expect(lines).toEqual([
      { level: 'warn', message: 'breaker held a write', props: { mailboxId: scope.mailboxId, kind: 'contact', direction: 'toExchange', op: 'delete', trigger: 'ratio', dataverseId: 'bbbbbbbb-0000-4000-8000-000000000001', exchangeId: 'AAMk-held' } },
      { level: 'warn', message: 'breaker held a write', props: { mailboxId: scope.mailboxId, kind: 'contact', direction: 'toExchange', op: 'create', trigger: 'createCap', dataverseId: undefined, exchangeId: 'AAMk-new' } },
    ]);
  });

  it('clears a scope only once nothing of it is held', async () => {
    const scope = await scopeWith(6, 0, { emptyListingMinPairs: 5 });
    await gate.noteListing(scope, 0, at(0));
    await gate.hold(entry(scope));
    expect(await gate.clearIfEmpty(scope)).toBe(false);
    expect((await store.get(scope)).trip?.trigger).toBe('emptyListing');
    await store.drop(entry(scope));
    expect(await gate.clearIfEmpty(scope)).toBe(true);
    // Trips, counts and the pair count all go: the next trip needs a window of its own.
    expect(await store.get(scope)).toEqual({ deletes: [], creates: [] });
  });
});
