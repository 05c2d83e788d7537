// The Budget table's store on its own (Azurite): the lease row per mailbox (created once, replaced on its etag, a row
// that is not a lease read as a blank one to take over) and the instance heartbeats the Dataverse budget is shared
// by. The lease protocol over it is tested in test/shared/budget/mailboxBudget.test.ts, which the mutation run's
// configuration does not include (vitest.mutation.config.ts): this file is what checks the store under it.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStorageAccountKey, startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import type { LeaseRow } from '../../../shared/budget/lease.js';
import { BudgetStore } from '../../../shared/storage/budgetStore.js';
import { encodeKey } from '../../../shared/storage/tables.js';
import { closedPort } from '../../support/closedPort.js';
import { countTableRequests } from '../../support/tableRequests.js';

const lease = (over: Partial<LeaseRow> = {}): LeaseRow => ({ holder: 'instance-a', expiresAt: 1_765_000_010_000, bucket: { tokens: 4.5, at: 1_765_000_000_000 }, pausedUntil: 0, wantedBy: '', wantedAt: 0, ...over });
const blank: LeaseRow = { holder: '', expiresAt: 0, bucket: { tokens: 0, at: 0 }, pausedUntil: 0, wantedBy: '', wantedAt: 0 };

describe('budget store (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: TableClient;
  let store: BudgetStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    client = TableClient.fromConnectionString(azurite.connectionString, 'budgettestBudget', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await client.createTable();
    store = new BudgetStore(client);
  });
  afterAll(async () => azurite?.close());

  it('creates a mailbox\'s lease once and reads it back with its etag, whatever case the mailbox is given in', async () => {
    const mailbox = 'ABCDEF00-0000-4000-8000-000000000001';
    expect(await store.read(mailbox)).toBeUndefined();
    const etag = await store.create(mailbox, lease());
    expect(etag).toMatch(/.+/);
    expect(await store.read(mailbox.toLowerCase())).toEqual({ row: lease(), etag });
    // Another instance creating it as well finds it there: no error, no etag, the first lease stands.
    expect(await store.create(mailbox.toLowerCase(), lease({ holder: 'instance-b' }))).toBeUndefined();
    expect((await store.read(mailbox))?.row.holder).toBe('instance-a');
    // The row as it is in the table: the lease's JSON in the "graph" partition, keyed by the mailbox in lower case.
    const row = await client.getEntity<{ lease: string }>('graph', encodeKey(mailbox.toLowerCase()));
    expect(JSON.parse(row.lease)).toEqual(lease());
  });

  it('replaces a lease on the etag it was read with; a changed or removed row answers undefined, for the caller to read again', async () => {
    const mailbox = 'abcdef00-0000-4000-8000-000000000002';
    const first = (await store.create(mailbox, lease()))!;
    const second = await store.replace(mailbox.toUpperCase(), lease({ wantedBy: 'instance-b', wantedAt: 5 }), first);
    expect(second).toMatch(/.+/);
    expect(second).not.toBe(first);
    expect(await store.read(mailbox)).toEqual({ row: lease({ wantedBy: 'instance-b', wantedAt: 5 }), etag: second });
    // The etag of before: 412, undefined, and the row stays as the other writer left it.
    expect(await store.replace(mailbox, lease({ holder: '' }), first)).toBeUndefined();
    expect((await store.read(mailbox))?.row.wantedBy).toBe('instance-b');
    // A row removed meanwhile: 404, undefined.
    expect(await store.replace('abcdef00-0000-4000-8000-0000000000ff', lease(), second!)).toBeUndefined();
  });

  it('reads a row that is not a lease (written by hand, not JSON, no column) as a blank lease with its etag, to be taken over', async () => {
    for (const [i, columns] of [{ lease: '{"holder":1}' }, { lease: 'not json' }, { other: 'x' }].entries()) {
      const mailbox = `abcdef00-0000-4000-8000-00000000010${i}`;
      await client.upsertEntity({ partitionKey: 'graph', rowKey: encodeKey(mailbox), ...columns }, 'Replace');
      const read = await store.read(mailbox);
      expect(read).toEqual({ row: blank, etag: expect.stringMatching(/.+/) });
      // The etag is the row's: the take replaces it conditionally.
      expect(await store.replace(mailbox, lease(), read!.etag)).toMatch(/.+/);
      expect((await store.read(mailbox))?.row).toEqual(lease());
    }
  });

  it('counts the instances that beat since a time, and forgets one that left', async () => {
    await store.beat('instance-1', 1_000);
    await store.beat('instance-2', 2_000);
    await store.beat('instance-3', 3_000);
    // A beat replaces the instance's last one.
    await store.beat('instance-1', 4_000);
    expect(await store.liveInstances(0)).toBe(3);
    expect(await store.liveInstances(3_000)).toBe(2);
    expect(await store.liveInstances(3_001)).toBe(1);
    expect(await store.liveInstances(4_001)).toBe(0);
    // Lease rows are no instances.
    expect(await store.liveInstances(-1)).toBe(3);
    await store.leave('instance-1');
    expect(await store.liveInstances(0)).toBe(2);
    // Leaving again (a second stop) is no error.
    await expect(store.leave('instance-1')).resolves.toBeUndefined();
    // Any text is an instance id; the heartbeat is a row of the "instances" partition.
    await store.beat('host/1#a?', 9_000);
    expect(await store.liveInstances(9_000)).toBe(1);
    expect((await client.getEntity<{ beat: string }>('instances', encodeKey('host/1#a?'))).beat).toBe('9000');
  });

  it('counts the instances from their own partition and their beat alone, not from every mailbox\'s lease row', async () => {
    // The table holds a lease row per mailbox (thousands in a tenant); the count runs at every budget renewal.
    for (let i = 0; i < 3; i += 1) await store.create(`abcdef00-0000-4000-8000-00000000020${i}`, lease());
    const seen = countTableRequests(client);
    const live = await store.liveInstances(0);
    seen.stop();
    expect(live).toBeGreaterThan(0);
    expect(seen.requests).toHaveLength(1);
    const query = new URL(seen.requests[0]!.url).searchParams;
    expect(query.get('$filter')).toBe("PartitionKey eq 'instances'");
    expect(query.get('$select')).toBe('beat');
  });

  it('refuses a mailbox or instance id too long for a key before any request, naming which', async () => {
    const long = 'x'.repeat(400);
    await expect(store.read(long)).rejects.toMatchObject({ code: 'InvalidInput', field: 'mailbox' });
    await expect(store.create(long, lease())).rejects.toMatchObject({ code: 'InvalidInput', field: 'mailbox' });
    await expect(store.replace(long, lease(), '*')).rejects.toMatchObject({ code: 'InvalidInput', field: 'mailbox' });
    await expect(store.beat(long, 1)).rejects.toMatchObject({ code: 'InvalidInput', field: 'instance id' });
    await expect(store.leave(long)).rejects.toMatchObject({ code: 'InvalidInput', field: 'instance id' });
  });

  it('an unreachable table store is Transient for every call, never "no lease", "taken by another" or "no instances"', async () => {
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1;`;
    const down = new BudgetStore(TableClient.fromConnectionString(connectionString, 'budgettestBudget', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } }));
    const transient = { code: 'Transient', message: 'table storage unavailable' };
    await expect(down.read('m')).rejects.toMatchObject(transient);
    await expect(down.create('m', lease())).rejects.toMatchObject(transient);
    await expect(down.replace('m', lease(), '*')).rejects.toMatchObject(transient);
    await expect(down.beat('i', 1)).rejects.toMatchObject(transient);
    await expect(down.liveInstances(0)).rejects.toMatchObject(transient);
    await expect(down.leave('i')).rejects.toMatchObject(transient);
  });
});
