// Dynamics 365 -> Exchange, end to end: webhook -> Service Bus -> worker -> Graph, with the seed's rules.
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { dataverseChange } from '../../shared/servicebus/messages.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { appointments, callsSince, createAppointment, daysFromNow, events, snapshotCalls, tracked } from '../support/e2e.js';

describe('Dataverse -> Exchange', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 7 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('a future appointment the user organizes with an attendee becomes one meeting: invitations sent once, the attendee\'s copy linked, nothing duplicated', async () => {
    const before = snapshotCalls(stack);
    const appointment = createAppointment(stack, 'alice', 'Quarterly review', daysFromNow(3), ['bob']);
    await stack.settled();
    const aliceEvents = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Quarterly review');
    const bobEvents = (await events(stack, 'bob')).filter((e) => e.item.subject === 'Quarterly review');
    expect(aliceEvents).toHaveLength(1);
    expect(bobEvents).toHaveLength(1);
    expect(aliceEvents[0]!.item.attendees).toEqual([expect.objectContaining({ emailAddress: expect.objectContaining({ address: 'bob@contoso.example' }), type: 'required' })]);
    const invitations = (await stack.graph.admin.invitations({ iCalUId: String(aliceEvents[0]!.item.iCalUId) })).filter((i) => i.type === 'request');
    expect(invitations).toHaveLength(1);
    expect(invitations[0]!.recipients).toEqual(['bob@contoso.example']);
    // One Dataverse appointment, still the one Alice created (the attendee copy was linked, not imported).
    expect(appointments(stack).filter((a) => a.subject === 'Quarterly review')).toHaveLength(1);
    const calls = callsSince(stack, before);
    // The meeting's create, and Bob's copy taking free/busy from Dynamics 365 (Exchange made it tentative).
    expect(calls.graphWrite).toBe(2);
    expect(bobEvents[0]!.item.showAs).toBe(aliceEvents[0]!.item.showAs);
    expect(calls.dataverseWrite).toBe(0);
    expect(String(appointment.activityid)).toBeTruthy();
  });

  it('a create image of a record that is gone when its change runs creates nothing: a record no mailbox pairs is decided from a fresh read', async () => {
    // Changes of one record run concurrently and in any order (no sessions): its Delete may be applied (finding no
    // pair) before its Create, whose post image still describes the record. The image must not create the item.
    const source = createAppointment(stack, 'alice', 'Ghost source', daysFromNow(6));
    await stack.settled();
    const ghostId = randomUUID();
    await stack.runtime.sender.send([dataverseChange({ entity: 'appointment', recordId: ghostId, message: 'Create', image: { ...source, activityid: ghostId, subject: 'Ghost' } }, { receivedAt: new Date().toISOString() })]);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Ghost')).toHaveLength(0);
    expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, ghostId)).toBeUndefined();
  });

  it('a create claimed by another change waits for it instead of creating a second item, then creates exactly one', async () => {
    // Two changes of one new record run at once (no sessions): the first claims the create with a pending pair; the
    // second, meeting a fresh claim that is not its own, is retried later instead of creating a duplicate.
    const alice = stack.users.alice!;
    const start = daysFromNow(8);
    const [recordId] = stack.dataverse.admin.seedRecords('appointments', [{ subject: 'Claimed create', scheduledstart: start.toISOString(), scheduledend: new Date(start.getTime() + 3600_000).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` }], { ownerId: alice.systemUserId });
    const id = String(recordId);
    await stack.runtime.pairs.create({ mailboxId: alice.graph.id, kind: 'appointment', dataverseEntity: 'appointment', dataverseId: id, base: {}, status: 'pending', claimedBy: 'another-change' });
    const retried = stack.serviceBus.waitFor('scheduled', (e) => e.queue === changesQueue.name, 10_000);
    await stack.runtime.sender.send([dataverseChange({ entity: 'appointment', recordId: id, message: 'Update' }, { receivedAt: new Date().toISOString() })]);
    await retried;
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Claimed create')).toHaveLength(0);
    // The claimant goes away without creating (its pair removed): the retry creates the one item.
    await stack.runtime.pairs.remove((await stack.runtime.pairs.get(alice.graph.id, id))!);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Claimed create')).toHaveLength(1);
  });

  it('a change in Dynamics 365 reaches Exchange exactly once, and its echo costs no call', async () => {
    const appointment = createAppointment(stack, 'alice', 'Design sync', daysFromNow(4));
    await stack.settled();
    const before = snapshotCalls(stack);
    stack.dataverse.admin.as(stack.users.alice!.systemUserId).update('appointments', String(appointment.activityid), { subject: 'Design sync (moved)', location: 'Room 4' });
    await stack.settled();
    const calls = callsSince(stack, before);
    const aliceEvents = (await events(stack, 'alice')).filter((e) => String(e.item.subject).startsWith('Design sync'));
    expect(aliceEvents.map((e) => e.item.subject)).toEqual(['Design sync (moved)']);
    expect((aliceEvents[0]!.item.location as { displayName?: string }).displayName).toBe('Room 4');
    // 1 Graph write and nothing else: the webhook's post image carries every mapped column (no Dataverse read), and
    // the Graph notification of that write comes back and is recognised by its etag without any call.
    expect(calls).toEqual({ graphRead: 0, graphWrite: 1, dataverseRead: 0, dataverseWrite: 0 });
  });

  it('rule: no invitation is sent for an appointment in the past (the event is written without attendees)', async () => {
    createAppointment(stack, 'alice', 'Last week\'s kickoff', daysFromNow(-3), ['bob']);
    await stack.settled();
    const aliceEvents = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Last week\'s kickoff');
    expect(aliceEvents).toHaveLength(1);
    expect(aliceEvents[0]!.item.attendees ?? []).toEqual([]);
    expect((await stack.graph.admin.invitations({ iCalUId: String(aliceEvents[0]!.item.iCalUId) })).filter((i) => i.type === 'request')).toEqual([]);
    expect((await events(stack, 'bob')).filter((e) => e.item.subject === 'Last week\'s kickoff')).toEqual([]);
  });

  it('rule: no invitation is sent for an appointment without attendees, and reminders are off more than 7 days back', async () => {
    createAppointment(stack, 'alice', 'Solo planning', daysFromNow(-10));
    await stack.settled();
    const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Solo planning');
    expect(event?.item.isReminderOn).toBe(false);
    expect(await stack.graph.admin.invitations({ iCalUId: String(event!.item.iCalUId) })).toEqual([]);
  });

  it('rule: a canceled appointment shows as free in Exchange (cancellation itself is not propagated by default)', async () => {
    const appointment = createAppointment(stack, 'alice', 'Maybe lunch', daysFromNow(2));
    await stack.settled();
    stack.dataverse.admin.as(stack.users.alice!.systemUserId).cancel('appointments', String(appointment.activityid));
    await stack.settled();
    const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Maybe lunch');
    expect(event?.item.showAs).toBe('free');
    expect(event?.item.isCancelled ?? false).toBe(false);
  });

  it('deleting a future appointment the user organizes deletes the Exchange event; a past one is only unlinked', async () => {
    const future = createAppointment(stack, 'alice', 'To be deleted', daysFromNow(5));
    const past = createAppointment(stack, 'alice', 'Kept in Outlook', daysFromNow(-2));
    await stack.settled();
    const as = stack.dataverse.admin.as(stack.users.alice!.systemUserId);
    as.delete('appointments', String(future.activityid));
    as.delete('appointments', String(past.activityid));
    await stack.settled();
    const subjects = (await events(stack, 'alice')).map((e) => e.item.subject);
    expect(subjects).not.toContain('To be deleted');
    expect(subjects).toContain('Kept in Outlook');
    expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(past.activityid))).toBeUndefined();
  });

  it('a Dataverse task becomes a To Do task; deleted in Dataverse, it is deleted in To Do only when not completed', async () => {
    const as = stack.dataverse.admin.as(stack.users.alice!.systemUserId);
    const due = daysFromNow(2).toISOString();
    const open = as.create('tasks', { subject: 'Send the proposal', scheduledend: due, 'ownerid@odata.bind': `/systemusers(${stack.users.alice!.systemUserId})` });
    const done = as.create('tasks', { subject: 'Book the venue', scheduledend: due, 'ownerid@odata.bind': `/systemusers(${stack.users.alice!.systemUserId})` });
    await stack.settled();
    const todos = () => stack.graph.admin.items({ user: stack.users.alice!.graph.id, kind: 'todoTask' });
    const venue = (await todos()).find((t) => t.item.title === 'Book the venue')!;
    expect((await todos()).find((t) => t.item.title === 'Send the proposal')?.item.status).toBe('notStarted');
    // Alice completes "Book the venue" in To Do; the To Do poll carries it to Dataverse.
    await stack.graph.admin.act({ action: 'update', user: stack.users.alice!.graph.id, kind: 'todoTask', id: venue.id, listId: venue.parentId, body: { status: 'completed' } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(stack.dataverse.admin.record('tasks', String(done.activityid))?.statecode).toBe(1);
    as.delete('tasks', String(open.activityid));
    as.delete('tasks', String(done.activityid));
    await stack.settled();
    const titles = (await todos()).map((t) => t.item.title);
    expect(titles).not.toContain('Send the proposal');
    expect(titles).toContain('Book the venue');
  });

  it('a Dataverse contact owned by the user appears in their Exchange contacts', async () => {
    const as = stack.dataverse.admin.as(stack.users.bob!.systemUserId);
    as.create('contacts', { firstname: 'Carla', lastname: 'Diaz', emailaddress1: 'carla@fabrikam.example', jobtitle: 'Buyer', 'ownerid@odata.bind': `/systemusers(${stack.users.bob!.systemUserId})` });
    await stack.settled();
    const contacts = await stack.graph.admin.items({ user: stack.users.bob!.graph.id, kind: 'contact' });
    const carla = contacts.find((c) => c.item.surname === 'Diaz');
    expect(carla?.item.givenName).toBe('Carla');
    expect(carla?.item.jobTitle).toBe('Buyer');
    expect((carla?.item.emailAddresses as { address: string }[])[0]?.address).toBe('carla@fabrikam.example');
  });

  it('task rules reach To Do: due date, percentcomplete as status, auto-completion from a past actualend, and the overdue reminder', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const owner = { 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` };
    as.create('tasks', { subject: 'Half done', scheduledend: daysFromNow(3).toISOString(), percentcomplete: 50, ...owner });
    as.create('tasks', { subject: 'Finished yesterday', scheduledend: daysFromNow(1).toISOString(), actualend: daysFromNow(-1).toISOString(), ...owner });
    as.create('tasks', { subject: 'Overdue report', scheduledend: daysFromNow(-3).toISOString(), ...owner });
    as.create('phonecalls', { subject: 'Call back Carla', scheduledend: daysFromNow(2).toISOString(), ...owner });
    await stack.settled();
    const todos = await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' });
    const byTitle = (title: string) => todos.find((t) => t.item.title === title)?.item;
    expect(byTitle('Half done')?.status).toBe('inProgress');
    // Due date: the date of scheduledend in Alice's zone (Europe/Berlin), at local midnight; To Do answers in UTC.
    const dueMidnight = DateTime.fromJSDate(daysFromNow(3)).setZone('Europe/Berlin').startOf('day').toUTC().toISO({ includeOffset: false, suppressMilliseconds: true });
    expect(String((byTitle('Half done')?.dueDateTime as { dateTime: string }).dateTime)).toMatch(new RegExp(`^${dueMidnight}`));
    expect(byTitle('Finished yesterday')?.status).toBe('completed');
    expect(byTitle('Finished yesterday')?.completedDateTime).toBeTruthy();
    expect(byTitle('Overdue report')?.isReminderOn).toBe(true);
    expect(byTitle('Half done')?.isReminderOn).toBe(false);
    // Phone calls (like letters and faxes) sync as To Do tasks too.
    expect(byTitle('Call back Carla')?.status).toBe('notStarted');
  });

  it('showAs follows the appointment status: Tentative -> tentative, Busy -> busy, Out of Office -> oof', async () => {
    const as = stack.dataverse.admin.as(stack.users.bob!.systemUserId);
    const make = (subject: string, statecode: number, statuscode: number) => {
      const rec = as.create('appointments', {
        subject,
        scheduledstart: daysFromNow(15).toISOString(),
        scheduledend: new Date(daysFromNow(15).getTime() + 3600_000).toISOString(),
        'ownerid@odata.bind': `/systemusers(${stack.users.bob!.systemUserId})`,
      });
      as.setState('appointments', String(rec.activityid), statecode, statuscode);
    };
    make('Maybe', 0, 2);
    make('Blocked', 3, 5);
    make('Away', 3, 6);
    await stack.settled();
    const shown = Object.fromEntries((await events(stack, 'bob')).map((e) => [e.item.subject, e.item.showAs]));
    expect([shown.Maybe, shown.Blocked, shown.Away]).toEqual(['tentative', 'busy', 'oof']);
  });

  it('defect 5: contacts and To Do tasks created from Dynamics 365 carry the "Tracked to Dynamics 365" category, as events do', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const owner = { 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` };
    as.create('contacts', { firstname: 'Tess', lastname: 'Tracked', ...owner });
    as.create('tasks', { subject: 'Tracked task', scheduledend: daysFromNow(2).toISOString(), ...owner });
    as.create('phonecalls', { subject: 'Tracked call', scheduledend: daysFromNow(2).toISOString(), ...owner });
    createAppointment(stack, 'alice', 'Tracked meeting', daysFromNow(9));
    await stack.settled();
    const contact = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'contact' })).find((c) => c.item.surname === 'Tracked');
    const todos = await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' });
    const event = (await events(stack, 'alice')).find((e) => e.item.subject === 'Tracked meeting');
    expect(event?.item.categories).toEqual([tracked]);
    expect(contact?.item.categories).toEqual([tracked]);
    expect(todos.find((t) => t.item.title === 'Tracked task')?.item.categories).toEqual([tracked]);
    expect(todos.find((t) => t.item.title === 'Tracked call')?.item.categories).toEqual([tracked]);
  });
});
