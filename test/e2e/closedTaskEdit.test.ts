// An edit in To Do of a task completed there and in Dynamics 365: a completed activity is read-only in Dataverse
// (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/task, StateCode), so the
// sync does not write it, and the change ends instead of failing on every delivery into the dead-letter queue (as
// it did: Dataverse's 400 for the PATCH of a closed task). The edit stays unsynced in the pair's base, so it is
// written once the task is open again and To Do changes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { queues } from '../../shared/servicebus/queues.js';

describe('a To Do edit of a task completed in Dynamics 365', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 43 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const deadLettered = () => queues.reduce((n, q) => n + stack.serviceBus.counts(q.name).deadLettered, 0);

  it.each([
    ['task', 'tasks'],
    ['phone call', 'phonecalls'],
  ])('%s: is not written to the closed activity and not dead-lettered; it is written after the activity is reopened', async (label, set) => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const subject = `Closed ${label}`;
    const record = as.create(set, { subject, 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    const id = String(record.activityid);
    await stack.settled();
    const todo = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).find((i) => i.item.title === subject)!;
    const edit = async (body: Record<string, unknown>) => {
      await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', listId: todo.parentId, id: todo.id, body });
      await stack.settled();
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
    };
    await edit({ status: 'completed' });
    expect(stack.dataverse.admin.record(set, id)!.statecode).toBe(1);
    const before = deadLettered();

    await edit({ title: `${subject}, renamed` });
    expect(deadLettered()).toBe(before);
    expect(stack.dataverse.admin.record(set, id)).toMatchObject({ statecode: 1, subject });

    // Reopened in To Do together with another title: the state change goes first, then the columns.
    await edit({ status: 'notStarted', title: `${subject}, reopened` });
    expect(deadLettered()).toBe(before);
    expect(stack.dataverse.admin.record(set, id)).toMatchObject({ statecode: 0, subject: `${subject}, reopened` });
  });
});
