// A meeting organized by someone whose mailbox the sync does not serve: the attendee's tracked copy is the only
// link to Dynamics 365, so the organizer's later changes must flow through it (it is not a mirror).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUsers, startStack, type Stack } from '../../dev/stack/index.js';
import { disableMailbox } from '../../shared/onboarding/mailbox.js';
import { appointments, daysFromNow, events, outlookEvent, tracked } from '../support/e2e.js';

describe('meetings organized outside the synced mailboxes', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      seed: 17,
      users: [...defaultUsers, { key: 'carol', userPrincipalName: 'carol@contoso.example', displayName: 'Carol Clark', timeZone: 'UTC' }],
    });
    await disableMailbox(stack.runtime, 'carol@contoso.example');
  }, 60_000);
  afterAll(async () => stack?.close());

  it('an attendee tracks the meeting: one appointment, and the organizer\'s reschedule reaches it through the attendee\'s copy', async () => {
    const bob = stack.users.bob!;
    const meeting = await outlookEvent(stack, 'carol', 'Vendor demo', daysFromNow(9, 15), { attendees: ['bob@contoso.example'] });
    await stack.settled();
    const bobsCopy = (await events(stack, 'bob')).find((e) => e.item.subject === 'Vendor demo')!;
    expect(bobsCopy.item.isOrganizer).toBe(false);
    await stack.graph.admin.setCategory(bob.graph.id, 'event', bobsCopy.id, tracked, true);
    await stack.settled();
    const [record] = appointments(stack).filter((a) => a.subject === 'Vendor demo');
    expect(record?._ownerid_value).toBe(bob.systemUserId);
    await stack.graph.admin.updateEvent(stack.users.carol!.graph.id, String(meeting.id), { subject: 'Vendor demo (moved)' });
    await stack.settled();
    expect(stack.dataverse.admin.record('appointments', String(record!.activityid))?.subject).toBe('Vendor demo (moved)');
    expect(appointments(stack).filter((a) => String(a.subject).startsWith('Vendor demo'))).toHaveLength(1);
  });
});
