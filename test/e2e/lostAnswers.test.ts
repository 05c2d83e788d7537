// A create whose answer is lost, and a pair that is lost, repeat nothing: every kind finds what it wrote before
// writing again (the transactionId of an event, the stamp on a contact, the linked resource on a To Do task, the
// derived id of a Dataverse record), in the same process and when the worker runs the change again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { appointments, createAppointment, daysFromNow, events, outlookEvent, tracked } from '../support/e2e.js';

describe('lost answers and lost pairs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 11 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const owner = (user: string) => ({ 'ownerid@odata.bind': `/systemusers(${stack.users[user]!.systemUserId})` });
  const contactsOf = (user: string) => stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'contact' });
  const todosOf = (user: string) => stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'todoTask' });

  describe('defect 2: a create whose answer is lost (503 after the write took effect) is not repeated', () => {
    it('defect 2: events, in the process and after a redelivery', async () => {
      // 4 lost answers: more than the client's in-process attempts, so the worker runs the change again.
      await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 503, afterExecution: true, times: 4 });
      const appointment = createAppointment(stack, 'alice', 'Lost event answer', daysFromNow(6));
      await stack.settled({ timeoutMs: 30_000 });
      const copies = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Lost event answer');
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(appointment.activityid))).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    });

    it('defect 2: contacts, in the process', async () => {
      await stack.graph.admin.failNext({ method: 'POST', path: '/contacts$', status: 503, afterExecution: true, times: 1 });
      const contact = stack.dataverse.admin.as(stack.users.alice!.systemUserId).create('contacts', { firstname: 'Lena', lastname: 'Lostanswer', ...owner('alice') });
      await stack.settled({ timeoutMs: 30_000 });
      const copies = (await contactsOf('alice')).filter((c) => c.item.surname === 'Lostanswer');
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(contact.contactid))).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    });

    it('defect 2: contacts, after a redelivery (the look-up fails too, so the worker runs the change again)', async () => {
      await stack.graph.admin.failNext({ method: 'POST', path: '/contacts$', status: 503, afterExecution: true, times: 1 });
      await stack.graph.admin.failNext({ method: 'GET', path: '/contacts$', status: 503, times: 6 });
      const contact = stack.dataverse.admin.as(stack.users.alice!.systemUserId).create('contacts', { firstname: 'Rhea', lastname: 'Redelivered', ...owner('alice') });
      await stack.settled({ timeoutMs: 30_000 });
      const copies = (await contactsOf('alice')).filter((c) => c.item.surname === 'Redelivered');
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(contact.contactid))).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    });

    it('defect 2: To Do tasks, in the process', async () => {
      await stack.graph.admin.failNext({ method: 'POST', path: '/tasks$', status: 503, afterExecution: true, times: 1 });
      const task = stack.dataverse.admin.as(stack.users.alice!.systemUserId).create('tasks', { subject: 'Lost task answer', scheduledend: daysFromNow(2).toISOString(), ...owner('alice') });
      await stack.settled({ timeoutMs: 30_000 });
      const copies = (await todosOf('alice')).filter((t) => t.item.title === 'Lost task answer');
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(task.activityid))).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    });

    it('defect 2: To Do tasks, after a redelivery (the look-up fails too, so the worker runs the change again)', async () => {
      await stack.graph.admin.failNext({ method: 'POST', path: '/tasks$', status: 503, afterExecution: true, times: 1 });
      await stack.graph.admin.failNext({ method: 'GET', path: '/tasks$', status: 503, times: 6 });
      const task = stack.dataverse.admin.as(stack.users.alice!.systemUserId).create('tasks', { subject: 'Redelivered task', scheduledend: daysFromNow(2).toISOString(), ...owner('alice') });
      await stack.settled({ timeoutMs: 30_000 });
      const copies = (await todosOf('alice')).filter((t) => t.item.title === 'Redelivered task');
      expect(copies).toHaveLength(1);
      expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(task.activityid))).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
    });

    it('defect 2: Dataverse records (appointment, contact, task created from Exchange), in the process', async () => {
      const alice = stack.users.alice!;
      stack.dataverse.admin.setFaultPlan({ requests: { match: '^PATCH /api/data/v9.2/(appointments|contacts|tasks)\\(', serverError: { probability: 1, status: 503, afterExecution: true, times: 3 } } });
      await outlookEvent(stack, 'alice', 'Lost record answer', daysFromNow(8), { track: true });
      await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Dora', surname: 'Lostrecord', categories: [tracked] });
      await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Lost record task', categories: [tracked] } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled({ timeoutMs: 30_000 });
      stack.dataverse.admin.setFaultPlan({});
      expect(appointments(stack).filter((a) => a.subject === 'Lost record answer')).toHaveLength(1);
      expect(stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Lostrecord')).toHaveLength(1);
      expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Lost record task')).toHaveLength(1);
    });

    it('defect 2: Dataverse records, after a redelivery (every attempt in the process loses its answer)', async () => {
      const alice = stack.users.alice!;
      stack.dataverse.admin.setFaultPlan({ requests: { match: '^PATCH /api/data/v9.2/(contacts|tasks)\\(', serverError: { probability: 1, status: 503, afterExecution: true, times: 4 } } });
      await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Reda', surname: 'Redeliveredrecord', categories: [tracked] });
      await stack.settled({ timeoutMs: 30_000 });
      stack.dataverse.admin.setFaultPlan({ requests: { match: '^PATCH /api/data/v9.2/(contacts|tasks)\\(', serverError: { probability: 1, status: 503, afterExecution: true, times: 4 } } });
      await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Redelivered record task', categories: [tracked] } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled({ timeoutMs: 30_000 });
      stack.dataverse.admin.setFaultPlan({});
      expect(stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Redeliveredrecord')).toHaveLength(1);
      expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Redelivered record task')).toHaveLength(1);
    });
  });

  it('a To Do task created completed, whose Dataverse create lost its answer, reaches Dynamics 365 completed (the retry finishes the separate state change; shrunk from the chaos test)', async () => {
    const alice = stack.users.alice!;
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Done before it synced', categories: [tracked], status: 'completed' } });
    // The create is a create-only upsert (PATCH); its answer is lost once, so the client's retry finds the record.
    stack.dataverse.admin.setFaultPlan({ requests: { match: 'PATCH .*tasks', serverError: { probability: 1, afterExecution: true, times: 1 } } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled({ timeoutMs: 30_000 });
    stack.dataverse.admin.setFaultPlan({});
    const records = stack.dataverse.admin.records('tasks').filter((r) => r.subject === 'Done before it synced');
    expect(records.map((r) => r.statecode)).toEqual([1]);
  });

  describe('defect 9: a lost pair of an item created in Exchange is rebuilt from the derived id, not duplicated', () => {
    it('defect 9: a To Do task', async () => {
      const alice = stack.users.alice!;
      const todo = await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: 'Rebuilt task', categories: [tracked] } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      const [record] = stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Rebuilt task');
      expect(record).toBeDefined();
      await stack.runtime.pairs.remove((await stack.runtime.pairs.get(alice.graph.id, String(record!.activityid)))!);
      await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: String(todo.id), listId: alice.graph.defaultTodoListId, body: { title: 'Rebuilt task (renamed)' } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      const records = stack.dataverse.admin.records('tasks').filter((t) => String(t.subject).startsWith('Rebuilt task'));
      expect(records.map((r) => [r.activityid, r.subject])).toEqual([[record!.activityid, 'Rebuilt task (renamed)']]);
      expect(await stack.runtime.pairs.get(alice.graph.id, String(record!.activityid))).toMatchObject({ status: 'linked', exchangeId: todo.id });
    });

    it('defect 9: a contact without e-mail (nothing else to match it by)', async () => {
      const alice = stack.users.alice!;
      const contact = await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Nora', surname: 'Nomail', categories: [tracked] });
      await stack.settled();
      const [record] = stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Nomail');
      expect(record).toBeDefined();
      await stack.runtime.pairs.remove((await stack.runtime.pairs.get(alice.graph.id, String(record!.contactid)))!);
      await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'contact', id: String(contact.id), body: { jobTitle: 'Buyer' } });
      await stack.settled();
      const records = stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Nomail');
      expect(records.map((r) => [r.contactid, r.jobtitle])).toEqual([[record!.contactid, 'Buyer']]);
      expect(await stack.runtime.pairs.get(alice.graph.id, String(record!.contactid))).toMatchObject({ status: 'linked', exchangeId: contact.id });
    });

    it('defect 9: two changes of a stamped event rebuilding its lost pair at once link it once; the second decides again instead of being dead-lettered AlreadyExists (shrunk from the chaos test)', async () => {
      const alice = stack.users.alice!;
      const appointment = createAppointment(stack, 'alice', 'Twice linked', daysFromNow(9));
      await stack.settled();
      const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Twice linked');
      expect(event).toBeDefined();
      const id = String(appointment.activityid);
      await stack.runtime.pairs.remove((await stack.runtime.pairs.get(alice.graph.id, id))!);
      const deadBefore = stack.serviceBus.messages(changesQueue.name, 'deadLetter').length;
      // Both changes of the event read its record (found by the stamp) before either links it: each plans the Link.
      const hold = stack.dataverse.admin.holdRequests(`^GET /api/data/v9.2/appointments\\(${id}\\)`);
      await stack.graph.admin.updateEvent(alice.graph.id, event!.id, { location: { displayName: 'Room 1' } });
      await stack.graph.admin.updateEvent(alice.graph.id, event!.id, { subject: 'Twice linked (renamed)' });
      await hold.waitForHeld(2);
      hold.release();
      await stack.settled({ timeoutMs: 60_000 });
      expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').slice(deadBefore)).toEqual([]);
      expect(appointments(stack).filter((a) => String(a.subject).startsWith('Twice linked')).map((a) => [a.activityid, a.subject, a.location])).toEqual([[id, 'Twice linked (renamed)', 'Room 1']]);
      expect(await stack.runtime.pairs.get(alice.graph.id, id)).toMatchObject({ status: 'linked', exchangeId: event!.id });
    });
  });
});
