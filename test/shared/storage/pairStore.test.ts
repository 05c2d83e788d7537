import { odata, type TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { PairStore, baseValueEquals, compactSnapshot, type Pair } from '../../../shared/storage/pairStore.js';
import { createTables, encodeKey } from '../../../shared/storage/tables.js';

describe('correlation store (Azurite)', () => {
  let azurite: StartedAzurite;
  let store: PairStore;
  let client: TableClient;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'pairtest' });
    await tables.ensureTables();
    client = tables.client('pairs');
    store = new PairStore(client);
  });
  afterAll(async () => azurite?.close());

  const mailbox = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
  const basePair = (dataverseId: string, exchangeId?: string): Pair => ({
    mailboxId: mailbox,
    kind: 'appointment',
    dataverseEntity: 'appointment',
    dataverseId,
    exchangeId,
    base: { subject: 'Kick-off', body: 'x'.repeat(2000) },
    status: 'linked',
    exchangeEtag: 'W/"ck1"',
    dataverseEtag: 'W/"1001"',
  });

  it('finds a pair from both directions after one create, with Graph ids that contain / + =', async () => {
    const exchangeId = 'AAMkAGI2T/+abc==';
    await store.create(basePair('11111111-1111-4111-8111-111111111111', exchangeId));
    const byDv = await store.get(mailbox, '11111111-1111-4111-8111-111111111111');
    const byEx = await store.getByExchangeId(mailbox, exchangeId);
    expect(byDv?.exchangeId).toBe(exchangeId);
    expect(byEx?.dataverseId).toBe('11111111-1111-4111-8111-111111111111');
    expect(await store.mailboxesOf('11111111-1111-4111-8111-111111111111')).toEqual([mailbox]);
  });

  it('tells the echo of the sync\'s own write from the pointer row alone, only while the pointer is the pair\'s as it is now', async () => {
    const dv = '44444444-4444-4444-8444-444444444401';
    const created = await store.create(basePair(dv, 'ex-echo'));
    const reads: string[] = [];
    const name = 'count-echo';
    client.pipeline.addPolicy({ name, sendRequest: async (request, next) => (reads.push(request.method), next(request)) });
    try {
      expect(await store.echoOf(mailbox, 'ex-echo', 'W/"ck1"')).toEqual({ echo: { dataverseId: dv, dataverseEntity: 'appointment', exchangeEtag: 'W/"ck1"' } });
      expect(reads).toEqual(['GET']);
    } finally {
      client.pipeline.removePolicy({ name });
    }
    // Another etag is no echo: the pair is read, as getByExchangeId reads it.
    expect((await store.echoOf(mailbox, 'ex-echo', 'W/"other"')) as unknown).toMatchObject({ pair: { dataverseId: dv, exchangeEtag: 'W/"ck1"' } });
    // The pointer follows every update of the pair (the same transaction): the old etag is no echo any more.
    const updated = await store.update(created, { ...created, exchangeEtag: 'W/"ck2"' });
    expect(await store.echoOf(mailbox, 'ex-echo', 'W/"ck2"')).toMatchObject({ echo: { exchangeEtag: 'W/"ck2"' } });
    expect(await store.echoOf(mailbox, 'ex-echo', 'W/"ck1"')).toMatchObject({ pair: { exchangeEtag: 'W/"ck2"' } });
    // A pointer from before the etag was kept on it: the pair decides.
    await client.upsertEntity({ partitionKey: `mbx-${mailbox}`, rowKey: `ex-${encodeKey('ex-echo')}`, dataverseId: dv, kind: 'appointment' }, 'Replace');
    expect(await store.echoOf(mailbox, 'ex-echo', 'W/"ck2"')).toMatchObject({ pair: { exchangeEtag: 'W/"ck2"' } });
    const again = await store.update(updated, { ...updated, exchangeEtag: 'W/"ck3"' });
    // A remove that stopped after the pair row (its pointer left): the remove cleared the pointer's etag first, so
    // the notification of the last write is not taken for an echo of a pair that is gone.
    await store.remove(again);
    await client.upsertEntity({ partitionKey: `mbx-${mailbox}`, rowKey: `ex-${encodeKey('ex-echo')}`, dataverseId: dv, kind: 'appointment', dataverseEntity: 'appointment', exchangeEtag: '' }, 'Replace');
    expect(await store.echoOf(mailbox, 'ex-echo', 'W/"ck3"')).toEqual({ pair: undefined });
    expect(await store.echoOf(mailbox, 'ex-none', 'W/"ck3"')).toEqual({ pair: undefined });
  });

  it('a remove clears the pointer\'s etag before it deletes the pair row, without touching which pair the pointer names', async () => {
    const dv = '44444444-4444-4444-8444-444444444402';
    const pair = await store.create(basePair(dv, 'ex-half'));
    const seen: string[] = [];
    const name = 'count-remove';
    client.pipeline.addPolicy({ name, sendRequest: async (request, next) => (seen.push(`${request.method} ${decodeURIComponent(request.url).replace(/^.*\//, '')}`), next(request)) });
    try {
      await store.remove(pair);
    } finally {
      client.pipeline.removePolicy({ name });
    }
    // The merge of the pointer first, then the pair row's conditional delete.
    expect(seen[0]).toMatch(/^PATCH /);
    expect(seen[0]).toContain(`RowKey='ex-${encodeKey('ex-half')}'`);
    expect(seen[1]).toMatch(/^DELETE .*RowKey='dv-44444444-4444-4444-8444-444444444402'/);
  });

  it('refuses a second create of the same pair as AlreadyExists (another worker won)', async () => {
    const pair = basePair('22222222-2222-4222-8222-222222222222', 'ex-2');
    await store.create(pair);
    await expect(store.create(pair)).rejects.toMatchObject({ code: 'AlreadyExists' });
  });

  it('updates only from the current row etag; a stale etag is PreconditionFailed and changes nothing', async () => {
    const created = await store.create(basePair('33333333-3333-4333-8333-333333333333', 'ex-3'));
    const updated = await store.update(created, { ...created, exchangeEtag: 'W/"ck2"', exchangeId: 'ex-3b' });
    await expect(store.update(created, { ...created, exchangeEtag: 'W/"stale"' })).rejects.toMatchObject({ code: 'PreconditionFailed' });
    const read = await store.get(mailbox, '33333333-3333-4333-8333-333333333333');
    expect(read?.exchangeEtag).toBe('W/"ck2"');
    expect(read?.rowEtag).toBe(updated.rowEtag);
    // the pointer moved with the Exchange id
    expect(await store.getByExchangeId(mailbox, 'ex-3')).toBeUndefined();
    expect((await store.getByExchangeId(mailbox, 'ex-3b'))?.dataverseId).toBe('33333333-3333-4333-8333-333333333333');
  });

  it('removes both directions and the record index when unlinking', async () => {
    const created = await store.create(basePair('44444444-4444-4444-8444-444444444444', 'ex-4'));
    await store.remove(created);
    expect(await store.get(mailbox, '44444444-4444-4444-8444-444444444444')).toBeUndefined();
    expect(await store.getByExchangeId(mailbox, 'ex-4')).toBeUndefined();
    expect(await store.mailboxesOf('44444444-4444-4444-8444-444444444444')).toEqual([]);
  });

  it('a pair another change removed since it was read is PreconditionFailed on update and on remove (decide again), not NotFound (which dead-lettered the change; found by the chaos test)', async () => {
    const created = await store.create(basePair('55555555-5555-4555-8555-555555555555', 'ex-5'));
    await store.remove(created);
    await expect(store.update(created, { ...created, exchangeEtag: 'W/"ck2"' })).rejects.toMatchObject({ code: 'PreconditionFailed', retryable: true });
    await expect(store.update(created, { ...created, exchangeId: 'ex-5b' })).rejects.toMatchObject({ code: 'PreconditionFailed', retryable: true });
    await expect(store.remove(created)).rejects.toMatchObject({ code: 'PreconditionFailed', retryable: true });
    // Nothing came back to life.
    expect(await store.get(mailbox, '55555555-5555-4555-8555-555555555555')).toBeUndefined();
    expect(await store.getByExchangeId(mailbox, 'ex-5b')).toBeUndefined();
  });

  it('an update that moves the Exchange id goes through when only the old pointer row is missing (a remove cut short by a crash)', async () => {
    const created = await store.create(basePair('66666666-6666-4666-8666-666666666666', 'ex-6'));
    // The pointer row (Exchange id -> pair) of this pair, found by what it points to, removed behind the store's back.
    const partitionKey = `mbx-${mailbox}`;
    const pointers = [];
    for await (const row of client.listEntities<{ dataverseId?: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${'ex-'} and RowKey lt ${'ex.'}` } })) {
      if (row.dataverseId === '66666666-6666-4666-8666-666666666666') pointers.push(row.rowKey!);
    }
    expect(pointers).toHaveLength(1);
    await client.deleteEntity(partitionKey, pointers[0]!);
    expect(await store.getByExchangeId(mailbox, 'ex-6')).toBeUndefined();
    const updated = await store.update(created, { ...created, exchangeId: 'ex-6b' });
    expect((await store.getByExchangeId(mailbox, 'ex-6b'))?.dataverseId).toBe('66666666-6666-4666-8666-666666666666');
    expect((await store.get(mailbox, '66666666-6666-4666-8666-666666666666'))?.rowEtag).toBe(updated.rowEtag);
  });

  it('keeps the cause of an unlinked copy, and reads a row written before causes were stored by its reason as before', async () => {
    const at = '2024-06-01T08:00:00.000Z';
    await store.rememberUnlinked({ mailboxId: mailbox, remains: 'exchange', id: 'ex-left-scope', version: 'W/"k1"', reason: 'no sync filter matches (Work)', cause: 'outOfScope', at });
    expect(await store.unlinkedCopy(mailbox, 'exchange', 'ex-left-scope')).toEqual({ mailboxId: mailbox, remains: 'exchange', id: 'ex-left-scope', version: 'W/"k1"', reason: 'no sync filter matches (Work)', cause: 'outOfScope', at });
    // Rows as the earlier code wrote them: no cause column (a deployed table keeps them until the copy changes).
    const partitionKey = `mbx-${mailbox}`;
    await client.upsertEntity({ partitionKey, rowKey: `ue-${encodeKey('ex-old-scope')}`, reason: 'out of scope: the user is no longer its owner or a party', at, version: 'W/"k2"' }, 'Replace');
    await client.upsertEntity({ partitionKey, rowKey: 'ud-dv-old-delete', reason: 'contacts and tasks deleted in Exchange are only unlinked', at }, 'Replace');
    expect((await store.unlinkedCopy(mailbox, 'exchange', 'ex-old-scope'))?.cause).toBe('outOfScope');
    expect((await store.unlinkedCopy(mailbox, 'dataverse', 'dv-old-delete'))?.cause).toBe('deleted');
  });

  it('keeps large base values as hashes that still compare equal', async () => {
    const read = await store.get(mailbox, '11111111-1111-4111-8111-111111111111');
    expect(String(read?.base.body)).toMatch(/^#sha256:/);
    expect(baseValueEquals(read?.base.body, 'x'.repeat(2000))).toBe(true);
    expect(baseValueEquals(read?.base.body, 'y'.repeat(2000))).toBe(false);
    expect(baseValueEquals(compactSnapshot({ s: 'short' }).s, 'short')).toBe(true);
  });

  it("a table filter with a key containing a quote finds that key's rows and no others (the value is escaped, not interpolated)", async () => {
    // Table keys may contain a quote; a filter built by interpolation ended the literal there, so the query
    // failed, or with a crafted id, matched other mailboxes' partitions.
    const quoted = "o'brien";
    const other = "o";
    await store.create({ ...basePair('55555555-5555-4555-8555-555555555555', 'ex-5'), mailboxId: quoted });
    await store.create({ ...basePair('66666666-6666-4666-8666-666666666666', 'ex-6'), mailboxId: other });
    const listed: string[] = [];
    for await (const pair of store.listMailbox(quoted)) listed.push(pair.dataverseId);
    expect(listed).toEqual(['55555555-5555-4555-8555-555555555555']);
    const crafted: string[] = [];
    for await (const pair of store.listMailbox("o' or PartitionKey ge 'mbx-")) crafted.push(pair.dataverseId);
    expect(crafted).toEqual([]);
    expect(await store.mailboxesOf('55555555-5555-4555-8555-555555555555')).toEqual([quoted]);
  });
});
