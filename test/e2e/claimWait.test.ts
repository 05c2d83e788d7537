// A change that meets another change's claim on a create waits for it (shared/sync/claim.ts), and the wait is not a
// failure: it was a Transient error, so each wait counted toward SYNC_MAX_ATTEMPTS, and a follower behind a holder
// that takes its time (a host killed mid-create comes back only when the message's lock expires, a minute) ran out of
// attempts and paused its mailbox as if Dataverse or Graph were down (at the default of 8 attempts the waits behind a
// dead holder's two-minute claim take 9). Here SYNC_MAX_ATTEMPTS is 2, so the second wait already paused the mailbox.
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { tableSuffixes, type TableKey } from '../../shared/storage/tableNames.js';
import { countTableRequests } from '../support/tableRequests.js';

describe('a change waiting behind another change’s create', () => {
  let stack: Stack;
  const lines = new EventEmitter();
  beforeAll(async () => {
    stack = await startStack({ seed: 37, env: { SYNC_MAX_ATTEMPTS: '2' }, logSink: (_level, message, props) => lines.emit('line', message, props) });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('waits as long as the claim lives without using up its attempts or pausing the mailbox, then creates the item once', async () => {
    const alice = stack.users.alice!;
    // A record id chosen here (Dataverse accepts the primary key in a create's body), so the claim can be in place first.
    const id = '0b6f3c2e-9a41-4d7e-8c55-2f1e0d9a7b31';
    const subject = 'Waits behind a claim';
    // What a change that began the create and has not finished leaves: a pending pair claimed by it.
    const claim = await stack.runtime.pairs.create({ mailboxId: alice.graph.id, kind: 'task', dataverseEntity: 'task', dataverseId: id, base: {}, status: 'pending', transactionId: 'claimwait-tx', claimedBy: 'another-change' });
    const deadBefore = stack.serviceBus.messages(changesQueue.name, 'deadLetter').length;
    // The first of: three waits of this record's change, or a sign that its failures counted (a pause or a dead letter).
    const verdict = new Promise<string>((resolve) => {
      let waits = 0;
      const on = (message: string, props: Record<string, unknown>) => {
        if (props.dataverseId !== id) return;
        if (message.startsWith('change waits')) waits += 1;
        const outcome = waits >= 3 ? 'waited three times' : /^change put off|^change dead-lettered|^change not applied/.test(message) ? message : undefined;
        if (!outcome) return;
        lines.off('line', on);
        resolve(outcome);
      };
      lines.on('line', on);
    });
    stack.dataverse.admin.as(alice.systemUserId).create('tasks', { activityid: id, subject, 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    expect(await verdict).toBe('waited three times');
    expect((await stack.runtime.mailboxes.findEnabled(alice.graph.id))?.state).toBe('active');
    // The holder gives its create up (as a failed attempt takes back its own intent); the waiting change then creates.
    await stack.runtime.pairs.remove(claim);
    await stack.settled({ timeoutMs: 60_000 });
    const copies = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === subject);
    expect(copies).toHaveLength(1);
    expect(await stack.runtime.pairs.get(alice.graph.id, id)).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    expect((await stack.runtime.mailboxes.findEnabled(alice.graph.id))?.state).toBe('active');
    expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').slice(deadBefore)).toEqual([]);
  }, 120_000);

  it('a change waiting behind a claim reads no mailbox row: the claim alone decides the wait, and the mailbox is read once the change goes ahead', async () => {
    const alice = stack.users.alice!;
    const id = '5d2a8e41-7c3b-4f90-a1d6-3e9b0c4f8a27';
    const subject = 'Waits without reading its mailbox';
    const claim = await stack.runtime.pairs.create({ mailboxId: alice.graph.id, kind: 'task', dataverseEntity: 'task', dataverseId: id, base: {}, status: 'pending', transactionId: 'claimwait-rows-tx', claimedBy: 'another-change' });
    // Requests to every real table, counted on the runtime's own clients (the stack's host runs this runtime).
    const counts = (Object.keys(tableSuffixes) as TableKey[]).map((key) => [key, countTableRequests(stack.runtime.tables.client(key))] as const);
    const mailboxes = counts.find(([key]) => key === 'mailboxes')![1];
    const mailboxRowReads = () => mailboxes.requests.filter((r) => r.method === 'GET' && r.url.includes(`RowKey='${alice.graph.id.toLowerCase()}'`)).length;
    try {
      // Which mailboxes the record reaches is looked up (and cached) before any mailbox is met: warmed here, so what
      // is counted is what the wait reads.
      await stack.runtime.mailboxes.enabledBySystemUsers([alice.systemUserId]);
      for (const [, c] of counts) c.requests.length = 0;
      // Counted up to the first wait's line, taken as it is logged (the waiting delivery is done with the tables then).
      const firstWait = new Promise<{ mailboxRowReads: number; byTable: Record<string, number> }>((resolve) => {
        const on = (message: string, props: Record<string, unknown>) => {
          if (props.dataverseId !== id || !message.startsWith('change waits')) return;
          lines.off('line', on);
          resolve({ mailboxRowReads: mailboxRowReads(), byTable: Object.fromEntries(counts.map(([key, c]) => [key, c.requests.length]).filter(([, n]) => n !== 0)) });
        };
        lines.on('line', on);
      });
      stack.dataverse.admin.as(alice.systemUserId).create('tasks', { activityid: id, subject, 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
      const waited = await firstWait;
      expect(waited.mailboxRowReads, `table requests of the webhook and the waiting delivery: ${JSON.stringify(waited.byTable)}`).toBe(0);
      // Once the claim is gone the change goes ahead, and then it reads the mailbox row (a disable elsewhere counts).
      const readsBefore = mailboxRowReads();
      await stack.runtime.pairs.remove(claim);
      await stack.settled({ timeoutMs: 60_000 });
      expect(mailboxRowReads()).toBeGreaterThan(readsBefore);
      const copies = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === subject);
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(alice.graph.id, id)).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    } finally {
      for (const [, c] of counts) c.stop();
    }
  }, 120_000);
});
