// Recurring series, the appointment kind's second table: one pair per series (Graph seriesMaster <->
// recurringappointmentmaster), never one per occurrence or instance. The rules of a series that differ from a single
// appointment's are here; the appointment kind (appointment.ts) calls them where a record or item is a series.
// Sources: https://learn.microsoft.com/graph/api/resources/event (type, seriesMasterId, originalStart) and
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/recurringappointmentmaster
// (columns, groupid), https://learn.microsoft.com/power-apps/developer/data-platform/update-recurring-appointment
// (a pattern edit splits the series).
import type { Event } from '@microsoft/microsoft-graph-types';
import type { DataverseRecord } from '../../dataverse/client.js';
import { patternColumns, patternOfGraph, unsupportedInDataverse } from '../../mapping/recurrence.js';
import type { DataverseEntity } from '../../servicebus/messages.js';
import type { Pair } from '../../storage/pairStore.js';
import type { GraphItem } from './types.js';

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

/** A paired item that turned into another type: a single event made a series in Outlook, or a series made single. */
export function unsupportedSeriesChange(pair: Pair, item: GraphItem): string | undefined {
  const series = isSeriesItem(item);
  if (series && pair.dataverseEntity !== seriesTable) return `${recurringReason}: a single appointment turned into a series in Outlook (Dataverse AddRecurrence is not used yet)`;
  if (!series && pair.dataverseEntity === seriesTable) return `${recurringReason}: a series turned into a single event in Outlook`;
  return undefined;
}
