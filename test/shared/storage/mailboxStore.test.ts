// The mailbox registry (Azurite): look-ups a change makes do not scan the registry, and the schedule columns of the
// periodic work survive every write of the mailbox's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { MailboxStore, type Mailbox } from '../../../shared/storage/mailboxStore.js';
import { createTables } from '../../../shared/storage/tables.js';

const mailbox = (i: number, state: Mailbox['state'] = 'active'): Mailbox => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  userPrincipalName: `user${i}@contoso.example`,
  address: `User${i}@Contoso.example`,
  systemUserId: `5c5a5b54-2a7a-ee11-8179-${String(i).padStart(12, '0')}`,
  timeZone: 'UTC',
  entities: ['appointment', 'task'],
  state,
});

describe('mailbox registry (Azurite)', () => {
  let azurite: StartedAzurite;
  let store: MailboxStore;
  let client: ReturnType<ReturnType<typeof createTables>['client']>;
  const now = new Date('2026-12-02T06:00:00.000Z');
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'mbxtest' });
    await tables.ensureTables();
    client = tables.client('mailboxes');
    store = new MailboxStore(client, 60_000, (_id, at) => ({ pollTodo: at, reconcile: new Date(at.getTime() + 7 * 60_000), renew: at }), () => now);
    for (let i = 0; i < 5; i += 1) await store.put(mailbox(i, i === 4 ? 'disabled' : 'active'));
  });
  afterAll(async () => azurite?.close());

  it('indexes enabled mailboxes by system user once per registry read, not once per change', async () => {
    const first = await store.enabledBySystemUser();
    // The same index object for every change until the cache expires: nothing is rebuilt from the list per call.
    expect(await store.enabledBySystemUser()).toBe(first);
    expect(await store.enabledSystemUsers()).toBe(await store.enabledSystemUsers());
    expect([...first.keys()]).toHaveLength(4);
    expect(first.get(mailbox(2).systemUserId)?.id).toBe(mailbox(2).id);
    expect(first.has(mailbox(4).systemUserId)).toBe(false);
  });

  it('finds an enabled mailbox by id, address or UPN in any case; a disabled one only as a known address', async () => {
    expect((await store.findEnabled('USER1@contoso.example'))?.id).toBe(mailbox(1).id);
    expect((await store.findEnabled(mailbox(3).id.toUpperCase()))?.id).toBe(mailbox(3).id);
    expect(await store.findEnabled('user4@contoso.example')).toBeUndefined();
    expect((await store.findKnown('user4@contoso.example'))?.id).toBe(mailbox(4).id);
  });

  it('a patch of the data keeps the schedule; the due page sees only enabled mailboxes due', async () => {
    await store.markDone('pollTodo', mailbox(0).id, new Date(now.getTime() + 3600_000), 120);
    await store.patch(mailbox(0).id, { stateReason: 'x' });
    const row = await client.getEntity<Record<string, unknown>>('mailbox', mailbox(0).id);
    expect(row.pollTodoDueAt).toBe(new Date(now.getTime() + 3600_000).toISOString());
    expect(row.pollTodoIntervalSeconds).toBe(120);
    expect(row.reconcileDueAt).toBe(new Date(now.getTime() + 7 * 60_000).toISOString());
    const due = await store.duePage('pollTodo', now, { pageSize: 100 });
    expect(due.due.map((d) => d.mailbox.id).sort()).toEqual([1, 2, 3].map((i) => mailbox(i).id));
    expect((await store.duePage('reconcile', now, { pageSize: 100 })).due).toEqual([]);
  });

  it('a row written before the schedule existed gains it on its next patch', async () => {
    const old = mailbox(7);
    await client.upsertEntity({ partitionKey: 'mailbox', rowKey: old.id, data: JSON.stringify(old), state: old.state }, 'Replace');
    expect((await store.duePage('pollTodo', now, { pageSize: 100 })).due.map((d) => d.mailbox.id)).not.toContain(old.id);
    await store.patch(old.id, { state: 'active' });
    expect((await store.duePage('pollTodo', now, { pageSize: 100 })).due.map((d) => d.mailbox.id)).toContain(old.id);
  });
});
