// The occurrence dates of a canonical series pattern, on the local calendar of the series zone (no times, no zone
// arithmetic: a date is the same date in any zone). Pure. The sync needs its own expansion in one place only: a
// numbered range longer than Dataverse holds (occurrences 1-999, recurringappointmentmaster reference) is written as
// the end date of its last occurrence, which gives the same occurrences.
//
// Rules (https://learn.microsoft.com/graph/api/resources/recurrencepattern): daily every `interval` days; weekly on
// `daysOfWeek` every `interval` weeks, weeks starting on `firstDayOfWeek`; absoluteMonthly on `dayOfMonth` every
// `interval` months; relativeMonthly on the `index` (first..fourth, last) day of the month that is one of
// `daysOfWeek`; absoluteYearly on `month`/`dayOfMonth` every `interval` years; relativeYearly as relativeMonthly in
// `month`. The range starts at `startDate`; dates before it are not occurrences. A day 29-31 a month does not have
// falls on its last day (the rule both sides take, README "Recurring series" probe P6).
import type { DayOfWeek, SeriesPattern, WeekIndex } from './recurrence.js';

// recurrence.ts's orders, repeated so this file imports types only (recurrence.ts imports it).
const daysOfWeek: readonly DayOfWeek[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const weekIndexes: readonly WeekIndex[] = ['first', 'second', 'third', 'fourth', 'last'];
const dayMs = 86_400_000;

/** A `YYYY-MM-DD` date as a day number (days since 1970-01-01), zone-free. */
function dayNumberOf(date: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return Math.round(Date.UTC(y, m - 1, d) / dayMs);
}

function dateOfDayNumber(n: number): string {
  return new Date(n * dayMs).toISOString().slice(0, 10);
}

/** 0 = Sunday .. 6 = Saturday. */
const weekdayOf = (n: number) => (((n + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const dayNumberOfYmd = (year: number, month: number, day: number) => Math.round(Date.UTC(year, month - 1, day) / dayMs);

/** The `index`th (or last) day of a month whose weekday is one of `days`. */
function relativeDay(year: number, month: number, days: ReadonlySet<number>, index: number): number {
  const first = dayNumberOfYmd(year, month, 1);
  const matching: number[] = [];
  for (let d = 0; d < daysInMonth(year, month); d++) if (days.has(weekdayOf(first + d))) matching.push(first + d);
  // A weekday occurs at least four times in any month, so first..fourth and last always exist for a non-empty set.
  return index === weekIndexes.indexOf('last') ? matching[matching.length - 1]! : matching[index]!;
}

/** Each occurrence date of a pattern, in order, ignoring its range's end (the caller stops). */
export function* occurrenceDates(p: SeriesPattern): Generator<string> {
  const start = dayNumberOf(p.startDate);
  const interval = Math.max(1, p.interval);
  const [startYear, startMonth] = p.startDate.split('-').map(Number) as [number, number];
  const days = new Set(p.daysOfWeek.map((d) => daysOfWeek.indexOf(d)));
  const index = weekIndexes.indexOf(p.index ?? 'first');
  switch (p.type) {
    case 'daily':
      for (let d = start; ; d += interval) yield dateOfDayNumber(d);
    case 'weekly': {
      const weekStart = start - ((weekdayOf(start) - daysOfWeek.indexOf(p.firstDayOfWeek ?? 'sunday') + 7) % 7);
      for (let w = weekStart; ; w += 7 * interval) {
        for (let k = 0; k < 7; k++) if (w + k >= start && days.has(weekdayOf(w + k))) yield dateOfDayNumber(w + k);
      }
    }
    case 'absoluteMonthly':
    case 'relativeMonthly':
      for (let m = 0; ; m += interval) {
        const months = startMonth - 1 + m;
        const year = startYear + Math.floor(months / 12);
        const month = (months % 12) + 1;
        const d = p.type === 'relativeMonthly' ? relativeDay(year, month, days, index) : dayNumberOfYmd(year, month, Math.min(p.dayOfMonth ?? 1, daysInMonth(year, month)));
        if (d >= start) yield dateOfDayNumber(d);
      }
    case 'absoluteYearly':
    case 'relativeYearly': {
      const month = p.month ?? startMonth;
      for (let year = startYear; ; year += interval) {
        const d = p.type === 'relativeYearly' ? relativeDay(year, month, days, index) : dayNumberOfYmd(year, month, Math.min(p.dayOfMonth ?? 1, daysInMonth(year, month)));
        if (d >= start) yield dateOfDayNumber(d);
      }
    }
  }
}

/** The date of a pattern's `count`th occurrence (1-based) from its start date. */
export function nthOccurrenceDate(p: SeriesPattern, count: number): string {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, not ${count}`);
  let n = 0;
  for (const date of occurrenceDates(p)) if (++n === count) return date;
  throw new Error('unreachable: a pattern has no last occurrence');
}

/**
 * Whether an occurrence date exists only by the short-month rule: an absolute day 29-31 moved to a shorter month's
 * last day. Outlook puts "day 31 of every month" on the 30th in April; Dataverse's rule is not documented (probe P6),
 * so such a date may be on one side only without anyone having deleted it. `date` is the local date in the series zone.
 */
export function onShortMonthRule(p: SeriesPattern, date: string): boolean {
  if ((p.type !== 'absoluteMonthly' && p.type !== 'absoluteYearly') || p.dayOfMonth === null) return false;
  return Number(date.slice(8, 10)) < p.dayOfMonth;
}

/**
 * The same series as a range Dataverse can hold: a numbered range of more occurrences than its `occurrences` column
 * allows becomes an end-date range ending on the last of them (the same occurrences on both sides); any other pattern
 * is returned as it is.
 */
export function withDataverseRange(p: SeriesPattern, maxOccurrences: number): SeriesPattern {
  if (p.range !== 'numbered' || (p.numberOfOccurrences ?? 0) <= maxOccurrences) return p;
  return { ...p, range: 'endDate', endDate: nthOccurrenceDate(p, p.numberOfOccurrences!), numberOfOccurrences: null };
}
