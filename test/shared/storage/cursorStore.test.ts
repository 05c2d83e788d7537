// The cursor store (Azurite): delta links and checkpoints kept as JSON under (scope, name), any text as either key,
// a scope listed on its own, and a failing table store reported as Transient rather than read as "no cursor" (a
// cursor taken as missing restarts a delta from the beginning). Only runtime.ts used it before, so no unit test
// reached it and the mutation run had nothing to run against it (issue 17 item 3).
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStorageAccountKey, startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { CursorStore } from '../../../shared/storage/cursorStore.js';
import { closedPort } from '../../support/closedPort.js';
import { createTables, encodeKey } from '../../../shared/storage/tables.js';

describe('cursor store (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: TableClient;
  let store: CursorStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'cursortest' });
    await tables.ensureTables();
    client = tables.client('cursors');
    store = new CursorStore(client);
  });
  afterAll(async () => azurite?.close());

  it('gives back what was set, whole, and undefined for a cursor never set', async () => {
    const value = { deltaLink: 'https://graph.microsoft.com/v1.0/users/x/calendarView/delta?$deltatoken=a/b+c==', count: 3, done: false, pages: [1, 2] };
    expect(await store.get('mailbox-1', 'events')).toBeUndefined();
    await store.set('mailbox-1', 'events', value);
    expect(await store.get('mailbox-1', 'events')).toEqual(value);
    // Another name in the scope, and the same name in another scope, are other cursors.
    expect(await store.get('mailbox-1', 'contacts')).toBeUndefined();
    expect(await store.get('mailbox-2', 'events')).toBeUndefined();
  });

  it('a set replaces the cursor and stamps when it was written', async () => {
    await store.set('mailbox-3', 'tasks', { token: 'first', extra: 'dropped by the next set' });
    const before = Date.now();
    await store.set('mailbox-3', 'tasks', { token: 'second' });
    const after = Date.now();
    expect(await store.get('mailbox-3', 'tasks')).toEqual({ token: 'second' });
    // The row as it is in the table: the value as JSON and the time of the last write.
    const row = await client.getEntity<{ value: string; updatedOn: string }>(encodeKey('mailbox-3'), encodeKey('tasks'));
    expect(row.value).toBe('{"token":"second"}');
    expect(row.updatedOn).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(row.updatedOn)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(row.updatedOn)).toBeLessThanOrEqual(after);
  });

  it('takes any text as scope and name: characters Table Storage refuses in keys, and text beyond ASCII', async () => {
    const scope = 'AAMkAGI2/T+abc==#?\\';
    const name = 'calendarView/délta 😀';
    await store.set(scope, name, 'v');
    expect(await store.get(scope, name)).toBe('v');
    expect(await store.list(scope)).toEqual([{ name, value: 'v' }]);
  });

  it('lists the cursors of one scope only, with their names as given', async () => {
    await store.set('backfill', 'contacts', { page: 1 });
    await store.set('backfill', 'événements', { page: 2 });
    await store.set('backfill-other', 'contacts', { page: 9 });
    const listed = await store.list<{ page: number }>('backfill');
    expect(listed.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'contacts', value: { page: 1 } },
      { name: 'événements', value: { page: 2 } },
    ]);
    expect(await store.list('no-such-scope')).toEqual([]);
  });

  it('removes one cursor, and removing one that is not there is no error', async () => {
    await store.set('mailbox-4', 'events', 'a');
    await store.set('mailbox-4', 'contacts', 'b');
    await store.remove('mailbox-4', 'events');
    expect(await store.get('mailbox-4', 'events')).toBeUndefined();
    expect(await store.get('mailbox-4', 'contacts')).toBe('b');
    // A retry after a lost answer, or a cursor never written.
    await expect(store.remove('mailbox-4', 'events')).resolves.toBeUndefined();
    await expect(store.remove('mailbox-never', 'events')).resolves.toBeUndefined();
  });

  it('refuses a scope or name too long for a key before any request, naming which one', async () => {
    // base64url makes 3 bytes 4 characters: 400 characters give a key of 534, over the 512 Table Storage allows.
    const long = 'x'.repeat(400);
    for (const call of [() => store.get(long, 'n'), () => store.set(long, 'n', 1), () => store.remove(long, 'n'), () => store.list(long)]) {
      await expect(call()).rejects.toMatchObject({ code: 'InvalidInput', field: 'cursor scope' });
    }
    for (const call of [() => store.get('s', long), () => store.set('s', long, 1), () => store.remove('s', long)]) {
      await expect(call()).rejects.toMatchObject({ code: 'InvalidInput', field: 'cursor name' });
    }
  });

  it('an unreachable table store is Transient for every call, never "no cursor" or a silent remove', async () => {
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1;`;
    const down = new CursorStore(TableClient.fromConnectionString(connectionString, 'cursors', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } }));
    const transient = { code: 'Transient', message: 'table storage unavailable' };
    await expect(down.get('s', 'n')).rejects.toMatchObject(transient);
    await expect(down.set('s', 'n', 1)).rejects.toMatchObject(transient);
    await expect(down.remove('s', 'n')).rejects.toMatchObject(transient);
    await expect(down.list('s')).rejects.toMatchObject(transient);
  });
});
