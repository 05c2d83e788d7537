// Expansion of a recurringappointmentmaster's pattern into occurrence starts, as the Dataverse platform does it when it
// creates the `appointment` instances of a series. Pure: a pattern in, occurrences out (no store, no clock).
//
// Columns and values: the table reference
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/recurringappointmentmaster
// (recurrencepatterntype 0 Daily, 1 Weekly, 2 Monthly, 3 Yearly; daysofweekmask Sunday 0x01 .. Saturday 0x40;
// instance 1 First .. 4 Fourth, 5 Last; patternendtype 1 No End Date, 2 Occurrences, 3 Pattern End Date;
// interval 1-1000, occurrences 1-999, dayofmonth 1-31, monthofyear 1-12, firstdayofweek 0-6).
// Occurrences are computed on the local calendar of the series' time zone and turned into instants there, so a
// 09:00 weekly series stays at 09:00 local across a daylight-saving change.
import { DateTime } from 'luxon';

export type PatternType = 0 | 1 | 2 | 3;
export type EndType = 1 | 2 | 3;

/** A calendar date (no zone): the day numbers of the local calendar the pattern is defined on. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

export interface Pattern {
  type: PatternType;
  interval: number;
  /** Days of week (Sunday 1, Monday 2, ... Saturday 64); weekly and the Nth monthly/yearly patterns. */
  daysOfWeekMask: number;
  dayOfMonth: number | null;
  monthOfYear: number | null;
  /** 1..4 = first..fourth, 5 = last (Nth monthly / yearly). */
  instance: number | null;
  /** 0 = Sunday .. 6 = Saturday: the day a week starts on, which decides the weeks of an every-N-weeks pattern. */
  firstDayOfWeek: number;
  /** isnthmonthly / isnthyearly: "the Nth <days> of the month" instead of a day of the month. */
  nth: boolean;
  /**
   * A day 29-31 a month does not have: 'last' (default) falls on the month's last day, Outlook's rule; 'skip' has no
   * occurrence that month. Dataverse's own rule is not documented (probe P6).
   */
  shortMonth?: 'last' | 'skip';
  startDate: LocalDate;
  endType: EndType;
  occurrences: number | null;
  endDate: LocalDate | null;
  /** Local wall-clock time of each occurrence's start. */
  startTime: { hour: number; minute: number; second: number };
  durationMinutes: number;
  /** IANA zone the pattern is expanded in. */
  zone: string;
}

export interface Occurrence {
  /** 0-based position in the series (counts every occurrence from the pattern start, in or out of any window). */
  index: number;
  date: LocalDate;
  startMs: number;
  endMs: number;
}

export const WEEKDAY_MASK = 0x3e; // Monday..Friday
const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a calendar date (a zone-free day counter). */
export function dayNumber(d: LocalDate): number {
  return Math.round(Date.UTC(d.year, d.month - 1, d.day) / DAY_MS);
}

export function fromDayNumber(n: number): LocalDate {
  const t = new Date(n * DAY_MS);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** 0 = Sunday .. 6 = Saturday. */
export function dayOfWeek(d: LocalDate): number {
  return new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function compareDates(a: LocalDate, b: LocalDate): number {
  return dayNumber(a) - dayNumber(b);
}

export function formatLocalDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** The local calendar date of an instant in a zone. */
export function localDateOf(ms: number, zone: string): LocalDate {
  const t = DateTime.fromMillis(ms, { zone });
  return { year: t.year, month: t.month, day: t.day };
}

/** The local wall-clock time of an instant in a zone. */
export function localTimeOf(ms: number, zone: string): { hour: number; minute: number; second: number } {
  const t = DateTime.fromMillis(ms, { zone });
  return { hour: t.hour, minute: t.minute, second: t.second };
}

/**
 * The instant of a local date and time in a zone. A time inside a spring-forward gap moves forward by the gap (as
 * luxon does); in an autumn overlap the earlier (daylight) instant is taken.
 */
export function instantOf(date: LocalDate, time: { hour: number; minute: number; second: number }, zone: string): number {
  return DateTime.fromObject({ ...date, ...time }, { zone }).toMillis();
}

/** Local midnight of a date in a zone, as an instant (how a DateOnly/UserLocal column stores a date). */
export function midnightOf(date: LocalDate, zone: string): number {
  return instantOf(date, { hour: 0, minute: 0, second: 0 }, zone);
}

/** The Nth (1..4) or last (5) day of a month whose weekday is in `mask`. */
export function nthDayOfMonth(year: number, month: number, mask: number, instance: number): LocalDate {
  const matching: number[] = [];
  const n = daysInMonth(year, month);
  for (let day = 1; day <= n; day++) {
    if (mask & (1 << dayOfWeek({ year, month, day }))) matching.push(day);
  }
  // Every weekday occurs at least four times in a month, so instances 1-4 and "last" always exist for a non-empty mask.
  const day = instance >= 5 ? matching[matching.length - 1]! : matching[Math.min(instance, matching.length) - 1]!;
  return { year, month, day };
}

/**
 * The day of a month for an absolute pattern. A day the month does not have (31 in April, 29-31 in February) falls on
 * the month's last day, Outlook's rule for "day 31 of every month"; Dataverse's own choice is not documented.
 */
function absoluteDay(year: number, month: number, dayOfMonth: number): LocalDate {
  return { year, month, day: Math.min(dayOfMonth, daysInMonth(year, month)) };
}

/** Whether a month has the absolute day, under the pattern's short-month rule. */
const hasDay = (p: Pattern, year: number, month: number, dayOfMonth: number) => (p.shortMonth ?? 'last') === 'last' || dayOfMonth <= daysInMonth(year, month);

/** Candidate dates of the pattern from its start date on, ascending, before the range is applied. */
function* candidateDates(p: Pattern): Generator<LocalDate> {
  const start = dayNumber(p.startDate);
  const interval = Math.max(1, p.interval);
  switch (p.type) {
    case 0:
      for (let d = start; ; d += interval) yield fromDayNumber(d);
    case 1: {
      const mask = p.daysOfWeekMask;
      const weekStart = start - ((dayOfWeek(p.startDate) - p.firstDayOfWeek + 7) % 7);
      for (let w = weekStart; ; w += 7 * interval) {
        for (let k = 0; k < 7; k++) {
          const d = w + k;
          if (d < start) continue;
          const date = fromDayNumber(d);
          if (mask & (1 << dayOfWeek(date))) yield date;
        }
      }
    }
    case 2: {
      for (let m = 0; ; m += interval) {
        const months = p.startDate.month - 1 + m;
        const year = p.startDate.year + Math.floor(months / 12);
        const month = (months % 12) + 1;
        if (!p.nth && !hasDay(p, year, month, p.dayOfMonth ?? p.startDate.day)) continue;
        const date = p.nth ? nthDayOfMonth(year, month, p.daysOfWeekMask, p.instance ?? 1) : absoluteDay(year, month, p.dayOfMonth ?? p.startDate.day);
        if (dayNumber(date) >= start) yield date;
      }
    }
    case 3: {
      const month = p.monthOfYear ?? p.startDate.month;
      for (let year = p.startDate.year; ; year += interval) {
        if (!p.nth && !hasDay(p, year, month, p.dayOfMonth ?? p.startDate.day)) continue;
        const date = p.nth ? nthDayOfMonth(year, month, p.daysOfWeekMask, p.instance ?? 1) : absoluteDay(year, month, p.dayOfMonth ?? p.startDate.day);
        if (dayNumber(date) >= start) yield date;
      }
    }
  }
}

/**
 * The occurrences of a pattern in order, applying its range (no end, N occurrences, or up to an end date inclusive).
 * A no-end pattern never ends: the caller stops (at its expansion window).
 */
export function* occurrences(p: Pattern): Generator<Occurrence> {
  let index = 0;
  const endDay = p.endType === 3 && p.endDate ? dayNumber(p.endDate) : Infinity;
  for (const date of candidateDates(p)) {
    if (p.endType === 2 && index >= (p.occurrences ?? 0)) return;
    if (dayNumber(date) > endDay) return;
    const startMs = instantOf(date, p.startTime, p.zone);
    const endMs = DateTime.fromMillis(startMs, { zone: p.zone }).plus({ minutes: p.durationMinutes }).toMillis();
    yield { index, date, startMs, endMs };
    index++;
  }
}

/** Occurrences that start in [fromMs, toMs); stops at the first occurrence at or after `toMs`. */
export function* occurrencesBetween(p: Pattern, fromMs: number, toMs: number): Generator<Occurrence> {
  for (const o of occurrences(p)) {
    if (o.startMs >= toMs) return;
    if (o.startMs >= fromMs) yield o;
  }
}

/** The last occurrence of a bounded pattern (numbered or end-dated); undefined for no end or no occurrence. */
export function lastOccurrence(p: Pattern): Occurrence | undefined {
  if (p.endType === 1) return undefined;
  let last: Occurrence | undefined;
  for (const o of occurrences(p)) last = o;
  return last;
}

/** The first occurrence, if any. */
export function firstOccurrence(p: Pattern): Occurrence | undefined {
  for (const o of occurrences(p)) return o;
  return undefined;
}

/**
 * Dataverse time zone codes (the `timezonecode` of timezonedefinition, used by usersettings.timezonecode and
 * recurringappointmentmaster.utcconversiontimezonecode) the simulator knows, with the IANA zone for each.
 */
export const TIME_ZONE_CODES: Readonly<Record<number, string>> = {
  0: 'Etc/GMT+12', // Dateline Standard Time
  2: 'Pacific/Honolulu', // Hawaiian Standard Time
  3: 'America/Anchorage', // Alaskan Standard Time
  4: 'America/Los_Angeles', // Pacific Standard Time
  10: 'America/Denver', // Mountain Standard Time
  15: 'America/Phoenix', // US Mountain Standard Time
  20: 'America/Chicago', // Central Standard Time
  35: 'America/New_York', // Eastern Standard Time
  85: 'Europe/London', // GMT Standard Time
  90: 'Atlantic/Reykjavik', // Greenwich Standard Time
  92: 'UTC', // UTC (Coordinated Universal Time)
  95: 'Europe/Budapest', // Central Europe Standard Time
  100: 'Europe/Warsaw', // Central European Standard Time
  105: 'Europe/Paris', // Romance Standard Time
  110: 'Europe/Berlin', // W. Europe Standard Time
  115: 'Europe/Bucharest', // E. Europe Standard Time
  125: 'Europe/Helsinki', // FLE Standard Time
  130: 'Europe/Athens', // GTB Standard Time
  190: 'Asia/Kolkata', // India Standard Time
  215: 'Asia/Singapore', // Singapore Standard Time
  235: 'Asia/Tokyo', // Tokyo Standard Time
  255: 'Australia/Sydney', // AUS Eastern Standard Time
  290: 'Pacific/Auckland', // New Zealand Standard Time
};
