// Conflicts (the same field changed on both sides before the sync saw either) and the cancellation setting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { LogProps } from '../../shared/log.js';
import { dataverseChange } from '../../shared/servicebus/messages.js';
import { appointments, createAppointment, daysFromNow, events } from '../support/e2e.js';

describe('conflicts and settings', () => {
  let stack: Stack;
  const warnings: { message: string; props: LogProps }[] = [];
  beforeAll(async () => {
    stack = await startStack({
      seed: 5,
      env: { SYNC_PROPAGATE_CANCELLATIONS: 'true' },
      logSink: (level, message, props) => {
        if (level === 'warn') warnings.push({ message, props });
      },
    });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('the same field changed on both sides: the later modification wins (default policy), logged with both timestamps', async () => {
    const alice = stack.users.alice!;
    const appointment = createAppointment(stack, 'alice', 'Budget', daysFromNow(12));
    await stack.settled();
    const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Budget');
    // Hold the worker's Graph write of the Dynamics 365 edit, so the Outlook edit happens before it lands: the write,
    // conditional on the etag the sync last saw, then fails, and the worker merges both sides.
    const hold = stack.graph.admin.holdRequests();
    stack.dataverse.admin.as(alice.systemUserId).update('appointments', String(appointment.activityid), { subject: 'Budget (D365)' });
    await hold.waitForHeld(1);
    await stack.graph.admin.updateEvent(alice.graph.id, event!.id, { subject: 'Budget (Outlook)' });
    hold.release();
    await stack.settled();
    expect(stack.dataverse.admin.record('appointments', String(appointment.activityid))?.subject).toBe('Budget (Outlook)');
    expect((await events(stack, 'alice')).find((e) => e.id === event!.id)?.item.subject).toBe('Budget (Outlook)');
    const conflict = warnings.find((w) => w.message.startsWith('conflict'));
    expect(conflict?.props).toMatchObject({ field: 'subject', winner: 'exchange', policy: 'lastModifiedWins' });
    expect(conflict?.props.dataverseModifiedOn).toBeTruthy();
    expect(conflict?.props.exchangeModifiedOn).toBeTruthy();
  });

  it('with SYNC_PROPAGATE_CANCELLATIONS, cancelling a future meeting in Dynamics 365 cancels it in Exchange and notifies the attendees', async () => {
    const appointment = createAppointment(stack, 'alice', 'Offsite', daysFromNow(20), ['bob']);
    await stack.settled();
    const [event] = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Offsite');
    stack.dataverse.admin.as(stack.users.alice!.systemUserId).cancel('appointments', String(appointment.activityid));
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Offsite')).toEqual([]);
    const cancellations = (await stack.graph.admin.invitations({ iCalUId: String(event!.item.iCalUId) })).filter((i) => i.type === 'cancellation');
    expect(cancellations.map((c) => c.recipients)).toEqual([['bob@contoso.example']]);
    // The appointment stays in Dynamics 365, canceled.
    expect(appointments(stack).find((a) => a.activityid === appointment.activityid)?.statecode).toBe(2);
    // A later change of the canceled record (here a reconciliation's; under load, the retry of the cancel's own change
    // after a conflict on the attendee's copy) finds no pair for the organizer: it does not create the meeting again,
    // nor invite anyone to it.
    const invitationsBefore = (await stack.graph.admin.invitations()).length;
    await stack.runtime.sender.send([dataverseChange({ entity: 'appointment', recordId: String(appointment.activityid), message: 'Reconcile' }, { receivedAt: new Date().toISOString() })]);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Offsite')).toEqual([]);
    expect((await stack.graph.admin.invitations()).length).toBe(invitationsBefore);
  });
});
