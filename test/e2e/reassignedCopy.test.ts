// A contact reassigned in Dynamics 365 leaves the old owner's copy unlinked (out of scope), and a later change of
// that copy must not link it again: the copy still carries the record's stamp, and linking it made its old values
// overwrite the record, undoing the new owner's later edit (shrunk from the chaos test's reassign-lost-update: the
// reassignment's webhook duplicated and reordered, then an edit in Dynamics 365; and a contact made in Outlook,
// whose old copy a full delta round listed: its derived id names the record, which the create then linked).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';
import { tracked } from '../support/e2e.js';

describe('a reassigned record', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 29 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it("keeps the new owner's later edit when the old owner's copy of a contact made in Outlook is listed again (its derived id names the record)", async () => {
    const alice = stack.users.alice!;
    const bob = stack.users.bob!;
    await stack.graph.admin.createContact(alice.graph.id, { givenName: 'Oda', surname: 'Reassignedfromoutlook', jobTitle: 'Buyer', categories: [tracked] });
    await stack.settled();
    const [record] = stack.dataverse.admin.records('contacts').filter((c) => c.lastname === 'Reassignedfromoutlook');
    expect(record).toBeDefined();
    const id = String(record!.contactid);
    stack.dataverse.admin.as(alice.systemUserId).update('contacts', id, { 'ownerid@odata.bind': `/systemusers(${bob.systemUserId})` });
    await stack.settled();
    stack.dataverse.admin.as(bob.systemUserId).update('contacts', id, { jobtitle: 'Head buyer' });
    await stack.settled();
    // A full round (the delta token evicted) lists the old owner's copy, unpaired, as a change of its own.
    await stack.graph.admin.evictDeltaTokens();
    await reconcileAll(stack.runtime);
    await stack.settled();
    const copies = async (user: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'contact' })).filter((c) => c.item.surname === 'Reassignedfromoutlook').map((c) => c.item.jobTitle);
    expect(stack.dataverse.admin.record('contacts', id)?.jobtitle).toBe('Head buyer');
    expect(await copies('bob')).toEqual(['Head buyer']);
    expect(await copies('alice')).toEqual(['Buyer']);
    expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
  }, 120_000);

  for (const [how, plan] of [
    ['its webhook duplicated and reordered', { webhooks: { duplicateProbability: 1, reorderProbability: 1 } }],
    ['its webhook lost (the edit brings it)', { webhooks: { dropProbability: 1 } }],
  ] as const) {
    it(`keeps the new owner's later Dynamics 365 edit, and the old owner's copy as it was, after a reassignment with ${how}`, async () => {
      const alice = stack.users.alice!;
      const bob = stack.users.bob!;
      const lastname = `Reassigned${how.length}`;
      const id = String(stack.dataverse.admin.as(alice.systemUserId).create('contacts', { firstname: 'Rae', lastname, jobtitle: 'Buyer', 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` }).contactid);
      await stack.settled();
      stack.dataverse.admin.setFaultPlan(plan);
      stack.dataverse.admin.as(alice.systemUserId).update('contacts', id, { 'ownerid@odata.bind': `/systemusers(${bob.systemUserId})` });
      await stack.settled();
      stack.dataverse.admin.setFaultPlan({});
      stack.dataverse.admin.as(bob.systemUserId).update('contacts', id, { jobtitle: 'Head buyer' });
      await stack.settled();
      // Two reconciliations: the first lists the old copy (a change of it), the second must find nothing to do.
      await reconcileAll(stack.runtime);
      await stack.settled();
      await reconcileAll(stack.runtime);
      await stack.settled();
      const copies = async (user: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'contact' })).filter((c) => c.item.surname === lastname).map((c) => c.item.jobTitle);
      expect(stack.dataverse.admin.record('contacts', id)?.jobtitle).toBe('Head buyer');
      expect(await copies('bob')).toEqual(['Head buyer']);
      expect(await copies('alice')).toEqual(['Buyer']);
      expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
    }, 120_000);
  }
});
