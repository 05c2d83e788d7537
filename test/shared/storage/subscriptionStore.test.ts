// The subscription records (Azurite): one mailbox's subscriptions are listed from a partition of their own, so the
// renewal and the enable of a mailbox do not scan every subscription of the tenant (issue 19 item 5), and a table
// written before those partitions existed is indexed once, by its first listing.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStorageAccountKey, startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { SubscriptionStore, type SubscriptionRecord } from '../../../shared/storage/subscriptionStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import { closedPort } from '../../support/closedPort.js';
import { countTableRequests } from '../../support/tableRequests.js';

type Client = ReturnType<ReturnType<typeof createTables>['client']>;

/** The decoded URLs of every request the real SDK client sends to Azurite from now on (test/support/tableRequests.ts). */
function countRequests(client: Client): { urls: string[]; stop: () => void } {
  const counted = countTableRequests(client);
  return { get urls() { return counted.requests.map((r) => r.url); }, stop: counted.stop };
}

/** A query of the records' own partition: every subscription of the tenant read. */
const scansTenant = (url: string) => url.includes("PartitionKey eq 'subscription'");

const mailboxId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const record = (i: number, kind: 'events' | 'contacts'): SubscriptionRecord => ({
  id: `5d0c3f21-0000-4000-9000-${String(i).padStart(10, '0')}${kind === 'events' ? 'e1' : 'c1'}`,
  mailboxId: mailboxId(i),
  resourceKind: kind,
  resource: `/users/${mailboxId(i)}/${kind}`,
  clientState: `client-state-${String(i).padStart(8, '0')}-${kind}`,
  expirationDateTime: '2026-12-10T06:00:00.000Z',
  createdOn: '2026-12-08T06:00:00.000Z',
});

describe('subscription records (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: Client;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'subtest' });
    await tables.ensureTables();
    client = tables.client('subscriptions');
    // A table as the release before wrote it: the records alone, in their one partition, with a mailboxId column.
    for (let i = 0; i < 40; i += 1) {
      for (const kind of ['events', 'contacts'] as const) {
        const r = record(i, kind);
        await client.upsertEntity({ partitionKey: 'subscription', rowKey: r.id, data: JSON.stringify(r), mailboxId: r.mailboxId }, 'Replace');
      }
    }
  });
  afterAll(async () => azurite?.close());

  it("indexes a table of the release before once, then lists one mailbox's subscriptions from its own partition", async () => {
    const store = new SubscriptionStore(client);
    const first = countTableRequests(client);
    expect((await store.list(mailboxId(7))).map((r) => r.id).sort()).toEqual([record(7, 'contacts').id, record(7, 'events').id]);
    // The first listing of the process found no index and built it from one scan of the records: one mailbox row
    // written per record (in batches of 16, each record once: 80, not a batch's worth again per batch).
    expect(first.requests.map((r) => r.url).filter(scansTenant)).toHaveLength(1);
    expect(first.requests.filter((r) => r.method !== 'GET' && r.url.includes("PartitionKey='mailbox~"))).toHaveLength(80);
    first.stop();
    // Every mailbox's listing has its two, the last batch's as well as the first's.
    for (let i = 0; i < 40; i += 1) expect((await store.list(mailboxId(i))).map((r) => r.id).sort()).toEqual([record(i, 'contacts').id, record(i, 'events').id]);

    // Any later store (another instance, a restart) finds the index built: a listing reads the mailbox's partition.
    const later = new SubscriptionStore(client);
    const seen = countRequests(client);
    expect((await later.list(mailboxId(23).toUpperCase())).map((r) => r.resourceKind).sort()).toEqual(['contacts', 'events']);
    expect(seen.urls.filter(scansTenant)).toEqual([]);
    expect(seen.urls.some((u) => u.includes(`PartitionKey eq 'mailbox~${mailboxId(23)}'`))).toBe(true);
    seen.stop();
    // The whole list (status, the sequential renewal) still reads the records alone, not their mailbox rows.
    expect(await later.list()).toHaveLength(80);
  });

  it('put and remove keep the mailbox partition with the records: a new subscription is listed, a removed one is gone from both', async () => {
    const store = new SubscriptionStore(client);
    const added = record(100, 'events');
    await store.put(added);
    await store.put({ ...added, expirationDateTime: '2026-12-12T06:00:00.000Z' });
    expect(await store.list(added.mailboxId)).toEqual([{ ...added, expirationDateTime: '2026-12-12T06:00:00.000Z' }]);
    expect((await store.get(added.id))?.expirationDateTime).toBe('2026-12-12T06:00:00.000Z');
    await store.remove(added);
    expect(await store.list(added.mailboxId)).toEqual([]);
    expect(await store.get(added.id)).toBeUndefined();
    // Removing again (a retry after a lost answer) is no error.
    await store.remove(added);
    expect(await store.list()).toHaveLength(80);
  });

  it("finds a mailbox's rows under its id in lower case, whatever case the id is given in", async () => {
    // A record of a mailbox whose id has letters, with its mailbox row as put writes it (the partition in lower case):
    // rows written by earlier processes must be found by every later one, whatever case a caller gives.
    const upper = 'ABCDEF00-0000-4000-8000-0000000000FF';
    const r = { ...record(200, 'events'), mailboxId: upper };
    await client.upsertEntity({ partitionKey: 'subscription', rowKey: r.id, data: JSON.stringify(r), mailboxId: upper }, 'Replace');
    await client.upsertEntity({ partitionKey: `mailbox~${upper.toLowerCase()}`, rowKey: r.id, data: JSON.stringify(r), mailboxId: upper }, 'Replace');
    const store = new SubscriptionStore(client);
    expect(await store.list(upper)).toEqual([r]);
    expect(await store.list(upper.toLowerCase())).toEqual([r]);
    await store.remove(r);
    expect(await store.list(upper)).toEqual([]);
  });

  it('refuses ids that cannot be a table key before any request, naming which id', async () => {
    const store = new SubscriptionStore(client);
    const bad = { ...record(300, 'events'), id: 'a/b' };
    await expect(store.get('a/b')).rejects.toMatchObject({ code: 'InvalidInput', field: 'subscription id' });
    await expect(store.put(bad)).rejects.toMatchObject({ code: 'InvalidInput', field: 'subscription id' });
    await expect(store.remove(bad)).rejects.toMatchObject({ code: 'InvalidInput', field: 'subscription id' });
    await expect(store.list('mailbox/1')).rejects.toMatchObject({ code: 'InvalidInput', field: 'mailbox id' });
    await expect(store.remove({ id: 'ok', mailboxId: 'mailbox#1' })).rejects.toMatchObject({ code: 'InvalidInput', field: 'mailbox id' });
  });

  it('an unreachable table store is Transient, never an empty list or a silent remove', async () => {
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1;`;
    const down = new SubscriptionStore(TableClient.fromConnectionString(connectionString, 'subtestSubscriptions', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } }));
    const transient = { code: 'Transient', message: 'table storage unavailable' };
    await expect(down.list()).rejects.toMatchObject(transient);
    await expect(down.get(record(1, 'events').id)).rejects.toMatchObject(transient);
    await expect(down.remove(record(1, 'events'))).rejects.toMatchObject(transient);
  });
});

describe('subscription records when writes of the mailbox rows fail (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: Client;
  /** Sends every write of a mailbox row to a port nothing listens on (a real refused connection), until undone. */
  let failMailboxRows: () => Promise<() => void>;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    // Without the SDK's retries, so a refused write fails at once (its retries wait seconds between tries).
    client = TableClient.fromConnectionString(azurite.connectionString, 'subfailSubscriptions', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await client.createTable();
    failMailboxRows = async () => {
      const port = await closedPort();
      const name = `fail-${Math.random()}`;
      client.pipeline.addPolicy({
        name,
        sendRequest: async (request, next) => {
          if (request.method !== 'GET' && decodeURIComponent(request.url).includes("PartitionKey='mailbox~")) request.url = request.url.replace(`:${azurite.port}/`, `:${port}/`);
          return next(request);
        },
      });
      return () => client.pipeline.removePolicy({ name });
    };
  });
  afterAll(async () => azurite?.close());

  it('an index that could not be written is not marked built: the listing fails, and the next one builds it', async () => {
    const r = record(1, 'events');
    await client.upsertEntity({ partitionKey: 'subscription', rowKey: r.id, data: JSON.stringify(r), mailboxId: r.mailboxId }, 'Replace');
    const store = new SubscriptionStore(client);
    const undo = await failMailboxRows();
    await expect(store.list(r.mailboxId)).rejects.toMatchObject({ code: 'Transient' });
    undo();
    expect(await store.list(r.mailboxId)).toEqual([r]);
  });

  it("a put whose mailbox row cannot be written fails, so the caller tries again (the record alone is not listed)", async () => {
    const store = new SubscriptionStore(client);
    const r = record(2, 'contacts');
    const undo = await failMailboxRows();
    await expect(store.put(r)).rejects.toMatchObject({ code: 'Transient' });
    undo();
    expect(await store.list(r.mailboxId)).toEqual([]);
    await store.put(r);
    expect(await store.list(r.mailboxId)).toEqual([r]);
  });
});
