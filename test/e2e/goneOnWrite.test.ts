// An update that finds the other side's copy deleted applies that side's delete rule (shrunk from the chaos test,
// test/chaos: Dynamics 365's delete webhook was lost, then the user edited the Outlook copy; the sync unlinked and
// left the organizer's future event in the calendar for good).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { appointments, createAppointment, daysFromNow, events } from '../support/e2e.js';

const users = [{ key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' }];

describe('an update that finds the other copy deleted', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 44, users });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('an Outlook edit of a future meeting whose appointment was deleted (its webhook lost) deletes the event, as the delete would have', async () => {
    const alice = stack.users.alice!;
    const record = createAppointment(stack, 'alice', 'Gone review', daysFromNow(4, 10));
    await stack.settled();
    const [event] = await events(stack, 'alice');
    expect(event).toBeDefined();
    stack.dataverse.admin.setFaultPlan({ webhooks: { dropProbability: 1 } });
    stack.dataverse.admin.as(alice.systemUserId).delete('appointments', String(record.activityid));
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});
    expect(await events(stack, 'alice'), 'the lost webhook left the event').toHaveLength(1);
    await stack.graph.admin.updateEvent(alice.graph.id, event!.id, { location: { displayName: 'Room 4' } });
    await stack.settled();
    expect(await events(stack, 'alice')).toHaveLength(0);
    expect(appointments(stack)).toHaveLength(0);
    expect(await stack.runtime.pairs.get(alice.graph.id, String(record.activityid))).toBeUndefined();
  });

  it('a To Do edit of a task deleted in Dynamics 365 (its webhook lost) deletes the open To Do task, as the delete would have', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const task = as.create('tasks', { subject: 'Gone task', scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    await stack.settled();
    // The first poll lists To Do in full (a resync, whose inferred deletes the breaker holds); the edit below is
    // then found by the next, incremental one.
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    const todos = () => stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' });
    const [todo] = await todos();
    expect(todo?.item.title).toBe('Gone task');
    stack.dataverse.admin.setFaultPlan({ webhooks: { dropProbability: 1 } });
    as.delete('tasks', String(task.activityid));
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});
    await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo!.id, listId: todo!.parentId, body: { title: 'Gone task, renamed' } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect((await todos()).map((t) => t.item.title)).toEqual([]);
    expect(stack.dataverse.admin.records('tasks')).toHaveLength(0);
  });
});
