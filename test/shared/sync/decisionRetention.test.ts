// A page of the decision retention pass (shared/sync/decisionRetention.ts) on Azurite: what it deletes, and which
// pairs it reads to decide. The pass runs over the whole decisions table once a day, so reading a pair only for an
// item that would lose something if it were unpaired (and never for the decisions of no mailbox, "-") is what keeps
// it to a few reads; test/shared/storage/decisionStore.test.ts checks what the rows come to over a whole pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { DecisionStore, type Decision } from '../../../shared/storage/decisionStore.js';
import { PairStore } from '../../../shared/storage/pairStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import { trimDecisionPage } from '../../../shared/sync/decisionRetention.js';

const mailbox = '00000000-0000-4000-8000-00000000000a';
const day = 86_400_000;
const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const decision = (ms: number, dataverseId: string, over: Partial<Decision> = {}): Decision => ({ at: new Date(t0 + ms).toISOString(), dataverseId, direction: 'toExchange', decision: 'Update', reason: `at ${ms}`, outcome: 'unchanged', source: 'webhook', ...over });

describe('decision retention page (Azurite)', () => {
  let azurite: StartedAzurite;
  let decisions: DecisionStore;
  let pairs: PairStore;
  const pairReads: string[] = [];
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'rettest' });
    await tables.ensureTables();
    decisions = new DecisionStore(tables.client('decisions'), 3);
    const pairsClient = tables.client('pairs');
    pairs = new PairStore(pairsClient);
    // The real SDK client's requests, seen by a pipeline policy (nothing is mocked).
    pairsClient.pipeline.addPolicy({
      name: 'count-reads',
      sendRequest: async (request, next) => {
        if (request.method === 'GET') pairReads.push(decodeURIComponent(request.url));
        return next(request);
      },
    });
  });
  afterAll(async () => azurite?.close());

  it('reads a pair only for an item that would lose decisions unpaired, never for no mailbox, and deletes what the rules say', async () => {
    const recent = 'cccc0000-0000-0000-0000-000000000001';
    const gone = 'cccc0000-0000-0000-0000-000000000002';
    const noMailbox = 'cccc0000-0000-0000-0000-000000000003';
    const pairedOld = 'cccc0000-0000-0000-0000-000000000004';
    for (const dataverseId of [recent, pairedOld]) await pairs.create({ mailboxId: mailbox, kind: 'task', dataverseEntity: 'task', dataverseId, exchangeId: `AAMk-${dataverseId}`, base: {}, status: 'linked' });
    const now = new Date(t0 + 40 * day);
    // Two decisions of this week: nothing to trim, paired or not.
    for (const i of [1, 2]) await decisions.record(mailbox, decision(38 * day + i, recent));
    // An item no longer paired, with decisions older than the days: they go.
    for (const i of [1, 2]) await decisions.record(mailbox, decision(i, gone));
    // Decisions that concern no mailbox (an out-of-scope record) are never paired: old ones go, without a pair read.
    for (const i of [1, 2]) await decisions.record(undefined, decision(i, noMailbox, { decision: 'OutOfScope', outcome: 'ignored' }));
    // A paired item with four old decisions: only the one beyond the last three goes.
    for (const i of [1, 2, 3, 4]) await decisions.record(mailbox, decision(i, pairedOld));
    pairReads.length = 0;

    const page = await trimDecisionPage(decisions, pairs, now, { keep: 3, dropAfterMs: 30 * day });

    expect(page).toEqual({ items: 4, deleted: 5, continuation: undefined });
    expect(pairReads).toHaveLength(2);
    expect(pairReads.some((url) => url.includes(gone))).toBe(true);
    expect(pairReads.some((url) => url.includes(pairedOld))).toBe(true);
    expect((await decisions.lookup({ dataverseId: recent }))[0]!.decisions).toHaveLength(2);
    expect(await decisions.lookup({ dataverseId: gone })).toEqual([]);
    expect(await decisions.lookup({ dataverseId: noMailbox })).toEqual([]);
    expect((await decisions.lookup({ dataverseId: pairedOld }))[0]!.decisions.map((d) => d.reason)).toEqual(['at 4', 'at 3', 'at 2']);
  });
});
