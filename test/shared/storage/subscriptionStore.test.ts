// The subscription records (Azurite): one mailbox's subscriptions are listed from a partition of their own, so the
// renewal and the enable of a mailbox do not scan every subscription of the tenant (issue 19 item 5), and a table
// written before those partitions existed is indexed once, by its first listing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { SubscriptionStore, type SubscriptionRecord } from '../../../shared/storage/subscriptionStore.js';
import { createTables } from '../../../shared/storage/tables.js';
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
    const first = countRequests(client);
    expect((await store.list(mailboxId(7))).map((r) => r.id).sort()).toEqual([record(7, 'contacts').id, record(7, 'events').id]);
    // The first listing of the process found no index and built it from one scan of the records.
    expect(first.urls.filter(scansTenant)).toHaveLength(1);
    first.stop();

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
});
