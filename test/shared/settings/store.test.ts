// The sync configuration store on Azurite: versions are atomic and numbered, validation names the rule, the
// workers' cache is short-lived, and an export imports back to the same configuration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { ConfigStore, ConfigValidationError, defaultBreaker } from '../../../shared/settings/index.js';
import { createTables, type Tables } from '../../../shared/storage/tables.js';

describe('sync configuration store (Azurite)', () => {
  let azurite: StartedAzurite;
  let tables: Tables;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'cfgtest' });
    await tables.ensureTables();
  });
  afterAll(async () => azurite?.close());

  const mailbox = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

  it('starts at version 0 with the defaults: every field as its table says, My Activities / My Contacts, the breaker defaults', async () => {
    const store = new ConfigStore(tables.client('config'), 0);
    const config = await store.effective(mailbox);
    expect(config.version).toBe(0);
    expect(config.fields.appointment.subject).toBe('Both');
    expect(config.scope.appointment.map((f) => f.name)).toEqual(['My Activities']);
    expect(config.scope.contact.map((f) => f.name)).toEqual(['My Contacts']);
    expect(config.breaker.contact).toEqual(defaultBreaker);
  });

  it('writes each change as the next version with who and what, and a mailbox key wins over the global one', async () => {
    const store = new ConfigStore(tables.client('config'), 0);
    const v1 = await store.apply(await store.planSet('global', { 'fields.appointment.location.direction': 'toExchange', 'breaker.deleteCap': '50' }), 'admin@contoso');
    expect(v1?.version).toBe(1);
    const v2 = await store.apply(await store.planSet({ mailboxId: mailbox }, { 'fields.appointment.location.direction': 'none', 'breaker.contact.deleteCap': 30 }), 'admin@contoso');
    expect(v2?.version).toBe(2);
    const mine = await store.effective(mailbox);
    expect(mine.version).toBe(2);
    expect(mine.fields.appointment.location).toBe('None');
    expect(mine.breaker.appointment.deleteCap).toBe(50);
    expect(mine.breaker.contact.deleteCap).toBe(30);
    expect((await store.effective('someone-else')).fields.appointment.location).toBe('ToExchange');
    const history = await store.history();
    expect(history.map((h) => h.version)).toEqual([2, 1]);
    expect(history[1]!.changes).toContainEqual({ scope: 'global', key: 'breaker.deleteCap', from: undefined, to: 50 });
    // The same values again change nothing and write no version.
    expect(await store.apply(await store.planSet('global', { 'breaker.deleteCap': 50 }), 'admin@contoso')).toBeUndefined();
  });

  it('refuses a fixed field one-way, an unknown key and a looser inferred limit, naming the key and the rule, and writes nothing', async () => {
    const store = new ConfigStore(tables.client('config'), 0);
    const before = (await store.snapshot({ fresh: true })).version;
    const refused = async (values: Record<string, unknown>) => {
      try {
        await store.planSet('global', values);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigValidationError);
        return (error as ConfigValidationError).problems;
      }
      throw new Error('accepted');
    };
    expect(await refused({ 'fields.appointment.time.direction': 'toExchange' })).toEqual([expect.objectContaining({ key: 'fields.appointment.time.direction', rule: 'allowed-directions', message: expect.stringContaining('fixed field') })]);
    expect(await refused({ 'fields.appointment.reminder.direction': 'both' })).toEqual([expect.objectContaining({ rule: 'allowed-directions' })]);
    expect(await refused({ 'fields.appointment.colour.direction': 'both' })).toEqual([expect.objectContaining({ rule: 'unknown-field' })]);
    expect(await refused({ 'sync.everything': true })).toEqual([expect.objectContaining({ rule: 'unknown-key' })]);
    // Named once for the global key; the mailbox whose own contact cap (30) makes it worse is named too.
    expect(await refused({ 'breaker.inferredDeleteCap': 500 })).toEqual([
      expect.objectContaining({ key: 'breaker.inferredDeleteCap', rule: 'breaker-relation' }),
      expect.objectContaining({ key: `mailbox:${mailbox} breaker.contact.inferredDeleteCap`, rule: 'breaker-relation', message: expect.stringContaining('deleteCap 30') }),
    ]);
    expect(await refused({ 'scope.contact': '[]' })).toEqual([expect.objectContaining({ rule: 'scope-not-empty' })]);
    expect(await refused({ 'scope.task': '[{"name":"x","who":"everyone"}]' })).toEqual([expect.objectContaining({ rule: 'scope-filter' })]);
    expect((await store.snapshot({ fresh: true })).version).toBe(before);
  });

  it('refuses a change planned on an older version (two admins at once: the second plans again)', async () => {
    const store = new ConfigStore(tables.client('config'), 0);
    const first = await store.planSet('global', { 'breaker.createCap': 300 });
    const second = await store.planSet('global', { 'breaker.createCap': 400 });
    await store.apply(first, 'one');
    await expect(store.apply(second, 'two')).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect((await store.effective(undefined)).breaker.task.createCap).toBe(300);
  });

  it('serves a worker from its cache until the time-to-live passes', async () => {
    let now = 1_000_000;
    const worker = new ConfigStore(tables.client('config'), 60_000, () => now);
    const admin = new ConfigStore(tables.client('config'), 0);
    const seen = (await worker.effective(mailbox)).version;
    await admin.apply(await admin.planSet('global', { 'breaker.windowMinutes': 30 }), 'admin');
    expect((await worker.effective(mailbox)).version).toBe(seen);
    now += 60_001;
    expect((await worker.effective(mailbox)).version).toBe(seen + 1);
  });

  it('exports and imports back to the same configuration; an import with a bad key names it and changes nothing', async () => {
    const store = new ConfigStore(tables.client('config'), 0);
    const exported = await store.export();
    const other = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'cfgother' });
    await other.ensureTables();
    const target = new ConfigStore(other.client('config'), 0);
    await target.apply(await target.planImport(exported), 'promotion');
    const again = await target.export();
    expect({ ...again, version: 0 }).toEqual({ ...exported, version: 0 });
    expect((await target.effective(mailbox)).fields.appointment.location).toBe('None');
    await expect(target.planImport({ ...exported, global: { 'breaker.deleteCap': 'lots' } })).rejects.toThrow(/global breaker.deleteCap: .*\[rule breaker-value\]/);
    await expect(target.planImport({ format: 'something-else' })).rejects.toMatchObject({ code: 'InvalidInput' });
    // Importing what is there is no change.
    expect((await target.planImport(again)).changes).toEqual([]);
  });
});
