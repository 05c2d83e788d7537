// Recurring series, the appointment kind's second table: one pair per series (Graph seriesMaster <->
// recurringappointmentmaster), never one per occurrence or instance. The rules of a series that differ from a single
// appointment's are here; the appointment kind (appointment.ts) calls them where a record or item is a series.
// Sources: https://learn.microsoft.com/graph/api/resources/event (type, seriesMasterId, originalStart) and
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/recurringappointmentmaster
// (columns, groupid), https://learn.microsoft.com/power-apps/developer/data-platform/update-recurring-appointment
// (a pattern edit splits the series).
import type { Event } from '@microsoft/microsoft-graph-types';
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { BoundedCache } from '../../boundedCache.js';
import type { DataverseRecord } from '../../dataverse/client.js';
import type { MappingContext } from '../../mapping/index.js';
import { ianaOfSeriesZone, patternColumns, patternOfDataverse, patternOfGraph, unsupportedInDataverse, windowsZoneOfDataverseCode, type SeriesPattern } from '../../mapping/recurrence.js';
import { occurrenceDates, onShortMonthRule } from '../../mapping/seriesExpansion.js';
import { isSyncError } from '../../errors.js';
import { odataString } from '../../odata.js';
import { graphDateTimeOf } from '../../mapping/time.js';
import type { Runtime } from '../../runtime.js';
import type { DataverseEntity } from '../../servicebus/messages.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import type { Pair } from '../../storage/pairStore.js';
import { ianaZoneOf } from '../../timeZones.js';
import { deletedInDataverse, planOccurrences, type OccurrenceFacts, type OccurrenceState, type OccurrenceStep } from './occurrences.js';
import type { ExchangeEnding, GraphItem, ItemParts, PartDelete } from './types.js';

export const seriesTable = 'recurringappointmentmaster' satisfies DataverseEntity;
const seriesParties = `${seriesTable}_activity_parties`;
const appointmentParties = 'appointment_activity_parties';

/**
 * Series that are left out start their reason with this (status counts them per mailbox): a pattern the other side
 * cannot hold, with the reason after the colon.
 */
export const recurringReason = 'recurring series not synced';

/** Dataverse instancetypecode: 0 Not Recurring, 1 Recurring Master, 2 Instance, 3 Exception, 4 Future Exception (appointment reference). */
const instanceTypes = { single: 0, master: 1 } as const;

/** Columns only a series master has (the pattern and its time of day), and only an instance has. */
const masterOnly = new Set<string>([...patternColumns, 'starttime', 'endtime', 'groupid']);
const instanceOnly = new Set<string>(['seriesid', 'originalstartdate']);

/** Whether a table has a column the appointment mapping lists. */
export function tableHasColumn(table: DataverseEntity, column: string): boolean {
  if (table === seriesTable) return !instanceOnly.has(column);
  return !masterOnly.has(column);
}

/** A recurringappointmentmaster record (by its pattern column, its party list or its type annotation). */
export function isSeriesRecord(record: Record<string, unknown>): boolean {
  const odataType = record['@odata.type'];
  return typeof record.recurrencepatterntype === 'number' || Array.isArray(record[seriesParties]) || (typeof odataType === 'string' && odataType.toLowerCase().endsWith(seriesTable));
}

/** A Graph series master. */
export const isSeriesItem = (item: GraphItem) => (item as Event).type === 'seriesMaster';

/** A series master read as the appointment mapping reads an appointment (its party list under the appointment's name). */
export function asAppointmentShape(record: DataverseRecord): DataverseRecord {
  if (!Array.isArray(record[seriesParties]) || record[appointmentParties] !== undefined) return record;
  return { ...record, [appointmentParties]: record[seriesParties] };
}

/**
 * An appointment body as a series master's: the master takes its time of day as starttime/endtime (scheduledstart
 * and scheduledend are read-only on it, recurringappointmentmaster reference) and its parties under its own name.
 */
export function asMasterBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'scheduledstart') out.starttime = value;
    else if (key === 'scheduledend') out.endtime = value;
    else if (key === appointmentParties) out[seriesParties] = value;
    else out[key] = value;
  }
  return out;
}

/** The table an Exchange item belongs in. */
export const tableForItem = (item: GraphItem): DataverseEntity => (isSeriesItem(item) ? seriesTable : 'appointment');

/** The series master that carries an occurrence's or an exception's changes. */
export function carrierOf(item: GraphItem): string | undefined {
  const event = item as Event;
  return (event.type === 'occurrence' || event.type === 'exception') && event.seriesMasterId ? event.seriesMasterId : undefined;
}

/** Why an Exchange series is left out (a pattern Dataverse cannot hold), or undefined. */
export function unsupportedSeriesItem(item: GraphItem, mailboxZone: string): string | undefined {
  const event = item as Event;
  if (event.type === 'occurrence' || event.type === 'exception') return `${recurringReason}: an occurrence whose series is not readable`;
  if (event.type !== 'seriesMaster') return undefined;
  const zone = event.originalStartTimeZone && event.originalStartTimeZone !== 'tzone://Microsoft/Custom' ? event.originalStartTimeZone : mailboxZone;
  try {
    const reason = unsupportedInDataverse(patternOfGraph(event.recurrence, zone));
    return reason ? `${recurringReason}: ${reason}` : undefined;
  } catch (error) {
    return `${recurringReason}: ${(error as Error).message}`;
  }
}

/**
 * Why a Dataverse record is not synced by itself: an instance of a series (its series carries it), or the ended part
 * of a split series (Dataverse keeps the history of a pattern edit in a second master of the same groupid; Exchange
 * has one series, which keeps its past occurrences).
 */
export function unsupportedSeriesRecord(record: DataverseRecord): string | undefined {
  const type = record.instancetypecode;
  if (typeof type === 'number' && type !== instanceTypes.single && type !== instanceTypes.master) return 'series instance: its series carries it';
  if (!isSeriesRecord(record)) return undefined;
  const group = typeof record._groupid_value === 'string' ? record._groupid_value.toLowerCase() : undefined;
  const id = typeof record.activityid === 'string' ? record.activityid.toLowerCase() : undefined;
  if (group && id && group !== id) return 'the ended part of a split series: its history stays in the one Exchange series';
  return undefined;
}

/** A paired item that turned into another type it cannot become: a series made a single event in Outlook. */
export function unsupportedSeriesChange(pair: Pair, item: GraphItem): string | undefined {
  const series = isSeriesItem(item);
  // The organizer's single event made a series is converted (seriesConversionOf); an attendee's copy follows the
  // organizer's pair.
  if (series && pair.dataverseEntity !== seriesTable) return `${recurringReason}: an attendee's copy of a single meeting became a series (the organizer's pair converts it)`;
  if (!series && pair.dataverseEntity === seriesTable) return `${recurringReason}: a series turned into a single event in Outlook`;
  return undefined;
}

/**
 * A single event the organizer made a series in Outlook (a PATCH adding `recurrence`, the same event id, now a
 * seriesMaster): its appointment becomes a series by AddRecurrence, the one way Dataverse turns an appointment into
 * a series ("the data from the existing appointment is copied to a new recurring appointment master instance and the
 * existing appointment is deleted", create-recurring-appointment-series-instance-exception).
 */
export function seriesConversionOf(pair: Pair, item: GraphItem): DataverseEntity | undefined {
  return isSeriesItem(item) && pair.dataverseEntity === 'appointment' && pair.isOrganizer !== false && !pair.mirror ? seriesTable : undefined;
}

/** AddRecurrence of appointment `appointmentId` into series `seriesId`; an earlier attempt's lost answer is success. */
export async function addRecurrence(rt: Runtime, mailbox: Mailbox, appointmentId: string, seriesId: string, body: Record<string, unknown>): Promise<void> {
  // The series gets the id the pair moved to; the appointment's globalobjectid, parties and times come from the body.
  const { activityid: _id, ...target } = asMasterBody(body);
  try {
    await rt.dataverse.addRecurrence(appointmentId, { ...target, activityid: seriesId }, { callerObjectId: mailbox.id });
  } catch (error) {
    if (!isSyncError(error, 'NotFound') || !(await rt.dataverse.get(seriesTable, seriesId, { select: ['activityid'] }))) throw error;
  }
}

/**
 * The series a deleted paired appointment became: Dynamics 365 AddRecurrence copies the appointment into a new
 * series and deletes it, and that Delete is all the sync hears (AddRecurrence itself is no step the sync registers).
 * The copy keeps the appointment's globalobjectid when it has one (an appointment made from Exchange), and its
 * subject and start (starttime is the appointment's scheduledstart unless the recurrence says otherwise): a series
 * that matches, made since the pair last synced and paired nowhere in the mailbox, is that series. One query, only
 * for a paired appointment's delete.
 */
export async function seriesMadeOf(rt: Runtime, pair: Pair): Promise<{ table: DataverseEntity; id: string } | undefined> {
  if (pair.dataverseEntity !== 'appointment') return undefined;
  const start = (pair.base.time as { start?: string } | undefined)?.start;
  const subject = typeof pair.base.subject === 'string' ? pair.base.subject : undefined;
  const byCopy = start && subject ? `(starttime eq ${start} and subject eq ${odataString(subject)})` : undefined;
  const byMeeting = pair.iCalUId ? `globalobjectid eq ${odataString(pair.iCalUId)}` : undefined;
  const filter = [byMeeting, byCopy].filter((f) => f !== undefined).join(' or ');
  if (!filter) return undefined;
  const since = pair.updatedOn ? ` and createdon ge ${new Date(Date.parse(pair.updatedOn) - 60_000).toISOString()}` : '';
  const found = await rt.dataverse.query(seriesTable, { filter: `(${filter})${since}`, select: ['activityid'], top: 5 });
  for (const row of found) {
    const id = typeof row.activityid === 'string' ? row.activityid.toLowerCase() : undefined;
    if (id && !(await rt.pairs.get(pair.mailboxId, id))) return { table: seriesTable, id };
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------------------
// A cancelled series (SYNC_PROPAGATE_CANCELLATIONS): the single-appointment rule per series, its past kept.
// ------------------------------------------------------------------------------------------------------------

/**
 * Base key of how a cancelled series was ended in Exchange, recorded on the first pass that saw the cancel:
 * 'pattern' (its pattern ended with the cancel: DeleteOpenInstances) or the ISO instant it was cut at (a plain
 * cancel). Later passes read the record the same way, so the Exchange series is neither cancelled nor extended again.
 */
export const seriesEndKey = 'seriesEnded';
const endedWithPattern = 'pattern';
/** More occurrences than any series in the sync window has (a daily series over 100 years); a bound on the loop. */
const maxOccurrencesScanned = 40_000;

/**
 * The pattern ending at its last occurrence that starts before `cutMs` (range 'endDate' on that date), the pattern
 * itself when every occurrence starts before it, or undefined when none does (nothing of the series is past).
 * `timeOfDay` is the series' start time in its zone; the dates are expanded by seriesExpansion.ts.
 */
export function patternEndedBefore(p: SeriesPattern, timeOfDay: { hour: number; minute: number; second: number }, cutMs: number): SeriesPattern | undefined {
  const iana = ianaOfSeriesZone(p.timeZone);
  let last: string | undefined;
  let n = 0;
  for (const date of occurrenceDates(p)) {
    n += 1;
    if ((p.range === 'numbered' && n > (p.numberOfOccurrences ?? 0)) || (p.range === 'endDate' && p.endDate !== null && date > p.endDate) || n > maxOccurrencesScanned) return p;
    if (DateTime.fromISO(date, { zone: iana }).set(timeOfDay).toMillis() >= cutMs) {
      return last === undefined ? undefined : { ...p, range: 'endDate', endDate: last, numberOfOccurrences: null };
    }
    last = date;
  }
  return p;
}

/**
 * What a cancelled Dynamics 365 series (statecode 2) does to its Exchange series when cancellations propagate. The
 * single-appointment rule (cancel the organizer's meeting only while it is in the future, README "Dynamics 365
 * deletes") applies to the whole series with its past kept (README "Recurring series"): Exchange's cancel of a master
 * cancels every occurrence, past ones too (https://learn.microsoft.com/graph/api/event-cancel), so the master is
 * cancelled only when none of its occurrences is past. Otherwise:
 * - DeleteOpenInstances ended the pattern with the cancel (it ends "the series to the last occurring past instance
 *   date w.r.t. the series end date" and cancels the master,
 *   https://learn.microsoft.com/previous-versions/dynamicscrm-2016/developers-guide/gg327541(v=crm.8)): that is an
 *   end, never a cancel; the ended pattern is merged as any pattern change, and the instances it kept (future ones
 *   too) stay in Exchange.
 * - A plain cancel of a series with past occurrences ends it at its last occurrence before the cancel (the record's
 *   modifiedon, else now): the future occurrences go with one update to the attendees, the past stays. Dataverse's
 *   own pattern is left as it is.
 * `pattern` is the record's pattern as the mapping reads it, `recordedBase` the pair's base.
 */
export function seriesEnding(record: DataverseRecord, recordedBase: Record<string, unknown>, pattern: SeriesPattern | null, now: Date): ExchangeEnding | undefined {
  if (!pattern) return undefined;
  const recorded = recordedBase[seriesEndKey];
  if (recorded === endedWithPattern) return { type: 'end', snapshot: {}, mark: {} };
  const startText = typeof record.starttime === 'string' ? record.starttime : (recordedBase.time as { start?: string } | undefined)?.start;
  const local = startText ? DateTime.fromISO(startText, { zone: 'UTC' }).setZone(ianaOfSeriesZone(pattern.timeZone)) : undefined;
  const start = local?.isValid ? { hour: local.hour, minute: local.minute, second: local.second } : undefined;
  if (typeof recorded === 'string' && start) {
    return { type: 'end', snapshot: { recurrence: patternEndedBefore(pattern, start, Date.parse(recorded)) ?? pattern }, mark: {} };
  }
  if (JSON.stringify(pattern) !== JSON.stringify(recordedBase.recurrence ?? null)) {
    // Ended before its first occurrence: nothing of the series is left, so nothing of it is past either.
    if (pattern.range === 'endDate' && pattern.endDate !== null && pattern.endDate < pattern.startDate) return { type: 'cancel' };
    return { type: 'end', snapshot: {}, mark: { [seriesEndKey]: endedWithPattern } };
  }
  if (!start) return undefined;
  const modified = typeof record.modifiedon === 'string' ? Date.parse(record.modifiedon) : NaN;
  const cut = Number.isNaN(modified) || modified > now.getTime() ? now.getTime() : modified;
  const ended = patternEndedBefore(pattern, start, cut);
  if (!ended) return { type: 'cancel' };
  return { type: 'end', snapshot: { recurrence: ended }, mark: { [seriesEndKey]: new Date(cut).toISOString() } };
}

/** The record's pattern as the appointment mapping reads it, or null when it has none or cannot be read. */
export function seriesPatternOf(record: DataverseRecord, fallbackZone: string): SeriesPattern | null {
  try {
    return patternOfDataverse(record, fallbackZone);
  } catch {
    return null;
  }
}

/** utcconversiontimezonecode's "no code" values (the column's minimum is -1, recurringappointmentmaster reference). */
const noZoneCode = (code: unknown) => code === undefined || code === null || code === -1;

/**
 * A series record with the zone Dataverse expands it in. A series created without utcconversiontimezonecode (a
 * Dynamics 365 user's, not ours: the sync always writes the code) is expanded in the zone "in use when the record was
 * created" (the column's description, recurringappointmentmaster reference; the scheduling API's
 * RecurrenceTimeZoneCode only overrides "the time zone that is specified by the UserTimeZoneCode property",
 * https://learn.microsoft.com/previous-versions/dynamicscrm-2016/developers-guide/gg326397(v=crm.8)): its creator's
 * own time zone, usersettings.timezonecode. That code is filled in, so the pattern's dates and time of day are read
 * in the zone the instances have (reading them in the mailbox's zone put the Exchange series a day early west of
 * UTC). One read of the creator's settings, only for such a series, remembered for ten minutes per runtime (a user's
 * zone rarely changes, and a series is read on every change of it and its instances); a creator without readable
 * settings keeps the mailbox's zone (the mapping's fallback).
 */
export async function withSeriesZone(rt: Runtime, record: DataverseRecord): Promise<DataverseRecord> {
  if (!isSeriesRecord(record) || !noZoneCode(record.utcconversiontimezonecode)) return record;
  let creator = typeof record._createdby_value === 'string' ? record._createdby_value : undefined;
  if (!creator && typeof record.activityid === 'string') {
    const read = await rt.dataverse.get(seriesTable, record.activityid, { select: ['activityid', '_createdby_value'] });
    creator = typeof read?._createdby_value === 'string' ? read._createdby_value : undefined;
  }
  if (!creator) return record;
  const code = await userZoneCode(rt, creator.toLowerCase());
  if (code === undefined || windowsZoneOfDataverseCode(code) === undefined) return record;
  return { ...record, utcconversiontimezonecode: code };
}

const userZoneTtlMs = 10 * 60_000;
const userZones = new WeakMap<Runtime, BoundedCache<string, number | undefined>>();

/** A user's own time zone code (usersettings.timezonecode), remembered per runtime; undefined when not readable. */
async function userZoneCode(rt: Runtime, userId: string): Promise<number | undefined> {
  // Bounded like the other per-user caches (shared/boundedCache.ts): a worker sees every user of the tenant in time.
  let known = userZones.get(rt);
  if (!known) {
    known = new BoundedCache<string, number | undefined>(10_000, userZoneTtlMs, () => rt.now().getTime());
    userZones.set(rt, known);
  }
  if (known.has(userId)) return known.get(userId);
  let settings: DataverseRecord | undefined;
  try {
    settings = await rt.dataverse.get('usersettings', userId, { select: ['systemuserid', 'timezonecode'] });
  } catch (error) {
    // The app user may lack prvReadUserSettings (the onboarding check says so); the mailbox's zone is the fallback.
    if (!isSyncError(error, 'Forbidden') && !isSyncError(error, 'NotFound')) throw error;
  }
  const code = typeof settings?.timezonecode === 'number' ? settings.timezonecode : undefined;
  known.set(userId, code);
  return code;
}

// ------------------------------------------------------------------------------------------------------------
// Exceptions and cancelled occurrences: read both sides, decide (occurrences.ts), write.
// ------------------------------------------------------------------------------------------------------------

/** Base keys of a series pair's recorded occurrences: `occ:<original start UTC>`. */
const occurrencePrefix = 'occ:';
/**
 * Base key of the fingerprint of the Dataverse series' deletedexceptionslist as last compared, and its name in the
 * parts' state. The list's format is not documented (recurringappointmentmaster reference: "List of deleted
 * instances"), so it is never parsed: a change of it only says an instance was deleted, and the pass then lists the
 * Exchange occurrences to find which ones Dataverse no longer has.
 */
const deletedListKey = 'seriesDeletedInstances';
const deletedListState = '#deleted';

/** What the series' parts pass compares: each occurrence's facts, and the Dataverse deleted list's fingerprint. */
export interface SeriesFacts {
  occurrences: OccurrenceFacts[];
  deletedList: string | undefined;
}

const fingerprintText = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/** The fingerprint of a series record's deletedexceptionslist, or undefined when it is empty. */
function deletedListOf(record: Record<string, unknown> | undefined): string | undefined {
  const list = record?.deletedexceptionslist;
  return typeof list === 'string' && list.trim() !== '' ? fingerprintText(list) : undefined;
}

/**
 * Whether the series shows an instance deleted since the pair's last pass. Deleting an instance "marks it as an
 * exception by creating an entry... in DeletedExceptionsList" (update-recurring-appointment); the platform's own
 * deletes (a re-expansion after a pattern edit) leave the list alone. A record read without the column counts as a
 * change (the pass then decides).
 */
export function seriesDeleteSeen(record: Record<string, unknown>, base: Record<string, unknown>): boolean {
  if (!('deletedexceptionslist' in record)) return true;
  return deletedListOf(record) !== base[deletedListKey];
}

const canonicalUtc = (value: string | null | undefined): string | undefined => {
  if (!value) return undefined;
  const instant = DateTime.fromISO(value, { zone: 'UTC', setZone: true });
  return instant.isValid ? instant.toUTC().startOf('second').toISO({ suppressMilliseconds: true }) : undefined;
};
/** A Graph dateTimeTimeZone read with Prefer outlook.timezone="UTC" (the client always asks so), as UTC. */
const utcOfGraph = (value: { dateTime?: string | null; timeZone?: string | null } | null | undefined, zone: string): string | undefined => {
  if (!value?.dateTime) return undefined;
  const iana = ianaZoneOf(value.timeZone ?? 'UTC', zone) ?? 'UTC';
  const instant = DateTime.fromISO(value.dateTime, { zone: iana });
  return instant.isValid ? instant.toUTC().startOf('second').toISO({ suppressMilliseconds: true }) : undefined;
};
const text = (value: string | null | undefined): string | null => (value && value.trim() !== '' ? value : null);

/** The zone a Graph series is expanded in: its range's recurrenceTimeZone, else its start zone, else the mailbox's. */
function seriesZoneOf(master: Event, mailboxZone: string): string {
  const named = master.recurrence?.range?.recurrenceTimeZone ?? master.originalStartTimeZone ?? undefined;
  return (named && ianaZoneOf(named, mailboxZone)) || mailboxZone;
}

/** The canonical pattern of a Graph master, or undefined when it cannot be read (nothing then depends on it). */
function patternOrUndefined(master: Event, zone: string): SeriesPattern | undefined {
  try {
    return master.recurrence ? patternOfGraph(master.recurrence, zone) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads what the occurrence table compares, for one series pair. */
export async function readOccurrences(rt: Runtime, mailbox: Mailbox, pair: Pair, now: Date, window: { start: Date; end: Date }): Promise<SeriesFacts> {
  const master = await rt.graph.getSeriesMaster(mailbox.id, pair.exchangeId!);
  const zone = seriesZoneOf(master, mailbox.timeZone);
  const masterStart = DateTime.fromISO(utcOfGraph(master.start, zone) ?? '', { zone: 'UTC' }).setZone(zone);
  const exchange = new Map<string, OccurrenceState>();
  // cancelledOccurrences: `OID.{masterId}.{yyyy-MM-dd}`, the date in the series zone; the original start is that
  // date at the series' time of day.
  for (const entry of master.cancelledOccurrences ?? []) {
    const date = /(\d{4}-\d{2}-\d{2})$/.exec(entry)?.[1];
    if (!date || !masterStart.isValid) continue;
    const start = DateTime.fromISO(date, { zone }).set({ hour: masterStart.hour, minute: masterStart.minute, second: masterStart.second });
    exchange.set(start.toUTC().toISO({ suppressMilliseconds: true })!, { cancelled: true });
  }
  for (const ex of master.exceptionOccurrences ?? []) {
    const key = canonicalUtc(ex.originalStart ?? undefined);
    const start = utcOfGraph(ex.start, zone);
    const end = utcOfGraph(ex.end, zone);
    if (!key || !start || !end) continue;
    exchange.set(key, ex.isCancelled ? { cancelled: true } : { cancelled: false, start, end, subject: text(ex.subject), location: text(ex.location?.displayName) });
  }
  const instances = await rt.dataverse.query('appointment', {
    filter: `seriesid eq ${pair.dataverseId}`,
    select: ['activityid', 'originalstartdate', 'instancetypecode', 'scheduledstart', 'scheduledend', 'subject', 'location', 'statecode'],
  });
  // An instance is an exception when the platform marked it (instancetypecode 3) or when it differs from what its
  // series makes of it: whether a PATCH of an instance sets instancetypecode 3 is not documented (probe P2), so the
  // values decide too.
  const seriesRecord = await rt.dataverse.get(seriesTable, pair.dataverseId, { select: ['subject', 'location', 'duration', 'deletedexceptionslist', 'lastexpandedinstancedate', 'effectivestartdate'] });
  const seriesDurationMs = typeof seriesRecord?.duration === 'number' ? seriesRecord.duration * 60_000 : undefined;
  const dataverse = new Map<string, { id: string; closed: boolean; state: OccurrenceState | undefined }>();
  for (const row of instances) {
    const key = canonicalUtc(row.originalstartdate as string | undefined);
    if (!key || typeof row.activityid !== 'string') continue;
    const start = canonicalUtc(row.scheduledstart as string | undefined);
    const end = canonicalUtc(row.scheduledend as string | undefined);
    const differs =
      start !== key ||
      (seriesDurationMs !== undefined && end !== undefined && Date.parse(end) - Date.parse(key) !== seriesDurationMs) ||
      text(row.subject as string | null) !== text(seriesRecord?.subject as string | null) ||
      text(row.location as string | null) !== text(seriesRecord?.location as string | null);
    const exception = (row.instancetypecode === 3 || differs) && start && end;
    dataverse.set(key, {
      id: row.activityid,
      closed: row.statecode === 1 || row.statecode === 2,
      state: exception ? { cancelled: false, start, end, subject: text(row.subject as string | null), location: text(row.location as string | null) } : undefined,
    });
  }
  // An instance deleted in Dynamics 365 leaves no row to read; the series' deleted list changes. Only then are the
  // Exchange occurrences listed (one more read), between the series' first date by Dataverse's own expansion
  // (effectivestartdate) and where Dataverse has expanded it (lastexpandedinstancedate): an occurrence Exchange has
  // and Dataverse lacks there was deleted in Dataverse. Outside that span the two expansions may differ (a range
  // start not on the pattern), which is no delete.
  const list = deletedListOf(seriesRecord);
  const deletedInDataverse = new Map<string, string>();
  const instant = (value: unknown) => (typeof value === 'string' ? Date.parse(value) : NaN);
  const expandedTo = instant(seriesRecord?.lastexpandedinstancedate);
  const expandedFrom = Math.max(window.start.getTime(), instant(seriesRecord?.effectivestartdate) || 0);
  if (list !== undefined && list !== pair.base[deletedListKey] && !Number.isNaN(expandedTo)) {
    // A day past the last expanded start, so that occurrence is listed whatever the range rule of /instances
    // (overlap or containment); the keys are bounded below.
    const end = Math.min(window.end.getTime(), expandedTo + 86_400_000);
    const listed = end > expandedFrom ? await rt.graph.seriesInstances(mailbox.id, pair.exchangeId!, { start: new Date(expandedFrom), end: new Date(end) }) : [];
    const pattern = patternOrUndefined(master, zone);
    for (const o of listed) {
      const key = canonicalUtc(o.originalStart ?? undefined);
      const at = key ? Date.parse(key) : NaN;
      if (!key || !o.id || !(at >= expandedFrom && at <= expandedTo) || dataverse.has(key)) continue;
      // A date only the short-month rule gives (day 31 on 30 April) may be missing in Dataverse by its own rule, not
      // by a delete: never read as one (probe P6). A real delete of such an instance is kept in Exchange.
      if (pattern && onShortMonthRule(pattern, DateTime.fromISO(key, { zone: 'UTC' }).setZone(zone).toISODate()!)) continue;
      deletedInDataverse.set(key, o.id);
    }
  }
  const keys = new Set<string>([...exchange.keys(), ...deletedInDataverse.keys(), ...[...dataverse].filter(([, v]) => v.state).map(([k]) => k)]);
  for (const key of Object.keys(pair.base)) if (key.startsWith(occurrencePrefix)) keys.add(key.slice(occurrencePrefix.length));
  const organizes = pair.isOrganizer !== false && !pair.mirror;
  const occurrences = [...keys].map((key) => {
    const at = Date.parse(key);
    const instance = dataverse.get(key);
    const recorded = pair.base[`${occurrencePrefix}${key}`];
    return {
      key,
      base: typeof recorded === 'string' ? recorded : undefined,
      exchange: exchange.get(key),
      dataverse: instance?.state,
      instanceId: instance?.id,
      dataverseDeleted: deletedInDataverse.has(key),
      occurrenceId: deletedInDataverse.get(key),
      instanceClosed: instance?.closed ?? false,
      inWindow: at >= window.start.getTime() && at < window.end.getTime(),
      isPast: at < now.getTime(),
      organizes,
    };
  });
  return { occurrences, deletedList: list };
}

/** The occurrence table's plan, with the deleted list's fingerprint recorded beside the occurrences. */
export function planSeriesParts(facts: SeriesFacts): { steps: OccurrenceStep[]; state: Record<string, string> } {
  const plan = planOccurrences(facts.occurrences);
  return facts.deletedList === undefined ? plan : { steps: plan.steps, state: { ...plan.state, [deletedListState]: facts.deletedList } };
}

/** The pair's base with the recorded occurrence states (and the deleted list's fingerprint) replaced by `state`. */
export function baseWithOccurrences(base: Record<string, unknown>, state: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) if (!key.startsWith(occurrencePrefix) && key !== deletedListKey) out[key] = value;
  for (const [key, value] of Object.entries(state)) out[key === deletedListState ? deletedListKey : `${occurrencePrefix}${key}`] = value;
  return out;
}

/** The recorded occurrence states of a pair's base, as planSeriesParts returns them. */
export function recordedOccurrences(base: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (typeof value !== 'string') continue;
    if (key.startsWith(occurrencePrefix)) out[key.slice(occurrencePrefix.length)] = value;
    else if (key === deletedListKey) out[deletedListState] = value;
  }
  return out;
}

/** Performs one occurrence step. */
export async function applyOccurrenceStep(rt: Runtime, mailbox: Mailbox, pair: Pair, step: OccurrenceStep, ctx: MappingContext): Promise<void> {
  switch (step.type) {
    case 'Keep':
      rt.log.info('occurrence kept', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, originalStart: step.key, reason: step.reason });
      return;
    case 'DeleteOccurrence':
      // The organizer's delete of an occurrence cancels it for the attendees (event-delete); a 404 is success.
      await rt.graph.deleteEvent(mailbox.id, step.occurrenceId);
      rt.log.info('occurrence deleted in Exchange', { mailboxId: mailbox.id, exchangeId: pair.exchangeId, originalStart: step.key, reason: step.reason });
      return;
    case 'DeleteInstance':
      await rt.dataverse.delete('appointment', step.instanceId, { callerObjectId: mailbox.id });
      rt.log.info('occurrence deleted in Dataverse', { mailboxId: mailbox.id, dataverseId: step.instanceId, originalStart: step.key, reason: step.reason });
      return;
    case 'WriteInstance':
      await rt.dataverse.update(
        'appointment',
        step.instanceId,
        { scheduledstart: step.state.start, scheduledend: step.state.end, subject: step.state.subject, location: step.state.location },
        { callerObjectId: mailbox.id },
      );
      rt.log.info('occurrence updated in Dataverse', { mailboxId: mailbox.id, dataverseId: step.instanceId, originalStart: step.key });
      return;
    case 'WriteOccurrence': {
      // The occurrence is found by its original start (never by a stored id: Graph's occurrence ids change when a
      // series moves); a narrow window around it keeps the read small.
      const at = Date.parse(step.key);
      const found = (await rt.graph.seriesInstances(mailbox.id, pair.exchangeId!, { start: new Date(at - 86_400_000), end: new Date(at + 86_400_000) })).find(
        (o) => canonicalUtc(o.originalStart ?? undefined) === step.key,
      );
      if (!found?.id) {
        rt.log.info('occurrence kept', { mailboxId: mailbox.id, exchangeId: pair.exchangeId, originalStart: step.key, reason: 'no such occurrence in Exchange' });
        return;
      }
      // Moving an occurrence onto or past its neighbour is refused by Exchange (400 ErrorOccurrenceCrossingBoundary,
      // event-update); Dataverse allows it, so it surfaces as a permanent error of this change.
      await rt.graph.updateEvent(mailbox.id, found.id, {
        start: graphDateTimeOf(DateTime.fromISO(step.state.start, { zone: 'UTC' }), ctx),
        end: graphDateTimeOf(DateTime.fromISO(step.state.end, { zone: 'UTC' }), ctx),
        subject: step.state.subject ?? '',
        location: { displayName: step.state.location ?? '' },
      });
      rt.log.info('occurrence updated in Exchange', { mailboxId: mailbox.id, exchangeId: found.id, originalStart: step.key });
      return;
    }
  }
}

/**
 * An occurrence step's delete, for the breaker: both kinds count as announced deletes (a cancellation Exchange lists,
 * a Dataverse delete its deleted list shows), not inferred from a missing item. Discarding a held one records the
 * occurrence as the side that deleted it has it, so it is not deleted again on the next pass.
 */
export function occurrenceDelete(step: OccurrenceStep): PartDelete | undefined {
  if (step.type === 'DeleteInstance') return { side: 'dataverse', dataverseEntity: 'appointment', dataverseId: step.instanceId, reason: `occurrence ${step.key}: ${step.reason}`, onDiscard: 'cancelled' };
  if (step.type === 'DeleteOccurrence') return { side: 'exchange', dataverseEntity: 'appointment', exchangeId: step.occurrenceId, reason: `occurrence ${step.key}: ${step.reason}`, onDiscard: deletedInDataverse };
  return undefined;
}

/** The series' occurrences as the engine's item parts. */
export const seriesParts: ItemParts = {
  appliesTo: (table) => table === seriesTable,
  read: readOccurrences,
  decide: (facts) => planSeriesParts(facts as SeriesFacts),
  apply: (rt, mailbox, pair, step, ctx) => applyOccurrenceStep(rt, mailbox, pair, step as OccurrenceStep, ctx),
  baseWith: baseWithOccurrences,
  recordedOf: recordedOccurrences,
  deleteSeen: seriesDeleteSeen,
  deletes: (step) => occurrenceDelete(step as OccurrenceStep),
};

/**
 * An instance's changes are its series' (the series is the unit of sync). Any instance of a series (instancetypecode
 * 2-4) is carried: whether an update of an instance shows instancetypecode 3 in its post image is not documented
 * (probe P2; the simulator shows 2).
 */
export function recordCarrierOf(record: DataverseRecord): { table: DataverseEntity; id: string } | undefined {
  // seriesid is a Uniqueidentifier column, not a lookup (appointment reference, SeriesId).
  const series = record.seriesid;
  const type = record.instancetypecode;
  return typeof type === 'number' && type >= 2 && typeof series === 'string' ? { table: seriesTable, id: series.toLowerCase() } : undefined;
}
