// Recurring series as Exchange stores them: one master item holding the pattern, the original starts of its
// cancelled occurrences and of its exceptions; exceptions are items of their own; plain occurrences are computed
// on the fly (https://learn.microsoft.com/graph/api/event-list-instances: "the occurrences and exceptions of the
// event in the specified time range"). An occurrence's id is derived from its master and original start, so it is
// stable while the series is unchanged and the exception made from it keeps it.
import { civilDateOf, expand, seriesTiming, type CivilDate, type Occurrence } from '../recurrence.js';
import type { ItemRecord } from '../store.js';
import type { EventData, EventRecord } from './events.js';

const OCCURRENCE_PREFIX = 'AAMkO';

/** The id of the occurrence of `masterId` originally starting at `originalStart`. */
export function occurrenceId(masterId: string, originalStart: number): string {
  return OCCURRENCE_PREFIX + Buffer.from(`${masterId}|${originalStart}`, 'utf8').toString('base64url');
}

/** The master id and original start an occurrence id encodes, or undefined for any other id. */
export function parseOccurrenceId(id: string): { masterId: string; originalStart: number } | undefined {
  if (!id.startsWith(OCCURRENCE_PREFIX)) return undefined;
  const text = Buffer.from(id.slice(OCCURRENCE_PREFIX.length), 'base64url').toString('utf8');
  const bar = text.lastIndexOf('|');
  if (bar <= 0) return undefined;
  const originalStart = Number(text.slice(bar + 1));
  return Number.isSafeInteger(originalStart) ? { masterId: text.slice(0, bar), originalStart } : undefined;
}

/**
 * The iCalUId of one occurrence: the master's global object id with the instance date in bytes 16-19 (year high,
 * year low, month, day), which are zero in a master's (MS-OXOCAL section 2.2.1.27, PidLidGlobalObjectId:
 * https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxocal).
 */
export function occurrenceICalUId(masterUid: string, date: CivilDate): string {
  if (masterUid.length < 40) return masterUid;
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
  return `${masterUid.slice(0, 32)}${hex(date.y, 4)}${hex(date.m, 2)}${hex(date.d, 2)}${masterUid.slice(40)}`;
}

/** The timing every occurrence of a master follows. */
export function timingOf(master: EventData): ReturnType<typeof seriesTiming> {
  const rec = master.recurrence;
  if (!rec) throw new Error('not a series master');
  return seriesTiming(master.start, master.end, rec.range.zone, master.isAllDay);
}

/** `OID.{masterId}.{yyyy-MM-dd}`: the occurrenceId of a cancelled occurrence, dated in the series zone. */
export function cancelledOccurrenceId(master: EventRecord, originalStart: number): string {
  const zone = master.data.recurrence?.range.zone;
  const date = zone ? civilDateOf(originalStart, zone) : civilDateOf(originalStart, master.data.startZone);
  return `OID.${master.id}.${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}-${String(date.d).padStart(2, '0')}`;
}

/** Plain occurrences of a master inside a window (cancelled ones and those replaced by exceptions left out). */
export function* plainOccurrences(master: EventRecord, window: { start: number; end: number }): Generator<Occurrence> {
  const d = master.data;
  if (!d.recurrence) return;
  const cancelled = new Set(d.cancelled);
  const exceptions = new Set(d.exceptionStarts);
  for (const occ of expand(d.recurrence, timingOf(d), window)) {
    if (cancelled.has(occ.originalStart) || exceptions.has(occ.originalStart)) continue;
    yield occ;
  }
}

/** A computed occurrence as an item: the master's data at the occurrence's time, type occurrence, no recurrence. */
export function occurrenceRecord(master: EventRecord, occ: Occurrence, iCalUIdMode: 'perOccurrence' | 'series'): EventRecord {
  const d = master.data;
  const data: EventData = {
    ...d,
    start: occ.start,
    end: occ.end,
    type: 'occurrence',
    seriesMasterId: master.id,
    originalStart: occ.originalStart,
    recurrence: null,
    cancelled: [],
    exceptionStarts: [],
    iCalUId: iCalUIdMode === 'series' ? d.iCalUId : occurrenceICalUId(d.iCalUId, occ.date),
  };
  const record: ItemRecord<EventData> = {
    id: occurrenceId(master.id, occ.originalStart),
    kind: 'event',
    userId: master.userId,
    collectionKey: master.collectionKey,
    parentId: master.parentId,
    createdAt: master.createdAt,
    modifiedAt: master.modifiedAt,
    changeKey: master.changeKey,
    seq: master.seq,
    data,
    ext: master.ext,
    indexKeys: [],
  };
  return record;
}
