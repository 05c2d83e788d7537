// The decision record (Azurite): append-only (one insert per id, no read), explain's answers as before (newest
// first, the last `keep`, the last sync per direction, the unlink a later create looks for), rows of the release
// before still read, and the retention pass bounding the table without losing what creates rely on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { DecisionStore, rowsToTrim, type Decision, type StoredDecisionRow } from '../../../shared/storage/decisionStore.js';
import { PairStore } from '../../../shared/storage/pairStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import { trimDecisionPage } from '../../../shared/sync/decisionRetention.js';

type Client = ReturnType<ReturnType<typeof createTables>['client']>;

/** The method and URL of every request the real SDK client sends (a pipeline policy: nothing is mocked). */
function recordRequests(client: Client): { requests: string[]; stop: () => void } {
  const requests: string[] = [];
  const name = `record-${Math.random()}`;
  client.pipeline.addPolicy({
    name,
    sendRequest: async (request, next) => {
      requests.push(`${request.method} ${decodeURIComponent(request.url)}`);
      return next(request);
    },
  });
  return { requests, stop: () => client.pipeline.removePolicy({ name }) };
}

const mailbox = '00000000-0000-4000-8000-000000000001';
const day = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString();
const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const decision = (i: number, over: Partial<Decision> = {}): Decision => ({ at: at(t0 + i * 1000), direction: 'toExchange', decision: 'Update', reason: `change ${i}`, outcome: 'updated', source: 'webhook', ...over });

describe('decision record (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: Client;
  let store: DecisionStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'dectest' });
    await tables.ensureTables();
    client = tables.client('decisions');
    store = new DecisionStore(client, 3);
  });
  afterAll(async () => azurite?.close());

  it('records a decision with one insert per id it names, and no read', async () => {
    const seen = recordRequests(client);
    await store.record(mailbox, decision(1, { dataverseId: 'AAAA0000-0000-0000-0000-000000000001', exchangeId: 'AAMk/x+y=' }));
    seen.stop();
    expect(seen.requests.map((r) => r.split(' ')[0])).toEqual(['POST', 'POST']);
  });

  it('answers explain as before: newest first, the last `keep`, the last sync per direction, across both ids', async () => {
    const dv = 'aaaa0000-0000-0000-0000-000000000002';
    await store.record(mailbox, decision(1, { dataverseId: dv, direction: 'toDataverse', outcome: 'created' }));
    for (let i = 2; i <= 6; i += 1) await store.record(mailbox, decision(i, { dataverseId: dv, outcome: i === 6 ? 'unchanged' : 'updated' }));
    await store.record(undefined, decision(7, { dataverseId: dv, decision: 'OutOfScope', outcome: 'ignored' }));
    const records = await store.lookup({ dataverseId: dv });
    const record = records.find((r) => r.mailboxId === mailbox);
    const none = records.find((r) => r.mailboxId !== mailbox);
    expect(record!.decisions.map((d) => d.reason)).toEqual(['change 6', 'change 5', 'change 4']);
    expect(record!.lastSync).toEqual({ toExchange: at(t0 + 5000), toDataverse: at(t0 + 1000) });
    expect(none!.mailboxId).toBeUndefined();
    expect((await store.lookup({ exchangeId: 'AAMk/x+y=' }))[0]!.decisions).toHaveLength(1);
  });

  it('remembers an unlink for a later create, and reads the unlink a row of the release before kept', async () => {
    const dv = 'aaaa0000-0000-0000-0000-000000000003';
    expect(await store.wasUnlinked(mailbox, dv)).toBe(false);
    await store.record(mailbox, decision(1, { dataverseId: dv, decision: 'Unlink', outcome: 'unlinked' }));
    expect(await store.wasUnlinked(mailbox, dv)).toBe(true);
    expect((await store.lookup({ dataverseId: dv }))[0]!.lastSync.unlinkedAt).toBe(at(t0 + 1000));
    // The release before: one row per item and mailbox, RowKey the mailbox id, its decisions as one JSON list.
    const old = 'aaaa0000-0000-0000-0000-000000000004';
    await client.createEntity({ partitionKey: `dv-${old}`, rowKey: mailbox, decisions: JSON.stringify([decision(2, { dataverseId: old, outcome: 'unlinked' })]), lastSync: JSON.stringify({ unlinkedAt: at(t0 + 2000) }) });
    expect(await store.wasUnlinked(mailbox, old)).toBe(true);
    await store.record(mailbox, decision(3, { dataverseId: old, decision: 'Create', outcome: 'created' }));
    const [merged] = await store.lookup({ dataverseId: old });
    expect(merged!.decisions.map((d) => d.decision)).toEqual(['Create', 'Update']);
    expect(merged!.lastSync).toEqual({ toExchange: at(t0 + 3000), unlinkedAt: at(t0 + 2000) });
  });

  it('the retention pass keeps the last decisions of a paired item and drops a gone item\'s old ones, never an unlink', async () => {
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'retention' });
    await tables.ensureTables();
    const decisions = new DecisionStore(tables.client('decisions'), 3);
    const pairs = new PairStore(tables.client('pairs'));
    const paired = 'bbbb0000-0000-0000-0000-000000000001';
    const gone = 'bbbb0000-0000-0000-0000-000000000002';
    const unlinked = 'bbbb0000-0000-0000-0000-000000000003';
    await pairs.create({ mailboxId: mailbox, kind: 'appointment', dataverseEntity: 'appointment', dataverseId: paired, exchangeId: 'AAMk-paired', base: {}, status: 'linked' });
    // The paired item: one write to Dataverse long ago, then many to Exchange.
    await decisions.record(mailbox, decision(0, { dataverseId: paired, direction: 'toDataverse', outcome: 'created' }));
    for (let i = 1; i <= 8; i += 1) await decisions.record(mailbox, decision(i, { dataverseId: paired }));
    for (let i = 1; i <= 4; i += 1) await decisions.record(mailbox, decision(i, { dataverseId: gone }));
    await decisions.record(mailbox, decision(9, { dataverseId: unlinked, decision: 'Unlink', outcome: 'unlinked' }));
    const now = new Date(t0 + 31 * day);
    const retention = { keep: 3, dropAfterMs: 30 * day };
    let page = await trimDecisionPage(decisions, pairs, now, retention);
    let deleted = page.deleted;
    while (page.continuation) {
      page = await trimDecisionPage(decisions, pairs, now, retention, page.continuation);
      deleted += page.deleted;
    }
    const [kept] = await decisions.lookup({ dataverseId: paired });
    expect(kept!.decisions.map((d) => d.reason)).toEqual(['change 8', 'change 7', 'change 6']);
    // The last write to Dynamics 365 outlives the count: explain's "last sync" stays right.
    expect(kept!.lastSync.toDataverse).toBe(at(t0));
    expect(await decisions.lookup({ dataverseId: gone })).toEqual([]);
    expect(await decisions.wasUnlinked(mailbox, unlinked)).toBe(true);
    // 5 of the paired item's 9 rows, the gone item's 4, the unlinked item's decision (its mark stays).
    expect(deleted).toBe(10);
    // A second pass finds nothing left to do.
    expect((await trimDecisionPage(decisions, pairs, now, retention)).deleted).toBe(0);
  });
});

describe('rowsToTrim', () => {
  const row = (i: number, over: Partial<Decision> = {}): StoredDecisionRow => ({ type: 'decision', rowKey: `k${i}`, mailbox, decision: decision(i, over) });
  const retention = { keep: 2, dropAfterMs: 30 * day };
  const recent = t0 + 10 * day;
  const late = t0 + 40 * day;
  it.each([
    { name: 'a paired item keeps its newest `keep`', rows: [row(1), row(2), row(3)], paired: true, now: late, deleted: ['k1'] },
    { name: 'the newest write per direction is kept beyond `keep`', rows: [row(1, { direction: 'toDataverse', outcome: 'created' }), row(2), row(3, { outcome: 'ignored' })], paired: true, now: late, deleted: [] },
    { name: 'an unpaired item keeps recent decisions', rows: [row(1), row(2)], paired: false, now: recent, deleted: [] },
    { name: 'an unpaired item loses decisions older than the days', rows: [row(1), row(2)], paired: false, now: late, deleted: ['k1', 'k2'] },
    { name: 'an unlink mark is never deleted', rows: [row(1), { type: 'unlinked' as const, rowKey: 'u', mailbox, at: at(t0) }], paired: false, now: late, deleted: ['k1'] },
  ])('$name', ({ rows, paired, now, deleted }) => {
    expect(rowsToTrim(rows, paired, now, retention).delete.sort()).toEqual(deleted);
  });

  it('a legacy row of a gone item goes, its unlink moved to a mark', () => {
    const legacy: StoredDecisionRow = { type: 'legacy', rowKey: mailbox, mailbox, decisions: [decision(1)], lastSync: { unlinkedAt: at(t0) } };
    expect(rowsToTrim([legacy], false, late, retention)).toEqual({ delete: [mailbox], unlinkedAt: at(t0) });
    expect(rowsToTrim([legacy], true, late, retention)).toEqual({ delete: [] });
  });
});
