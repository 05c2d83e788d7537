// Exchange -> Dynamics 365, end to end: Graph notification -> Service Bus -> worker -> Dataverse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { appointments, callsSince, daysFromNow, events, outlookEvent, snapshotCalls, tracked } from '../support/e2e.js';

describe('Exchange -> Dataverse', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 11 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('only tracked items sync: an untracked Outlook event stays in Outlook', async () => {
    await outlookEvent(stack, 'alice', 'Dentist', daysFromNow(1));
    await stack.settled();
    expect(appointments(stack).filter((a) => a.subject === 'Dentist')).toEqual([]);
  });

  it('an event tracked in Outlook becomes one appointment owned by the user: 1 Graph read, and 2 Dataverse writes for a busy one', async () => {
    const before = snapshotCalls(stack);
    const event = await outlookEvent(stack, 'alice', 'Customer visit', daysFromNow(2, 13), { track: true });
    await stack.settled();
    const created = appointments(stack).filter((a) => a.subject === 'Customer visit');
    expect(created).toHaveLength(1);
    expect(created[0]!._ownerid_value).toBe(stack.users.alice!.systemUserId);
    expect(created[0]!.scheduledstart).toBe(`${daysFromNow(2, 13).toISOString().slice(0, 19)}Z`);
    expect(created[0]!.globalobjectid).toBe(event.iCalUId);
    const calls = callsSince(stack, before);
    expect(calls.graphRead).toBe(1);
    // statecode is not valid on create (shared/mapping/state.ts): a busy event is an appointment in the Scheduled
    // state, so the create is followed by a state change. A free or tentative one takes a single write.
    expect(calls.dataverseWrite).toBe(2);
    expect(calls.graphWrite).toBe(0);
    expect([created[0]!.statecode, created[0]!.statuscode]).toEqual([3, 5]);
  });

  it('setting the category on an existing event starts tracking it', async () => {
    const event = await outlookEvent(stack, 'bob', 'Supplier call', daysFromNow(3));
    await stack.settled();
    expect(appointments(stack).filter((a) => a.subject === 'Supplier call')).toEqual([]);
    await stack.graph.admin.setCategory(stack.users.bob!.graph.id, 'event', String(event.id), tracked, true);
    await stack.settled();
    expect(appointments(stack).filter((a) => a.subject === 'Supplier call')).toHaveLength(1);
  });

  it('an edit in Outlook reaches Dataverse exactly once, with no ping-pong back to Exchange', async () => {
    const event = await outlookEvent(stack, 'alice', 'Roadmap', daysFromNow(5), { track: true });
    await stack.settled();
    const before = snapshotCalls(stack);
    await stack.graph.admin.updateEvent(stack.users.alice!.graph.id, String(event.id), { subject: 'Roadmap v2', showAs: 'oof' });
    await stack.settled();
    const calls = callsSince(stack, before);
    const [record] = appointments(stack).filter((a) => String(a.subject).startsWith('Roadmap'));
    expect(record?.subject).toBe('Roadmap v2');
    // Out of Office is a status of the Scheduled state (docs/reference/platform-facts.md section 6).
    expect([record?.statecode, record?.statuscode]).toEqual([3, 6]);
    expect(calls.graphWrite).toBe(0);
    expect(calls.graphRead).toBe(1);
  });

  it('a meeting between two synced users stays one appointment, linked to both copies', async () => {
    const meeting = await outlookEvent(stack, 'bob', 'Joint planning', daysFromNow(6), { track: true, attendees: ['alice@contoso.example'] });
    await stack.settled();
    const records = appointments(stack).filter((a) => a.subject === 'Joint planning');
    expect(records).toHaveLength(1);
    const id = String(records[0]!.activityid);
    expect(await stack.runtime.pairs.get(stack.users.bob!.graph.id, id)).toMatchObject({ exchangeId: meeting.id, isOrganizer: true });
    const aliceCopy = (await events(stack, 'alice')).find((e) => e.item.subject === 'Joint planning');
    expect(aliceCopy).toBeDefined();
    expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, id)).toMatchObject({ exchangeId: aliceCopy!.id, isOrganizer: false });
  });

  it('deleting a future meeting the user organizes in Outlook deletes the appointment; an attendee\'s delete is ignored', async () => {
    const mine = await outlookEvent(stack, 'alice', 'Cancelled workshop', daysFromNow(8), { track: true });
    const shared = await outlookEvent(stack, 'bob', 'Bob\'s review', daysFromNow(9), { track: true, attendees: ['alice@contoso.example'] });
    await stack.settled();
    await stack.graph.admin.deleteEvent(stack.users.alice!.graph.id, String(mine.id));
    const aliceCopy = (await events(stack, 'alice')).find((e) => e.item.subject === 'Bob\'s review')!;
    await stack.graph.admin.deleteEvent(stack.users.alice!.graph.id, aliceCopy.id);
    await stack.settled();
    expect(appointments(stack).filter((a) => a.subject === 'Cancelled workshop')).toEqual([]);
    expect(appointments(stack).filter((a) => a.subject === 'Bob\'s review')).toHaveLength(1);
    expect(shared.id).toBeTruthy();
  });

  it('an Exchange contact tracked in Outlook is created in Dataverse; an edit in Dynamics 365 comes back to Outlook', async () => {
    const bob = stack.users.bob!;
    const contact = await stack.graph.admin.createContact(bob.graph.id, {
      givenName: 'Dana',
      surname: 'Evans',
      emailAddresses: [{ address: 'dana@northwind.example', name: 'Dana Evans' }],
      businessPhones: ['+1 555 0100'],
      categories: [tracked],
    });
    await stack.settled();
    const [record] = stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Evans');
    expect(record).toMatchObject({ firstname: 'Dana', emailaddress1: 'dana@northwind.example', telephone1: '+1 555 0100', _ownerid_value: bob.systemUserId });
    stack.dataverse.admin.as(bob.systemUserId).update('contacts', String(record!.contactid), { jobtitle: 'Head of purchasing' });
    await stack.settled();
    const [item] = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'contact' })).filter((c) => c.id === contact.id);
    expect(item?.item.jobTitle).toBe('Head of purchasing');
  });

  it('a To Do task tracked in To Do is found by the poll and created as a Dataverse task', async () => {
    const alice = stack.users.alice!;
    await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Call the printer', categories: [tracked], importance: 'high' } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    const [task] = stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Call the printer');
    expect(task).toMatchObject({ prioritycode: 2, statecode: 0, _ownerid_value: alice.systemUserId });
    // The next poll sees nothing new: no second task.
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Call the printer')).toHaveLength(1);
  });

  it('a new To Do list is picked up by the next poll, and a removed list\'s tasks are unlinked, not deleted in Dataverse', async () => {
    const alice = stack.users.alice!;
    const list = await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTaskList', body: { displayName: 'Project X' } });
    await stack.host.fireTimer('pollTodo');
    await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: String(list.id), body: { title: 'Order samples', categories: [tracked] } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    const [task] = stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Order samples');
    expect(task).toBeDefined();
    const pair = await stack.runtime.pairs.get(alice.graph.id, String(task!.activityid));
    expect(pair?.exchangeListId).toBe(list.id);
    await stack.graph.admin.act({ action: 'delete', user: alice.graph.id, kind: 'todoTaskList', id: String(list.id) });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(await stack.runtime.pairs.get(alice.graph.id, String(task!.activityid))).toBeUndefined();
    expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Order samples')).toHaveLength(1);
  });
});
