// Echo suppression with and without the `tag` in Dataverse webhooks (defect 16). Microsoft documents the `tag`
// optional parameter for plug-ins; whether an asynchronous webhook carries it is not documented, so every echo and
// ping-pong test here runs both ways: one change, one write, no bounce.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { appointments, callsSince, daysFromNow, events, outlookEvent, snapshotCalls, tracked } from '../support/e2e.js';
import { countTableRequests } from '../support/tableRequests.js';

describe.each([
  { webhookCarriesTag: true, label: 'with the tag' },
  { webhookCarriesTag: false, label: 'without the tag' },
])('defect 16: echo suppression when Dataverse webhooks arrive $label', ({ webhookCarriesTag }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 16, webhookCarriesTag });
  }, 60_000);
  afterAll(async () => stack?.close());

  const dvWebhooksEnqueued = () => stack.dataverse.admin.deliveries().filter((d) => d.state === 'delivered').length;

  it('a change in Dynamics 365 reaches Exchange with one Graph write, and nothing comes back', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const record = as.create('appointments', {
      subject: 'Echo check',
      scheduledstart: daysFromNow(4).toISOString(),
      scheduledend: new Date(daysFromNow(4).getTime() + 3600_000).toISOString(),
      'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
    });
    await stack.settled();
    const before = snapshotCalls(stack);
    as.update('appointments', String(record.activityid), { subject: 'Echo check (moved)', location: 'Room 5' });
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => String(e.item.subject).startsWith('Echo check')).map((e) => e.item.subject)).toEqual(['Echo check (moved)']);
    expect(callsSince(stack, before)).toEqual({ graphRead: 0, graphWrite: 1, dataverseRead: 0, dataverseWrite: 0 });
  });

  it('an edit in Outlook (fields and state) reaches Dataverse once, with no ping-pong back to Exchange', async () => {
    const event = await outlookEvent(stack, 'alice', 'Ping', daysFromNow(5), { track: true });
    await stack.settled();
    const [created] = appointments(stack).filter((a) => a.subject === 'Ping');
    expect(created).toBeDefined();
    const before = snapshotCalls(stack);
    const deliveries = dvWebhooksEnqueued();
    // Subject and Out of Office: a field PATCH and a state PATCH, so two webhooks of the sync's own writes.
    await stack.graph.admin.updateEvent(stack.users.alice!.graph.id, String(event.id), { subject: 'Ping v2', showAs: 'oof' });
    await stack.settled();
    const [record] = appointments(stack).filter((a) => String(a.subject).startsWith('Ping'));
    expect([record?.subject, record?.statecode, record?.statuscode]).toEqual(['Ping v2', 3, 6]);
    const calls = callsSince(stack, before);
    expect(calls.graphWrite).toBe(0);
    expect(calls.graphRead).toBe(1);
    expect(calls.dataverseWrite).toBe(2);
    // The webhooks of those writes did arrive (or were dropped as the sync's own), and changed nothing in Outlook.
    expect(dvWebhooksEnqueued()).toBeGreaterThan(deliveries);
    const [item] = (await events(stack, 'alice')).filter((e) => String(e.item.subject).startsWith('Ping'));
    expect([item?.item.subject, item?.item.showAs]).toEqual(['Ping v2', 'oof']);
  });

  it('a change and its echo cost the table reads they need and no more: the echo is told from the pointer row, and a Dataverse echo reads no mailbox row', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const record = as.create('appointments', { subject: 'Counted', scheduledstart: daysFromNow(7).toISOString(), scheduledend: new Date(daysFromNow(7).getTime() + 3600_000).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    await stack.settled();
    // Requests to the real tables, counted on the runtime's own clients (the stack's host runs this runtime).
    const pairs = countTableRequests(stack.runtime.tables.client('pairs'));
    const mailboxes = countTableRequests(stack.runtime.tables.client('mailboxes'));
    const mailboxRowReads = () => mailboxes.requests.filter((r) => r.method === 'GET' && r.url.includes(`RowKey='${alice.graph.id.toLowerCase()}'`)).length;
    const pairReads = () => pairs.requests.filter((r) => r.method === 'GET').length;
    try {
      // Dynamics 365 -> Exchange: the record's pairs and its pair in the mailbox; the Graph notification of the write
      // costs its pointer row in the webhook and in the worker (it was the pointer and the pair in each: 6 reads).
      as.update('appointments', String(record.activityid), { location: 'Room 7' });
      await stack.settled();
      expect(pairReads()).toBe(4);
      // Exchange -> Dynamics 365, with the mailbox row cached (seen within the cache time): the change reads the
      // mailbox row once (a disable elsewhere takes effect); a Dataverse echo of its write that reaches the worker
      // (without the tag) costs the record's pairs and its pair, and no mailbox row (it was one more each).
      const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Counted');
      await stack.runtime.mailboxes.findEnabled(alice.graph.id);
      pairs.requests.length = 0;
      mailboxes.requests.length = 0;
      await stack.graph.admin.updateEvent(alice.graph.id, String(event!.id), { location: { displayName: 'Room 8' } });
      await stack.settled();
      expect(appointments(stack).find((a) => a.subject === 'Counted')?.location).toBe('Room 8');
      expect(mailboxRowReads()).toBe(1);
      // The webhook's pointer, the worker's pointer and pair, and (without the tag) the echo's two.
      expect(pairReads()).toBe(webhookCarriesTag ? 3 : 5);
    } finally {
      pairs.stop();
      mailboxes.stop();
    }
  });

  it('an event tracked in Outlook becomes one appointment, and its creation does not bounce back to Exchange', async () => {
    const before = snapshotCalls(stack);
    await outlookEvent(stack, 'bob', 'Pong', daysFromNow(6, 14), { track: true });
    await stack.settled();
    expect(appointments(stack).filter((a) => a.subject === 'Pong')).toHaveLength(1);
    const calls = callsSince(stack, before);
    expect(calls.graphWrite).toBe(0);
    expect(calls.dataverseWrite).toBe(2);
  });

  it('a task completed in To Do completes the Dataverse task once, with no bounce', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const task = as.create('tasks', { subject: 'Echo task', scheduledend: daysFromNow(2).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    await stack.settled();
    const todo = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).find((t) => t.item.title === 'Echo task')!;
    const before = snapshotCalls(stack);
    await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo.id, listId: todo.parentId, body: { status: 'completed' } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(stack.dataverse.admin.record('tasks', String(task.activityid))?.statecode).toBe(1);
    const calls = callsSince(stack, before);
    expect(calls.graphWrite).toBe(0);
    // A second poll finds nothing new either.
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(callsSince(stack, before).graphWrite).toBe(0);
    expect(callsSince(stack, before).dataverseWrite).toBe(calls.dataverseWrite);
  });

  it('a contact tracked in Outlook becomes one Dataverse contact, and an edit of it does not bounce', async () => {
    const bob = stack.users.bob!;
    const contact = await stack.graph.admin.createContact(bob.graph.id, { givenName: 'Echo', surname: 'Contact', emailAddresses: [{ address: 'echo@fabrikam.example', name: 'Echo Contact' }], categories: [tracked] });
    await stack.settled();
    expect(stack.dataverse.admin.records('contacts', `lastname eq 'Contact'`)).toHaveLength(1);
    const before = snapshotCalls(stack);
    await stack.graph.admin.act({ action: 'update', user: bob.graph.id, kind: 'contact', id: String(contact.id), body: { jobTitle: 'Buyer' } });
    await stack.settled();
    expect(stack.dataverse.admin.records('contacts', `lastname eq 'Contact'`)[0]?.jobtitle).toBe('Buyer');
    const calls = callsSince(stack, before);
    expect(calls.graphWrite).toBe(0);
    expect(calls.dataverseWrite).toBe(1);
  });
});
