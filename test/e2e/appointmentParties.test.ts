// Exchange -> Dynamics 365 writes that need the record as it is now (the party list is replaced as a whole, a closed
// appointment is read-only), and the free/busy an attendee's copy takes from Dynamics 365.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { createAppointment, daysFromNow, events } from '../support/e2e.js';

type Party = { participationtypemask: number; _partyid_value?: string | null; addressused?: string | null };

describe('appointments: parties, closed states and attendee copies', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 23 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const record = (id: unknown) => stack.dataverse.admin.record('appointments', String(id))!;
  const eventOf = async (user: string, subject: string) => (await events(stack, user)).find((e) => e.item.subject === subject)!;

  it('defect 3: adding an attendee in Outlook keeps the organizer on the appointment', async () => {
    const alice = stack.users.alice!;
    const appointment = createAppointment(stack, 'alice', 'Party list', daysFromNow(5));
    await stack.settled();
    const event = await eventOf('alice', 'Party list');
    await stack.graph.admin.updateEvent(alice.graph.id, event.id, { attendees: [{ emailAddress: { address: 'carla@fabrikam.example' }, type: 'required' }] });
    await stack.settled();
    const parties = record(appointment.activityid).appointment_activity_parties as Party[];
    expect(parties.filter((p) => p.participationtypemask === 7).map((p) => p._partyid_value?.toLowerCase())).toEqual([alice.systemUserId.toLowerCase()]);
    expect(parties.filter((p) => p.participationtypemask === 5).map((p) => p.addressused?.toLowerCase())).toEqual(['carla@fabrikam.example']);
  });

  it('defect 4: a free/busy change in Outlook does not reopen a completed or canceled appointment', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const done = createAppointment(stack, 'alice', 'Done meeting', daysFromNow(6));
    const dropped = createAppointment(stack, 'alice', 'Dropped meeting', daysFromNow(6, 13));
    await stack.settled();
    as.complete('appointments', String(done.activityid));
    as.cancel('appointments', String(dropped.activityid));
    await stack.settled();
    for (const subject of ['Done meeting', 'Dropped meeting']) {
      const event = await eventOf('alice', subject);
      expect(event.item.showAs).toBe('free');
      await stack.graph.admin.updateEvent(alice.graph.id, event.id, { showAs: 'busy' });
    }
    await stack.settled();
    expect([record(done.activityid).statecode, record(done.activityid).statuscode]).toEqual([1, 3]);
    expect([record(dropped.activityid).statecode, record(dropped.activityid).statuscode]).toEqual([2, 4]);
    // Nothing is left waiting: the changes were settled without a write (no dead letter, pairs linked).
    expect(await stack.runtime.pairs.get(alice.graph.id, String(done.activityid))).toMatchObject({ status: 'linked' });
  });

  it('defect 6: an attendee\'s linked copy takes free/busy from Dynamics 365 (Busy), not Exchange\'s tentative for an unanswered invitation', async () => {
    const alice = stack.users.alice!;
    const appointment = createAppointment(stack, 'alice', 'Busy review', daysFromNow(7), ['bob']);
    stack.dataverse.admin.as(alice.systemUserId).setState('appointments', String(appointment.activityid), 3, 5);
    await stack.settled();
    expect((await eventOf('alice', 'Busy review')).item.showAs).toBe('busy');
    const bobCopy = await eventOf('bob', 'Busy review');
    expect(bobCopy.item.isOrganizer).toBe(false);
    expect(await stack.runtime.pairs.getByExchangeId(stack.users.bob!.graph.id, bobCopy.id)).toMatchObject({ status: 'linked', mirror: true });
    expect(bobCopy.item.showAs).toBe('busy');
    // The invitation itself stays unanswered: only free/busy was written, no response was sent for Bob.
    expect((bobCopy.item.responseStatus as { response?: string } | undefined)?.response ?? 'none').toMatch(/none|notResponded/);
  });
});
