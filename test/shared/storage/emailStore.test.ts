// The email store (Azurite): message keys (create-only, one per Message-ID and direction, the mailboxes that saw it),
// send claims (create-only, moved on conditionally on their etag), each sender's send pace and the status counts.
// Its rules are what keep one mail one activity and one send one submission, so they are checked against the real
// table; only the e2e tests reached the store before, so the mutation run had nothing to run against it.
import { createHash } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStorageAccountKey, startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { EmailStore, messageKeyRow, type MessageKey, type SendClaim } from '../../../shared/storage/emailStore.js';
import { closedPort } from '../../support/closedPort.js';
import { createTables } from '../../../shared/storage/tables.js';

const mailboxA = '00000000-0000-4000-8000-00000000000a';
const mailboxB = '00000000-0000-4000-8000-00000000000b';
const key = (over: Partial<MessageKey> = {}): MessageKey => ({ activityId: 'e1000000-0000-0000-0000-000000000001', direction: 'incoming', seenIn: [mailboxA], createdOn: '2026-12-08T04:00:00.000Z', ...over });
const claim = (activityId: string, over: Partial<SendClaim> = {}): SendClaim => ({ activityId, mailboxId: mailboxA, state: 'claimed', at: '2026-12-08T04:00:00.000Z', ...over });

describe('messageKeyRow', () => {
  it('is the SHA-256 of the Message-ID in base64url, then the direction', () => {
    const digest = createHash('sha256').update('<abc@example.com>').digest('base64url');
    expect(messageKeyRow('<abc@example.com>', 'incoming')).toBe(`${digest}|incoming`);
    expect(messageKeyRow('<abc@example.com>', 'outgoing')).toBe(`${digest}|outgoing`);
    // 43 characters whatever the Message-ID's length or characters: always a valid key.
    expect(messageKeyRow(`<${'x/#?'.repeat(80)}@example.com>`, 'incoming')).toMatch(/^[A-Za-z0-9_-]{43}\|incoming$/);
  });
});

describe('email store (Azurite)', () => {
  let azurite: StartedAzurite;
  let client: TableClient;
  let store: EmailStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'emailtest' });
    await tables.ensureTables();
    client = tables.client('cursors');
    store = new EmailStore(client);
  });
  afterAll(async () => azurite?.close());

  it('a message key is created once per Message-ID and direction, read back whole with its etag', async () => {
    const id = '<one@example.com>';
    expect(await store.getKey(id, 'incoming')).toBeUndefined();
    await store.createKey(id, key());
    const read = await store.getKey(id, 'incoming');
    expect(read).toEqual({ ...key(), etag: expect.stringMatching(/.+/) });
    // The same mail from another mailbox, claiming the key second: AlreadyExists, and the first key stands.
    await expect(store.createKey(id, key({ activityId: 'e1000000-0000-0000-0000-000000000002', seenIn: [mailboxB] }))).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect((await store.getKey(id, 'incoming'))?.activityId).toBe(key().activityId);
    // The other direction is another key.
    expect(await store.getKey(id, 'outgoing')).toBeUndefined();
    await store.createKey(id, key({ direction: 'outgoing', activityId: 'e1000000-0000-0000-0000-000000000003' }));
    expect(await store.getKey(id, 'outgoing')).toMatchObject({ direction: 'outgoing', activityId: 'e1000000-0000-0000-0000-000000000003' });
    // It is stored under its hashed row key in the message keys' partition.
    const row = await client.getEntity<{ data: string }>('email-key', messageKeyRow(id, 'incoming'));
    expect(JSON.parse(row.data)).toEqual(key());
  });

  it('a key that is not one is refused before it is written', async () => {
    await expect(store.createKey('<bad@example.com>', key({ activityId: '' }))).rejects.toThrow();
    expect(await store.getKey('<bad@example.com>', 'incoming')).toBeUndefined();
  });

  it('adds a mailbox to "seen in" once, conditionally on the etag it was read with', async () => {
    const id = '<seen@example.com>';
    await store.createKey(id, key());
    const first = (await store.getKey(id, 'incoming'))!;
    await store.addSeenIn(id, first, mailboxB);
    const second = (await store.getKey(id, 'incoming'))!;
    expect(second.seenIn).toEqual([mailboxA, mailboxB]);
    expect(second.etag).not.toBe(first.etag);
    // A mailbox already in the list: no write at all (the etag stays), and no duplicate.
    await store.addSeenIn(id, second, mailboxA);
    await store.addSeenIn(id, second, mailboxB);
    expect(await store.getKey(id, 'incoming')).toEqual(second);
    // Another writer came in between: PreconditionFailed, so the caller reads again.
    await expect(store.addSeenIn(id, first, '00000000-0000-4000-8000-00000000000c')).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect((await store.getKey(id, 'incoming'))?.seenIn).toEqual([mailboxA, mailboxB]);
  });

  it('a send claim is create-only, keyed by the activity id in any case, and moves on conditionally on its etag', async () => {
    const id = 'AB000000-0000-0000-0000-0000000000CD';
    expect(await store.getClaim(id)).toBeUndefined();
    const etag = await store.createClaim(claim(id));
    expect(etag).toMatch(/.+/);
    const read = await store.getClaim(id.toLowerCase());
    expect(read).toEqual({ ...claim(id), etag });
    // A duplicate or redelivered change finds the send claimed.
    await expect(store.createClaim(claim(id.toLowerCase()))).rejects.toMatchObject({ code: 'AlreadyExists' });

    // Every state a claim goes through is written and read back.
    const submitted = claim(id, { state: 'submitted', draftId: 'AAMkDraft==', slotAt: 1_765_000_000_000 });
    const etag2 = await store.updateClaim(submitted, etag);
    expect(etag2).not.toBe(etag);
    expect(await store.getClaim(id)).toEqual({ ...submitted, etag: etag2 });
    const sent = claim(id.toLowerCase(), { state: 'sent', internetMessageId: '<sent@example.com>' });
    const etag3 = await store.updateClaim(sent, etag2);
    expect(await store.getClaim(id)).toEqual({ ...sent, etag: etag3 });
    // A writer holding the etag of before: PreconditionFailed, and the claim stays as the other writer left it.
    await expect(store.updateClaim(claim(id, { state: 'failed', reason: 'x', marked: true }), etag2)).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect((await store.getClaim(id))?.state).toBe('sent');
    const failed = claim(id, { state: 'failed', reason: 'ErrorSendAsDenied', marked: false });
    await store.updateClaim(failed, etag3);
    expect(await store.getClaim(id)).toMatchObject({ state: 'failed', reason: 'ErrorSendAsDenied', marked: false });
  });

  it('refuses an activity id that cannot be a key, naming it, before any request', async () => {
    const bad = claim('a/b');
    await expect(store.getClaim('a/b')).rejects.toMatchObject({ code: 'InvalidInput', field: 'activity id' });
    await expect(store.createClaim(bad)).rejects.toMatchObject({ code: 'InvalidInput', field: 'activity id' });
    await expect(store.updateClaim(bad, '*')).rejects.toMatchObject({ code: 'InvalidInput', field: 'activity id' });
  });

  it("keeps each sender's submission times: created without an etag, replaced with one, conflicts reported", async () => {
    const sender = mailboxA.toUpperCase();
    expect(await store.getPace(sender)).toEqual({ times: [], etag: undefined });
    await store.putPace(sender, [1, 2], undefined);
    const first = await store.getPace(mailboxA);
    expect(first.times).toEqual([1, 2]);
    expect(first.etag).toMatch(/.+/);
    // Two senders creating at once: the second finds the row.
    await expect(store.putPace(mailboxA, [3], undefined)).rejects.toMatchObject({ code: 'AlreadyExists' });
    await store.putPace(mailboxA, [2, 3], first.etag);
    const second = await store.getPace(sender);
    expect(second.times).toEqual([2, 3]);
    await expect(store.putPace(mailboxA, [9], first.etag)).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect((await store.getPace(mailboxA)).times).toEqual([2, 3]);
    // Another sender's pace is its own.
    expect(await store.getPace(mailboxB)).toEqual({ times: [], etag: undefined });
  });

  it('counts outcomes per mailbox, keeping the last failure', async () => {
    const mailbox = '00000000-0000-4000-8000-0000000000c1';
    expect(await store.getStats(mailbox)).toEqual({ tracked: 0, sent: 0, failed: 0 });
    await store.count(mailbox.toUpperCase(), 'tracked');
    await store.count(mailbox, 'tracked');
    await store.count(mailbox, 'sent');
    expect(await store.getStats(mailbox.toUpperCase())).toEqual({ tracked: 2, sent: 1, failed: 0 });
    const failure = { activityId: 'e1000000-0000-0000-0000-0000000000f1', reason: 'ErrorSendAsDenied', at: '2026-12-08T04:10:00.000Z' };
    await store.count(mailbox, 'failed', failure);
    await store.count(mailbox, 'sent');
    expect(await store.getStats(mailbox)).toEqual({ tracked: 2, sent: 2, failed: 1, lastFailure: failure });
    expect(await store.getStats(mailboxB)).toEqual({ tracked: 0, sent: 0, failed: 0 });
  });

  it('a count that loses a race to another writer reads again and counts on top of it, for the first row and a later one', async () => {
    const mailbox = '00000000-0000-4000-8000-0000000000c2';
    const other = new EmailStore(client);
    // The other writer's count goes in just before this store's first write reaches the table (a pipeline policy on
    // the real client: the write then meets a row that was not there, or an etag that changed, as in a real race).
    const raceFirstWrite = () => {
      let raced = false;
      const name = `race-${Math.random()}`;
      client.pipeline.addPolicy({
        name,
        sendRequest: async (request, next) => {
          // The count's only writes are its row's insert (POST) and replace (PUT).
          if (!raced && (request.method === 'POST' || request.method === 'PUT')) {
            raced = true;
            client.pipeline.removePolicy({ name });
            await other.count(mailbox, 'sent');
          }
          return next(request);
        },
      });
      return () => client.pipeline.removePolicy({ name });
    };
    let stop = raceFirstWrite();
    await store.count(mailbox, 'tracked'); // meets the row the other created first (409)
    stop();
    expect(await store.getStats(mailbox)).toEqual({ tracked: 1, sent: 1, failed: 0 });
    stop = raceFirstWrite();
    await store.count(mailbox, 'tracked'); // meets the row the other replaced (412)
    stop();
    expect(await store.getStats(mailbox)).toEqual({ tracked: 2, sent: 2, failed: 0 });
  });

  it('a count that loses five races running gives up without failing its caller (the counts are for status only)', async () => {
    const mailbox = '00000000-0000-4000-8000-0000000000c3';
    const other = new EmailStore(TableClient.fromConnectionString(azurite.connectionString, client.tableName, { allowInsecureConnection: true }));
    let races = 0;
    const name = `race5-${Math.random()}`;
    // Before each of this store's writes another writer counts first: five times, then the writes go through.
    client.pipeline.addPolicy({
      name,
      sendRequest: async (request, next) => {
        if (races < 5 && (request.method === 'POST' || request.method === 'PUT')) {
          races += 1;
          await other.count(mailbox, 'sent');
        }
        return next(request);
      },
    });
    try {
      await expect(store.count(mailbox, 'tracked')).resolves.toBeUndefined();
    } finally {
      client.pipeline.removePolicy({ name });
    }
    expect(races).toBe(5);
    // Five tries, each lost: the other writer's five counts are there, this one's is not (a sixth try would have won).
    expect(await store.getStats(mailbox)).toEqual({ tracked: 0, sent: 5, failed: 0 });
  });

  it('a count whose write fails otherwise than by a race is an error at once, not tried again', async () => {
    const mailbox = '00000000-0000-4000-8000-0000000000c4';
    await store.count(mailbox, 'sent');
    const port = await closedPort();
    let writes = 0;
    const name = `refuse-${Math.random()}`;
    // Reads reach the table; writes go to a port nothing listens on (a refused connection).
    const refusing = TableClient.fromConnectionString(azurite.connectionString, client.tableName, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    refusing.pipeline.addPolicy({
      name,
      sendRequest: async (request, next) => {
        if (request.method !== 'GET') {
          writes += 1;
          request.url = request.url.replace(`:${azurite.port}/`, `:${port}/`);
        }
        return next(request);
      },
    });
    await expect(new EmailStore(refusing).count(mailbox, 'sent')).rejects.toMatchObject({ code: 'Transient', message: 'table storage unavailable' });
    await expect(new EmailStore(refusing).count('00000000-0000-4000-8000-0000000000c5', 'sent')).rejects.toMatchObject({ code: 'Transient' });
    expect(writes).toBe(2);
    expect(await store.getStats(mailbox)).toEqual({ tracked: 0, sent: 1, failed: 0 });
  });

  it('an unreachable table store is Transient for every call, never a missing key, claim or count', async () => {
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1;`;
    const down = new EmailStore(TableClient.fromConnectionString(connectionString, 'cursors', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } }));
    const transient = { code: 'Transient', message: 'table storage unavailable' };
    await expect(down.getKey('<x@example.com>', 'incoming')).rejects.toMatchObject(transient);
    await expect(down.createKey('<x@example.com>', key())).rejects.toMatchObject(transient);
    await expect(down.addSeenIn('<x@example.com>', { ...key(), etag: '*' }, mailboxB)).rejects.toMatchObject(transient);
    await expect(down.getClaim('e1')).rejects.toMatchObject(transient);
    await expect(down.createClaim(claim('e1'))).rejects.toMatchObject(transient);
    await expect(down.updateClaim(claim('e1'), '*')).rejects.toMatchObject(transient);
    await expect(down.getPace(mailboxA)).rejects.toMatchObject(transient);
    await expect(down.putPace(mailboxA, [1], undefined)).rejects.toMatchObject(transient);
    await expect(down.putPace(mailboxA, [1], '*')).rejects.toMatchObject(transient);
    await expect(down.getStats(mailboxA)).rejects.toMatchObject(transient);
    await expect(down.count(mailboxA, 'sent')).rejects.toMatchObject(transient);
  });
});
