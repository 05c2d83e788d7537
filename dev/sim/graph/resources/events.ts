// Calendar events (GDC api-reference/v1.0/resources/event.md): create, update, delete, cancel and respond, with
// the meeting behaviour Exchange applies in the organizer's mailbox: invitations on create, updates on change
// (only to changed attendees when only `attendees` changed; event-update.md), cancellations on delete or cancel,
// and the meeting copy in each simulated attendee's calendar (same iCalUId, isOrganizer false).
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import type { InvitationLog } from '../invitations.js';
import type { RecurrenceBehaviour } from '../options.js';
import { findOccurrence, parseRecurrence, renderRecurrence, sameRecurrence, type PatternedRecurrence } from '../recurrence.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { isLocalMidnight, localDate, midnightOf, utcTimestamp0, utcTimestamp7, type ResolvedZone } from '../timeZones.js';
import { collectionKeys, type Actor, type World } from '../world.js';
import {
  applyExtendedProperties,
  bodyAsHtml,
  bodyPreview,
  checkIfMatch,
  dateTimeTimeZoneInput,
  extendedPropertiesInput,
  extendedPropertyKeys,
  htmlToText,
  itemBodyInput,
  parseBody,
  parseDateTimeTimeZone,
  recipientInput,
  rejectUnknownProperties,
  zoned,
  type PresentOptions,
  type ResourceSpec,
} from './common.js';
import { occurrenceId, occurrenceRecord, parseOccurrenceId, plainOccurrences, timingOf } from './series.js';

export interface AttendeeData {
  type: 'required' | 'optional' | 'resource';
  status: { response: string; time: string };
  emailAddress: { name: string; address: string };
}

export interface EventData {
  subject: string;
  body: { contentType: 'text' | 'html'; content: string };
  start: number;
  end: number;
  startZone: ResolvedZone;
  endZone: ResolvedZone;
  isAllDay: boolean;
  showAs: string;
  importance: string;
  sensitivity: string;
  isReminderOn: boolean;
  reminderMinutesBeforeStart: number;
  responseRequested: boolean;
  allowNewTimeProposals: boolean;
  hideAttendees: boolean;
  isOnlineMeeting: boolean;
  onlineMeetingProvider: string;
  categories: string[];
  location: Record<string, unknown>;
  locations: Record<string, unknown>[];
  attendees: AttendeeData[];
  organizer: { emailAddress: { name: string; address: string } };
  isOrganizer: boolean;
  responseStatus: { response: string; time: string };
  isCancelled: boolean;
  iCalUId: string;
  transactionId: string | null;
  /** Stored items are singleInstance, seriesMaster or exception; occurrences are computed (series.ts). */
  type: 'singleInstance' | 'seriesMaster' | 'occurrence' | 'exception';
  recurrence: PatternedRecurrence | null;
  seriesMasterId: string | null;
  /** Occurrences and exceptions: the start the occurrence had in the pattern (UTC ms). */
  originalStart: number | null;
  /** Masters: original starts of cancelled (deleted) occurrences. */
  cancelled: number[];
  /** Masters: original starts of the occurrences replaced by exception items. */
  exceptionStarts: number[];
}

export type EventRecord = ItemRecord<EventData>;

const NEVER = '0001-01-01T00:00:00Z';
const locationInput = z.object({
  displayName: z.string().nullable().optional(),
  locationType: z.string().optional(),
  uniqueId: z.string().nullable().optional(),
  uniqueIdType: z.string().optional(),
  address: z.record(z.string(), z.unknown()).nullable().optional(),
  coordinates: z.record(z.string(), z.unknown()).nullable().optional(),
  locationEmailAddress: z.string().nullable().optional(),
  locationUri: z.string().nullable().optional(),
});
const attendeeInput = z.object({
  emailAddress: z.object({ address: z.string().min(1, 'an attendee needs an address'), name: z.string().nullable().optional() }),
  type: z.enum(['required', 'optional', 'resource']).optional(),
  status: z.unknown().optional(),
  proposedNewTime: z.unknown().optional(),
});

export const eventInput = z.object({
  recurrence: z.unknown().optional(),
  subject: z.string().nullable().optional(),
  body: itemBodyInput.nullable().optional(),
  start: dateTimeTimeZoneInput.optional(),
  end: dateTimeTimeZoneInput.optional(),
  isAllDay: z.boolean().optional(),
  showAs: z.enum(['free', 'tentative', 'busy', 'oof', 'workingElsewhere', 'unknown']).optional(),
  importance: z.enum(['low', 'normal', 'high']).optional(),
  sensitivity: z.enum(['normal', 'personal', 'private', 'confidential']).optional(),
  isReminderOn: z.boolean().optional(),
  reminderMinutesBeforeStart: z.number().int().min(0).optional(),
  responseRequested: z.boolean().optional(),
  allowNewTimeProposals: z.boolean().optional(),
  hideAttendees: z.boolean().optional(),
  isOnlineMeeting: z.boolean().optional(),
  onlineMeetingProvider: z.enum(['unknown', 'teamsForBusiness', 'skypeForBusiness', 'skypeForConsumer']).optional(),
  categories: z.array(z.string()).nullable().optional(),
  location: locationInput.nullable().optional(),
  locations: z.array(locationInput).nullable().optional(),
  attendees: z.array(attendeeInput).max(500, 'an event has at most 500 attendees').nullable().optional(),
  transactionId: z.string().max(256).nullable().optional(),
  singleValueExtendedProperties: extendedPropertiesInput.optional(),
  organizer: recipientInput.optional(),
});
type EventInput = z.infer<typeof eventInput>;

const WRITABLE = new Set(Object.keys(eventInput.shape).concat(['originalStartTimeZone', 'originalEndTimeZone']));
const READ_ONLY = [
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'iCalUId',
  'bodyPreview',
  'hasAttachments',
  'isOrganizer',
  'isCancelled',
  'isDraft',
  'responseStatus',
  'seriesMasterId',
  'type',
  'webLink',
  'onlineMeetingUrl',
  'onlineMeeting',
  'originalStart',
  'cancelledOccurrences',
];
const KNOWN = new Set([...WRITABLE, ...READ_ONLY]);

/** Properties whose change by the organizer makes Exchange send a meeting update (personal ones do not). */
export const MEETING_FIELDS = new Set(['subject', 'body', 'start', 'end', 'recurrence', 'isAllDay', 'location', 'locations', 'importance', 'sensitivity', 'isOnlineMeeting', 'onlineMeetingProvider', 'allowNewTimeProposals', 'responseRequested', 'hideAttendees']);

const EVENT_PROPERTIES = [
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'transactionId',
  'originalStartTimeZone',
  'originalEndTimeZone',
  'iCalUId',
  'reminderMinutesBeforeStart',
  'isReminderOn',
  'hasAttachments',
  'subject',
  'bodyPreview',
  'importance',
  'sensitivity',
  'isAllDay',
  'isCancelled',
  'isOrganizer',
  'responseRequested',
  'seriesMasterId',
  'showAs',
  'type',
  'webLink',
  'onlineMeetingUrl',
  'isOnlineMeeting',
  'onlineMeetingProvider',
  'allowNewTimeProposals',
  'isDraft',
  'hideAttendees',
  'responseStatus',
  'body',
  'start',
  'end',
  'location',
  'locations',
  'recurrence',
  'attendees',
  'organizer',
  'onlineMeeting',
  'originalStart',
  'cancelledOccurrences',
  'exceptionOccurrences',
];

function renderTime(ms: number, zone: ResolvedZone, allDay: boolean, originalZone: ResolvedZone): { dateTime: string; timeZone: string } {
  // All-day events are floating: Graph returns midnight-to-midnight in whatever zone is asked for.
  if (allDay) return { dateTime: `${localDate(ms, originalZone)}T00:00:00.0000000`, timeZone: zone.label };
  return zoned(ms, zone);
}

export const eventSpec: ResourceSpec = {
  typeName: 'event',
  etag: true,
  properties: new Set(EVENT_PROPERTIES.map((p) => p.toLowerCase())),
  view(record) {
    const d = (record as EventRecord).data;
    const utc = { iana: 'UTC', windows: 'UTC', label: 'UTC', isUtc: true };
    return {
      id: record.id,
      createdDateTime: utcTimestamp7(record.createdAt),
      lastModifiedDateTime: utcTimestamp7(record.modifiedAt),
      changeKey: record.changeKey,
      categories: [...d.categories],
      transactionId: d.transactionId,
      originalStartTimeZone: d.startZone.windows,
      originalEndTimeZone: d.endZone.windows,
      iCalUId: d.iCalUId,
      reminderMinutesBeforeStart: d.reminderMinutesBeforeStart,
      isReminderOn: d.isReminderOn,
      hasAttachments: false,
      subject: d.subject,
      bodyPreview: bodyPreview(d.body),
      importance: d.importance,
      sensitivity: d.sensitivity,
      isAllDay: d.isAllDay,
      isCancelled: d.isCancelled,
      isOrganizer: d.isOrganizer,
      responseRequested: d.responseRequested,
      seriesMasterId: d.seriesMasterId,
      showAs: d.showAs,
      type: d.type,
      webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(record.id)}&exvsurl=1&path=/calendar/item`,
      onlineMeetingUrl: null,
      isOnlineMeeting: d.isOnlineMeeting,
      onlineMeetingProvider: d.onlineMeetingProvider,
      allowNewTimeProposals: d.allowNewTimeProposals,
      isDraft: false,
      hideAttendees: d.hideAttendees,
      responseStatus: { ...d.responseStatus },
      body: bodyAsHtml(d.body),
      start: renderTime(d.start, utc, d.isAllDay, d.startZone),
      end: renderTime(d.end, utc, d.isAllDay, d.endZone),
      location: structuredClone(d.location),
      locations: structuredClone(d.locations),
      recurrence: d.recurrence ? renderRecurrence(d.recurrence) : null,
      ...(d.originalStart !== null ? { originalStart: utcTimestamp0(d.originalStart) } : {}),
      attendees: d.attendees.map((a) => ({ type: a.type, status: { ...a.status }, emailAddress: { ...a.emailAddress } })),
      organizer: { emailAddress: { ...d.organizer.emailAddress } },
      onlineMeeting: null,
    };
  },
  adjust(out, record, opts) {
    const d = (record as EventRecord).data;
    if ('start' in out) out.start = renderTime(d.start, opts.zone, d.isAllDay, d.startZone);
    if ('end' in out) out.end = renderTime(d.end, opts.zone, d.isAllDay, d.endZone);
    if (opts.bodyAsText && 'body' in out) out.body = { contentType: 'text', content: d.body.contentType === 'html' ? htmlToText(d.body.content) : d.body.content };
  },
};

function renderLocation(input: z.infer<typeof locationInput> | null | undefined): Record<string, unknown> {
  const name = input?.displayName ?? '';
  if (!name) return { displayName: '', locationType: 'default', uniqueIdType: 'unknown', address: {}, coordinates: {} };
  const out: Record<string, unknown> = { displayName: name, locationType: input?.locationType ?? 'default', uniqueId: input?.uniqueId ?? name, uniqueIdType: input?.uniqueIdType ?? 'private' };
  if (input?.address) out.address = input.address;
  if (input?.coordinates) out.coordinates = input.coordinates;
  if (input?.locationEmailAddress) out.locationEmailAddress = input.locationEmailAddress;
  return out;
}

function locationsFrom(location: Record<string, unknown>): Record<string, unknown>[] {
  return location.displayName ? [{ displayName: location.displayName, locationType: location.locationType ?? 'default', uniqueIdType: 'unknown' }] : [];
}

const lower = (s: string) => s.toLowerCase();
const attendeeKey = (a: AttendeeData) => `${lower(a.emailAddress.address)}|${a.type}`;

function fieldFingerprint(d: EventData, field: string): string {
  switch (field) {
    case 'start':
      return `${d.start}|${d.startZone.windows}`;
    case 'end':
      return `${d.end}|${d.endZone.windows}`;
    case 'attendees':
      return d.attendees.map(attendeeKey).sort().join(',');
    default:
      return JSON.stringify((d as unknown as Record<string, unknown>)[field]);
  }
}

const COMPARED_FIELDS = [...MEETING_FIELDS, 'attendees', 'categories', 'showAs', 'isReminderOn', 'reminderMinutesBeforeStart'];

/** Event rules for one tenant. */
export class EventService {
  constructor(
    private readonly world: World,
    private readonly invitations: InvitationLog,
    private readonly behaviour: () => RecurrenceBehaviour,
  ) {}

  collectionKey(mb: Mailbox): string {
    return collectionKeys.events(mb.user.id);
  }

  indexKeys(record: EventRecord): string[] {
    const d = record.data;
    const keys = [`ical:${lower(d.iCalUId)}`, ...d.categories.map((c) => `cat:${lower(c)}`), ...extendedPropertyKeys(record.ext)];
    if (d.transactionId) keys.push(`tx:${lower(d.transactionId)}`);
    return keys;
  }

  /** POST /events. Returns the existing item when transactionId repeats a live item's (a retried create). */
  create(mb: Mailbox, body: unknown, actor: Actor): { record: EventRecord; replayed: boolean } {
    const input = this.parse(body);
    if (input.transactionId) {
      const existingId = mb.transactionIds.get(input.transactionId);
      const existing = existingId === undefined ? undefined : this.world.items.get(existingId);
      if (existing) return { record: existing as EventRecord, replayed: true };
    }
    if (!input.start || !input.end) throw new GraphError(400, 'ErrorPropertyValidationFailure', `At least one property failed validation. (An event needs both start and end; missing ${input.start ? 'end' : 'start'}.)`);
    const start = parseDateTimeTimeZone(input.start, 'start');
    const end = parseDateTimeTimeZone(input.end, 'end');
    const location = renderLocation(input.location ?? (input.locations?.[0] ? { displayName: input.locations.map((l) => l.displayName ?? '').join('; ') } : undefined));
    const now = this.world.clock.now();
    const data: EventData = {
      subject: input.subject ?? '',
      body: { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' },
      start: start.ms,
      end: end.ms,
      startZone: start.zone,
      endZone: end.zone,
      isAllDay: input.isAllDay ?? false,
      showAs: input.showAs ?? 'busy',
      importance: input.importance ?? 'normal',
      sensitivity: input.sensitivity ?? 'normal',
      isReminderOn: input.isReminderOn ?? true,
      reminderMinutesBeforeStart: input.reminderMinutesBeforeStart ?? 15,
      responseRequested: input.responseRequested ?? true,
      allowNewTimeProposals: input.allowNewTimeProposals ?? true,
      hideAttendees: input.hideAttendees ?? false,
      isOnlineMeeting: input.isOnlineMeeting ?? false,
      onlineMeetingProvider: input.onlineMeetingProvider ?? 'unknown',
      categories: input.categories ?? [],
      location,
      locations: input.locations ? input.locations.map((l) => ({ displayName: l.displayName ?? '', locationType: l.locationType ?? 'default', uniqueIdType: 'unknown' })) : locationsFrom(location),
      attendees: this.attendeesFrom(input.attendees ?? [], []),
      organizer: { emailAddress: { name: mb.user.displayName, address: mb.user.mail } },
      isOrganizer: true,
      responseStatus: { response: 'organizer', time: NEVER },
      isCancelled: false,
      iCalUId: this.world.newICalUId(),
      transactionId: input.transactionId ?? null,
      type: 'singleInstance',
      recurrence: null,
      seriesMasterId: null,
      originalStart: null,
      cancelled: [],
      exceptionStarts: [],
    };
    validateTimes(data);
    if (input.recurrence !== undefined && input.recurrence !== null) {
      data.recurrence = parseRecurrence(input.recurrence, data.startZone);
      data.type = 'seriesMaster';
    }
    const ext = new Map<string, { id: string; value: string }>();
    applyExtendedProperties(ext, input.singleValueExtendedProperties);
    const coll = this.world.collection(this.collectionKey(mb), 'event', mb.user.id, mb.calendarId);
    const draft = { data, ext } as EventRecord;
    const record = this.world.insert({ kind: 'event', userId: mb.user.id, collection: coll, data, ext, indexKeys: this.indexKeys(draft), actor, createdAt: now });
    if (data.transactionId) mb.transactionIds.set(data.transactionId, record.id);
    if (data.attendees.length > 0) {
      this.send(mb, record, 'request', 'create', data.attendees.map((a) => a.emailAddress.address), [], actor);
      this.syncCopies(mb, record, actor);
    }
    return { record, replayed: false };
  }

  /** PATCH /events/{id}: a single event, a master (the whole series), an exception, or an occurrence (which becomes an exception). */
  update(mb: Mailbox, id: string, body: unknown, actor: Actor, ifMatch?: string): EventRecord {
    const target = this.resolve(mb, id);
    checkIfMatch(ifMatch, target);
    const input = this.parse(body);
    if (input.transactionId !== undefined && input.transactionId !== target.data.transactionId) {
      throw new GraphError(400, 'ErrorInvalidPropertyUpdateSentMessage', 'transactionId cannot be changed after the event is created.');
    }
    if (target.data.type === 'occurrence' || target.data.type === 'exception') return this.updateOccurrence(mb, target, input, actor);
    const record = target;
    const before = record.data;
    const next = applyInput(before, input);
    if (input.attendees !== undefined) next.attendees = this.attendeesFrom(input.attendees ?? [], before.attendees);
    if (input.recurrence !== undefined) {
      next.recurrence = input.recurrence === null ? null : parseRecurrence(input.recurrence, next.startZone);
      next.type = next.recurrence ? 'seriesMaster' : 'singleInstance';
    }
    validateTimes(next);
    // Outlook drops a series' exceptions and cancellations when its pattern or its time changes ("changing the
    // recurrence loses the exceptions"); the simulator does the same for a PATCH of recurrence, start or end.
    const seriesChanged = before.type === 'seriesMaster' && (!sameRecurrence(before.recurrence, next.recurrence) || before.start !== next.start || before.end !== next.end);
    if (seriesChanged) this.dropExceptions(record, next, actor);
    const extChanged = applyExtendedProperties(record.ext, input.singleValueExtendedProperties);
    const changed = COMPARED_FIELDS.filter((f) => fieldFingerprint(before, f) !== fieldFingerprint(next, f));
    if (extChanged) changed.push('singleValueExtendedProperties');
    record.data = next;
    this.world.touch(record, this.indexKeys(record), actor);
    if (next.isOrganizer && (before.attendees.length > 0 || next.attendees.length > 0)) this.meetingUpdate(mb, record, before, changed, actor);
    return record;
  }

  /** The item an id names: a stored event, or a computed occurrence of a stored master; 404 otherwise. */
  resolve(mb: Mailbox, id: string): EventRecord {
    const stored = this.world.items.get(id);
    if (stored) return this.world.get(this.collectionKey(mb), id) as EventRecord;
    const occ = parseOccurrenceId(id);
    const master = occ ? this.world.items.get(occ.masterId) : undefined;
    if (!occ || !master || master.collectionKey !== this.collectionKey(mb)) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    const m = master as EventRecord;
    const found = m.data.recurrence && !m.data.cancelled.includes(occ.originalStart) ? findOccurrence(m.data.recurrence, timingOf(m.data), occ.originalStart) : undefined;
    if (!found) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return occurrenceRecord(m, found.occurrence, this.behaviour().occurrenceICalUId);
  }

  /** Whether occurrences go into calendarView delta with only their key properties. */
  deltaOccurrencesSparse(): boolean {
    return this.behaviour().deltaOccurrences === 'sparse';
  }

  /** Masters whose last change was a cancelled occurrence (its seq), for deltaAfterCancellation 'silent'. */
  private readonly cancelledAtSeq = new Map<string, number>();

  /** Whether a delta round lists nothing for this master's last change (a cancelled occurrence, in 'silent'). */
  deltaSilentFor(master: EventRecord): boolean {
    return this.behaviour().deltaAfterCancellation === 'silent' && this.cancelledAtSeq.get(master.id) === master.seq;
  }

  /** The master of an occurrence or exception. */
  masterOf(record: EventRecord): EventRecord {
    const master = record.data.seriesMasterId ? this.world.items.get(record.data.seriesMasterId) : undefined;
    if (!master) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return master as EventRecord;
  }

  /** The exception items of a master, in start order. */
  exceptionsOf(master: EventRecord): EventRecord[] {
    const out: EventRecord[] = [];
    for (const start of master.data.exceptionStarts) {
      const r = this.world.items.get(occurrenceId(master.id, start));
      if (r) out.push(r as EventRecord);
    }
    return out.sort((a, b) => a.data.start - b.data.start);
  }

  /** Occurrences and exceptions of a master overlapping a window, in start order (GET /events/{id}/instances). */
  instances(master: EventRecord, window: { start: number; end: number }): EventRecord[] {
    if (master.data.type !== 'seriesMaster') return [];
    const mode = this.behaviour().occurrenceICalUId;
    const out: EventRecord[] = [...plainOccurrences(master, window)].map((o) => occurrenceRecord(master, o, mode));
    for (const ex of this.exceptionsOf(master)) if (overlaps(ex.data, window)) out.push(ex);
    return out.sort((a, b) => a.data.start - b.data.start);
  }

  /** What calendarView shows for a stored item: itself (single, exception) or a master's occurrences; never a master. */
  viewOf(record: EventRecord, window: { start: number; end: number }): EventRecord[] {
    if (record.data.type === 'seriesMaster') {
      const mode = this.behaviour().occurrenceICalUId;
      return [...plainOccurrences(record, window)].map((o) => occurrenceRecord(record, o, mode));
    }
    return overlaps(record.data, window) ? [record] : [];
  }

  /** All of calendarView for a window. */
  calendarView(mb: Mailbox, window: { start: number; end: number }): EventRecord[] {
    const out: EventRecord[] = [];
    for (const id of this.world.collections.get(this.collectionKey(mb))?.ids ?? []) {
      const r = this.world.items.get(id);
      if (r) out.push(...this.viewOf(r as EventRecord, window));
    }
    return out;
  }

  /**
   * PATCH of an occurrence or an exception. The first change of an occurrence stores it as an exception under the
   * occurrence's id; the change is announced as an update of the master (the notification names the master).
   * Moving it onto or past the day of a neighbouring occurrence is refused as Outlook refuses it
   * (https://learn.microsoft.com/graph/api/event-update#response).
   */
  private updateOccurrence(mb: Mailbox, target: EventRecord, input: EventInput, actor: Actor): EventRecord {
    if (input.recurrence !== undefined && input.recurrence !== null) {
      throw new GraphError(400, 'ErrorInvalidRequest', 'The recurrence of an occurrence or exception cannot be set: change the series master.');
    }
    const master = this.masterOf(target);
    const before = target.data;
    const next = applyInput(before, input);
    if (input.attendees !== undefined) next.attendees = this.attendeesFrom(input.attendees ?? [], before.attendees);
    next.type = 'exception';
    validateTimes(next);
    this.checkBoundary(master, next);
    const extChanged = applyExtendedProperties(target.ext, input.singleValueExtendedProperties);
    const changed = COMPARED_FIELDS.filter((f) => fieldFingerprint(before, f) !== fieldFingerprint(next, f));
    if (extChanged) changed.push('singleValueExtendedProperties');
    let record: EventRecord;
    if (before.type === 'occurrence') {
      const coll = this.world.collection(this.collectionKey(mb), 'event', mb.user.id, mb.calendarId);
      record = this.world.insert<EventData>({ id: target.id, kind: 'event', userId: mb.user.id, collection: coll, data: next, ext: new Map(target.ext), indexKeys: [], actor, silent: true });
      this.world.touch(record, this.indexKeys(record), actor, true);
      master.data = { ...master.data, exceptionStarts: [...master.data.exceptionStarts, next.originalStart as number] };
    } else {
      record = target;
      record.data = next;
      this.world.touch(record, this.indexKeys(record), actor, true);
    }
    this.world.touch(master, this.indexKeys(master), actor);
    if (next.isOrganizer && (before.attendees.length > 0 || next.attendees.length > 0)) this.meetingUpdate(mb, record, before, changed, actor);
    return record;
  }

  private checkBoundary(master: EventRecord, next: EventData): void {
    const rec = master.data.recurrence;
    if (!rec || next.originalStart === null) return;
    const found = findOccurrence(rec, timingOf(master.data), next.originalStart);
    if (!found) return;
    const zone = rec.range.zone;
    const currentStart = (start: number) => {
      const ex = this.world.items.get(occurrenceId(master.id, start)) as EventRecord | undefined;
      return ex ? ex.data.start : start;
    };
    const day = (ms: number) => localDate(ms, zone);
    const newDay = day(next.start);
    const crossing =
      (found.previous !== undefined && newDay <= day(currentStart(found.previous.originalStart))) || (found.next !== undefined && newDay >= day(currentStart(found.next.originalStart)));
    if (crossing) throw new GraphError(400, 'ErrorOccurrenceCrossingBoundary', 'Modified occurrence is crossing or overlapping adjacent occurrence.');
  }

  /** Removes a master's exceptions and forgets its cancellations (a pattern or time change of the series). */
  private dropExceptions(master: EventRecord, next: EventData, actor: Actor): void {
    for (const ex of this.exceptionsOf(master)) this.world.remove(ex, actor, true);
    next.exceptionStarts = [];
    next.cancelled = [];
  }

  /**
   * DELETE /events/{id}: an organizer deleting a meeting sends cancellations. Deleting an occurrence or exception
   * records it in the master's cancelledOccurrences; only the master is announced as updated (nothing names the
   * deleted occurrence). Deleting a master deletes its exceptions with it.
   */
  delete(mb: Mailbox, id: string, actor: Actor, ifMatch?: string): void {
    const record = this.resolve(mb, id);
    checkIfMatch(ifMatch, record);
    if (record.data.type === 'occurrence' || record.data.type === 'exception') {
      this.cancelOccurrence(mb, record, 'delete', actor);
      return;
    }
    this.removeEvent(mb, record, 'delete', actor);
  }

  /** POST /events/{id}/cancel (organizer only; event-cancel.md): sends cancellations and removes the event or occurrence. */
  cancel(mb: Mailbox, id: string, actor: Actor): void {
    const record = this.resolve(mb, id);
    if (!record.data.isOrganizer) throw new GraphError(400, 'ErrorInvalidRequest', "Your request can't be completed. You need to be an organizer to cancel a meeting.");
    if (record.data.type === 'occurrence' || record.data.type === 'exception') {
      this.cancelOccurrence(mb, record, 'cancel', actor);
      return;
    }
    this.removeEvent(mb, record, 'cancel', actor);
  }

  private removeEvent(mb: Mailbox, record: EventRecord, trigger: 'delete' | 'cancel', actor: Actor): void {
    const exceptions = record.data.type === 'seriesMaster' ? this.exceptionsOf(record) : [];
    this.world.remove(record, actor);
    for (const ex of exceptions) this.world.remove(ex, actor, true);
    if (record.data.isOrganizer && record.data.attendees.length > 0 && !record.data.isCancelled) {
      this.send(mb, record, 'cancellation', trigger, record.data.attendees.map((a) => a.emailAddress.address), [], actor);
      this.cancelCopies(mb, record, record.data.attendees.map((a) => a.emailAddress.address), actor);
    }
  }

  private cancelOccurrence(mb: Mailbox, record: EventRecord, trigger: 'delete' | 'cancel', actor: Actor): void {
    const master = this.masterOf(record);
    const originalStart = record.data.originalStart as number;
    if (record.data.type === 'exception') this.world.remove(record, actor, true);
    master.data = {
      ...master.data,
      cancelled: [...master.data.cancelled, originalStart],
      exceptionStarts: master.data.exceptionStarts.filter((s) => s !== originalStart),
    };
    this.world.touch(master, this.indexKeys(master), actor);
    this.cancelledAtSeq.set(master.id, master.seq);
    if (record.data.isOrganizer && record.data.attendees.length > 0 && !record.data.isCancelled) {
      const to = record.data.attendees.map((a) => a.emailAddress.address);
      this.send(mb, record, 'cancellation', trigger, to, [], actor);
      this.cancelCopies(mb, record, to, actor);
    }
  }

  /** POST /events/{id}/accept|tentativelyAccept|decline in an attendee's calendar (event-accept.md). */
  respond(mb: Mailbox, id: string, response: 'accepted' | 'tentativelyAccepted' | 'declined', sendResponse: boolean, actor: Actor): void {
    const record = this.world.get(this.collectionKey(mb), id) as EventRecord;
    if (record.data.isOrganizer) throw new GraphError(400, 'ErrorInvalidRequest', "Your request can't be completed. You can't respond to this meeting because you're the meeting organizer.");
    const time = utcTimestamp7(this.world.clock.now());
    if (response === 'declined') {
      // Exchange moves a declined meeting out of the calendar (to Deleted Items).
      this.world.remove(record, actor);
    } else {
      record.data = { ...record.data, responseStatus: { response, time }, showAs: response === 'accepted' ? 'busy' : 'tentative' };
      this.world.touch(record, this.indexKeys(record), actor);
    }
    if (!sendResponse) return;
    const organizerAddress = record.data.organizer.emailAddress.address;
    this.invitations.add({
      at: new Date(this.world.clock.now()).toISOString(),
      type: 'response',
      trigger: 'respond',
      fromUserId: mb.user.id,
      fromAddress: lower(mb.user.mail),
      organizerAddress: lower(organizerAddress),
      eventId: record.id,
      iCalUId: record.data.iCalUId,
      subject: record.data.subject,
      recipients: [lower(organizerAddress)],
      changedFields: [],
      response,
      byAppId: actor.kind === 'app' ? actor.appId : null,
    });
    const organizerBox = this.world.findMailbox(organizerAddress);
    const organizerCopy = organizerBox ? this.findByICalUId(organizerBox, record.data.iCalUId) : undefined;
    if (organizerBox && organizerCopy?.data.isOrganizer) {
      const address = lower(mb.user.mail);
      organizerCopy.data = {
        ...organizerCopy.data,
        attendees: organizerCopy.data.attendees.map((a) => (lower(a.emailAddress.address) === address || lower(a.emailAddress.address) === lower(mb.user.userPrincipalName) ? { ...a, status: { response, time } } : a)),
      };
      this.world.touch(organizerCopy, this.indexKeys(organizerCopy), actor);
    }
  }

  /** The single event or series master with this iCalUId (exceptions may share it: they are found through their master). */
  findByICalUId(mb: Mailbox, iCalUId: string): EventRecord | undefined {
    for (const id of mb.index.get(`event|ical:${lower(iCalUId)}`)) {
      const r = this.world.items.get(id) as EventRecord | undefined;
      if (r && r.data.type !== 'exception') return r;
    }
    return undefined;
  }

  private parse(body: unknown): EventInput {
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const rec = body as Record<string, unknown>;
      rejectUnknownProperties(rec, KNOWN, 'event');
    }
    return parseBody(eventInput, body, 'event');
  }

  private attendeesFrom(input: z.infer<typeof attendeeInput>[], previous: AttendeeData[]): AttendeeData[] {
    const prev = new Map(previous.map((a) => [lower(a.emailAddress.address), a]));
    const seen = new Set<string>();
    const out: AttendeeData[] = [];
    for (const a of input) {
      const address = a.emailAddress.address.trim();
      if (seen.has(lower(address))) continue;
      seen.add(lower(address));
      const old = prev.get(lower(address));
      const user = this.world.findMailbox(address);
      out.push({
        type: a.type ?? 'required',
        status: old ? { ...old.status } : { response: 'none', time: NEVER },
        emailAddress: { name: a.emailAddress.name ?? user?.user.displayName ?? address, address },
      });
    }
    return out;
  }

  private meetingUpdate(mb: Mailbox, record: EventRecord, before: EventData, changed: string[], actor: Actor): void {
    const oldSet = new Map(before.attendees.map((a) => [lower(a.emailAddress.address), a]));
    const newSet = new Map(record.data.attendees.map((a) => [lower(a.emailAddress.address), a]));
    const removed = [...oldSet.keys()].filter((a) => !newSet.has(a));
    const meetingChanged = changed.filter((f) => MEETING_FIELDS.has(f));
    if (meetingChanged.length > 0) {
      if (newSet.size > 0) this.send(mb, record, 'update', 'update', record.data.attendees.map((a) => a.emailAddress.address), changed.filter((f) => MEETING_FIELDS.has(f) || f === 'attendees'), actor);
    } else if (changed.includes('attendees')) {
      const changedAttendees = record.data.attendees.filter((a) => {
        const old = oldSet.get(lower(a.emailAddress.address));
        return !old || old.type !== a.type;
      });
      if (changedAttendees.length > 0) this.send(mb, record, 'update', 'update', changedAttendees.map((a) => a.emailAddress.address), ['attendees'], actor);
    }
    if (removed.length > 0) this.send(mb, record, 'cancellation', 'update', removed, ['attendees'], actor);
    if (meetingChanged.length > 0 || changed.includes('attendees')) this.syncCopies(mb, record, actor);
    if (removed.length > 0) this.cancelCopies(mb, record, removed, actor);
  }

  private send(mb: Mailbox, record: EventRecord, type: 'request' | 'update' | 'cancellation', trigger: 'create' | 'update' | 'delete' | 'cancel', recipients: string[], changedFields: string[], actor: Actor): void {
    const own = new Set([lower(mb.user.mail), lower(mb.user.userPrincipalName)]);
    const to = recipients.map(lower).filter((r) => !own.has(r));
    if (to.length === 0) return;
    this.invitations.add({
      at: new Date(this.world.clock.now()).toISOString(),
      type,
      trigger,
      fromUserId: mb.user.id,
      fromAddress: lower(mb.user.mail),
      organizerAddress: lower(mb.user.mail),
      eventId: record.id,
      iCalUId: record.data.iCalUId,
      subject: record.data.subject,
      recipients: to,
      changedFields,
      byAppId: actor.kind === 'app' ? actor.appId : null,
      ...(record.data.seriesMasterId && record.data.originalStart !== null ? { seriesMasterId: record.data.seriesMasterId, originalStart: new Date(record.data.originalStart).toISOString() } : {}),
    });
  }

  /**
   * Creates or refreshes the meeting in each simulated attendee's calendar. A series arrives as a series (its own
   * master id, the organizer's iCalUId); a changed occurrence arrives as an exception of the attendee's series.
   */
  private syncCopies(mb: Mailbox, organizerRecord: EventRecord, actor: Actor): void {
    const o = organizerRecord.data;
    if (o.type === 'exception') {
      this.syncExceptionCopies(mb, organizerRecord, actor);
      return;
    }
    for (const attendee of o.attendees) {
      const box = this.world.findMailbox(attendee.emailAddress.address);
      if (!box || box.user.id === mb.user.id) continue;
      const existing = this.findByICalUId(box, o.iCalUId);
      const meeting = meetingFields(o);
      if (existing) {
        if (existing.data.isOrganizer) continue;
        const next: EventData = { ...existing.data, ...meeting, isCancelled: false, type: o.type, recurrence: o.recurrence, cancelled: [...o.cancelled], exceptionStarts: [...existing.data.exceptionStarts] };
        if (existing.data.type === 'seriesMaster' && (!sameRecurrence(existing.data.recurrence, next.recurrence) || existing.data.start !== next.start || existing.data.end !== next.end)) {
          this.dropExceptions(existing, next, actor);
          next.cancelled = [...o.cancelled];
        }
        existing.data = next;
        this.world.touch(existing, this.indexKeys(existing), actor);
      } else {
        const data: EventData = {
          ...meeting,
          showAs: 'tentative',
          isReminderOn: true,
          reminderMinutesBeforeStart: 15,
          categories: [],
          isOrganizer: false,
          responseStatus: { response: 'none', time: NEVER },
          isCancelled: false,
          transactionId: null,
          type: o.type,
          recurrence: o.recurrence,
          seriesMasterId: null,
          originalStart: null,
          cancelled: [...o.cancelled],
          exceptionStarts: [],
        };
        const coll = this.world.collection(collectionKeys.events(box.user.id), 'event', box.user.id, box.calendarId);
        const draft = { data, ext: new Map() } as unknown as EventRecord;
        this.world.insert({ kind: 'event', userId: box.user.id, collection: coll, data, indexKeys: this.indexKeys(draft), actor });
      }
    }
  }

  /** The attendee's copy of one occurrence: an exception of the attendee's own series, created or refreshed. */
  private syncExceptionCopies(mb: Mailbox, organizerException: EventRecord, actor: Actor, cancelled = false): void {
    const o = organizerException.data;
    const organizerMaster = this.masterOf(organizerException);
    for (const attendee of o.attendees) {
      const box = this.world.findMailbox(attendee.emailAddress.address);
      if (!box || box.user.id === mb.user.id) continue;
      const copyMaster = this.findByICalUId(box, organizerMaster.data.iCalUId);
      if (!copyMaster || copyMaster.data.isOrganizer || copyMaster.data.type !== 'seriesMaster') continue;
      const originalStart = o.originalStart as number;
      const id = occurrenceId(copyMaster.id, originalStart);
      const existing = this.world.items.get(id) as EventRecord | undefined;
      const base = existing?.data ?? copyMaster.data;
      const data: EventData = {
        ...base,
        ...meetingFields(o),
        type: 'exception',
        recurrence: null,
        seriesMasterId: copyMaster.id,
        originalStart,
        cancelled: [],
        exceptionStarts: [],
        isCancelled: cancelled,
        subject: cancelled ? `Canceled: ${o.subject}` : o.subject,
      };
      if (existing) {
        existing.data = data;
        this.world.touch(existing, this.indexKeys(existing), actor, true);
      } else {
        const coll = this.world.collection(collectionKeys.events(box.user.id), 'event', box.user.id, box.calendarId);
        const draft = { data, ext: new Map() } as unknown as EventRecord;
        this.world.insert({ id, kind: 'event', userId: box.user.id, collection: coll, data, indexKeys: this.indexKeys(draft), actor, silent: true });
        copyMaster.data = { ...copyMaster.data, exceptionStarts: [...copyMaster.data.exceptionStarts, originalStart] };
      }
      this.world.touch(copyMaster, this.indexKeys(copyMaster), actor);
    }
  }

  /** Marks the attendee copies of removed or cancelled attendees as cancelled ("Canceled: ..."), as Exchange does. */
  private cancelCopies(mb: Mailbox, organizerRecord: EventRecord, addresses: string[], actor: Actor): void {
    if (organizerRecord.data.type === 'occurrence' || organizerRecord.data.type === 'exception') {
      const wanted = new Set(addresses.map(lower));
      const only = { ...organizerRecord, data: { ...organizerRecord.data, attendees: organizerRecord.data.attendees.filter((a) => wanted.has(lower(a.emailAddress.address))) } };
      this.syncExceptionCopies(mb, only, actor, true);
      return;
    }
    for (const address of addresses) {
      const box = this.world.findMailbox(address);
      if (!box || box.user.id === mb.user.id) continue;
      const copy = this.findByICalUId(box, organizerRecord.data.iCalUId);
      if (!copy || copy.data.isOrganizer || copy.data.isCancelled) continue;
      copy.data = { ...copy.data, isCancelled: true, subject: `Canceled: ${organizerRecord.data.subject}` };
      this.world.touch(copy, this.indexKeys(copy), actor);
    }
  }
}

/** The fields an organizer's meeting gives every attendee's copy. */
function meetingFields(o: EventData) {
  return {
    subject: o.subject,
    body: o.body,
    start: o.start,
    end: o.end,
    startZone: o.startZone,
    endZone: o.endZone,
    isAllDay: o.isAllDay,
    importance: o.importance,
    sensitivity: o.sensitivity,
    location: structuredClone(o.location),
    locations: structuredClone(o.locations),
    attendees: o.attendees.map((a) => ({ ...a, status: { ...a.status } })),
    organizer: { emailAddress: { ...o.organizer.emailAddress } },
    isOnlineMeeting: o.isOnlineMeeting,
    onlineMeetingProvider: o.onlineMeetingProvider,
    responseRequested: o.responseRequested,
    allowNewTimeProposals: o.allowNewTimeProposals,
    hideAttendees: o.hideAttendees,
    iCalUId: o.iCalUId,
  };
}

function overlaps(d: { start: number; end: number }, w: { start: number; end: number }): boolean {
  return d.start < w.end && (d.end > w.start || (d.end === d.start && d.start >= w.start));
}

/** A PATCH body applied to an event's data (the fields every kind of event shares). */
function applyInput(before: EventData, input: EventInput): EventData {
  const next: EventData = { ...before, categories: [...before.categories], attendees: before.attendees.map((a) => ({ ...a })), cancelled: [...before.cancelled], exceptionStarts: [...before.exceptionStarts] };
  if (input.subject !== undefined) next.subject = input.subject ?? '';
  if (input.body !== undefined) next.body = { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' };
  if (input.start) {
    const s = parseDateTimeTimeZone(input.start, 'start');
    next.start = s.ms;
    next.startZone = s.zone;
  }
  if (input.end) {
    const e = parseDateTimeTimeZone(input.end, 'end');
    next.end = e.ms;
    next.endZone = e.zone;
  }
  if (input.isAllDay !== undefined) next.isAllDay = input.isAllDay;
  for (const key of ['showAs', 'importance', 'sensitivity', 'isReminderOn', 'reminderMinutesBeforeStart', 'responseRequested', 'allowNewTimeProposals', 'hideAttendees', 'isOnlineMeeting', 'onlineMeetingProvider'] as const) {
    if (input[key] !== undefined) (next as unknown as Record<string, unknown>)[key] = input[key];
  }
  if (input.categories !== undefined) next.categories = input.categories ?? [];
  if (input.location !== undefined) {
    next.location = renderLocation(input.location);
    next.locations = locationsFrom(next.location);
  } else if (input.locations !== undefined) {
    next.locations = (input.locations ?? []).map((l) => ({ displayName: l.displayName ?? '', locationType: l.locationType ?? 'default', uniqueIdType: 'unknown' }));
    next.location = renderLocation(next.locations[0] ? { displayName: next.locations.map((l) => String(l.displayName)).join('; ') } : null);
  }
  return next;
}

function validateTimes(d: EventData): void {
  if (d.end < d.start) throw new GraphError(400, 'ErrorCalendarEndDateIsEarlierThanStartDate', 'The end date occurs before the start date.');
  if (d.isAllDay) {
    if (!isLocalMidnight(d.start, d.startZone) || !isLocalMidnight(d.end, d.endZone) || d.end <= d.start) {
      throw new GraphError(
        400,
        'ErrorPropertyValidationFailure',
        'At least one property failed validation. (isAllDay events must start and end at midnight in their time zone, and end at least one day after the start.)',
      );
    }
  }
}

/** Start of the all-day event's first day, for windows (kept for callers that need day bounds). */
export function allDayBounds(d: EventData): { start: number; end: number } {
  return { start: midnightOf(localDate(d.start, d.startZone), d.startZone), end: midnightOf(localDate(d.end, d.endZone), d.endZone) };
}

export type { PresentOptions };
