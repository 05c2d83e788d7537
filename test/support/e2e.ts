// Helpers for end-to-end tests against the local stack (dev/stack): people acting in Dynamics 365 and Outlook, and
// what the sync then did. Nothing here fakes the sync: it only drives the simulators' admin APIs.
import type { Stack } from '../../dev/stack/index.js';
import type { CallCounts } from '../../shared/runtime.js';

export const tracked = 'Tracked to Dynamics 365';

/** A whole hour `days` from now (UTC). */
export function hoursFromNow(hours: number): Date {
  const d = new Date(Date.now() + hours * 3600_000);
  d.setUTCMinutes(0, 0, 0);
  return d;
}

export function daysFromNow(days: number, hourUtc = 9): Date {
  const d = new Date(Date.now() + days * 86400_000);
  d.setUTCHours(hourUtc, 0, 0, 0);
  return d;
}

/** A person in Dynamics 365 creates an appointment they organize, with optional required attendees (stack user keys). */
export function createAppointment(stack: Stack, organizer: string, subject: string, start: Date, attendees: string[] = []) {
  const org = stack.users[organizer]!;
  return stack.dataverse.admin.as(org.systemUserId).create('appointments', {
    subject,
    scheduledstart: start.toISOString(),
    scheduledend: new Date(start.getTime() + 3600_000).toISOString(),
    'ownerid@odata.bind': `/systemusers(${org.systemUserId})`,
    appointment_activity_parties: [
      { 'partyid_systemuser@odata.bind': `/systemusers(${org.systemUserId})`, participationtypemask: 7 },
      ...attendees.map((a) => ({ 'partyid_systemuser@odata.bind': `/systemusers(${stack.users[a]!.systemUserId})`, participationtypemask: 5 })),
    ],
  });
}

/** A person in Outlook creates an event in their calendar. */
export async function outlookEvent(stack: Stack, user: string, subject: string, start: Date, options: { track?: boolean; attendees?: string[] } = {}) {
  const u = stack.users[user]!;
  return stack.graph.admin.createEvent(u.graph.id, {
    subject,
    start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
    end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
    ...(options.track ? { categories: [tracked] } : {}),
    ...(options.attendees ? { attendees: options.attendees.map((a) => ({ emailAddress: { address: a }, type: 'required' })) } : {}),
  });
}

export async function events(stack: Stack, user: string) {
  return stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'event' });
}

export function appointments(stack: Stack) {
  return stack.dataverse.admin.records('appointments');
}

/** API calls the product made between two snapshots of its counters. */
export function callsSince(stack: Stack, before: CallCounts): CallCounts {
  const now = stack.runtime.calls;
  return {
    graphRead: now.graphRead - before.graphRead,
    graphWrite: now.graphWrite - before.graphWrite,
    dataverseRead: now.dataverseRead - before.dataverseRead,
    dataverseWrite: now.dataverseWrite - before.dataverseWrite,
  };
}

export const snapshotCalls = (stack: Stack): CallCounts => ({ ...stack.runtime.calls });
