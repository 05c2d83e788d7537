// Dataverse assigns sequential GUIDs to records created without an id (NEWSEQUENTIALID-style: the version nibble is
// not 1-8, e.g. 5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b). The sync must take them wherever an id crosses a boundary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { reconcileDataverse } from '../../shared/sync/reconcile.js';
import { daysFromNow, events } from '../support/e2e.js';

describe('defect 1: Dataverse\'s sequential record ids', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 41 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('defect 1: a webhook for a record with a sequential GUID syncs the record', async () => {
    const alice = stack.users.alice!;
    const id = '5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b';
    const start = daysFromNow(3);
    stack.dataverse.admin.as(alice.systemUserId).create('appointments', {
      activityid: id,
      subject: 'Sequential id appointment',
      scheduledstart: start.toISOString(),
      scheduledend: new Date(start.getTime() + 3600_000).toISOString(),
      'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
      appointment_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})`, participationtypemask: 7 }],
    });
    await stack.settled();
    const subjects = (await events(stack, 'alice')).map((e) => e.item.subject);
    expect(subjects).toContain('Sequential id appointment');
    expect((await stack.runtime.pairs.get(alice.graph.id, id))?.status).toBe('linked');
  });

  it('defect 1: a reconciliation round with a sequential-GUID row repairs the other rows of the table too', async () => {
    const alice = stack.users.alice!;
    // Seeded without webhooks: only change tracking can find them.
    stack.dataverse.admin.seedRecords(
      'contacts',
      [
        { contactid: '7d1e2f30-4b5c-ee11-8179-000d3a1c4a2b', firstname: 'Seq', lastname: 'Sequential', emailaddress1: 'seq@fabrikam.example' },
        { contactid: '0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a7b', firstname: 'Ran', lastname: 'Random', emailaddress1: 'ran@fabrikam.example' },
      ],
      { ownerId: alice.systemUserId },
    );
    const result = await reconcileDataverse(stack.runtime);
    expect(result.errors).toEqual([]);
    expect(result.tables).toContain('contact');
    await stack.settled();
    const contacts = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'contact' })).map((c) => String(c.item.surname)).sort();
    expect(contacts).toEqual(expect.arrayContaining(['Random', 'Sequential']));
    expect(contacts.length).toBeGreaterThanOrEqual(2);
  });
});
