// Recurrence as Outlook models it (patternedRecurrence = recurrencePattern + recurrenceRange):
// https://learn.microsoft.com/graph/api/resources/patternedrecurrence,
// https://learn.microsoft.com/graph/api/resources/recurrencepattern,
// https://learn.microsoft.com/graph/api/resources/recurrencerange and
// https://learn.microsoft.com/graph/outlook-schedule-recurring-events (which properties each type needs; "even if a
// field is ignored, it is still validated"). Parsing, rendering and expansion are pure: dates are civil dates in the
// series' zone, and each occurrence keeps the master's local time of day there, so a series anchored in a zone with
// DST keeps its wall-clock time across the change (its UTC instant moves).
import { DateTime } from 'luxon';
import { z } from 'zod';
import { GraphError } from './graphError.js';
import { resolveTimeZone, type ResolvedZone } from './timeZones.js';

export const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type DayOfWeek = (typeof DAYS)[number];
export const WEEK_INDEXES = ['first', 'second', 'third', 'fourth', 'last'] as const;
export type WeekIndex = (typeof WEEK_INDEXES)[number];
export const PATTERN_TYPES = ['daily', 'weekly', 'absoluteMonthly', 'relativeMonthly', 'absoluteYearly', 'relativeYearly'] as const;
export type PatternType = (typeof PATTERN_TYPES)[number];
export const RANGE_TYPES = ['endDate', 'noEnd', 'numbered'] as const;
export type RangeType = (typeof RANGE_TYPES)[number];

export interface RecurrencePattern {
  type: PatternType;
  interval: number;
  daysOfWeek: DayOfWeek[];
  firstDayOfWeek: DayOfWeek;
  index: WeekIndex;
  /** 0 when the type does not use it (Graph returns 0). */
  dayOfMonth: number;
  month: number;
}

export interface RecurrenceRange {
  type: RangeType;
  /** yyyy-MM-dd in `zone`. */
  startDate: string;
  /** yyyy-MM-dd, inclusive; '0001-01-01' unless type is endDate (as Graph returns it). */
  endDate: string;
  /** 0 unless type is numbered. */
  numberOfOccurrences: number;
  /** The zone of startDate/endDate: recurrenceTimeZone, or the event's start zone when absent. */
  zone: ResolvedZone;
}

export interface PatternedRecurrence {
  pattern: RecurrencePattern;
  range: RecurrenceRange;
}

/** A civil date (no zone). */
export interface CivilDate {
  y: number;
  m: number;
  d: number;
}

const NO_DATE = '0001-01-01';
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Graph enum values are case-insensitive on input ("Thursday" in the docs' examples) and lower camel on output. */
const enumOf = <T extends string>(values: readonly T[]) =>
  z.string().transform((s, ctx) => {
    const hit = values.find((v) => v.toLowerCase() === s.toLowerCase());
    if (!hit) {
      ctx.addIssue({ code: 'custom', message: `'${s}' is not one of ${values.join(', ')}` });
      return z.NEVER;
    }
    return hit;
  });

const patternInput = z
  .object({
    type: enumOf(PATTERN_TYPES),
    interval: z.number().int(),
    daysOfWeek: z.array(enumOf(DAYS)).nullable().optional(),
    firstDayOfWeek: enumOf(DAYS).nullable().optional(),
    index: enumOf(WEEK_INDEXES).nullable().optional(),
    dayOfMonth: z.number().int().nullable().optional(),
    month: z.number().int().nullable().optional(),
  })
  .strict();

const rangeInput = z
  .object({
    type: enumOf(RANGE_TYPES),
    startDate: z.string(),
    endDate: z.string().nullable().optional(),
    numberOfOccurrences: z.number().int().nullable().optional(),
    recurrenceTimeZone: z.string().nullable().optional(),
  })
  .strict();

export const patternedRecurrenceInput = z.object({ pattern: patternInput, range: rangeInput }).strict();

/** 400 for a recurrence Exchange cannot create (EWS ErrorCalendarInvalidRecurrence, which Graph passes through). */
export function invalidRecurrence(detail: string): GraphError {
  return new GraphError(400, 'ErrorCalendarInvalidRecurrence', `The recurrence is invalid: ${detail}`);
}

export function parseCivilDate(text: string): CivilDate | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const c = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  const t = new Date(Date.UTC(c.y, c.m - 1, c.d));
  return t.getUTCFullYear() === c.y && t.getUTCMonth() === c.m - 1 && t.getUTCDate() === c.d ? c : undefined;
}

export function formatCivilDate(c: CivilDate): string {
  return `${String(c.y).padStart(4, '0')}-${String(c.m).padStart(2, '0')}-${String(c.d).padStart(2, '0')}`;
}

const dayNumber = (c: CivilDate) => Math.floor(Date.UTC(c.y, c.m - 1, c.d) / 86_400_000);
const fromDayNumber = (n: number): CivilDate => {
  const t = new Date(n * 86_400_000);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
};
/** 0 = Sunday. */
const weekday = (c: CivilDate) => new Date(Date.UTC(c.y, c.m - 1, c.d)).getUTCDay();
const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
export const addDays = (c: CivilDate, n: number): CivilDate => fromDayNumber(dayNumber(c) + n);
export const compareDates = (a: CivilDate, b: CivilDate): number => dayNumber(a) - dayNumber(b);

/**
 * Validates a recurrence as Graph does: the properties each pattern type needs, values in range, and a range that
 * can produce occurrences. `eventZone` is the event's start zone (the range's default zone).
 */
export function parseRecurrence(input: unknown, eventZone: ResolvedZone, typeName = 'event'): PatternedRecurrence {
  const parsed = patternedRecurrenceInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['recurrence', ...(issue?.path ?? [])].join('.');
    throw new GraphError(400, 'RequestBodyRead', `Invalid value for property '${path}' of type 'microsoft.graph.${typeName}': ${issue?.message ?? 'invalid'}.`);
  }
  const p = parsed.data.pattern;
  const r = parsed.data.range;
  if (p.interval < 1) throw invalidRecurrence('pattern.interval must be a positive integer.');
  const days = [...new Set(p.daysOfWeek ?? [])];
  const needsDays = p.type === 'weekly' || p.type === 'relativeMonthly' || p.type === 'relativeYearly';
  if (needsDays && days.length === 0) throw invalidRecurrence(`pattern.daysOfWeek is required for a ${p.type} pattern.`);
  const needsDayOfMonth = p.type === 'absoluteMonthly' || p.type === 'absoluteYearly';
  const dayOfMonth = p.dayOfMonth ?? 0;
  if (needsDayOfMonth && (dayOfMonth < 1 || dayOfMonth > 31)) throw invalidRecurrence(`pattern.dayOfMonth (1-31) is required for a ${p.type} pattern.`);
  if (!needsDayOfMonth && (dayOfMonth < 0 || dayOfMonth > 31)) throw invalidRecurrence('pattern.dayOfMonth must be between 1 and 31.');
  const needsMonth = p.type === 'absoluteYearly' || p.type === 'relativeYearly';
  const month = p.month ?? 0;
  if (needsMonth && (month < 1 || month > 12)) throw invalidRecurrence(`pattern.month (1-12) is required for a ${p.type} pattern.`);
  if (!needsMonth && (month < 0 || month > 12)) throw invalidRecurrence('pattern.month must be between 1 and 12.');
  if (p.type === 'absoluteYearly' && dayOfMonth > daysInMonth(2000, month)) throw invalidRecurrence(`pattern.dayOfMonth ${dayOfMonth} does not exist in month ${month}.`);

  const start = parseCivilDate(r.startDate);
  if (!start) throw invalidRecurrence(`range.startDate '${r.startDate}' is not a date (yyyy-MM-dd).`);
  let zone = eventZone;
  if (r.recurrenceTimeZone) {
    const z2 = resolveTimeZone(r.recurrenceTimeZone);
    if (!z2) throw new GraphError(400, 'TimeZoneNotSupportedException', `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${r.recurrenceTimeZone}'.`);
    zone = z2;
  }
  let endDate = NO_DATE;
  let count = 0;
  if (r.type === 'endDate') {
    const end = r.endDate ? parseCivilDate(r.endDate) : undefined;
    if (!end) throw invalidRecurrence('range.endDate (yyyy-MM-dd) is required for an endDate range.');
    if (compareDates(end, start) < 0) throw invalidRecurrence('range.endDate is earlier than range.startDate.');
    endDate = formatCivilDate(end);
  } else if (r.endDate && !parseCivilDate(r.endDate)) {
    throw invalidRecurrence(`range.endDate '${r.endDate}' is not a date (yyyy-MM-dd).`);
  }
  if (r.type === 'numbered') {
    count = r.numberOfOccurrences ?? 0;
    if (count < 1) throw invalidRecurrence('range.numberOfOccurrences must be a positive integer for a numbered range.');
  } else if ((r.numberOfOccurrences ?? 0) < 0) {
    throw invalidRecurrence('range.numberOfOccurrences must not be negative.');
  }
  const pattern: RecurrencePattern = {
    type: p.type,
    interval: p.interval,
    daysOfWeek: needsDays ? days.sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b)) : days,
    firstDayOfWeek: p.firstDayOfWeek ?? 'sunday',
    index: p.index ?? 'first',
    dayOfMonth,
    month,
  };
  const recurrence: PatternedRecurrence = { pattern, range: { type: r.type, startDate: formatCivilDate(start), endDate, numberOfOccurrences: count, zone } };
  if (occurrenceDates(recurrence).next().done) throw invalidRecurrence('the range contains no date that fits the pattern.');
  return recurrence;
}

/** The Graph JSON of a recurrence (every property present, as Graph returns it). */
export function renderRecurrence(r: PatternedRecurrence): Record<string, unknown> {
  return {
    pattern: {
      type: r.pattern.type,
      interval: r.pattern.interval,
      month: r.pattern.month,
      dayOfMonth: r.pattern.dayOfMonth,
      daysOfWeek: [...r.pattern.daysOfWeek],
      firstDayOfWeek: r.pattern.firstDayOfWeek,
      index: r.pattern.index,
    },
    range: { type: r.range.type, startDate: r.range.startDate, endDate: r.range.endDate, recurrenceTimeZone: r.range.zone.windows, numberOfOccurrences: r.range.numberOfOccurrences },
  };
}

/** True when both describe the same series (the comparison a pattern edit is detected with). */
export function sameRecurrence(a: PatternedRecurrence | null, b: PatternedRecurrence | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(renderRecurrence(a)) === JSON.stringify(renderRecurrence(b));
}

/** The n-th (index) day of a month whose weekday is in `days`: "several days mean the first day that satisfies the pattern". */
function relativeDay(y: number, m: number, days: readonly DayOfWeek[], index: WeekIndex): CivilDate | undefined {
  const wanted = new Set(days.map((d) => DAYS.indexOf(d)));
  const n = daysInMonth(y, m);
  const hits: number[] = [];
  for (let d = 1; d <= n; d += 1) if (wanted.has(weekday({ y, m, d }))) hits.push(d);
  const k = index === 'last' ? hits.length - 1 : WEEK_INDEXES.indexOf(index);
  const day = hits[k];
  return day === undefined ? undefined : { y, m, d: day };
}

/** A day of month past the month's end falls on its last day (Outlook's rule for "day 31" in shorter months). */
const clampedDay = (y: number, m: number, d: number): CivilDate => ({ y, m, d: Math.min(d, daysInMonth(y, m)) });

/**
 * Candidate dates of the pattern from the range start, in order, before the range end rules apply. The first
 * week, month or year that holds a fitting date on or after the start anchors the interval: the docs' example of
 * "the first Thursday of every other month" starting 2017-08-29 has its first occurrence in September
 * (https://learn.microsoft.com/graph/outlook-schedule-recurring-events#creating-a-recurrence-rule).
 */
function* patternDates(p: RecurrencePattern, start: CivilDate): Generator<CivilDate> {
  const fitting = (period: (k: number) => CivilDate[]) =>
    function* (): Generator<CivilDate> {
      let k0 = 0;
      while (!period(k0).some((d) => compareDates(d, start) >= 0)) k0 += 1;
      for (let j = 0; ; j += 1) for (const d of period(k0 + j * p.interval)) if (compareDates(d, start) >= 0) yield d;
    };
  switch (p.type) {
    case 'daily':
      for (let k = 0; ; k += 1) yield addDays(start, k * p.interval);
    case 'weekly': {
      const fdow = DAYS.indexOf(p.firstDayOfWeek);
      const weekStart = addDays(start, -((weekday(start) - fdow + 7) % 7));
      const offsets = p.daysOfWeek.map((d) => (DAYS.indexOf(d) - fdow + 7) % 7).sort((a, b) => a - b);
      yield* fitting((k) => offsets.map((off) => addDays(weekStart, k * 7 + off)))();
      return;
    }
    case 'absoluteMonthly':
    case 'relativeMonthly':
      yield* fitting((k) => {
        const idx = start.y * 12 + (start.m - 1) + k;
        const y = Math.floor(idx / 12);
        const m = (idx % 12) + 1;
        const date = p.type === 'absoluteMonthly' ? clampedDay(y, m, p.dayOfMonth) : relativeDay(y, m, p.daysOfWeek, p.index);
        return date ? [date] : [];
      })();
      return;
    case 'absoluteYearly':
    case 'relativeYearly':
      yield* fitting((k) => {
        const y = start.y + k;
        const date = p.type === 'absoluteYearly' ? clampedDay(y, p.month, p.dayOfMonth) : relativeDay(y, p.month, p.daysOfWeek, p.index);
        return date ? [date] : [];
      })();
      return;
  }
}

/** Guards against a pattern whose dates never come (cannot happen for validated input, but a loop must end). */
const MAX_CANDIDATES = 2_000_000;

/** The occurrence dates of a recurrence in order, honouring the range (endDate inclusive, numbered count, noEnd). */
export function* occurrenceDates(r: PatternedRecurrence): Generator<CivilDate> {
  const start = parseCivilDate(r.range.startDate) as CivilDate;
  const end = r.range.type === 'endDate' ? parseCivilDate(r.range.endDate) : undefined;
  let produced = 0;
  let seen = 0;
  for (const date of patternDates(r.pattern, start)) {
    seen += 1;
    if (seen > MAX_CANDIDATES) return;
    if (end && compareDates(date, end) > 0) return;
    if (r.range.type === 'numbered' && produced >= r.range.numberOfOccurrences) return;
    produced += 1;
    yield date;
  }
}

/** How each occurrence is timed: the master's local start time in the series zone and its length. */
export interface SeriesTiming {
  zone: ResolvedZone;
  hour: number;
  minute: number;
  second: number;
  /** Length in ms (timed events) or whole days (all-day events, which end at local midnight). */
  durationMs: number;
  allDayDays?: number;
}

/** The timing of a master starting at `startMs` and ending at `endMs`, expanded in `zone`. */
export function seriesTiming(startMs: number, endMs: number, zone: ResolvedZone, isAllDay: boolean): SeriesTiming {
  const local = DateTime.fromMillis(startMs, { zone: zone.iana });
  const timing: SeriesTiming = { zone, hour: local.hour, minute: local.minute, second: local.second, durationMs: endMs - startMs };
  if (isAllDay) timing.allDayDays = Math.max(1, Math.round((endMs - startMs) / 86_400_000));
  return timing;
}

/** The instant an occurrence on `date` starts and ends (a local time in a DST gap moves forward, as luxon does). */
export function occurrenceTimes(date: CivilDate, t: SeriesTiming): { start: number; end: number } {
  const startDt = DateTime.fromObject({ year: date.y, month: date.m, day: date.d, hour: t.hour, minute: t.minute, second: t.second }, { zone: t.zone.iana });
  const start = startDt.toMillis();
  if (t.allDayDays !== undefined) {
    const endDate = addDays(date, t.allDayDays);
    return { start, end: DateTime.fromObject({ year: endDate.y, month: endDate.m, day: endDate.d }, { zone: t.zone.iana }).toMillis() };
  }
  return { start, end: start + t.durationMs };
}

/** One expanded occurrence: its original start (the key Exchange keeps for exceptions), start and end. */
export interface Occurrence {
  date: CivilDate;
  originalStart: number;
  start: number;
  end: number;
}

/** Occurrences overlapping [from, to) (all of them when no window is given and the range ends). */
export function* expand(r: PatternedRecurrence, t: SeriesTiming, window?: { start: number; end: number }): Generator<Occurrence> {
  if (!window && r.range.type === 'noEnd') throw new Error('a noEnd series needs a window');
  for (const date of occurrenceDates(r)) {
    const times = occurrenceTimes(date, t);
    if (window && times.start >= window.end && !(times.start === window.end && times.end === times.start)) return;
    if (window && times.end <= window.start && !(times.end === times.start && times.start >= window.start)) continue;
    yield { date, originalStart: times.start, start: times.start, end: times.end };
  }
}

/** The occurrence of the series that starts at `originalStart`, with its neighbours (for the move rule). */
export function findOccurrence(r: PatternedRecurrence, t: SeriesTiming, originalStart: number): { occurrence: Occurrence; previous?: Occurrence; next?: Occurrence } | undefined {
  let previous: Occurrence | undefined;
  for (const date of occurrenceDates(r)) {
    const times = occurrenceTimes(date, t);
    const occ = { date, originalStart: times.start, ...times };
    if (times.start === originalStart) {
      const next = nextAfter(r, t, date);
      return { occurrence: occ, ...(previous ? { previous } : {}), ...(next ? { next } : {}) };
    }
    if (times.start > originalStart) return undefined;
    previous = occ;
  }
  return undefined;
}

function nextAfter(r: PatternedRecurrence, t: SeriesTiming, date: CivilDate): Occurrence | undefined {
  for (const d of occurrenceDates(r)) {
    if (compareDates(d, date) > 0) {
      const times = occurrenceTimes(d, t);
      return { date: d, originalStart: times.start, ...times };
    }
  }
  return undefined;
}

/** The first occurrence date strictly after `after` (To Do's next task), or undefined when the range has ended. */
export function nextDateAfter(r: PatternedRecurrence, after: CivilDate): CivilDate | undefined {
  for (const d of occurrenceDates(r)) if (compareDates(d, after) > 0) return d;
  return undefined;
}

/** The civil date of an instant in a zone. */
export function civilDateOf(ms: number, zone: ResolvedZone): CivilDate {
  const dt = DateTime.fromMillis(ms, { zone: zone.iana });
  return { y: dt.year, m: dt.month, d: dt.day };
}
