// Falling out of a mailbox's scope (defect 7): a record reassigned to another owner, or a party removed from an
// activity, is unlinked in the mailbox it left, never deleted there, so a later delete by the new owner leaves the
// old owner's copy alone. Server-side sync deleted such items until DistinctPhysicalAndLogicalDeletesForExchangeSync
// (https://learn.microsoft.com/troubleshoot/power-platform/dataverse/email-exchange-synchronization/an-appointment-is-canceled-deleted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { daysFromNow } from '../support/e2e.js';

describe('defect 7: a record that falls out of a mailbox\'s scope is unlinked there, not deleted', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 17 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const todos = async (user: string, title: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === title);
  const contacts = async (user: string, surname: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'contact' })).filter((c) => c.item.surname === surname);
  const bind = (user: string) => `/systemusers(${stack.users[user]!.systemUserId})`;

  it('defect 7: a task reassigned to another owner is unlinked for the old owner, and the new owner\'s delete leaves the old copy', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const task = as.create('tasks', { subject: 'Reassigned task', scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': bind('alice') });
    await stack.settled();
    expect(await todos('alice', 'Reassigned task')).toHaveLength(1);
    const id = String(task.activityid);

    as.update('tasks', id, { 'ownerid@odata.bind': bind('bob') });
    await stack.settled();
    expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
    expect(await stack.runtime.pairs.get(stack.users.bob!.graph.id, id)).toMatchObject({ status: 'linked' });
    expect(await todos('bob', 'Reassigned task')).toHaveLength(1);
    expect(await todos('alice', 'Reassigned task')).toHaveLength(1);

    stack.dataverse.admin.as(stack.users.bob!.systemUserId).delete('tasks', id);
    await stack.settled();
    expect(await todos('bob', 'Reassigned task')).toHaveLength(0);
    expect(await todos('alice', 'Reassigned task')).toHaveLength(1);
  });

  it('defect 7: a party removed from a phone call is unlinked for that party, and the owner\'s delete leaves its copy', async () => {
    const alice = stack.users.alice!;
    const bob = stack.users.bob!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const call = as.create('phonecalls', {
      subject: 'Call with a party',
      scheduledend: daysFromNow(2).toISOString(),
      'ownerid@odata.bind': bind('alice'),
      phonecall_activity_parties: [
        { 'partyid_systemuser@odata.bind': bind('alice'), participationtypemask: 1 },
        { 'partyid_systemuser@odata.bind': bind('bob'), participationtypemask: 2 },
      ],
    });
    await stack.settled();
    const id = String(call.activityid);
    // "My Activities": the owner and every party (shared/sync/engine.ts scopeOf).
    expect(await todos('alice', 'Call with a party')).toHaveLength(1);
    expect(await todos('bob', 'Call with a party')).toHaveLength(1);

    as.update('phonecalls', id, { phonecall_activity_parties: [{ 'partyid_systemuser@odata.bind': bind('alice'), participationtypemask: 1 }] });
    await stack.settled();
    expect(await stack.runtime.pairs.get(bob.graph.id, id)).toBeUndefined();
    expect(await stack.runtime.pairs.get(alice.graph.id, id)).toMatchObject({ status: 'linked' });
    expect(await todos('bob', 'Call with a party')).toHaveLength(1);

    as.delete('phonecalls', id);
    await stack.settled();
    expect(await todos('alice', 'Call with a party')).toHaveLength(0);
    expect(await todos('bob', 'Call with a party')).toHaveLength(1);
  });

  it('defect 7: a contact reassigned to another owner is unlinked for the old owner, and the new owner\'s delete leaves the old copy', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const contact = as.create('contacts', { firstname: 'Rita', lastname: 'Reassigned', emailaddress1: 'rita@fabrikam.example', 'ownerid@odata.bind': bind('alice') });
    await stack.settled();
    expect(await contacts('alice', 'Reassigned')).toHaveLength(1);
    const id = String(contact.contactid);

    as.update('contacts', id, { 'ownerid@odata.bind': bind('bob') });
    await stack.settled();
    expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
    expect(await contacts('bob', 'Reassigned')).toHaveLength(1);
    expect(await contacts('alice', 'Reassigned')).toHaveLength(1);

    // Deleting a contact removes the Exchange copy of users who do not own it: Alice's would go, were it still linked.
    stack.dataverse.admin.as(stack.users.bob!.systemUserId).delete('contacts', id);
    await stack.settled();
    expect(await contacts('alice', 'Reassigned')).toHaveLength(1);
    expect(await contacts('bob', 'Reassigned')).toHaveLength(1);
  });
});
