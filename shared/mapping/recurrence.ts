// Recurrence pattern of a series, Graph patternedRecurrence <-> Dataverse recurringappointmentmaster columns, through
// one canonical value. Pure (no clock, no I/O).
//
// Graph: https://learn.microsoft.com/graph/api/resources/patternedrecurrence, .../recurrencepattern and
// .../recurrencerange ("Include only the properties that you need"; range dates are in recurrenceTimeZone, or the
// event's zone when absent).
// Dataverse: https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/recurringappointmentmaster
// (recurrencepatterntype 0 Daily, 1 Weekly, 2 Monthly, 3 Yearly; daysofweekmask Sunday 0x01 .. Saturday 0x40;
// instance 1 First .. 4 Fourth, 5 Last; patternendtype 1 No End Date, 2 Occurrences, 3 Pattern End Date;
// interval 1-1000, occurrences 1-999).
import { DateTime } from 'luxon';
import { z } from 'zod';
import { invalidInput } from '../errors.js';
import { ianaZoneOf, windowsZoneOf } from '../timeZones.js';
import { withDataverseRange } from './seriesExpansion.js';

export const daysOfWeek = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type DayOfWeek = (typeof daysOfWeek)[number];
export const weekIndexes = ['first', 'second', 'third', 'fourth', 'last'] as const;
export type WeekIndex = (typeof weekIndexes)[number];
export const patternTypes = ['daily', 'weekly', 'absoluteMonthly', 'relativeMonthly', 'absoluteYearly', 'relativeYearly'] as const;
export type PatternType = (typeof patternTypes)[number];
export const rangeTypes = ['noEnd', 'numbered', 'endDate'] as const;
export type RangeType = (typeof rangeTypes)[number];

/**
 * The canonical pattern of a series: only the properties its type uses (null otherwise), days sorted Sunday first,
 * dates `YYYY-MM-DD` on the local calendar of `timeZone` (a Windows zone name, the form both services share).
 * `startDate` is the first occurrence's date (Dataverse's effectivestartdate, Graph's range start that "must be the
 * same value as the start property"), so a range start that is not on the pattern is not a change.
 */
export type SeriesPattern = {
  type: PatternType;
  interval: number;
  daysOfWeek: readonly DayOfWeek[];
  /** Only weekly patterns: the week a multi-day every-N-weeks pattern counts from. */
  firstDayOfWeek: DayOfWeek | null;
  index: WeekIndex | null;
  dayOfMonth: number | null;
  month: number | null;
  range: RangeType;
  startDate: string;
  endDate: string | null;
  numberOfOccurrences: number | null;
  timeZone: string;
};

const usesDays = (t: PatternType) => t === 'weekly' || t === 'relativeMonthly' || t === 'relativeYearly';
const usesIndex = (t: PatternType) => t === 'relativeMonthly' || t === 'relativeYearly';
const usesDayOfMonth = (t: PatternType) => t === 'absoluteMonthly' || t === 'absoluteYearly';
const usesMonth = (t: PatternType) => t === 'absoluteYearly' || t === 'relativeYearly';

/** Dataverse limits of the pattern columns (recurringappointmentmaster reference: interval 1-1000, occurrences 1-999). */
export const dataverseLimits = { interval: 1000, occurrences: 999 } as const;

// ------------------------------------------------------------------------------------------------------------
// Time zones: Dataverse names a series' zone by its time zone code (utcconversiontimezonecode), Graph by name.
// Codes: the Windows time zone index values Dataverse uses for timezonedefinition.timezonecode
// (https://learn.microsoft.com/previous-versions/windows/embedded/ms912391(v=winembedded.11)).
// ------------------------------------------------------------------------------------------------------------
const codeByWindowsZone: Readonly<Record<string, number>> = {
  'Dateline Standard Time': 0,
  'Hawaiian Standard Time': 2,
  'Alaskan Standard Time': 3,
  'Pacific Standard Time': 4,
  'Mountain Standard Time': 10,
  'US Mountain Standard Time': 15,
  'Central Standard Time': 20,
  'Eastern Standard Time': 35,
  'GMT Standard Time': 85,
  'Greenwich Standard Time': 90,
  // Written for a UTC series too: a series without a code is expanded in its creator's own zone
  // (shared/sync/kinds/series.ts, withSeriesZone), which is not UTC for most users.
  UTC: 92,
  'Central Europe Standard Time': 95,
  'Central European Standard Time': 100,
  'Romance Standard Time': 105,
  'W. Europe Standard Time': 110,
  'E. Europe Standard Time': 115,
  'FLE Standard Time': 125,
  'GTB Standard Time': 130,
  'India Standard Time': 190,
  'Singapore Standard Time': 215,
  'Tokyo Standard Time': 235,
  'AUS Eastern Standard Time': 255,
  'New Zealand Standard Time': 290,
};
const windowsZoneByCode = new Map<number, string>(Object.entries(codeByWindowsZone).map(([name, code]) => [code, name]));

/** The Windows name of a Graph zone name (Windows or IANA), or undefined. UTC stays "UTC". */
export function seriesZoneName(name: string): string | undefined {
  const iana = ianaZoneOf(name);
  if (iana === undefined) return undefined;
  if (iana === 'UTC' || iana === 'Etc/UTC') return 'UTC';
  if (codeByWindowsZone[name] !== undefined) return name;
  return windowsZoneOf(iana) ?? undefined;
}

/** The IANA zone a canonical zone name stands for. */
export function ianaOfSeriesZone(name: string): string {
  const iana = ianaZoneOf(name);
  if (iana === undefined) throw invalidInput('recurrence.timeZone', name, 'is not a time zone name');
  return iana;
}

/** The Dataverse time zone code of a canonical zone, or undefined when this version knows none for it. */
export function dataverseZoneCodeOf(name: string): number | undefined {
  return codeByWindowsZone[name];
}

/** The Windows zone name of a Dataverse time zone code (usersettings.timezonecode, a series' zone), when this version knows it. */
export function windowsZoneOfDataverseCode(code: number): string | undefined {
  return windowsZoneByCode.get(code);
}

/** Why a zone cannot be written to Dataverse, or undefined. */
export function unsupportedZone(name: string): string | undefined {
  if (codeByWindowsZone[name] !== undefined) return undefined;
  return `the series' time zone ${name} has no Dataverse time zone code this version knows`;
}

// ------------------------------------------------------------------------------------------------------------
// Graph
// ------------------------------------------------------------------------------------------------------------
/** An enum value in any case (Graph accepts and returns enum members case-insensitively), as the member. */
const lower = <T extends readonly string[]>(values: T) => z.string().transform((v, c): T[number] => {
  const found: T[number] | undefined = values.find((x) => x.toLowerCase() === v.toLowerCase());
  if (found === undefined) {
    c.addIssue({ code: 'custom', message: `is not one of ${values.join(', ')}` });
    return z.NEVER;
  }
  return found;
});

/** Graph patternedRecurrence as read (Graph returns every property, 0 and 0001-01-01 where unused). */
export const graphRecurrenceSchema = z.looseObject({
  pattern: z.looseObject({
    type: lower(patternTypes),
    interval: z.number().int().min(1),
    daysOfWeek: z.array(lower(daysOfWeek)).nullish(),
    firstDayOfWeek: lower(daysOfWeek).nullish(),
    index: lower(weekIndexes).nullish(),
    dayOfMonth: z.number().int().min(0).max(31).nullish(),
    month: z.number().int().min(0).max(12).nullish(),
  }),
  range: z.looseObject({
    type: lower(rangeTypes),
    startDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    endDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullish(),
    numberOfOccurrences: z.number().int().min(0).nullish(),
    recurrenceTimeZone: z.string().nullish(),
  }),
});
export type GraphRecurrence = z.input<typeof graphRecurrenceSchema>;

const sortDays = (days: readonly DayOfWeek[]): DayOfWeek[] => [...new Set(days)].sort((a, b) => daysOfWeek.indexOf(a) - daysOfWeek.indexOf(b));

/** The canonical pattern of a Graph recurrence; `eventZone` is the event's start zone (the range's default zone). */
export function patternOfGraph(input: unknown, eventZone: string): SeriesPattern {
  const parsed = graphRecurrenceSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(`recurrence.${issue?.path.join('.') ?? ''}`, undefined, issue?.message ?? 'is not a patternedRecurrence');
  }
  const { pattern: p, range: r } = parsed.data;
  const zoneName = r.recurrenceTimeZone && r.recurrenceTimeZone.trim() !== '' ? r.recurrenceTimeZone : eventZone;
  const timeZone = seriesZoneName(zoneName);
  if (timeZone === undefined) throw invalidInput('recurrence.range.recurrenceTimeZone', zoneName, 'is not a time zone name');
  const days = sortDays(p.daysOfWeek ?? []);
  if (usesDays(p.type) && days.length === 0) throw invalidInput('recurrence.pattern.daysOfWeek', undefined, `is required for a ${p.type} pattern`);
  if (usesDayOfMonth(p.type) && !p.dayOfMonth) throw invalidInput('recurrence.pattern.dayOfMonth', p.dayOfMonth, `is required for a ${p.type} pattern`);
  if (usesMonth(p.type) && !p.month) throw invalidInput('recurrence.pattern.month', p.month, `is required for a ${p.type} pattern`);
  if (r.type === 'numbered' && !r.numberOfOccurrences) throw invalidInput('recurrence.range.numberOfOccurrences', r.numberOfOccurrences, 'is required for a numbered range');
  if (r.type === 'endDate' && (!r.endDate || r.endDate === '0001-01-01')) throw invalidInput('recurrence.range.endDate', r.endDate, 'is required for an endDate range');
  return {
    type: p.type,
    interval: p.interval,
    daysOfWeek: usesDays(p.type) ? days : [],
    firstDayOfWeek: p.type === 'weekly' ? (p.firstDayOfWeek ?? 'sunday') : null,
    index: usesIndex(p.type) ? (p.index ?? 'first') : null,
    dayOfMonth: usesDayOfMonth(p.type) ? p.dayOfMonth! : null,
    month: usesMonth(p.type) ? p.month! : null,
    range: r.type,
    startDate: r.startDate,
    endDate: r.type === 'endDate' ? r.endDate! : null,
    numberOfOccurrences: r.type === 'numbered' ? r.numberOfOccurrences! : null,
    timeZone,
  };
}

/** The Graph recurrence of a canonical pattern, with only the properties its types need. */
export function graphRecurrenceOf(p: SeriesPattern): Record<string, unknown> {
  const pattern: Record<string, unknown> = { type: p.type, interval: p.interval };
  if (usesDays(p.type)) pattern.daysOfWeek = [...p.daysOfWeek];
  if (p.type === 'weekly') pattern.firstDayOfWeek = p.firstDayOfWeek ?? 'sunday';
  if (usesIndex(p.type)) pattern.index = p.index ?? 'first';
  if (usesDayOfMonth(p.type)) pattern.dayOfMonth = p.dayOfMonth;
  if (usesMonth(p.type)) pattern.month = p.month;
  const range: Record<string, unknown> = { type: p.range, startDate: p.startDate, recurrenceTimeZone: p.timeZone };
  if (p.range === 'endDate') range.endDate = p.endDate;
  if (p.range === 'numbered') range.numberOfOccurrences = p.numberOfOccurrences;
  return { pattern, range };
}

// ------------------------------------------------------------------------------------------------------------
// Dataverse
// ------------------------------------------------------------------------------------------------------------

/** The pattern columns of a recurringappointmentmaster. */
export const patternColumns = [
  'recurrencepatterntype',
  'interval',
  'daysofweekmask',
  'dayofmonth',
  'monthofyear',
  'instance',
  'isnthmonthly',
  'isnthyearly',
  'isweekdaypattern',
  'firstdayofweek',
  'patternstartdate',
  'patternendtype',
  'occurrences',
  'patternenddate',
  'effectivestartdate',
  'utcconversiontimezonecode',
] as const;

const int = z.number().int();
const dataversePatternSchema = z.looseObject({
  recurrencepatterntype: int.min(0).max(3),
  interval: int.min(1).nullish(),
  daysofweekmask: int.min(0).max(127).nullish(),
  dayofmonth: int.min(0).max(31).nullish(),
  monthofyear: int.min(0).max(12).nullish(),
  instance: int.min(0).max(5).nullish(),
  isnthmonthly: z.boolean().nullish(),
  isnthyearly: z.boolean().nullish(),
  isweekdaypattern: z.boolean().nullish(),
  firstdayofweek: int.min(0).max(6).nullish(),
  patternstartdate: z.string(),
  patternendtype: int.min(1).max(3),
  occurrences: int.min(0).nullish(),
  patternenddate: z.string().nullish(),
  effectivestartdate: z.string().nullish(),
  utcconversiontimezonecode: int.nullish(),
});

const daysOfMask = (mask: number): DayOfWeek[] => daysOfWeek.filter((_d, i) => (mask & (1 << i)) !== 0);
const maskOfDays = (days: readonly DayOfWeek[]): number => days.reduce((m, d) => m | (1 << daysOfWeek.indexOf(d)), 0);
/** Dataverse `instance` 1-5 <-> Graph `index` first..last. */
const indexOfInstance = (instance: number | null | undefined): WeekIndex => weekIndexes[Math.min(Math.max((instance ?? 1) - 1, 0), 4)]!;

/**
 * A DateOnly UserLocal column (patternstartdate, patternenddate, effectivestartdate) as a local date: the Web API
 * carries the UTC instant of the local midnight (behavior-format-date-time-attribute), read in the series' zone.
 */
function localDateOfColumn(value: string, column: string, iana: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const instant = DateTime.fromISO(value, { setZone: true });
  if (!instant.isValid) throw invalidInput(column, value, 'is not a valid date');
  return instant.setZone(iana).toISODate()!;
}

/** The UTC instant of a local date's midnight in a zone, as a Dataverse DateOnly UserLocal value. */
export function dataverseDateOf(date: string, iana: string): string {
  return DateTime.fromISO(date, { zone: iana }).startOf('day').toUTC().toISO({ suppressMilliseconds: true })!;
}

/** The canonical pattern of a recurringappointmentmaster; `fallbackZone` when it names no zone code (Windows or IANA). */
export function patternOfDataverse(record: unknown, fallbackZone: string): SeriesPattern {
  const parsed = dataversePatternSchema.safeParse(record);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(issue?.path.join('.') ?? 'recurrencepatterntype', undefined, issue?.message ?? 'is not a recurrence pattern');
  }
  const r = parsed.data;
  const code = r.utcconversiontimezonecode;
  const zoneName = code === undefined || code === null || code === -1 ? seriesZoneName(fallbackZone) : windowsZoneByCode.get(code);
  if (zoneName === undefined) throw invalidInput('utcconversiontimezonecode', code ?? fallbackZone, 'is not a time zone code this version knows');
  const iana = ianaOfSeriesZone(zoneName);
  const mask = r.daysofweekmask ?? 0;
  let type: PatternType;
  switch (r.recurrencepatterntype) {
    case 0:
      type = 'daily';
      break;
    case 1:
      type = 'weekly';
      break;
    case 2:
      type = r.isnthmonthly === true ? 'relativeMonthly' : 'absoluteMonthly';
      break;
    default:
      type = r.isnthyearly === true ? 'relativeYearly' : 'absoluteYearly';
  }
  // "Every weekday" (isweekdaypattern: "the weekly recurrence pattern is a daily weekday pattern") is weekly Monday to
  // Friday whatever the mask holds (it may be left empty, or name other days): Dataverse expands the flag, so reading
  // the mask instead would give the Exchange series other days than the Dynamics 365 one.
  const days = r.recurrencepatterntype === 1 && r.isweekdaypattern === true ? daysOfMask(0x3e) : daysOfMask(mask);
  if (usesDays(type) && days.length === 0) throw invalidInput('daysofweekmask', mask, `is required for a ${type} pattern`);
  if (usesDayOfMonth(type) && !r.dayofmonth) throw invalidInput('dayofmonth', r.dayofmonth, `is required for a ${type} pattern`);
  if (usesMonth(type) && !r.monthofyear) throw invalidInput('monthofyear', r.monthofyear, `is required for a ${type} pattern`);
  const range: RangeType = r.patternendtype === 1 ? 'noEnd' : r.patternendtype === 2 ? 'numbered' : 'endDate';
  if (range === 'numbered' && !r.occurrences) throw invalidInput('occurrences', r.occurrences, 'is required when patternendtype is 2');
  if (range === 'endDate' && !r.patternenddate) throw invalidInput('patternenddate', undefined, 'is required when patternendtype is 3');
  const start = r.effectivestartdate ?? r.patternstartdate;
  return {
    type,
    interval: r.interval ?? 1,
    daysOfWeek: usesDays(type) ? days : [],
    firstDayOfWeek: type === 'weekly' ? daysOfWeek[r.firstdayofweek ?? 0]! : null,
    index: usesIndex(type) ? indexOfInstance(r.instance) : null,
    dayOfMonth: usesDayOfMonth(type) ? r.dayofmonth! : null,
    month: usesMonth(type) ? r.monthofyear! : null,
    range,
    startDate: localDateOfColumn(start, r.effectivestartdate ? 'effectivestartdate' : 'patternstartdate', iana),
    endDate: range === 'endDate' ? localDateOfColumn(r.patternenddate!, 'patternenddate', iana) : null,
    numberOfOccurrences: range === 'numbered' ? r.occurrences! : null,
    timeZone: zoneName,
  };
}

/**
 * The pattern as Dataverse holds it: a numbered range of more than 999 occurrences (the `occurrences` column's limit)
 * as an end-date range ending on its last occurrence, found by expanding the pattern (seriesExpansion.ts), so both
 * sides have the same occurrences. Both sides' patterns are compared in this form, so a numbered Outlook series and
 * the end-dated Dynamics 365 series made of it are the same pattern (nothing is written back to either).
 */
export function inDataverseRange(p: SeriesPattern): SeriesPattern {
  return withDataverseRange(p, dataverseLimits.occurrences);
}

/** Why a pattern cannot be written to Dataverse as it is (a clear reason for the pair), or undefined. */
export function unsupportedInDataverse(p: SeriesPattern): string | undefined {
  // A numbered range above Dataverse's 999 is written as an end date (dataverseColumnsOf), so it is no reason.
  if (p.interval > dataverseLimits.interval) return `an interval of ${p.interval}: Dataverse allows at most ${dataverseLimits.interval}`;
  return unsupportedZone(p.timeZone);
}

/**
 * The recurringappointmentmaster pattern columns of a canonical pattern. `create`: firstdayofweek is written only
 * on create (the column is not valid for update in the table reference). Every column the type does not use is
 * written empty, so a pattern change from one type to another leaves nothing behind.
 */
export function dataverseColumnsOf(pattern: SeriesPattern, create: boolean): Record<string, unknown> {
  const p = inDataverseRange(pattern);
  const unsupported = unsupportedInDataverse(p);
  if (unsupported) throw invalidInput('recurrence', undefined, `cannot be written to Dataverse: ${unsupported}`);
  const iana = ianaOfSeriesZone(p.timeZone);
  const typeCode = p.type === 'daily' ? 0 : p.type === 'weekly' ? 1 : p.type.endsWith('Monthly') ? 2 : 3;
  const columns: Record<string, unknown> = {
    recurrencepatterntype: typeCode,
    interval: p.interval,
    daysofweekmask: usesDays(p.type) ? maskOfDays(p.daysOfWeek) : null,
    dayofmonth: usesDayOfMonth(p.type) ? p.dayOfMonth : null,
    monthofyear: usesMonth(p.type) ? p.month : null,
    instance: usesIndex(p.type) ? weekIndexes.indexOf(p.index ?? 'first') + 1 : null,
    isnthmonthly: p.type === 'relativeMonthly' ? true : p.type === 'absoluteMonthly' ? false : null,
    isnthyearly: p.type === 'relativeYearly' ? true : p.type === 'absoluteYearly' ? false : null,
    patternstartdate: dataverseDateOf(p.startDate, iana),
    patternendtype: p.range === 'noEnd' ? 1 : p.range === 'numbered' ? 2 : 3,
    occurrences: p.range === 'numbered' ? p.numberOfOccurrences : null,
    patternenddate: p.range === 'endDate' ? dataverseDateOf(p.endDate!, iana) : null,
  };
  const code = dataverseZoneCodeOf(p.timeZone);
  if (code !== undefined) columns.utcconversiontimezonecode = code;
  if (create && p.type === 'weekly') columns.firstdayofweek = daysOfWeek.indexOf(p.firstDayOfWeek ?? 'sunday');
  return columns;
}

// ------------------------------------------------------------------------------------------------------------
// The pattern table (README "Recurring series"), one row per pattern and range, from the functions above.
// ------------------------------------------------------------------------------------------------------------
export interface PatternTableRow {
  what: string;
  graph: string;
  dataverse: string;
  note: string;
}

export const recurrencePatternTable: readonly PatternTableRow[] = [
  { what: 'Every N days', graph: '`daily`, interval N', dataverse: 'recurrencepatterntype 0, interval N', note: 'Direct.' },
  {
    what: 'Every weekday',
    graph: '`weekly`, interval 1, daysOfWeek monday..friday',
    dataverse: 'recurrencepatterntype 1, daysofweekmask 62 (isweekdaypattern read as Monday to Friday whatever the mask, not written)',
    note: 'Graph has no daily-weekday type; both sides hold it as weekly Monday to Friday.',
  },
  {
    what: 'Weekly on days, every N weeks',
    graph: '`weekly`, interval N, daysOfWeek, firstDayOfWeek',
    dataverse: 'recurrencepatterntype 1, interval N, daysofweekmask (Sunday 1 .. Saturday 64), firstdayofweek 0-6',
    note: 'firstdayofweek is written on create only (not valid for update); a later change of firstDayOfWeek alone does not reach Dataverse.',
  },
  { what: 'Monthly on day D', graph: '`absoluteMonthly`, interval N, dayOfMonth D', dataverse: 'recurrencepatterntype 2, isnthmonthly false, dayofmonth D', note: 'Day 29-31: each side applies its own rule for shorter months (probe P6).' },
  {
    what: 'Monthly on the Kth day(s) of week',
    graph: '`relativeMonthly`, index first..last, daysOfWeek',
    dataverse: 'recurrencepatterntype 2, isnthmonthly true, instance 1..5, daysofweekmask',
    note: 'index first..fourth, last = instance 1..4, 5. Several days mean the first that fits ("last weekday" = last + Monday..Friday).',
  },
  { what: 'Yearly on month M day D', graph: '`absoluteYearly`, interval N, month M, dayOfMonth D', dataverse: 'recurrencepatterntype 3, isnthyearly false, monthofyear M, dayofmonth D', note: 'Direct.' },
  {
    what: 'Yearly on the Kth day of week of month M',
    graph: '`relativeYearly`, index, daysOfWeek, month M',
    dataverse: 'recurrencepatterntype 3, isnthyearly true, instance, daysofweekmask, monthofyear M',
    note: 'Direct.',
  },
  { what: 'No end', graph: 'range `noEnd`, startDate', dataverse: 'patternendtype 1, patternstartdate', note: 'Dataverse expands only inside its expansion windows.' },
  {
    what: 'After K occurrences',
    graph: 'range `numbered`, numberOfOccurrences K',
    dataverse: 'patternendtype 2, occurrences K',
    note: `K above ${dataverseLimits.occurrences} (Dataverse's limit): patternendtype 3 with the date of the Kth occurrence (the pattern expanded in the series zone), the same occurrences; compared in that form, so neither side is rewritten.`,
  },
  { what: 'End by date', graph: 'range `endDate`, endDate', dataverse: 'patternendtype 3, patternenddate', note: 'Dates are local dates of the series zone (DateOnly UserLocal: the UTC instant of local midnight).' },
  {
    what: 'Zone',
    graph: 'range.recurrenceTimeZone (else the start zone)',
    dataverse: 'utcconversiontimezonecode (Windows time zone index)',
    note: "A series is expanded in its zone on both sides, so 09:00 stays 09:00 across DST. UTC writes code 92. A Dynamics 365 series without a code is read in its creator's own zone (usersettings.timezonecode), the one Dataverse expands it in; a zone without a known code is not synced.",
  },
  {
    what: 'Interval limit',
    graph: 'interval (no documented limit)',
    dataverse: `interval 1-${dataverseLimits.interval}`,
    note: `Above ${dataverseLimits.interval} the series is not synced, with that reason.`,
  },
];
