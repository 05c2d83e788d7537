// Backfill of a newly enabled mailbox against the whole local stack: items already on
// both sides are linked, not duplicated; a second run changes nothing; an interrupted run resumes from its checkpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { planBackfill, runBackfill, summarizePlan } from '../../shared/onboarding/backfill.js';
import { trackedCategory } from '../../shared/mapping/index.js';

const day = 86400_000;

describe('mailbox onboarding backfill', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ onboard: false, seed: 8 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const at = (offsetDays: number, hour: number) => {
    const d = new Date(Date.now() + offsetDays * day);
    d.setUTCHours(hour, 0, 0, 0);
    return d;
  };
  const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });

  async function counts(userId: string, systemUserId: string) {
    const items = await stack.graph.admin.items({ user: userId });
    const byKind = (k: string) => items.filter((i) => i.kind === k).length;
    const owned = `_ownerid_value eq ${systemUserId}`;
    return {
      events: byKind('event'),
      contacts: byKind('contact'),
      todoTasks: byKind('todoTask'),
      appointments: stack.dataverse.admin.records('appointments', owned).length,
      dvContacts: stack.dataverse.admin.records('contacts', owned).length,
      tasks: stack.dataverse.admin.records('tasks', owned).length,
    };
  }

  it('links what exists on both sides, creates only what is missing, and a second run changes nothing', async () => {
    const alice = stack.users.alice!;
    const dv = stack.dataverse.admin.as(alice.systemUserId);
    const party = { 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})`, participationtypemask: 7 };
    // Only in Dataverse: an appointment and a task of Alice's.
    dv.create('appointments', { subject: 'Only in Dataverse', scheduledstart: at(3, 9).toISOString(), scheduledend: at(3, 10).toISOString(), appointment_activity_parties: [party] });
    dv.create('tasks', { subject: 'Call the supplier', scheduledend: at(5, 12).toISOString() });
    // On both sides: a meeting (same iCalUId) and a contact (same e-mail address, untracked in Outlook).
    const meeting = await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Already both', start: graphTime(at(4, 9)), end: graphTime(at(4, 10)), categories: [trackedCategory] });
    dv.create('appointments', { subject: 'Already both', scheduledstart: at(4, 9).toISOString(), scheduledend: at(4, 10).toISOString(), globalobjectid: meeting.iCalUId, appointment_activity_parties: [party] });
    await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Carol', surname: 'Chen', emailAddresses: [{ address: 'carol@fabrikam.example', name: 'Carol Chen' }] });
    dv.create('contacts', { firstname: 'Carol', lastname: 'Chen', emailaddress1: 'carol@fabrikam.example' });
    // Only in Exchange: one tracked event (goes to Dataverse) and one untracked (stays).
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Tracked in Outlook', start: graphTime(at(6, 14)), end: graphTime(at(6, 15)), categories: [trackedCategory] });
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Private lunch', start: graphTime(at(2, 12)), end: graphTime(at(2, 13)) });

    const { mailbox } = await enableMailbox(stack.runtime, alice.userPrincipalName);
    const before = await counts(alice.graph.id, alice.systemUserId);
    const writes = () => stack.runtime.calls.graphWrite + stack.runtime.calls.dataverseWrite;

    // Dry run: decides and changes nothing.
    const writesBeforePlan = writes();
    const plan = await planBackfill(stack.runtime, mailbox);
    expect(summarizePlan(plan)).toEqual({ link: 2, createInExchange: 2, createInDataverse: 1, update: 0, leave: 1 });
    expect(plan.link.map((e) => e.reason).sort()).toEqual(['same e-mail address', 'same meeting (iCalUId = globalobjectid)']);
    expect(plan.leave[0]!.reason).toBe('not tracked to Dynamics 365');
    expect(writes()).toBe(writesBeforePlan);
    expect(await counts(alice.graph.id, alice.systemUserId)).toEqual(before);

    const progress: number[] = [];
    const first = await runBackfill(stack.runtime, mailbox, { batchSize: 2, onProgress: (p) => void progress.push(p.enqueued) });
    expect(first.enqueued).toBe(5);
    expect(progress).toEqual([2, 4, 5]);
    await stack.settled();
    const after = await counts(alice.graph.id, alice.systemUserId);
    expect(after).toEqual({ ...before, events: before.events + 1, todoTasks: before.todoTasks + 1, appointments: before.appointments + 1 });
    expect((await stack.runtime.mailboxes.get(mailbox.id))?.state).toBe('active');
    const pairs = [];
    for await (const p of stack.runtime.pairs.listMailbox(mailbox.id)) pairs.push(p);
    expect(pairs.filter((p) => p.status === 'linked')).toHaveLength(5);

    // Second run: nothing to link or create, and nothing is written on either side.
    const writesBeforeSecond = writes();
    const second = await runBackfill(stack.runtime, mailbox);
    await stack.settled();
    expect(second.counts.link + second.counts.createInExchange + second.counts.createInDataverse).toBe(0);
    expect(await counts(alice.graph.id, alice.systemUserId)).toEqual(after);
    expect(writes()).toBe(writesBeforeSecond);
  });

  it('resumes an interrupted backfill after its checkpoint and reports it in the mailbox state', async () => {
    const bob = stack.users.bob!;
    const dv = stack.dataverse.admin.as(bob.systemUserId);
    for (const name of ['Dana', 'Eve', 'Frank']) dv.create('contacts', { firstname: name, lastname: 'Example', emailaddress1: `${name.toLowerCase()}@fabrikam.example` });
    const { mailbox } = await enableMailbox(stack.runtime, bob.userPrincipalName, { entities: ['contact'] });
    await expect(
      runBackfill(stack.runtime, mailbox, {
        batchSize: 1,
        onProgress: () => {
          throw new Error('host stopped');
        },
      }),
    ).rejects.toThrow('host stopped');
    const interrupted = await stack.runtime.mailboxes.get(mailbox.id);
    expect(interrupted?.state).toBe('degraded');
    expect(interrupted?.stateReason).toMatch(/^backfill interrupted after 1 changes; run it again to resume/);

    const resumed = await runBackfill(stack.runtime, mailbox);
    // The change enqueued before the interruption is either still queued (skipped by the checkpoint: resumed 1)
    // or already applied (then it is paired and no longer planned: resumed 0). Either way only the other two go.
    expect(resumed.enqueued).toBe(2);
    expect(resumed.resumed).toBeLessThanOrEqual(1);
    expect((await stack.runtime.mailboxes.get(mailbox.id))?.state).toBe('active');
    await stack.settled();
    const contacts = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'contact' })).map((c) => c.item.givenName).sort();
    expect(contacts).toEqual(['Dana', 'Eve', 'Frank']);
  });

  it('enabling again replaces a subscription whose notification URL is out of date (e.g. a rotated function key)', async () => {
    const alice = stack.users.alice!;
    const [events] = (await stack.runtime.subscriptions.list(alice.graph.id)).filter((sub) => sub.resourceKind === 'events');
    await stack.runtime.subscriptions.put({ ...events!, notificationUrl: 'https://old-host.example/api/graph/notifications?code=old' });
    const { changes } = await enableMailbox(stack.runtime, alice.userPrincipalName);
    expect(changes.join('\n')).toContain(`replace subscription events ${events!.id} (its notification URL is out of date)`);
    const now = (await stack.runtime.subscriptions.list(alice.graph.id)).filter((sub) => sub.resourceKind === 'events');
    expect(now).toHaveLength(1);
    expect(now[0]!.id).not.toBe(events!.id);
    expect((await stack.graph.admin.subscriptions()).map((sub) => sub.id)).not.toContain(events!.id);
  });

  it('plans tracked tasks of every To Do list, not only the default one', async () => {
    const alice = stack.users.alice!;
    const { mailbox } = await enableMailbox(stack.runtime, alice.userPrincipalName);
    const list = await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTaskList', body: { displayName: 'Side project' } });
    const task = await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: String(list.id), body: { title: 'Draft the brief', categories: [trackedCategory] } });
    const plan = await planBackfill(stack.runtime, mailbox);
    expect(plan.createInDataverse.map((e) => e.exchangeId)).toContain(task.id);
  });
});
