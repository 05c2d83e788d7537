// Dataverse appointment <-> Exchange event: the field table and the named rules of server-side synchronization
// for appointments (docs/reference/server-side-sync-rules.md "Syncing appointments from Dynamics 365 to Exchange";
// docs/reference/platform-facts.md sections 6, 7 and 8).
import type { DateTime } from 'luxon';
import { invalidInput } from '../errors.js';
import {
  ActivityState,
  entitySetNames,
  parseDataverseRecord,
  ParticipationType,
  type DataverseActivityParty,
  type DataverseAppointment,
} from '../wire/dataverse.js';
import { parseGraphEvent, type GraphEvent, type ParsedGraphEvent } from '../wire/graph.js';
import { activityBodyRow, activityImportanceRow, activitySubjectRow, ageOf, dayMs, fitColumn, type Importance } from './common.js';
import { addressKey, checkContext, type MappingContext } from './context.js';
import { readSnapshot, withoutNulls, writeBody, type FieldTable } from './fieldTable.js';
import { canonicalText } from './text.js';
import {
  addDays,
  canonicalInstant,
  dataverseDateTimeOf,
  graphDateTimeOf,
  graphMidnightOf,
  instantOfDataverse,
  instantOfGraph,
  localDateOf,
  midnightOf,
} from './time.js';
import { withTrackedCategory } from './tracking.js';
import { dataverseColumnsOf, graphRecurrenceOf, inDataverseRange, patternColumns, patternOfDataverse, patternOfGraph, type SeriesPattern } from './recurrence.js';

/** Canonical schedule: instants (ISO UTC) for timed items, dates (`YYYY-MM-DD`, end exclusive) for all-day ones. */
export type AppointmentTime = { allDay: boolean; start: string; end: string };
export type AttendeeType = 'required' | 'optional';
export type CanonicalAttendee = { address: string; type: AttendeeType };
export type ShowAs = 'free' | 'tentative' | 'busy' | 'oof';

/** Canonical appointment snapshot: one value per row of `appointmentFields`. */
export type AppointmentSnapshot = {
  subject: string | null;
  body: string | null;
  location: string | null;
  time: AppointmentTime;
  importance: Importance;
  showAs: ShowAs;
  attendees: readonly CanonicalAttendee[];
  organizer: string | null;
  reminder: boolean;
  cancelled: boolean;
  iCalUId: string | null;
  /** The series pattern of a series master (Graph seriesMaster, Dataverse recurringappointmentmaster); null otherwise. */
  recurrence: SeriesPattern | null;
};

/** An activity party as this mapping writes it: an address for the engine to resolve, or a kept resolved party. */
export type DataverseActivityPartyBody = {
  participationtypemask: number;
  addressused?: string;
  [bind: `partyid_${string}@odata.bind`]: string;
};

/**
 * A Dataverse appointment body (logical names). `appointment_activity_parties` holds the organizer (mask 7) and
 * the attendees (5 required, 6 optional) as `{ participationtypemask, addressused }` for the engine to resolve to
 * `partyid_systemuser@odata.bind` / `partyid_contact@odata.bind` (docs/reference/platform-facts.md section 8: resolution order systemuser,
 * contact, account, lead); parties kept from the current record arrive already bound. The list replaces the
 * record's whole party collection.
 */
export type DataverseAppointmentBody = {
  subject?: string | null;
  description?: string | null;
  location?: string | null;
  scheduledstart?: string;
  scheduledend?: string;
  isalldayevent?: boolean;
  prioritycode?: 0 | 1 | 2;
  statecode?: number;
  statuscode?: number;
  globalobjectid?: string | null;
  appointment_activity_parties?: DataverseActivityPartyBody[];
  'ownerid@odata.bind'?: string;
};

const appointmentState = { Open: 0, Completed: 1, Canceled: 2, Scheduled: 3 } as const;
const appointmentStatus = { Free: 1, Tentative: 2, Completed: 3, Canceled: 4, Busy: 5, OutOfOffice: 6 } as const;

/** Rule (showAs): Completed or Canceled, or Free (Open) -> free; Tentative -> tentative; Busy -> busy; Out of Office -> oof. */
export function showAsOfAppointment(record: Pick<DataverseAppointment, 'statecode' | 'statuscode'>): ShowAs {
  if (record.statecode === appointmentState.Completed || record.statecode === appointmentState.Canceled) return 'free';
  switch (record.statuscode) {
    case appointmentStatus.Tentative:
      return 'tentative';
    case appointmentStatus.Busy:
      return 'busy';
    case appointmentStatus.OutOfOffice:
      return 'oof';
    default:
      return 'free';
  }
}

/**
 * Rule (reminder): off when the appointment is more than 7 days in the past or its status is Free (Open);
 * otherwise on. "In the past" is measured from the start, as docs/reference/platform-facts.md section 7 does for invitations; exactly
 * 7 days is not more than 7 days.
 */
export function appointmentReminderOn(record: DataverseAppointment, ctx: MappingContext): boolean {
  if (record.statecode === appointmentState.Open && record.statuscode === appointmentStatus.Free) return false;
  return ageOf(instantOfDataverse(record.scheduledstart, 'scheduledstart'), ctx) <= 7 * dayMs;
}

/** True when the syncing user organizes the appointment: the organizer party, or the owner when there is none. */
export function isSyncingUserOrganizer(record: DataverseAppointment, ctx: MappingContext): boolean {
  const organizer = (record.appointment_activity_parties ?? []).find((p) => p.participationtypemask === ParticipationType.Organizer);
  const me = ctx.mailbox.systemUserId.toLowerCase();
  if (organizer !== undefined) {
    if (organizer._partyid_value != null && organizer._partyid_value.toLowerCase() === me) return true;
    return organizer.addressused != null && addressKey(organizer.addressused) === addressKey(ctx.mailbox.address);
  }
  // Dataverse defaults the organizer to the owner; an appointment with neither is in this mailbox's sync scope
  // ("My Activities"), so it is treated as the user's own.
  return record._ownerid_value == null || record._ownerid_value.toLowerCase() === me;
}

/** How the event reaches Exchange. */
export type EventWriteMode = 'meeting' | 'withoutAttendees' | 'attendeeCopy';

/** The invitation decision for one appointment (rule "Invitations", with the reason for the README and logs). */
export type EventWriteDecision = { mode: EventWriteMode; sendInvitations: boolean; reason: string };

/**
 * Rule (invitations): none are sent when the appointment is in the past, has no attendees, or the syncing user is
 * not its organizer (docs/reference/platform-facts.md section 7).
 *
 * Decision, and why: Graph has no way to create or update an event with attendees without Exchange sending
 * meeting requests (docs/reference/platform-facts.md section 8: there is no sendInvitations flag; responseRequested only drops the reply
 * request). So:
 * - `meeting`: the user organizes a future appointment with attendees -> the event carries the attendees and
 *   creating it sends the invitations, as server-side sync does from the organizer's mailbox.
 * - `withoutAttendees`: the user organizes it but no invitation may go out (start in the past, or no attendees)
 *   -> the event is written without attendees, the only invitation-free write; the attendees stay in Dataverse.
 * - `attendeeCopy`: the user is not the organizer -> the user's copy comes from the organizer's invitation, so the
 *   engine links to the existing event with the same iCalUId (Dataverse globalobjectid) instead of creating one,
 *   and writes only the attendee's personal fields to it (`attendeeCopyFields`). Only when no such copy exists
 *   (e.g. an organizer outside Exchange) does the engine create `event`, which then carries no attendees.
 */
export function decideEventWrite(record: DataverseAppointment, ctx: MappingContext): EventWriteDecision {
  if (!isSyncingUserOrganizer(record, ctx)) {
    return { mode: 'attendeeCopy', sendInvitations: false, reason: 'the syncing user is not the organizer' };
  }
  if (attendeesOfParties(record.appointment_activity_parties).length === 0) {
    return { mode: 'withoutAttendees', sendInvitations: false, reason: 'the appointment has no attendees' };
  }
  if (ageOf(instantOfDataverse(record.scheduledstart, 'scheduledstart'), ctx) > 0) {
    return { mode: 'withoutAttendees', sendInvitations: false, reason: 'the appointment is in the past' };
  }
  return { mode: 'meeting', sendInvitations: true, reason: 'the syncing user organizes a future appointment with attendees' };
}

/** Fields an attendee may write on the copy the organizer's invitation created (docs/reference/platform-facts.md section 8: personal fields). */
export const attendeeCopyFields: readonly (keyof AppointmentSnapshot)[] = ['reminder', 'showAs'];

function attendeesOfParties(parties: readonly DataverseActivityParty[] | undefined): CanonicalAttendee[] {
  const attendees: CanonicalAttendee[] = [];
  for (const party of parties ?? []) {
    const type: AttendeeType | undefined =
      party.participationtypemask === ParticipationType.RequiredAttendee
        ? 'required'
        : party.participationtypemask === ParticipationType.OptionalAttendee
          ? 'optional'
          : undefined;
    // A party without an address cannot be invited in Exchange; it stays in Dataverse only.
    if (type !== undefined && party.addressused != null && party.addressused.trim() !== '') {
      attendees.push({ address: addressKey(party.addressused), type });
    }
  }
  return canonicalAttendees(attendees);
}

/** Sorted by address, one entry per address (required wins over optional). */
function canonicalAttendees(list: readonly CanonicalAttendee[]): CanonicalAttendee[] {
  const byAddress = new Map<string, AttendeeType>();
  for (const a of list) {
    if (byAddress.get(a.address) !== 'required') byAddress.set(a.address, a.type);
  }
  return [...byAddress.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([address, type]) => ({ address, type }));
}

function organizerOfRecord(record: DataverseAppointment, ctx: MappingContext): string | null {
  const organizer = (record.appointment_activity_parties ?? []).find((p) => p.participationtypemask === ParticipationType.Organizer);
  if (organizer?.addressused != null && organizer.addressused.trim() !== '') return addressKey(organizer.addressused);
  const id = organizer !== undefined ? organizer._partyid_value : record._ownerid_value;
  return id != null && id.toLowerCase() === ctx.mailbox.systemUserId.toLowerCase() ? addressKey(ctx.mailbox.address) : null;
}

/** The party list for a write: attendees and organizer given, or kept from the current record. */
function partiesBody(
  fields: Readonly<Record<string, unknown>>,
  current: DataverseAppointment | undefined,
): { appointment_activity_parties: DataverseActivityPartyBody[] } {
  const currentParties = current?.appointment_activity_parties ?? [];
  const kept = (masks: readonly number[]): DataverseActivityPartyBody[] =>
    currentParties.filter((p) => masks.includes(p.participationtypemask)).flatMap((p) => keptParty(p));
  const parties: DataverseActivityPartyBody[] = [];
  if ('organizer' in fields) {
    const organizer = fields['organizer'] as string | null;
    if (organizer !== null) parties.push({ participationtypemask: ParticipationType.Organizer, addressused: organizer });
  } else {
    parties.push(...kept([ParticipationType.Organizer]));
  }
  if ('attendees' in fields) {
    for (const a of fields['attendees'] as readonly CanonicalAttendee[]) {
      parties.push({
        participationtypemask: a.type === 'required' ? ParticipationType.RequiredAttendee : ParticipationType.OptionalAttendee,
        addressused: a.address,
      });
    }
  } else {
    parties.push(...kept([ParticipationType.RequiredAttendee, ParticipationType.OptionalAttendee]));
  }
  return { appointment_activity_parties: parties };
}

function keptParty(party: DataverseActivityParty): DataverseActivityPartyBody[] {
  const table = party['_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname'];
  if (party._partyid_value != null && table !== undefined) {
    const set = (entitySetNames as Record<string, string>)[table] ?? `${table}s`;
    const bound: DataverseActivityPartyBody = { participationtypemask: party.participationtypemask };
    bound[`partyid_${table}@odata.bind`] = `/${set}(${party._partyid_value})`;
    return [bound];
  }
  if (party.addressused != null && party.addressused.trim() !== '') {
    return [{ participationtypemask: party.participationtypemask, addressused: party.addressused }];
  }
  return [];
}

function timeOfRecord(record: DataverseAppointment, ctx: MappingContext): AppointmentTime {
  const start = instantOfDataverse(record.scheduledstart, 'scheduledstart');
  const end = instantOfDataverse(record.scheduledend, 'scheduledend');
  if (end < start) throw invalidInput('scheduledend', record.scheduledend, 'is before scheduledstart');
  if (record.isalldayevent !== true) return { allDay: false, start: canonicalInstant(start), end: canonicalInstant(end) };
  return allDayDates(start, end, ctx);
}

/** All-day span in the mailbox zone: the start's date, and the end's date rounded up to the next local midnight. */
function allDayDates(start: DateTime, end: DateTime, ctx: MappingContext): AppointmentTime {
  const startDate = localDateOf(start, ctx);
  const localEnd = end.setZone(ctx.timeZone);
  let endDate = localDateOf(end, ctx);
  if (!localEnd.equals(localEnd.startOf('day'))) endDate = addDays(endDate, 1);
  if (endDate <= startDate) endDate = addDays(startDate, 1);
  return { allDay: true, start: startDate, end: endDate };
}

function timeOfEvent(event: ParsedGraphEvent, ctx: MappingContext): AppointmentTime {
  if (event.isAllDay === true) {
    // All-day events are floating dates: Graph writes them at midnight of the zone they are expressed in.
    const start = event.start.dateTime.slice(0, 10);
    let end = event.end.dateTime.slice(0, 10);
    if (end <= start) end = addDays(start, 1);
    return { allDay: true, start, end };
  }
  const start = instantOfGraph(event.start, 'start', ctx);
  const end = instantOfGraph(event.end, 'end', ctx);
  if (end < start) throw invalidInput('end', event.end, 'is before start');
  return { allDay: false, start: canonicalInstant(start), end: canonicalInstant(end) };
}

function showAsOfEvent(showAs: ParsedGraphEvent['showAs']): ShowAs {
  // workingElsewhere and unknown have no Dataverse status; Busy is the closest one that blocks the time.
  return showAs === 'free' || showAs === 'tentative' || showAs === 'oof' ? showAs : 'busy';
}

function attendeesOfEvent(event: ParsedGraphEvent): CanonicalAttendee[] {
  const list: CanonicalAttendee[] = [];
  for (const a of event.attendees ?? []) {
    const address = a.emailAddress?.address;
    // Resources (rooms, equipment) are Exchange-only: appointments have no resource party.
    if (a.type === 'resource' || address == null || address.trim() === '') continue;
    list.push({ address: addressKey(address), type: a.type === 'optional' ? 'optional' : 'required' });
  }
  return canonicalAttendees(list);
}

const closedStates: readonly number[] = [ActivityState.Completed, ActivityState.Canceled];

/** The appointment field table (server-side sync's synchronized fields for appointments). */
export const appointmentFields: FieldTable<AppointmentSnapshot, DataverseAppointment, ParsedGraphEvent> = [
  activitySubjectRow('subject', 'subject', (e) => e.subject),
  activityBodyRow(),
  {
    name: 'location',
    dataverse: ['location'],
    graph: ['location.displayName'],
    direction: 'Both',
    conversion: { toExchange: 'location display name', toDataverse: 'display name, cut to 200 characters' },
    fromDataverse: (r) => canonicalText(r.location),
    fromExchange: (e) => canonicalText(e.location?.displayName),
    toExchange: (v) => ({ location: { displayName: v ?? '' } }),
    toDataverse: (v) => ({ location: fitColumn(v, 200) }),
  },
  {
    name: 'time',
    dataverse: ['scheduledstart', 'scheduledend', 'isalldayevent'],
    graph: ['start', 'end', 'isAllDay'],
    direction: 'Both',
    conversion: {
      toExchange: 'UTC -> local time in the mailbox zone (Windows zone name); all-day -> isAllDay at local midnight',
      toDataverse: 'local time (Windows or IANA zone) -> UTC; all-day -> local midnight of the mailbox zone in UTC',
    },
    fromDataverse: (r, ctx) => timeOfRecord(r, ctx),
    fromExchange: (e, ctx) => timeOfEvent(e, ctx),
    toExchange: (v, ctx) =>
      v.allDay
        ? { isAllDay: true, start: graphMidnightOf(v.start, ctx), end: graphMidnightOf(v.end, ctx) }
        : {
            isAllDay: false,
            start: graphDateTimeOf(instantOfDataverse(v.start, 'start'), ctx),
            end: graphDateTimeOf(instantOfDataverse(v.end, 'end'), ctx),
          },
    toDataverse: (v, ctx) =>
      v.allDay
        ? {
            isalldayevent: true,
            scheduledstart: dataverseDateTimeOf(midnightOf(v.start, ctx)),
            scheduledend: dataverseDateTimeOf(midnightOf(v.end, ctx)),
          }
        : { isalldayevent: false, scheduledstart: v.start, scheduledend: v.end },
  },
  activityImportanceRow(),
  {
    name: 'showAs',
    dataverse: ['statecode', 'statuscode'],
    graph: ['showAs'],
    direction: 'Both',
    conversion: {
      toExchange: 'Completed, Canceled or Free (Open) -> free; Tentative -> tentative; Busy -> busy; Out of Office -> oof',
      toDataverse:
        'free -> Open/Free; tentative -> Open/Tentative; busy, workingElsewhere, unknown -> Scheduled/Busy; oof -> Scheduled/Out of Office; a closed appointment is not reopened',
    },
    fromDataverse: (r) => showAsOfAppointment(r),
    // A cancelled meeting is free time, as a Canceled appointment is (the rule above).
    fromExchange: (e) => (e.isCancelled === true ? 'free' : showAsOfEvent(e.showAs)),
    toExchange: (v) => ({ showAs: v }),
    toDataverse: (v, _ctx, current, fields) => {
      // Cancellation wins over free/busy; closed activities are read-only in Dataverse (statecode descriptions).
      if (fields['cancelled'] === true || (current !== undefined && closedStates.includes(current.statecode))) return {};
      const [statecode, statuscode] =
        v === 'free'
          ? [appointmentState.Open, appointmentStatus.Free]
          : v === 'tentative'
            ? [appointmentState.Open, appointmentStatus.Tentative]
            : v === 'oof'
              ? [appointmentState.Scheduled, appointmentStatus.OutOfOffice]
              : [appointmentState.Scheduled, appointmentStatus.Busy];
      return { statecode, statuscode };
    },
  },
  {
    name: 'attendees',
    dataverse: ['appointment_activity_parties (participationtypemask 5 required, 6 optional; addressused)'],
    graph: ['attendees (type required, optional)'],
    direction: 'Both',
    conversion: {
      toExchange: 'each party with an address -> attendee of its type; written only as the invitation rule allows',
      toDataverse: 'each attendee -> { participationtypemask, addressused } for the engine to resolve; resources are not synced',
    },
    fromDataverse: (r) => attendeesOfParties(r.appointment_activity_parties),
    fromExchange: (e) => attendeesOfEvent(e),
    toExchange: (v, _ctx, current) => ({
      attendees: [
        ...v.map((a) => ({ type: a.type, emailAddress: { address: a.address } })),
        // Rooms and equipment are Exchange's own: a rewrite keeps them.
        ...(current?.attendees ?? []).filter((a) => a.type === 'resource'),
      ],
    }),
    toDataverse: (_v, _ctx, current, fields) => partiesBody(fields, current),
  },
  {
    name: 'organizer',
    dataverse: ['appointment_activity_parties (participationtypemask 7)'],
    graph: ['organizer.emailAddress.address'],
    direction: 'ToDataverse',
    conversion: {
      toExchange: 'not written: Exchange makes the mailbox that creates the meeting its organizer (drives the invitation rule)',
      toDataverse: 'organizer address -> { participationtypemask: 7, addressused } for the engine to resolve',
    },
    fromDataverse: (r, ctx) => organizerOfRecord(r, ctx),
    fromExchange: (e) => (e.organizer?.emailAddress?.address ? addressKey(e.organizer.emailAddress.address) : null),
    toExchange: () => ({}),
    toDataverse: (_v, _ctx, current, fields) => partiesBody(fields, current),
  },
  {
    name: 'reminder',
    dataverse: ['scheduledstart', 'statecode', 'statuscode'],
    graph: ['isReminderOn'],
    direction: 'ToExchange',
    conversion: {
      toExchange: 'off when the start is more than 7 days in the past or the status is Free (Open); otherwise on',
      toDataverse: 'not written (Dataverse appointments have no reminder)',
    },
    fromDataverse: (r, ctx) => appointmentReminderOn(r, ctx),
    fromExchange: (e) => e.isReminderOn === true,
    toExchange: (v) => ({ isReminderOn: v }),
    toDataverse: () => ({}),
  },
  {
    name: 'cancelled',
    dataverse: ['statecode', 'statuscode'],
    graph: ['isCancelled'],
    direction: 'ToDataverse',
    conversion: {
      toExchange: 'not written: cancelling in Dynamics 365 does not reach Exchange by default (docs/reference/platform-facts.md section 7)',
      toDataverse: 'true -> Canceled/Canceled (statecode 2, statuscode 4)',
    },
    fromDataverse: (r) => r.statecode === appointmentState.Canceled,
    fromExchange: (e) => e.isCancelled === true,
    toExchange: () => ({}),
    toDataverse: (v) => (v ? { statecode: appointmentState.Canceled, statuscode: appointmentStatus.Canceled } : {}),
  },
  {
    name: 'iCalUId',
    dataverse: ['globalobjectid'],
    graph: ['iCalUId'],
    direction: 'ToDataverse',
    conversion: { toExchange: 'not written (read-only in Graph)', toDataverse: 'copied, so attendee copies can be linked' },
    fromDataverse: (r) => canonicalText(r.globalobjectid),
    fromExchange: (e) => canonicalText(e.iCalUId),
    toExchange: () => ({}),
    toDataverse: (v) => ({ globalobjectid: v }),
  },
  {
    name: 'recurrence',
    dataverse: [...patternColumns, 'starttime', 'endtime'],
    graph: ['recurrence', 'originalStartTimeZone'],
    direction: 'Both',
    conversion: {
      toExchange: 'pattern columns -> patternedRecurrence (README "Recurring series" pattern table); range in the series zone',
      toDataverse: 'patternedRecurrence -> pattern columns and utcconversiontimezonecode; a pattern Dataverse cannot hold leaves the series out with the reason',
    },
    // Only a series master has a pattern: a single appointment, an instance and an occurrence read null.
    fromDataverse: (r, ctx) => (typeof (r as Record<string, unknown>).recurrencepatterntype === 'number' ? patternOfDataverse(r, ctx.timeZone) : null),
    fromExchange: (e, ctx) => {
      const recurrence = (e as Record<string, unknown>).recurrence;
      if (recurrence === null || recurrence === undefined) return null;
      const zone = (e as { originalStartTimeZone?: string | null }).originalStartTimeZone;
      // Compared in the form Dataverse holds (a numbered range above 999 as its end date), see inDataverseRange.
      return inDataverseRange(patternOfGraph(recurrence, zone && zone !== 'tzone://Microsoft/Custom' ? zone : ctx.timeZone));
    },
    toExchange: (v) => (v ? { recurrence: graphRecurrenceOf(v) } : {}),
    toDataverse: (v, _ctx, current) => (v ? dataverseColumnsOf(v, current === undefined) : {}),
  },
  {
    name: 'regarding',
    dataverse: ['regardingobjectid'],
    graph: [],
    direction: 'None',
    conversion: { toExchange: 'not synced', toDataverse: 'not synced (set in Dynamics 365 or by tracking)' },
  },
  {
    name: 'owner',
    dataverse: ['ownerid'],
    graph: [],
    direction: 'None',
    conversion: { toExchange: 'decides which mailbox syncs the appointment', toDataverse: 'new records are owned by the mailbox user' },
  },
];

/** Canonical snapshot of a Dataverse appointment (validated first). */
export function appointmentSnapshotFromDataverse(record: unknown, ctx: MappingContext): AppointmentSnapshot {
  checkContext(ctx);
  return readSnapshot(appointmentFields, 'dataverse', parseDataverseRecord('appointment', record), ctx);
}

/** Canonical snapshot of a Graph event (validated first). */
export function appointmentSnapshotFromExchange(event: unknown, ctx: MappingContext): AppointmentSnapshot {
  checkContext(ctx);
  return readSnapshot(appointmentFields, 'exchange', parseGraphEvent(event), ctx);
}

/** Graph event body for the given appointment fields; with `current` (the event now), unchanged fields are left out. */
export function appointmentExchangeBody(fields: Partial<AppointmentSnapshot>, ctx: MappingContext, current?: unknown): GraphEvent {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseGraphEvent(current);
  return writeBody(appointmentFields, 'exchange', fields, ctx, now, 'appointmentFields');
}

/** Dataverse appointment body for the given fields; with `current` (the record now), unchanged fields are left out. */
export function appointmentDataverseBody(
  fields: Partial<AppointmentSnapshot>,
  ctx: MappingContext,
  current?: unknown,
): DataverseAppointmentBody {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseDataverseRecord('appointment', current);
  return writeBody(appointmentFields, 'dataverse', fields, ctx, now, 'appointmentFields');
}

/** What `appointmentToEvent` returns: the event body, whether writing it sends invitations, and how to write it. */
export type AppointmentToEventResult = {
  /** Graph event body in the mailbox zone, tagged with the tracked category. */
  event: GraphEvent;
  /** True only in mode `meeting`: creating `event` makes Exchange send the invitations. */
  sendInvitations: boolean;
  mode: EventWriteMode;
  /** Why the mode was chosen (the invitation rule's reason). */
  reason: string;
  /** For mode `attendeeCopy`: the iCalUId (Dataverse globalobjectid) of the organizer's invitation to link to. */
  linkToICalUId: string | null;
  /** Snapshot fields this event does not carry (the merge must not compare or write them back for this item). */
  unsyncedFields: readonly (keyof AppointmentSnapshot)[];
};

/** Maps a Dataverse appointment to the Exchange event to create, applying the invitation, showAs and reminder rules. */
export function appointmentToEvent(appointment: DataverseAppointment | Record<string, unknown>, ctx: MappingContext): AppointmentToEventResult {
  checkContext(ctx);
  const record = parseDataverseRecord('appointment', appointment);
  const snapshot = readSnapshot(appointmentFields, 'dataverse', record, ctx);
  const decision = decideEventWrite(record, ctx);
  const dropsAttendees = decision.mode !== 'meeting' && snapshot.attendees.length > 0;
  const fields: AppointmentSnapshot = dropsAttendees ? { ...snapshot, attendees: [] } : snapshot;
  const event = writeBody(appointmentFields, 'exchange', fields, ctx, undefined, 'appointmentFields') as GraphEvent;
  event.categories = withTrackedCategory([]);
  return {
    event,
    sendInvitations: decision.sendInvitations,
    mode: decision.mode,
    reason: decision.reason,
    linkToICalUId: decision.mode === 'attendeeCopy' ? snapshot.iCalUId : null,
    unsyncedFields: dropsAttendees ? ['attendees'] : [],
  };
}

/**
 * Maps an Exchange event to a Dataverse appointment body for a create: status from showAs and isCancelled, owned
 * by the mailbox user (`ownerid@odata.bind: /systemusers(<ctx.mailbox.systemUserId>)`). The parties arrive as
 * `appointment_activity_parties: [{ participationtypemask: 7, addressused }, { participationtypemask: 5 | 6,
 * addressused }, ...]`: the organizer first (absent when the event has none), then the required and optional
 * attendees sorted by address, every address lower-cased, no partyid. The engine resolves each to a
 * `partyid_systemuser@odata.bind` / `partyid_contact@odata.bind` (keeping or dropping `addressused`) before it
 * writes; an address that resolves to nothing may stay as an unresolved party. statecode/statuscode are not valid
 * on create: see `separateStateChange`.
 */
export function eventToAppointment(event: GraphEvent | Record<string, unknown>, ctx: MappingContext): DataverseAppointmentBody {
  checkContext(ctx);
  const snapshot = readSnapshot(appointmentFields, 'exchange', parseGraphEvent(event), ctx);
  const body = writeBody(appointmentFields, 'dataverse', snapshot, ctx, undefined, 'appointmentFields') as DataverseAppointmentBody;
  return withoutNulls({ ...body, 'ownerid@odata.bind': `/${entitySetNames.systemuser}(${ctx.mailbox.systemUserId})` });
}
