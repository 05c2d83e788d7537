// The breaker's store (Azurite): a scope's state read and changed conditionally (two workers never both count as the
// first delete), the quarantine of held writes (one row per held write, the first time it was seen kept), and the
// operators' audit log, newest first. Only the e2e tests reached it before, so the mutation run had nothing to run
// against it. Rows are also written here as the release before wrote them: the table outlives a deployment.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStorageAccountKey, startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { BreakerStore, parseScopeName, scopeName, type AuditEntry, type BreakerScope, type HeldEntry } from '../../../shared/storage/breakerStore.js';
import { encodeKey } from '../../../shared/storage/tables.js';
import type { ScopeState } from '../../../shared/sync/breaker.js';
import { closedPort } from '../../support/closedPort.js';

const mailbox = 'ABCDEF00-0000-4000-8000-000000000001';
const scope = (over: Partial<BreakerScope> = {}): BreakerScope => ({ mailboxId: mailbox, kind: 'appointment', direction: 'toExchange', ...over });
const held = (over: Partial<HeldEntry> = {}): HeldEntry => ({
  ...scope(),
  op: 'delete',
  side: 'exchange',
  dataverseEntity: 'appointment',
  dataverseId: 'd1000000-0000-0000-0000-000000000001',
  exchangeId: 'AAMk/x+y=',
  inferred: false,
  trigger: 'ratio',
  reason: 'deleted in Dynamics 365',
  firstSeen: '2026-12-08T04:00:00.000Z',
  lastSeen: '2026-12-08T04:00:00.000Z',
  ...over,
});
const audit = (at: string, over: Partial<AuditEntry> = {}): AuditEntry => ({ at, action: 'release', scope: scopeName(scope()), items: 1, operator: 'ops@example.com', ...over });

describe('breaker scope names', () => {
  it('names a scope <mailbox id in lower case>/<kind>/<direction> and reads the name back', () => {
    expect(scopeName(scope())).toBe('abcdef00-0000-4000-8000-000000000001/appointment/toExchange');
    expect(parseScopeName('ABCDEF00-0000-4000-8000-000000000001/contact/toDataverse')).toEqual({ mailboxId: 'abcdef00-0000-4000-8000-000000000001', kind: 'contact', direction: 'toDataverse' });
    expect(parseScopeName(scopeName(scope({ direction: 'toDataverse' })))).toEqual({ ...scope({ direction: 'toDataverse' }), mailboxId: mailbox.toLowerCase() });
  });

  it('refuses a name with the wrong number of parts or an empty one, and a direction that is not one, naming the form', () => {
    const form = { code: 'InvalidInput', field: 'scope', message: 'a breaker scope is <mailbox id>/<kind>/<direction>' };
    for (const bad of ['m/appointment', 'm/appointment/toExchange/x', '/appointment/toExchange', 'm//toExchange', 'm']) expect(() => parseScopeName(bad)).toThrow(expect.objectContaining(form));
    expect(() => parseScopeName('m/appointment/sideways')).toThrow(expect.objectContaining({ code: 'InvalidInput', field: 'scope', message: "a breaker scope's direction is one of toExchange, toDataverse" }));
    expect(() => parseScopeName('m/appointment/')).toThrow(expect.objectContaining({ field: 'scope', message: "a breaker scope's direction is one of toExchange, toDataverse" }));
  });
});

describe('breaker store (Azurite)', () => {
  let azurite: StartedAzurite;
  let state: TableClient;
  let quarantine: TableClient;
  let store: BreakerStore;
  /** Clients of the same tables for another worker, outside the pipeline of the store's own clients. */
  let other: BreakerStore;
  const client = (name: string) => TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    state = client('breakertestBreaker');
    quarantine = client('breakertestQuarantine');
    await state.createTable();
    await quarantine.createTable();
    store = new BreakerStore(state, quarantine);
    other = new BreakerStore(client('breakertestBreaker'), client('breakertestQuarantine'));
  });
  afterAll(async () => azurite?.close());

  /** Runs `race` just before the next write (POST or PUT) of `target` reaches the table, as another worker would. */
  function beforeNextWrite(target: TableClient, race: () => Promise<unknown>, times = 1): () => void {
    let left = times;
    const name = `race-${Math.random()}`;
    target.pipeline.addPolicy({
      name,
      sendRequest: async (request, next) => {
        if (left > 0 && (request.method === 'POST' || request.method === 'PUT')) {
          left -= 1;
          await race();
        }
        return next(request);
      },
    });
    return () => target.pipeline.removePolicy({ name });
  }
  /** Sends the next writes of `target` to a port nothing listens on (a real refused connection). */
  async function failWrites(target: TableClient): Promise<() => void> {
    const port = await closedPort();
    const name = `fail-${Math.random()}`;
    target.pipeline.addPolicy({
      name,
      sendRequest: async (request, next) => {
        if (request.method !== 'GET') request.url = request.url.replace(`:${azurite.port}/`, `:${port}/`);
        return next(request);
      },
    });
    return () => target.pipeline.removePolicy({ name });
  }
  const addDelete = (at: number) => (s: ScopeState) => ({ state: { ...s, deletes: [...s.deletes, { at, inferred: false }] }, result: s.deletes.length });

  it('a scope never written has the empty state; an update creates it, the next replaces it, and the result is the change\'s', async () => {
    const s = scope({ kind: 'contact' });
    expect(await store.get(s)).toEqual({ deletes: [], creates: [] });
    expect(await store.update(s, addDelete(1))).toBe(0);
    expect(await store.update(s, addDelete(2))).toBe(1);
    expect(await store.get({ ...s, mailboxId: mailbox.toLowerCase() })).toEqual({ deletes: [{ at: 1, inferred: false }, { at: 2, inferred: false }], creates: [] });
    // Another direction or kind of the same mailbox is another scope.
    expect(await store.get(scope({ kind: 'contact', direction: 'toDataverse' }))).toEqual({ deletes: [], creates: [] });
    // The row is the state's JSON in the scope partition, keyed by the encoded scope name.
    const row = await state.getEntity<{ data: string }>('scope', encodeKey(scopeName(s)));
    expect(JSON.parse(row.data)).toEqual({ deletes: [{ at: 1, inferred: false }, { at: 2, inferred: false }], creates: [] });
  });

  it('reads a state the release before wrote, and lists every scope with one', async () => {
    const s = scope({ kind: 'task', direction: 'toDataverse' });
    await state.upsertEntity({ partitionKey: 'scope', rowKey: encodeKey(scopeName(s)), data: JSON.stringify({ deletes: [], creates: [5], trip: { trigger: 'hardCap', at: '2026-12-01T00:00:00.000Z', detail: 'x' } }) }, 'Replace');
    expect(await store.get(s)).toEqual({ deletes: [], creates: [5], trip: { trigger: 'hardCap', at: '2026-12-01T00:00:00.000Z', detail: 'x' } });
    const scopes = await store.scopes();
    expect(scopes.find((x) => x.scope.kind === 'task')).toEqual({ scope: { ...s, mailboxId: mailbox.toLowerCase() }, state: { deletes: [], creates: [5], trip: { trigger: 'hardCap', at: '2026-12-01T00:00:00.000Z', detail: 'x' } } });
    expect(scopes.find((x) => x.scope.kind === 'contact')?.state.deletes).toHaveLength(2);
    // Audit rows share the table and are no scope.
    await store.audit(audit('2026-12-08T04:00:00.000Z'));
    expect((await store.scopes()).every((x) => x.scope.mailboxId === mailbox.toLowerCase())).toBe(true);
    expect(await store.scopes()).toHaveLength(scopes.length);
  });

  it('an update that another worker beat to the row decides again on what that worker wrote (first row and later)', async () => {
    const s = scope({ kind: 'phonecall' });
    // The other worker creates the row between this one's read and its create (409): this one reads again.
    let stop = beforeNextWrite(state, () => other.update(s, addDelete(10)));
    expect(await store.update(s, addDelete(11))).toBe(1);
    stop();
    // The other worker replaces the row between this one's read and its replace (412).
    stop = beforeNextWrite(state, () => other.update(s, addDelete(12)));
    expect(await store.update(s, addDelete(13))).toBe(3);
    stop();
    expect((await store.get(s)).deletes.map((d) => d.at)).toEqual([10, 11, 12, 13]);
  });

  it('gives up with Transient when the row changes under it eight times running, without writing its change', async () => {
    const s = scope({ kind: 'letter' });
    let tries = 0;
    const stop = beforeNextWrite(state, () => other.update(s, addDelete(100)), 8);
    await expect(
      store.update(s, (st) => {
        tries += 1;
        return addDelete(200)(st);
      }),
    ).rejects.toMatchObject({ code: 'Transient', message: 'the breaker state of a scope kept changing; retrying decides again' });
    stop();
    expect(tries).toBe(8);
    expect((await store.get(s)).deletes.map((d) => d.at)).toEqual(Array(8).fill(100));
  });

  it('a write that fails otherwise than by a conflict is Transient at once, not decided again', async () => {
    const s = scope({ kind: 'fax' });
    let tries = 0;
    const undo = await failWrites(state);
    await expect(
      store.update(s, (st) => {
        tries += 1;
        return addDelete(1)(st);
      }),
    ).rejects.toMatchObject({ code: 'Transient', message: 'table storage unavailable' });
    await expect(store.audit(audit('2026-12-08T05:00:00.000Z'))).rejects.toMatchObject({ code: 'Transient' });
    undo();
    expect(tries).toBe(1);
    expect(await store.get(s)).toEqual({ deletes: [], creates: [] });
  });

  it('holds a write once per (op, Dataverse id, Exchange id), keeping when it was first seen, and lists a scope\'s by that time', async () => {
    const s = scope({ kind: 'appointment' });
    const a = held({ firstSeen: '2026-12-08T04:05:00.000Z', lastSeen: '2026-12-08T04:05:00.000Z' });
    await store.hold(a);
    // Seen again later: the row is replaced, its first sighting kept.
    await store.hold({ ...a, firstSeen: '2026-12-08T04:09:00.000Z', lastSeen: '2026-12-08T04:09:00.000Z', reason: 'again' });
    // A create of the same pair, a delete with only one id of either side, and a delete of a series' part with how.
    const b = held({ op: 'create', side: 'dataverse', firstSeen: '2026-12-08T04:01:00.000Z', lastSeen: '2026-12-08T04:01:00.000Z', trigger: 'createCap' });
    const c = held({ exchangeId: undefined, firstSeen: '2026-12-08T04:03:00.000Z', lastSeen: '2026-12-08T04:03:00.000Z', inferred: true, trigger: 'inferredRatio' });
    const d = held({ dataverseId: undefined, how: 'cancel', part: { carrier: 'd2', key: '2026-12-09T09:00:00Z', onDiscard: 'kept' }, firstSeen: '2026-12-08T04:02:00.000Z', lastSeen: '2026-12-08T04:02:00.000Z' });
    const e = held({ dataverseId: undefined, exchangeId: 'AAMk-only', how: 'delete', firstSeen: '2026-12-08T04:04:00.000Z', lastSeen: '2026-12-08T04:04:00.000Z' });
    for (const x of [b, c, d, e]) await store.hold(x);
    expect(await store.held(s)).toEqual([b, d, c, e, { ...a, lastSeen: '2026-12-08T04:09:00.000Z', reason: 'again' }]);
    // Another scope's quarantine is its own.
    expect(await store.held(scope({ direction: 'toDataverse' }))).toEqual([]);

    expect(await store.isHeld(s, a.dataverseId, a.exchangeId)).toBe(true);
    expect(await store.isHeld(s, c.dataverseId, undefined)).toBe(true);
    expect(await store.isHeld(s, undefined, 'AAMk-only')).toBe(true);
    expect(await store.isHeld(s, a.dataverseId, 'AAMk-other')).toBe(false);
    expect(await store.isHeld(scope({ kind: 'contact' }), a.dataverseId, a.exchangeId)).toBe(false);

    await store.drop(a);
    expect(await store.isHeld(s, a.dataverseId, a.exchangeId)).toBe(false);
    expect((await store.held(s)).map((x) => x.firstSeen)).toEqual([b, d, c, e].map((x) => x.firstSeen));
    // Dropping again (a retry of a release) is no error.
    await expect(store.drop(a)).resolves.toBeUndefined();
  });

  it('finds and drops a held delete the release before wrote, under its row key of op|Dataverse id|Exchange id', async () => {
    const s = scope({ kind: 'task' });
    const entry = held({ kind: 'task', dataverseId: 'd3000000-0000-0000-0000-000000000003', exchangeId: undefined });
    await quarantine.upsertEntity({ partitionKey: encodeKey(scopeName(s)), rowKey: encodeKey('delete|d3000000-0000-0000-0000-000000000003|'), data: JSON.stringify(entry) }, 'Replace');
    expect(await store.held(s)).toEqual([entry]);
    expect(await store.isHeld(s, entry.dataverseId, undefined)).toBe(true);
    await store.drop(entry);
    expect(await store.held(s)).toEqual([]);
    // And one with no Dataverse id (a delete in Exchange of an item only Exchange knew).
    const exOnly = held({ kind: 'task', dataverseId: undefined, exchangeId: 'AAMk-legacy' });
    await quarantine.upsertEntity({ partitionKey: encodeKey(scopeName(s)), rowKey: encodeKey('delete||AAMk-legacy'), data: JSON.stringify(exOnly) }, 'Replace');
    expect(await store.isHeld(s, undefined, 'AAMk-legacy')).toBe(true);
    await store.drop(exOnly);
    expect(await store.held(s)).toEqual([]);
  });

  it('refuses a scope or held write whose key would be too long, before any request, naming which', async () => {
    const longScope = scope({ kind: 'k'.repeat(400) });
    const scopeKey = { code: 'InvalidInput', field: 'breaker scope' };
    await expect(store.get(longScope)).rejects.toMatchObject(scopeKey);
    await expect(store.update(longScope, addDelete(1))).rejects.toMatchObject(scopeKey);
    await expect(store.hold(held({ kind: 'k'.repeat(400) }))).rejects.toMatchObject(scopeKey);
    await expect(store.held(longScope)).rejects.toMatchObject(scopeKey);
    await expect(store.isHeld(longScope, 'd', 'e')).rejects.toMatchObject(scopeKey);
    await expect(store.drop(held({ kind: 'k'.repeat(400) }))).rejects.toMatchObject(scopeKey);
    const longId = held({ exchangeId: 'x'.repeat(400) });
    await expect(store.hold(longId)).rejects.toMatchObject({ code: 'InvalidInput', field: 'held item' });
    await expect(store.isHeld(scope(), undefined, 'x'.repeat(400))).rejects.toMatchObject({ code: 'InvalidInput', field: 'held item' });
  });

  it('a held write that cannot be stored is an error, not dropped; a drop that fails is one too', async () => {
    const undo = await failWrites(quarantine);
    await expect(store.hold(held({ kind: 'contact' }))).rejects.toMatchObject({ code: 'Transient' });
    await expect(store.drop(held({ kind: 'contact' }))).rejects.toMatchObject({ code: 'Transient' });
    undo();
    expect(await store.held(scope({ kind: 'contact' }))).toEqual([]);
  });

  it('keeps the audit log newest first, up to the limit asked for (50 unless told)', async () => {
    const base = Date.parse('2026-11-01T00:00:00.000Z');
    const entries = Array.from({ length: 52 }, (_, i) => audit(new Date(base + i * 60_000).toISOString(), { items: i, action: (['release', 'discard', 'restore'] as const)[i % 3] }));
    // Written out of order: the row keys, not the order of writing, put the newest first.
    for (const x of [...entries.slice(26), ...entries.slice(0, 26)]) await store.audit(x);
    const log = await store.auditLog();
    // The entry of the test above (2026-12-08) is the newest of all.
    expect(log).toHaveLength(50);
    expect(log[0]?.at).toBe('2026-12-08T04:00:00.000Z');
    expect(log.slice(1)).toEqual([...entries].reverse().slice(0, 49));
    expect(await store.auditLog(2)).toEqual([log[0], log[1]]);
    expect(await store.auditLog(1)).toEqual([log[0]]);
    // Two actions in the same millisecond are both kept.
    await store.audit(audit('2026-12-08T06:00:00.000Z', { items: 1 }));
    await store.audit(audit('2026-12-08T06:00:00.000Z', { items: 2 }));
    expect((await store.auditLog(2)).map((x) => x.items).sort()).toEqual([1, 2]);
    // A row of the release before, in the audit partition: read with the rest (its key sorts it first here).
    const legacy = audit('2026-12-08T07:00:00.000Z', { action: 'restore', items: 7 });
    await state.createEntity({ partitionKey: 'audit', rowKey: '0000000000000000-legacy00', data: JSON.stringify(legacy) });
    expect(await store.auditLog(1)).toEqual([legacy]);
  });

  it('an unreachable table store is Transient for every read, never an empty state or an empty quarantine', async () => {
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${devStorageAccountKey};TableEndpoint=http://127.0.0.1:${await closedPort()}/devstoreaccount1;`;
    const down = (name: string) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    const gone = new BreakerStore(down('breakertestBreaker'), down('breakertestQuarantine'));
    const transient = { code: 'Transient', message: 'table storage unavailable' };
    await expect(gone.get(scope())).rejects.toMatchObject(transient);
    await expect(gone.scopes()).rejects.toMatchObject(transient);
    await expect(gone.update(scope(), addDelete(1))).rejects.toMatchObject(transient);
    await expect(gone.hold(held())).rejects.toMatchObject(transient);
    await expect(gone.held(scope())).rejects.toMatchObject(transient);
    await expect(gone.isHeld(scope(), 'd', 'e')).rejects.toMatchObject(transient);
    await expect(gone.drop(held())).rejects.toMatchObject(transient);
    await expect(gone.auditLog()).rejects.toMatchObject(transient);
  });
});
