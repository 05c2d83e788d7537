// The per-mailbox Graph budget holds state only for the mailboxes in use: an instance that called every mailbox of
// a large tenant once does not keep them all (issue 19 item 5: bounded in-process state).
import { describe, expect, it } from 'vitest';
import { MailboxBudget } from '../../../shared/budget/mailboxBudget.js';

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
