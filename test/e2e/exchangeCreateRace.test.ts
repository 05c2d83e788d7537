// A task made in To Do is created in Dynamics 365 once, and stays one To Do task, when a Dataverse change of the new
// record (a reconciliation's change tracking lists it) arrives before the sync recorded the pair: that change found
// no pair, created a second To Do task for the record and took the pair, and the To Do change then met that pair on
// every retry ("another change of this item recorded its pair first"), until the mailbox was paused. Found by the
// chaos test (seed 2 x 200, test/chaos).
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { HandledRequest } from '../../dev/sim/dataverse/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { tracked } from '../support/e2e.js';

describe('a To Do task created in Dynamics 365 while a Dataverse change of its record arrives', () => {
  let stack: Stack;
  const lines = new EventEmitter();
  beforeAll(async () => {
    stack = await startStack({ seed: 29, logSink: (_level, message, props) => lines.emit('line', message, props) });
  }, 60_000);
  afterAll(async () => stack?.close());

  /** Resolves at the first log line `match` accepts. */
  const logged = (match: (message: string, props: Record<string, unknown>) => boolean) =>
    new Promise<void>((resolve) => {
      const on = (message: string, props: Record<string, unknown>) => {
        if (!match(message, props)) return;
        lines.off('line', on);
        resolve();
      };
      lines.on('line', on);
    });

  it("the reconciliation's change of the record waits for the pair: one record, one To Do task, paired, nothing dead-lettered", async () => {
    const alice = stack.users.alice!;
    const title = 'Created while reconciled';
    const deadBefore = stack.serviceBus.messages(changesQueue.name, 'deadLetter').length;
    // A completed task: the create is an upsert, then the closing PATCH. Hold the second, so the record exists and
    // its pair is not recorded yet.
    let recordId: string | undefined;
    let hold: ReturnType<Stack['dataverse']['admin']['holdRequests']> | undefined;
    const armed = new Promise<void>((resolve) => {
      const on = (r: HandledRequest) => {
        const id = /^\/api\/data\/v9\.2\/tasks\(([0-9a-f-]+)\)$/.exec(r.path)?.[1];
        if (r.method !== 'PATCH' || !id || r.status >= 300) return;
        stack.dataverse.requests.off('handled', on);
        recordId = id;
        hold = stack.dataverse.admin.holdRequests(`^PATCH /api/data/v9.2/tasks\\(${id}\\)`);
        resolve();
      };
      stack.dataverse.requests.on('handled', on);
    });
    const todo = await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title, categories: [tracked], status: 'completed' } });
    await stack.host.fireTimer('pollTodo');
    await armed;
    await hold!.waitForHeld(1);
    const reconciled = logged((message, props) => props.dataverseId === recordId && String(props.messageId).includes('|Reconcile|') && /^change (applied|failed|waits)/.test(message));
    await stack.host.fireTimer('reconcile');
    await reconciled;
    hold!.release();
    await stack.settled({ timeoutMs: 60_000 });
    await stack.host.fireTimer('pollTodo');
    await stack.settled({ timeoutMs: 60_000 });
    const records = stack.dataverse.admin.records('tasks').filter((t) => t.subject === title);
    const copies = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === title);
    expect(records.map((r) => [r.activityid, r.statecode])).toEqual([[recordId, 1]]);
    expect(copies.map((c) => c.id)).toEqual([(todo as { id: string }).id]);
    expect(await stack.runtime.pairs.get(alice.graph.id, recordId!)).toMatchObject({ status: 'linked', exchangeId: (todo as { id: string }).id });
    expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').slice(deadBefore)).toEqual([]);
  }, 120_000);

  it('a To Do task whose record is already paired with another To Do task of the mailbox stays unlinked instead of retrying until the mailbox is paused', async () => {
    const alice = stack.users.alice!;
    const title = 'Paired elsewhere';
    const todo = (await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title, categories: [tracked] } })) as { id: string };
    await stack.host.fireTimer('pollTodo');
    await stack.settled({ timeoutMs: 30_000 });
    const [record] = stack.dataverse.admin.records('tasks').filter((t) => t.subject === title);
    const id = String(record?.activityid);
    const pair = await stack.runtime.pairs.getByExchangeId(alice.graph.id, todo.id);
    expect(pair?.dataverseId).toBe(id);
    // What the race leaves when the wait above has run out: the record's pair names a second task the sync made for it.
    const other = (await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: `${title} (second)`, linkedResources: [{ applicationName: 'Dynamics 365', externalId: id, displayName: title }] } })) as { id: string };
    const { rowEtag: _rowEtag, ...rest } = pair!;
    await stack.runtime.pairs.remove(pair!);
    await stack.runtime.pairs.create({ ...rest, exchangeId: other.id, exchangeEtag: undefined });
    const deadBefore = stack.serviceBus.messages(changesQueue.name, 'deadLetter').length;
    await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo.id, listId: alice.graph.defaultTodoListId, body: { importance: 'high' } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled({ timeoutMs: 60_000 });
    expect(stack.dataverse.admin.records('tasks').filter((t) => String(t.subject).startsWith(title)).map((t) => t.activityid)).toEqual([id]);
    expect(await stack.runtime.pairs.getByExchangeId(alice.graph.id, todo.id)).toBeUndefined();
    expect((await stack.runtime.mailboxes.findEnabled(alice.graph.id))?.state).not.toBe('paused');
    expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').slice(deadBefore)).toEqual([]);
  }, 120_000);
});
