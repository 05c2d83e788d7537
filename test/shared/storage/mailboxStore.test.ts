// The mailbox registry (Azurite): look-ups a change makes do not scan the registry, and the schedule columns of the
// periodic work survive every write of the mailbox's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { MailboxStore, type Mailbox } from '../../../shared/storage/mailboxStore.js';
import { createTables } from '../../../shared/storage/tables.js';
import { countTableRequests } from '../../support/tableRequests.js';

type Client = ReturnType<ReturnType<typeof createTables>['client']>;

/** The decoded URLs of every request the real SDK client sends to Azurite from now on (test/support/tableRequests.ts). */
function countRequests(client: Client): { urls: string[]; stop: () => void } {
  const counted = countTableRequests(client);
  return { get urls() { return counted.requests.map((r) => r.url); }, stop: counted.stop };
}

/** A query of the mailbox partition: the whole registry read. */
const listsRegistry = (url: string) => url.includes("PartitionKey eq 'mailbox'") && !url.includes('RowKey') && !url.includes('state eq');

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
  let client: Client;
  const now = new Date('2026-12-02T06:00:00.000Z');
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'mbxtest' });
    await tables.ensureTables();
    client = tables.client('mailboxes');
    store = new MailboxStore(client, 60_000, (_id, at) => ({ pollTodo: at, reconcile: new Date(at.getTime() + 7 * 60_000), renew: at }), () => now);
    for (let i = 0; i < 5; i += 1) await store.put(mailbox(i, i === 4 ? 'disabled' : 'active'));
    // The first look-up of a deployment marks the index built (after one scan: see the test of an old registry).
    await store.findKnown('nobody@contoso.example');
  });
  afterAll(async () => azurite?.close());

  it('finds enabled mailboxes by system user from the index, without listing the registry', async () => {
    const fresh = new MailboxStore(client, 60_000);
    const seen = countRequests(client);
    const found = await fresh.enabledBySystemUsers([mailbox(2).systemUserId.toUpperCase(), mailbox(4).systemUserId, 'not-a-mailbox-user']);
    expect([...found.keys()]).toEqual([mailbox(2).systemUserId]);
    expect(found.get(mailbox(2).systemUserId)?.id).toBe(mailbox(2).id);
    // The disabled mailbox 4 is not answered; the lookups were range queries of the index and point reads, never a
    // query of the mailbox partition (which is what reading the whole registry is).
    expect(seen.urls.filter(listsRegistry)).toEqual([]);
    expect(seen.urls.some((u) => u.includes('bySystemUser'))).toBe(true);
    // Cached: asking again makes no call.
    const before = seen.urls.length;
    await fresh.enabledBySystemUsers([mailbox(2).systemUserId]);
    expect(seen.urls.length).toBe(before);
    seen.stop();
  });

  it('finds an enabled mailbox by id, address or UPN in any case; a disabled one only as a known address', async () => {
    expect((await store.findEnabled('USER1@contoso.example'))?.id).toBe(mailbox(1).id);
    expect((await store.findEnabled(mailbox(3).id.toUpperCase()))?.id).toBe(mailbox(3).id);
    expect(await store.findEnabled('user4@contoso.example')).toBeUndefined();
    expect((await store.findKnown('user4@contoso.example'))?.id).toBe(mailbox(4).id);
  });

  it('finds a mailbox in any state by id, UPN or address without listing the registry (mailbox disable of one)', async () => {
    const fresh = new MailboxStore(client, 60_000);
    const seen = countRequests(client);
    expect((await fresh.find('user4@contoso.example'))?.id).toBe(mailbox(4).id);
    expect((await fresh.find(mailbox(4).id.toUpperCase()))?.state).toBe('disabled');
    expect((await fresh.find('USER2@CONTOSO.example'))?.id).toBe(mailbox(2).id);
    expect(await fresh.find('nobody@contoso.example')).toBeUndefined();
    expect(await fresh.find('not/a key')).toBeUndefined();
    expect(seen.urls.filter(listsRegistry)).toEqual([]);
    seen.stop();
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

  it('pages the mailboxes in given states by a filtered query, and tells each state change once, after its write', async () => {
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'mbxstate' });
    await tables.ensureTables();
    const own = tables.client('mailboxes');
    const changes: string[] = [];
    const states = new MailboxStore(own, 60_000, undefined, () => now, (m) => changes.push(`${m.id.slice(-2)}:${m.state}`));
    for (const i of [40, 41, 42, 43]) await states.put(mailbox(i));
    expect(changes).toEqual(['40:active', '41:active', '42:active', '43:active']);
    await states.patch(mailbox(41).id, { state: 'paused', pausedUntil: now.toISOString(), pauseSeconds: 60 });
    await states.patch(mailbox(41).id, { stateReason: 'still paused' });
    await states.patch(mailbox(42).id, { state: 'blocked', blockCode: 'graph.mailboxUnavailable' });
    await states.patch(mailbox(43).id, { state: 'degraded' });
    await states.put({ ...mailbox(40), timeZone: 'Europe/Berlin' });
    // Only the writes that changed a state (a put of the same state, a patch of the reason are none).
    expect(changes.slice(4)).toEqual(['41:paused', '42:blocked', '43:degraded']);
    const seen = countRequests(own);
    const found: string[] = [];
    let page = await states.inStatesPage(['degraded', 'paused', 'blocked'], { pageSize: 2 });
    let pages = 1;
    found.push(...page.mailboxes.map((m) => m.id));
    while (page.continuation) {
      page = await states.inStatesPage(['degraded', 'paused', 'blocked'], { pageSize: 2, continuation: page.continuation });
      pages += 1;
      found.push(...page.mailboxes.map((m) => m.id));
    }
    expect(found.sort()).toEqual([41, 42, 43].map((i) => mailbox(i).id));
    expect(pages).toBe(2);
    // The service filters by state: no request lists the registry whole.
    expect(seen.urls.filter(listsRegistry)).toEqual([]);
    expect(seen.urls.every((u) => u.includes("state eq 'paused'"))).toBe(true);
    seen.stop();
    expect((await states.inStatesPage([], { pageSize: 2 })).mailboxes).toEqual([]);
  });

  it('a row written before the schedule existed gains it on its next patch', async () => {
    const old = mailbox(7);
    await client.upsertEntity({ partitionKey: 'mailbox', rowKey: old.id, data: JSON.stringify(old), state: old.state }, 'Replace');
    expect((await store.duePage('pollTodo', now, { pageSize: 100 })).due.map((d) => d.mailbox.id)).not.toContain(old.id);
    await store.patch(old.id, { state: 'active' });
    expect((await store.duePage('pollTodo', now, { pageSize: 100 })).due.map((d) => d.mailbox.id)).toContain(old.id);
  });
  it('keeps the index right across disable, enable again and a reassigned system user', async () => {
    const m = mailbox(20);
    await store.put(m);
    expect((await store.enabledBySystemUsers([m.systemUserId])).get(m.systemUserId)?.id).toBe(m.id);
    await store.patch(m.id, { state: 'disabled' });
    expect((await store.enabledBySystemUsers([m.systemUserId])).size).toBe(0);
    expect((await store.findKnown(m.address))?.id).toBe(m.id);
    expect(await store.findEnabled(m.address)).toBeUndefined();
    await store.patch(m.id, { state: 'active' });
    expect((await store.enabledBySystemUsers([m.systemUserId])).size).toBe(1);
    // Enabled again for another Dynamics 365 user (Test & Enable mapped the mailbox to a different systemuser).
    const other = '5c5a5b54-2a7a-ee11-8179-0000000000ff';
    await store.put({ ...m, systemUserId: other, address: 'moved20@contoso.example', userPrincipalName: 'moved20@contoso.example' });
    expect((await store.enabledBySystemUsers([m.systemUserId])).size).toBe(0);
    expect((await store.enabledBySystemUsers([other])).get(other)?.id).toBe(m.id);
    expect(await store.findKnown(m.address)).toBeUndefined();
    expect((await store.findEnabled('MOVED20@contoso.example'))?.id).toBe(m.id);
    // The old rows are deleted, not only ignored.
    const rows: string[] = [];
    for await (const row of client.listEntities({ queryOptions: { filter: "PartitionKey eq 'bySystemUser' or PartitionKey eq 'byAddress'" } })) if (String(row.mailboxId) === m.id) rows.push(String(row.rowKey));
    expect(rows).toHaveLength(2);
    // Another instance's stale cache is not this test's subject: a row the index points at is always re-checked.
    await store.patch(m.id, { systemUserId: m.systemUserId });
    expect((await store.enabledBySystemUsers([other])).size).toBe(0);
    expect((await store.enabledBySystemUsers([m.systemUserId])).size).toBe(1);
  });

  it('an index row left behind never answers: the mailbox row it points at is checked', async () => {
    const m = mailbox(21);
    await store.put(m);
    // A half-done reassignment elsewhere: the row for a user the mailbox no longer has.
    const stale = '5c5a5b54-2a7a-ee11-8179-0000000000ee';
    await client.upsertEntity({ partitionKey: 'bySystemUser', rowKey: `${Buffer.from(stale).toString('base64url')}|${m.id}`, mailboxId: m.id }, 'Replace');
    expect((await new MailboxStore(client).enabledBySystemUsers([stale])).size).toBe(0);
  });

  it('a registry that starts empty never scans itself: its first put marks the index built', async () => {
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'mbxnew' });
    await tables.ensureTables();
    const fresh = tables.client('mailboxes');
    for (const i of [40, 41, 42]) await new MailboxStore(fresh).put(mailbox(i));
    // Another process's first look-up: the index is there, so nothing lists the registry.
    const lookups = countRequests(fresh);
    expect((await new MailboxStore(fresh).enabledBySystemUsers([mailbox(41).systemUserId])).get(mailbox(41).systemUserId)?.id).toBe(mailbox(41).id);
    expect(lookups.urls.filter(listsRegistry)).toEqual([]);
    lookups.stop();
  });

  it('a registry from before the index is indexed by its first look-up, once', async () => {
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'mbxold' });
    await tables.ensureTables();
    const old = tables.client('mailboxes');
    // Rows as the release before the index wrote them: no index rows, no marker.
    for (const i of [30, 31]) await old.upsertEntity({ partitionKey: 'mailbox', rowKey: mailbox(i).id, data: JSON.stringify(mailbox(i)), state: 'active' }, 'Replace');
    const first = countRequests(old);
    expect((await new MailboxStore(old).enabledBySystemUsers([mailbox(31).systemUserId])).get(mailbox(31).systemUserId)?.id).toBe(mailbox(31).id);
    expect(first.urls.filter(listsRegistry)).toHaveLength(1);
    first.stop();
    // Another instance (a fresh store) finds the index built: no scan.
    const second = countRequests(old);
    expect((await new MailboxStore(old).findEnabled('user30@contoso.example'))?.id).toBe(mailbox(30).id);
    expect(second.urls.some(listsRegistry)).toBe(false);
    second.stop();
  });
});
