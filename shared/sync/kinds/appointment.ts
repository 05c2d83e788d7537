// Appointments <-> Outlook events: server-side sync's rules for meetings (invitation, attendee copies, deletes,
// cancellations), on the mapping of shared/mapping/appointment.ts.
// Rules: https://learn.microsoft.com/power-platform/admin/sync-logic and docs/reference/platform-facts.md.
import type { Event } from '@microsoft/microsoft-graph-types';
import { odataString } from '../../odata.js';
import {
  appointmentToEvent,
  attendeeCopyFields,
  dataverseBodyFromSnapshot,
  eventToAppointment,
  exchangeBodyFromSnapshot,
  fieldTables,
  isClosedActivity,
  isTrackedInExchange,
  snapshotFromDataverse,
  snapshotFromExchange,
} from '../../mapping/index.js';
import type { Direction } from '../../mapping/index.js';
import { appointmentIdForMeeting, recordIdForExchangeItem, seriesIdForAppointment } from '../ids.js';
import { activityPartiesOf, directionsOfTable, firstUnpaired, isPastFromBase, itemCandidate, myActivitiesFilter, notFound, orUndefined, ownerAndParties, readActivity, stampFor, stampOf } from './common.js';
import {
  asAppointmentShape,
  asMasterBody,
  carrierOf,
  isSeriesItem,
  isSeriesRecord,
  recordCarrierOf,
  seriesParts,
  seriesTable,
  tableForItem,
  tableHasColumn,
  unsupportedSeriesChange,
  unsupportedSeriesItem,
  unsupportedSeriesRecord,
  addRecurrence,
  seriesConversionOf,
  seriesEnding,
  seriesMadeOf,
  seriesPatternOf,
  withSeriesZone,
} from './series.js';
import type { GraphItem, ItemCandidate, SyncKind } from './types.js';

const directions = directionsOfTable(fieldTables.appointment);
/** Organizer of a meeting in the activity party list (participationtypemask 7, activityparty-entity.md). */
const organizerMask = 7;

/** The system user who organizes the appointment: its organizer party, else its owner. */
export function organizerOf(record: Record<string, unknown>): string | undefined {
  const parties = record[activityPartiesOf('appointment')];
  if (Array.isArray(parties)) {
    const organizer = (parties as { _partyid_value?: string | null; participationtypemask?: number }[]).find((p) => p.participationtypemask === organizerMask);
    if (organizer?._partyid_value) return organizer._partyid_value.toLowerCase();
  }
  return typeof record._ownerid_value === 'string' ? record._ownerid_value.toLowerCase() : undefined;
}

/** Cursor scope of the calendar's delta round (one per mailbox). */
const eventsDeltaScope = 'eventsDelta';
/** The stored calendar round is restarted once the window has slid this far (a calendarView delta is window-bound). */
const windowSlideMs = 86400_000;

interface EventsCursor {
  link: string;
  windowStart: string;
}

export const appointmentKind: SyncKind<'appointment'> = {
  name: 'appointment',
  // A series master is its own table; its instances are appointments the platform makes (shared/sync/kinds/series.ts).
  tables: ['appointment', seriesTable],
  primaryKey: 'activityid',
  partyNavigation: activityPartiesOf,
  partyColumns: () => ({ organizer: organizerMask, requiredattendees: 5, optionalattendees: 6 }),
  resource: 'event',
  subscription: { kind: 'events', path: (id) => `/users/${id}/events` },
  hasColumn: tableHasColumn,
  extraColumns: ['instancetypecode', 'groupid', 'seriesid', 'originalstartdate'],
  // A deleted instance is a change of its series (recordCarrierOf reads these two).
  deleteImageColumns: ['seriesid', 'instancetypecode'],
  fields: fieldTables.appointment,
  directions,

  snapshotFromDataverse: (record, ctx) => snapshotFromDataverse('appointment', asAppointmentShape(record), ctx),
  snapshotFromExchange: (item, ctx) => snapshotFromExchange('appointment', item, ctx),
  exchangeCreate(dvRecord, ctx) {
    const record = asAppointmentShape(dvRecord);
    const result = appointmentToEvent(record, ctx);
    const attendeeCopy = result.mode === 'attendeeCopy';
    const organizer = attendeeCopy ? organizerOf(record) : undefined;
    return { body: result.event, unsyncedFields: result.unsyncedFields, isOrganizer: !attendeeCopy, reason: result.reason, ...(organizer ? { awaitInvitationFrom: organizer } : {}) };
  },
  dataverseCreate: (item, ctx) => {
    const body = eventToAppointment(item, ctx) as Record<string, unknown>;
    return isSeriesItem(item) ? asMasterBody(body) : body;
  },
  exchangeBody: (fields, ctx, current) => exchangeBodyFromSnapshot('appointment', fields as never, ctx, current),
  dataverseBody: (fields, ctx, current, table) => {
    const body = dataverseBodyFromSnapshot('appointment', fields as never, ctx, current ? asAppointmentShape(current) : current) as Record<string, unknown>;
    return table === seriesTable ? asMasterBody(body) : body;
  },
  tableFor: tableForItem,
  carrierOf,
  recordCarrierOf,
  parts: seriesParts,
  unsupportedChange: unsupportedSeriesChange,
  convertsTo: seriesConversionOf,

  exchange: {
    get: (rt, mailbox, id) => orUndefined(() => rt.graph.getEvent(mailbox.id, id), notFound),
    async create(rt, mailbox, create, _record, dataverseId, transactionId) {
      return { item: await rt.graph.createEvent(mailbox.id, { ...(create.body as Event), singleValueExtendedProperties: stampFor(dataverseId) }, transactionId) };
    },
    update: (rt, mailbox, pair, patch, ifMatch) => rt.graph.updateEvent(mailbox.id, pair.exchangeId!, patch, ifMatch),
    async remove(rt, mailbox, pair, how) {
      // A cancellation notifies the attendees (events-cancel); a delete by the organizer does as well.
      if (how === 'cancel') await rt.graph.cancelEvent(mailbox.id, pair.exchangeId!, 'Canceled in Dynamics 365.');
      else await rt.graph.deleteEvent(mailbox.id, pair.exchangeId!);
    },
    async findExisting(rt, mailbox, record, dataverseId, _ctx, retrying) {
      // An event of this meeting (globalobjectid = iCalUId), or, after an attempt whose answer may be lost, one
      // stamped with this record's id, that no pair claims yet is linked, never duplicated.
      const iCalUId = typeof record.globalobjectid === 'string' ? record.globalobjectid : undefined;
      const candidates: GraphItem[] = iCalUId ? await rt.graph.findEventsByICalUId(mailbox.id, iCalUId) : [];
      if (retrying) candidates.push(...((await rt.graph.findByDataverseId(mailbox.id, 'events', dataverseId)) as GraphItem[]));
      const item = await firstUnpaired(rt, mailbox, candidates);
      return item ? { item, how: 'link' } : undefined;
    },
    stampOf,
  },
  dataverse: {
    async get(rt, table, id) {
      const record = await readActivity(rt, table, id);
      return record && table === seriesTable ? withSeriesZone(rt, record) : record;
    },
    completeImage: (rt, table, image) => (table === seriesTable ? withSeriesZone(rt, image) : Promise.resolve(image)),
    convertedId: (from) => seriesIdForAppointment(from.id),
    convert: (rt, mailbox, from, to, body) => addRecurrence(rt, mailbox, from.id, to.id, body),
    successorOf: seriesMadeOf,
    async findLinkTarget(rt, item) {
      const iCalUId = (item as Event).iCalUId;
      if (!iCalUId) return undefined;
      const known = (await rt.cursors.get<{ dataverseId: string }>('meeting', iCalUId))?.dataverseId;
      if (known) return known;
      // A series is matched master to master: the master's iCalUId is the series' globalobjectid.
      const found = await rt.dataverse.query(tableForItem(item), { filter: `globalobjectid eq ${odataString(iCalUId)}`, select: ['activityid'], top: 1 });
      return typeof found[0]?.activityid === 'string' ? found[0].activityid : undefined;
    },
    findExisting: () => Promise.resolve([]),
  },
  backfill: {
    async listRecords(rt, mailbox, table, window) {
      // "My Activities" in the window: a meeting overlapping it (ends after its start, starts before its end). A
      // series overlaps it by its effective dates (a master's scheduledstart is its first occurrence, so a weekly
      // meeting begun years ago would be missed); its instances are its own expansion and are left to it.
      const start = window.start.toISOString();
      const end = window.end.toISOString();
      const when =
        table === seriesTable
          ? `effectivestartdate le ${end} and (effectiveenddate ge ${start} or effectiveenddate eq null)`
          : `scheduledend ge ${start} and scheduledstart le ${end} and (instancetypecode eq 0 or instancetypecode eq null)`;
      const filter = `${myActivitiesFilter(table, mailbox.systemUserId)} and ${when}`;
      const rows = await rt.dataverse.query(table, { filter, select: ['activityid', 'globalobjectid'] });
      return rows.map((r) => ({ entity: table, id: String(r.activityid).toLowerCase(), etag: r['@odata.etag'], matchKey: typeof r.globalobjectid === 'string' && r.globalobjectid ? r.globalobjectid : undefined }));
    },
    async listItems(rt, mailbox, window) {
      // calendarView lists a series as its occurrences, each with its own id (and, in v1.0, its own iCalUId): the
      // series is the unit, so its master stands for them, read once per series (its iCalUId is the series').
      const events = await rt.graph.listCalendarView(mailbox.id, window);
      const out: ItemCandidate[] = [];
      const masters = new Set<string>();
      for (const e of events) {
        const masterId = carrierOf(e) ?? (isSeriesItem(e) ? e.id : undefined);
        if (masterId) {
          if (masters.has(masterId)) continue;
          masters.add(masterId);
          const master = masterId === e.id ? e : await orUndefined(() => rt.graph.getEvent(mailbox.id, masterId), notFound);
          if (master?.id) out.push(itemCandidate(appointmentKind, master as GraphItem & { id: string }, master.iCalUId ? [master.iCalUId] : []));
          continue;
        }
        if (e.id) out.push(itemCandidate(appointmentKind, e as GraphItem & { id: string }, e.iCalUId ? [e.iCalUId] : []));
      }
      return out;
    },
    match(record, free) {
      // The same meeting: an appointment made from Exchange keeps the meeting's iCalUId in globalobjectid; the
      // Exchange side carries the link (the engine links a meeting's copy by its iCalUId).
      const key = record.matchKey;
      const item = key ? free.find((i) => i.matchKeys.includes(key)) : undefined;
      return item ? { item, reason: 'same meeting (iCalUId = globalobjectid)', carriedBy: 'exchange' } : undefined;
    },
  },
  delta: {
    collection: 'events',
    async round(rt, mailbox, window, ctx) {
      // calendarView delta over the sync window; the stored round restarts once the window has slid a day.
      const stored = await rt.cursors.get<EventsCursor>(eventsDeltaScope, mailbox.id);
      const fresh = !stored || Math.abs(Date.parse(stored.windowStart) - window.start.getTime()) > windowSlideMs;
      let windowStart = fresh ? window.start.toISOString() : stored.windowStart;
      const page = await ctx.fromLink(fresh ? undefined : stored.link, (link) => {
        if (!link) windowStart = window.start.toISOString();
        return rt.graph.calendarViewDelta(mailbox.id, link ? { link } : { window });
      });
      await ctx.enqueue(page.items, undefined, page.resynced ? 'resync' : 'listing');
      // A calendarView round covers the window only (pairs of past meetings are outside it), so only a round after a lost
      // token is judged as a full listing: the daily restart when the window slides is no resync.
      if (page.resynced) await ctx.afterFullRound(page.items, undefined);
      if (page.deltaLink) await rt.cursors.set(eventsDeltaScope, mailbox.id, { link: page.deltaLink, windowStart } satisfies EventsCursor);
    },
  },

  scopeOf: (table, record) => ownerAndParties(record, activityPartiesOf(table)),
  isTracked: (item) => isTrackedInExchange(item, false),
  directionsFor(pair, configured = directions) {
    const out: Record<string, Direction> = { ...configured };
    if (!pair.mirror) return out;
    // An attendee's copy of a meeting another synced mailbox organizes is a mirror: only the attendee's personal
    // fields (reminder, free/busy) are written to it, and nothing flows back from it (the organizer's own pair
    // carries the meeting to Dataverse; docs/reference/platform-facts.md section 8).
    for (const field of Object.keys(out)) {
      const personal = (attendeeCopyFields as readonly string[]).includes(field);
      const writesExchange = out[field] === 'Both' || out[field] === 'ToExchange';
      out[field] = personal && writesExchange ? 'ToExchange' : 'None';
    }
    return out;
  },
  // The party list is replaced as a whole (the half that did not change comes from the record), and a closed
  // appointment keeps its state ("a closed appointment is not reopened", README mapping).
  // A pattern write needs the record too: firstdayofweek is written on create only (shared/mapping/recurrence.ts).
  writeNeedsRecord: (_table, fields) => fields.some((f) => f === 'attendees' || f === 'organizer' || f === 'showAs' || f === 'cancelled' || f === 'recurrence'),
  shapeExchangePatch(patch, pair, now) {
    // Writing attendees to a meeting sends invitations; the rule allows it only for the organizer of a future meeting.
    if (pair.isOrganizer !== false && !isPastFromBase(pair.base, now)) return patch;
    const { attendees: _dropped, ...rest } = patch as Event;
    return rest;
  },
  dataverseDeleteReads: 'nothing',
  onDataverseDelete({ pair, now }) {
    // Only the organizer's linked future meeting is deleted; otherwise the Exchange item is left and unlinked.
    const del = pair.isOrganizer !== false && !isPastFromBase(pair.base, now);
    return { delete: del, reason: del ? 'organizer, future' : 'past or not the organizer' };
  },
  exchangeDeleteReads: 'record',
  onExchangeDelete({ pair, record, now }) {
    if (!record) return { delete: false, reason: 'already gone in Dataverse' };
    if (pair.isOrganizer === false) return { delete: false, reason: 'deleted by a non-organizer' };
    if (isClosedActivity(record as { statecode?: number })) return { delete: false, reason: 'completed or canceled' };
    if (isPastFromBase(pair.base, now)) return { delete: false, reason: 'in the past' };
    return { delete: true, reason: 'organizer deleted a future meeting' };
  },
  // SSSPropagateAppointmentCancellationsToExchange (docs/reference/platform-facts.md section 7), off by default: the
  // organizer's future meeting is cancelled in Exchange, which notifies the attendees; the pair ends with the event.
  // A series keeps its past occurrences (seriesEnding).
  endsExchangeItem(record, pair, settings, ctx) {
    if (!settings.SYNC_PROPAGATE_CANCELLATIONS || record.statecode !== 2 || pair.isOrganizer === false || pair.exchangeId === undefined) return undefined;
    if (isSeriesRecord(record)) return seriesEnding(record, pair.base, seriesPatternOf(record, ctx.timeZone), ctx.now);
    return isPastFromBase(pair.base, ctx.now) ? undefined : { type: 'cancel' };
  },
  // With cancellations propagated, a canceled appointment is not in its organizer's calendar: its cancellation
  // removed it (endsExchangeItem), and a later change of the record (a retry of that change after a conflict, an edit
  // of the canceled record, a reconciliation) found no pair and created it again, with its invitations
  // (test/e2e/conflictsAndSettings.test.ts).
  keptOutOfExchange: (record, settings) => (settings.SYNC_PROPAGATE_CANCELLATIONS && record.statecode === 2 ? 'canceled, and cancellations are propagated (SYNC_PROPAGATE_CANCELLATIONS): not created in Exchange' : undefined),
  unsupportedRecord: unsupportedSeriesRecord,
  unsupportedItem: (item) => unsupportedSeriesItem(item, 'UTC'),
  itemFacts(item) {
    const event = item as Event;
    const organizerAddress = event.isOrganizer === false ? (event.organizer?.emailAddress?.address ?? undefined) : undefined;
    return { ...(event.iCalUId ? { iCalUId: event.iCalUId } : {}), isOrganizer: event.isOrganizer ?? true, ...(organizerAddress ? { organizerAddress } : {}) };
  },
  recordIdFor: (mailboxId, item) => {
    const iCalUId = (item as Event).iCalUId;
    return iCalUId ? appointmentIdForMeeting(iCalUId) : recordIdForExchangeItem(mailboxId, item.id!);
  },
};
