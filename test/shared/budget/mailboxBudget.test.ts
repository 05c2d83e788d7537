// The mailbox budget: its lease over the real Budget table (Azurite), two instances of one app sharing one mailbox;
// and its in-process state, which holds only the mailboxes in use (issue 19 item 5: bounded in-process state).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzuriteTables, type StartedAzurite } from '../../../dev/azurite/index.js';
import { defaultLeaseTiming } from '../../../shared/budget/lease.js';
import { MailboxBudget } from '../../../shared/budget/mailboxBudget.js';
import { BudgetStore } from '../../../shared/storage/budgetStore.js';
import { createTables } from '../../../shared/storage/tables.js';

describe('mailbox budget lease (Azurite)', () => {
  let azurite: StartedAzurite;
  let store: BudgetStore;
  beforeAll(async () => {
    azurite = await startAzuriteTables();
    const tables = createTables({ SYNC_TABLES_CONNECTION_STRING: azurite.connectionString, SYNC_TABLE_PREFIX: 'budgettest' });
    await tables.ensureTables();
    store = new BudgetStore(tables.client('budget'));
  });
  afterAll(async () => azurite?.close());

  it('a holder going idle hands the lease to the instance that asked for it, long before the lease would expire', async () => {
    // A lease of ten minutes: the waiter can only get it from the holder's release. Before the fix the release was
    // conditional on the etag of the holder's own last write, which the waiter's request (wantedBy) had changed, so
    // it failed silently and the waiter sat out the whole lease (10 s by default: every CLI call behind the host).
    const timing = { ...defaultLeaseTiming, leaseMs: 600_000, idleReleaseMs: 50 };
    const mailbox = '5b0c7a2e-0d7f-4c39-9a59-3f6f0f8a1c11';
    const a = new MailboxBudget({ mode: 'shared', instanceId: 'instance-a', port: store, timing, maxWaitMs: 20_000 });
    const b = new MailboxBudget({ mode: 'shared', instanceId: 'instance-b', port: store, timing, maxWaitMs: 20_000 });
    try {
      const done = await a.acquire(mailbox);
      expect((await store.read(mailbox))?.row.holder).toBe('instance-a');
      const bWaits = b.acquire(mailbox);
      // Wait for b's request to be on the row before a's call ends (the race the release lost).
      while ((await store.read(mailbox))?.row.wantedBy !== 'instance-b') await new Promise((r) => setImmediate(r));
      done();
      const bDone = await bWaits;
      const row = (await store.read(mailbox))!.row;
      expect(row.holder).toBe('instance-b');
      expect(row.expiresAt).toBeGreaterThan(Date.now());
      bDone();
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});

describe('MailboxBudget state', () => {
  it('forgets idle mailboxes whose bucket is full again, keeps a busy one and one not refilled yet', async () => {
    let now = 1_000_000;
    // Two tokens a mailbox, one more every 30 s.
    const budget = new MailboxBudget({ mode: 'local', instanceId: 'i1', now: () => now, shape: { capacity: 2, refillPerMs: 1 / 30_000 } });
    const busy = await budget.acquire('busy');
    for (let i = 0; i < 999; i += 1) (await budget.acquire(`m${i}`))();
    expect(budget.heldMailboxes).toBe(1_000);
    // The sweep ran (1,000 held) but kept them all: just after their calls the buckets are one token short, and
    // forgetting one would give that token back.
    (await budget.acquire('next'))();
    expect(budget.heldMailboxes).toBe(1_001);
    now += 60_000;
    now += 60_000;
    (await budget.acquire('another'))();
    // The busy one (a call in flight) and the new one remain.
    expect(budget.heldMailboxes).toBe(2);
    busy();
    await budget.close();
  });
});
