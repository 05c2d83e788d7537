// Time conversions between Dataverse (UTC instants) and Graph (local date-time plus zone name). Graph may name a
// zone the Windows way ("W. Europe Standard Time") or the IANA way ("Europe/Berlin"); both are accepted
// (GDC resources/datetimetimezone.md). We write Windows names, the set every Graph method accepts.
import { DateTime } from 'luxon';
import { invalidInput } from '../errors.js';
import { ianaZoneOf, windowsZoneOf } from '../timeZones.js';
import type { GraphDateTimeTimeZone } from '../wire/dates.js';
import type { MappingContext } from './context.js';

/** IANA zone for a Graph zone name; prefers the mailbox zone when a Windows name covers several IANA zones. */
export function resolveZone(name: string, field: string, preferred?: string): string {
  const zone = ianaZoneOf(name, preferred);
  if (zone === undefined) throw invalidInput(field, name, 'is neither an IANA nor a Windows time zone name');
  return zone;
}

/** The zone name we write into Graph dateTimeTimeZone for the mailbox, and the IANA zone it stands for. */
export function graphZoneOf(ctx: MappingContext): { name: string; iana: string } {
  const windows = windowsZoneOf(ctx.timeZone);
  // A zone without a Windows twin is written as UTC with converted wall times, which every method accepts.
  return windows === undefined ? { name: 'UTC', iana: 'UTC' } : { name: windows, iana: ctx.timeZone };
}

/** The UTC instant a Graph dateTimeTimeZone names. */
export function instantOfGraph(value: GraphDateTimeTimeZone, field: string, ctx: MappingContext): DateTime {
  const zone = resolveZone(value.timeZone, `${field}.timeZone`, ctx.timeZone);
  const local = DateTime.fromISO(value.dateTime, { zone });
  if (!local.isValid) throw invalidInput(`${field}.dateTime`, value.dateTime, 'is not a valid date-time');
  return local.toUTC();
}

/** The UTC instant of a Dataverse date-time column value. */
export function instantOfDataverse(value: string, field: string): DateTime {
  const instant = DateTime.fromISO(value, { setZone: true });
  if (!instant.isValid) throw invalidInput(field, value, 'is not a valid date-time');
  return instant.toUTC();
}

/** Canonical instant: ISO 8601 UTC to the second (Dataverse keeps no fractions, Graph keeps 100 ns). */
export function canonicalInstant(instant: DateTime): string {
  return instant.toUTC().startOf('second').toISO({ suppressMilliseconds: true }) ?? '';
}

/** The calendar date (`YYYY-MM-DD`) an instant falls on in the mailbox zone. */
export function localDateOf(instant: DateTime, ctx: MappingContext): string {
  return instant.setZone(ctx.timeZone).toISODate() ?? '';
}

/** Graph dateTimeTimeZone for an instant, in the mailbox zone. */
export function graphDateTimeOf(instant: DateTime, ctx: MappingContext): GraphDateTimeTimeZone {
  const zone = graphZoneOf(ctx);
  const exact = instant.startOf('second');
  // In the hour a DST change repeats (e.g. 01:30 twice in New York in November) a wall time names two instants,
  // and which one a reader picks is its own choice; such a time is written in UTC so it names only the one it was.
  if (isRepeatedWallTime(exact, zone.iana)) {
    return { dateTime: exact.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss"), timeZone: 'UTC' };
  }
  return { dateTime: exact.setZone(zone.iana).toFormat("yyyy-MM-dd'T'HH:mm:ss"), timeZone: zone.name };
}

/** True when the local wall time of `instant` in `zone` also names another instant (the repeated hour). */
export function isRepeatedWallTime(instant: DateTime, zone: string): boolean {
  const local = instant.setZone(zone);
  const wallAsUtc = instant.toMillis() + local.offset * 60_000;
  // Offsets in use a few hours either side cover every DST shift (at most 2 hours; Lord Howe's is 30 minutes).
  for (const probe of [instant.minus({ hours: 3 }), instant.plus({ hours: 3 })]) {
    const offset = probe.setZone(zone).offset;
    const other = wallAsUtc - offset * 60_000;
    if (other !== instant.toMillis() && DateTime.fromMillis(other, { zone }).offset === offset) return true;
  }
  return false;
}

/** Graph dateTimeTimeZone for local midnight of a calendar date in the mailbox zone (all-day items, due dates). */
export function graphMidnightOf(date: string, ctx: MappingContext): GraphDateTimeTimeZone {
  const zone = graphZoneOf(ctx);
  if (zone.iana === ctx.timeZone) return { dateTime: `${date}T00:00:00`, timeZone: zone.name };
  return graphDateTimeOf(midnightOf(date, ctx), ctx);
}

/** Local midnight of a calendar date in the mailbox zone, as an instant. */
export function midnightOf(date: string, ctx: MappingContext): DateTime {
  return DateTime.fromISO(date, { zone: ctx.timeZone }).startOf('day');
}

/** Dataverse date-time value (UTC, to the second) for an instant. */
export function dataverseDateTimeOf(instant: DateTime): string {
  return canonicalInstant(instant);
}

/** The calendar date `days` after `date` (both `YYYY-MM-DD`). */
export function addDays(date: string, days: number): string {
  return DateTime.fromISO(date, { zone: 'UTC' }).plus({ days }).toISODate() ?? date;
}
