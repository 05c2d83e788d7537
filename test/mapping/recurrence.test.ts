// The recurrence pattern mapping (shared/mapping/recurrence.ts): the edge cases of each pattern and range, the
// patterns Dataverse cannot hold, and two properties over random patterns: mapping there and back is stable, and
// the Graph pattern and the mapped Dataverse pattern expand to the same occurrence starts in the series zone. The
// expansions are the simulators' (dev/sim/graph/recurrence.ts, dev/sim/dataverse/recurrence.ts), each written from
// its service's documentation, so the property checks the mapping against both services' rules, not against itself.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { occurrencesBetween } from '../../dev/sim/dataverse/recurrence.js';
import { SeriesPlatform } from '../../dev/sim/dataverse/series.js';
import { expand, parseRecurrence, seriesTiming } from '../../dev/sim/graph/recurrence.js';
import { resolveTimeZone } from '../../dev/sim/graph/timeZones.js';
import { isSyncError } from '../../shared/errors.js';
import { dataverseColumnsOf, graphRecurrenceOf, patternOfDataverse, patternOfGraph, unsupportedInDataverse, type SeriesPattern } from '../../shared/mapping/index.js';
import { daysOfWeek, ianaOfSeriesZone, patternTypes, weekIndexes, type DayOfWeek } from '../../shared/mapping/recurrence.js';

/** The message of the InvalidInput `run` throws (the test fails when it throws nothing or another error). */
function invalidInputOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(isSyncError(e, 'InvalidInput')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an InvalidInput, nothing was thrown');
}

const base: SeriesPattern = {
  type: 'weekly',
  interval: 1,
  daysOfWeek: ['monday'],
  firstDayOfWeek: 'sunday',
  index: null,
  dayOfMonth: null,
  month: null,
  range: 'noEnd',
  startDate: '2026-03-02',
  endDate: null,
  numberOfOccurrences: null,
  timeZone: 'W. Europe Standard Time',
};

describe('recurrence pattern mapping, pattern by pattern', () => {
  it.each([
    ['every weekday (Dataverse isweekdaypattern, mask left empty)', { recurrencepatterntype: 1, isweekdaypattern: true, daysofweekmask: 0 }, { type: 'weekly', daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'] }],
    ['the last weekday of the month', { recurrencepatterntype: 2, isnthmonthly: true, instance: 5, daysofweekmask: 62 }, { type: 'relativeMonthly', index: 'last', daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'] }],
    ['day 31 of every month', { recurrencepatterntype: 2, dayofmonth: 31 }, { type: 'absoluteMonthly', dayOfMonth: 31, daysOfWeek: [] }],
    ['the second Tuesday of March, yearly', { recurrencepatterntype: 3, isnthyearly: true, instance: 2, daysofweekmask: 4, monthofyear: 3 }, { type: 'relativeYearly', index: 'second', month: 3, daysOfWeek: ['tuesday'] }],
    ['every other week from Monday (firstdayofweek 1)', { recurrencepatterntype: 1, interval: 2, daysofweekmask: 2 | 64, firstdayofweek: 1 }, { type: 'weekly', interval: 2, firstDayOfWeek: 'monday', daysOfWeek: ['monday', 'saturday'] }],
  ])('%s', (_name, columns, expected) => {
    const pattern = patternOfDataverse({ patternstartdate: '2026-03-01T23:00:00Z', patternendtype: 1, utcconversiontimezonecode: 110, ...columns }, 'UTC');
    expect(pattern).toMatchObject({ ...expected, startDate: '2026-03-02', timeZone: 'W. Europe Standard Time' });
    // And back: the columns of the canonical pattern read as the same pattern.
    expect(patternOfDataverse({ ...dataverseColumnsOf(pattern, true) }, 'UTC')).toEqual(pattern);
  });

  it('reads DateOnly UserLocal dates in the series zone: the UTC instant of the local midnight', () => {
    const pattern = patternOfDataverse({ recurrencepatterntype: 0, patternstartdate: '2026-10-24T22:00:00Z', patternendtype: 3, patternenddate: '2026-10-31T23:00:00Z', utcconversiontimezonecode: 110 }, 'UTC');
    expect(pattern).toMatchObject({ type: 'daily', range: 'endDate', startDate: '2026-10-25', endDate: '2026-11-01' });
    expect(dataverseColumnsOf(pattern, false)).toMatchObject({ patternstartdate: '2026-10-24T22:00:00Z', patternenddate: '2026-10-31T23:00:00Z', utcconversiontimezonecode: 110 });
  });

  it('takes the first occurrence (effectivestartdate) as the range start, so a start off the pattern is not a change', () => {
    const pattern = patternOfDataverse({ recurrencepatterntype: 1, daysofweekmask: 2, patternstartdate: '2026-02-27T23:00:00Z', effectivestartdate: '2026-03-01T23:00:00Z', patternendtype: 1, utcconversiontimezonecode: 110 }, 'UTC');
    expect(pattern.startDate).toBe('2026-03-02');
  });

  it('writes Graph only the properties a pattern type needs, and reads Graph enums in any case', () => {
    expect(graphRecurrenceOf({ ...base, type: 'daily', daysOfWeek: [], firstDayOfWeek: null })).toEqual({
      pattern: { type: 'daily', interval: 1 },
      range: { type: 'noEnd', startDate: '2026-03-02', recurrenceTimeZone: 'W. Europe Standard Time' },
    });
    const read = patternOfGraph(
      { pattern: { type: 'Weekly', interval: 1, daysOfWeek: ['Monday'], firstDayOfWeek: 'Sunday', index: 'first', dayOfMonth: 0, month: 0 }, range: { type: 'noEnd', startDate: '2026-03-02', endDate: '0001-01-01', numberOfOccurrences: 0, recurrenceTimeZone: 'W. Europe Standard Time' } },
      'UTC',
    );
    expect(read).toEqual(base);
  });

  it('uses the event zone when the range names none, and accepts an IANA name', () => {
    expect(patternOfGraph({ pattern: { type: 'daily', interval: 3 }, range: { type: 'numbered', startDate: '2026-03-02', numberOfOccurrences: 5 } }, 'Europe/Berlin').timeZone).toBe('W. Europe Standard Time');
  });

  it.each([
    ['an interval above 1000', { interval: 1001 }, 'at most 1000'],
    ['a zone without a known Dataverse code', { timeZone: 'Arabian Standard Time' }, 'no Dataverse time zone code'],
  ])('does not write %s to Dataverse, with the reason', (_name, change, reason) => {
    const pattern = { ...base, ...change };
    expect(unsupportedInDataverse(pattern)).toContain(reason);
    expect(() => dataverseColumnsOf(pattern, true)).toThrow(reason);
  });

  it('writes a numbered range above 999 occurrences (Dataverse holds at most 999) as the end date of its last occurrence, and reads it back so', () => {
    const pattern: SeriesPattern = { ...base, type: 'daily', daysOfWeek: [], firstDayOfWeek: null, range: 'numbered', numberOfOccurrences: 1200 };
    expect(unsupportedInDataverse(pattern)).toBeUndefined();
    const columns = dataverseColumnsOf(pattern, true);
    // 2026-03-02 plus 1199 days; the end date is its local midnight in W. Europe (summer time, UTC+2).
    expect(columns).toMatchObject({ patternendtype: 3, occurrences: null, patternenddate: '2029-06-12T22:00:00Z' });
    expect(patternOfDataverse(columns, 'UTC')).toEqual({ ...pattern, range: 'endDate', endDate: '2029-06-13', numberOfOccurrences: null });
    // 999 stays a count.
    expect(dataverseColumnsOf({ ...pattern, numberOfOccurrences: 999 }, true)).toMatchObject({ patternendtype: 2, occurrences: 999 });
  });

  it('writes firstdayofweek on create only (not valid for update)', () => {
    expect(dataverseColumnsOf(base, true)).toHaveProperty('firstdayofweek', 0);
    expect(dataverseColumnsOf(base, false)).not.toHaveProperty('firstdayofweek');
  });

  it.each([
    ['a weekly pattern without days', { pattern: { type: 'weekly', interval: 1 }, range: { type: 'noEnd', startDate: '2026-03-02' } }, 'recurrence.pattern.daysOfWeek'],
    ['a pattern type Graph does not have', { pattern: { type: 'hourly', interval: 1 }, range: { type: 'noEnd', startDate: '2026-03-02' } }, 'recurrence.pattern.type'],
    ['a numbered range without a count', { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2026-03-02' } }, 'recurrence.range.numberOfOccurrences'],
  ])('refuses %s with an InvalidInput naming the property', (_name, input, field) => {
    let error: unknown;
    try {
      patternOfGraph(input, 'UTC');
    } catch (e) {
      error = e;
    }
    expect(isSyncError(error, 'InvalidInput')).toBe(true);
    expect((error as Error).message).toContain(field);
  });
});

describe('recurrence pattern mapping, Graph input refused or defaulted', () => {
  const graph = (pattern: Record<string, unknown>, range: Record<string, unknown> = {}) => ({
    pattern: { interval: 1, ...pattern },
    range: { type: 'noEnd', startDate: '2026-03-02', ...range },
  });

  it('names the pattern types Graph has when the type is none of them', () => {
    expect(invalidInputOf(() => patternOfGraph(graph({ type: 'hourly' }), 'UTC'))).toContain(
      'is not one of daily, weekly, absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly',
    );
  });

  it('sorts the days Sunday first, one entry per day, whatever order and case Graph gives them in', () => {
    const p = patternOfGraph(graph({ type: 'weekly', daysOfWeek: ['Saturday', 'friday', 'monday', 'sunday', 'Friday'] }), 'UTC');
    expect(p.daysOfWeek).toEqual(['sunday', 'monday', 'friday', 'saturday']);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
  ])('takes the event zone when the range zone is %s', (_name, recurrenceTimeZone) => {
    expect(patternOfGraph(graph({ type: 'daily' }, { recurrenceTimeZone }), 'Tokyo Standard Time').timeZone).toBe('Tokyo Standard Time');
  });

  it.each([
    ['a range zone that is no zone', graph({ type: 'daily' }, { recurrenceTimeZone: 'Mars/Olympus' }), 'recurrence.range.recurrenceTimeZone "Mars/Olympus" is not a time zone name'],
    ['a weekly pattern without days', graph({ type: 'weekly' }), 'recurrence.pattern.daysOfWeek (missing) is required for a weekly pattern'],
    // Graph returns 0 and 0001-01-01 for the properties a type does not use, so 0 is no value.
    ['a monthly pattern on day 0', graph({ type: 'absoluteMonthly', dayOfMonth: 0 }), 'recurrence.pattern.dayOfMonth 0 is required for a absoluteMonthly pattern'],
    ['a yearly pattern in month 0', graph({ type: 'absoluteYearly', dayOfMonth: 5, month: 0 }), 'recurrence.pattern.month 0 is required for a absoluteYearly pattern'],
    ['a numbered range of 0 occurrences', graph({ type: 'daily' }, { type: 'numbered', numberOfOccurrences: 0 }), 'recurrence.range.numberOfOccurrences 0 is required for a numbered range'],
    ['an endDate range without an end date', graph({ type: 'daily' }, { type: 'endDate' }), 'recurrence.range.endDate (missing) is required for an endDate range'],
    ['an endDate range ending on 0001-01-01', graph({ type: 'daily' }, { type: 'endDate', endDate: '0001-01-01' }), 'recurrence.range.endDate "0001-01-01" is required for an endDate range'],
  ])('refuses %s, naming the property', (_name, input, message) => {
    expect(invalidInputOf(() => patternOfGraph(input, 'UTC'))).toBe(message);
  });

  it("writes Graph's defaults for a weekly pattern without a first day of week and a relative one without an index", () => {
    expect(graphRecurrenceOf({ ...base, firstDayOfWeek: null }).pattern).toEqual({ type: 'weekly', interval: 1, daysOfWeek: ['monday'], firstDayOfWeek: 'sunday' });
    const relative: SeriesPattern = { ...base, type: 'relativeMonthly', firstDayOfWeek: null, index: null };
    expect(graphRecurrenceOf(relative).pattern).toEqual({ type: 'relativeMonthly', interval: 1, daysOfWeek: ['monday'], index: 'first' });
  });
});

describe('recurrence pattern mapping, zone names', () => {
  it('refuses a series zone that names no zone, so a pattern is never expanded in a guessed one', () => {
    expect(invalidInputOf(() => ianaOfSeriesZone('Mars/Olympus'))).toBe('recurrence.timeZone "Mars/Olympus" is not a time zone name');
    expect(ianaOfSeriesZone('Tokyo Standard Time')).toBe('Asia/Tokyo');
  });
});

describe('recurrence pattern mapping, Dataverse input refused or defaulted', () => {
  const master = (columns: Record<string, unknown>) => ({ patternstartdate: '2026-03-01T23:00:00Z', patternendtype: 1, utcconversiontimezonecode: 110, ...columns });

  it('reads the zone code -1 as no code: the fallback zone', () => {
    expect(patternOfDataverse(master({ recurrencepatterntype: 0, utcconversiontimezonecode: -1 }), 'Europe/Berlin').timeZone).toBe('W. Europe Standard Time');
  });

  it.each([
    ['an unknown zone code', master({ recurrencepatterntype: 0, utcconversiontimezonecode: 999 }), 'utcconversiontimezonecode 999 is not a time zone code this version knows'],
    ['no zone code and a fallback that is no zone', master({ recurrencepatterntype: 0, utcconversiontimezonecode: null }), 'utcconversiontimezonecode "Mars/Olympus" is not a time zone code this version knows'],
    ['a weekly pattern without days', master({ recurrencepatterntype: 1, daysofweekmask: 0 }), 'daysofweekmask 0 is required for a weekly pattern'],
    ['a monthly pattern without a day of the month', master({ recurrencepatterntype: 2 }), 'dayofmonth (missing) is required for a absoluteMonthly pattern'],
    ['a yearly pattern without a month', master({ recurrencepatterntype: 3, dayofmonth: 5 }), 'monthofyear (missing) is required for a absoluteYearly pattern'],
    ['an Occurrences range without a count', master({ recurrencepatterntype: 0, patternendtype: 2 }), 'occurrences (missing) is required when patternendtype is 2'],
    ['a Pattern End Date range without an end date', master({ recurrencepatterntype: 0, patternendtype: 3 }), 'patternenddate (missing) is required when patternendtype is 3'],
    ['a start date that is no date', master({ recurrencepatterntype: 0, patternstartdate: 'soon' }), 'patternstartdate "soon" is not a valid date'],
    ['a date with text before it', master({ recurrencepatterntype: 0, patternstartdate: 'x2026-03-02' }), 'patternstartdate "x2026-03-02" is not a valid date'],
    ['a first occurrence date that is no date', master({ recurrencepatterntype: 0, effectivestartdate: 'soon' }), 'effectivestartdate "soon" is not a valid date'],
    ['an end date that is no date', master({ recurrencepatterntype: 0, patternendtype: 3, patternenddate: 'soon' }), 'patternenddate "soon" is not a valid date'],
  ])('refuses %s, naming the column', (_name, record, message) => {
    expect(invalidInputOf(() => patternOfDataverse(record, 'Mars/Olympus'))).toBe(message);
  });

  it('reads every weekday (isweekdaypattern) as Monday to Friday even where the mask names other days, as Dataverse expands it', () => {
    const row = { ...master({ recurrencepatterntype: 1, isweekdaypattern: true, daysofweekmask: 2 }), patternendtype: 2, occurrences: 10 };
    const p = patternOfDataverse(row, 'UTC');
    expect(p.daysOfWeek).toEqual(['monday', 'tuesday', 'wednesday', 'thursday', 'friday']);
    // The Dataverse simulator's reading of the same row (dev/sim/dataverse/series.ts, from the column's description:
    // "the weekly recurrence pattern is a daily weekday pattern") against the Graph series the pattern maps to.
    const start = DateTime.fromISO('2026-03-02T09:00:00', { zone: 'Europe/Berlin' });
    const simulated = SeriesPlatform.prototype.patternOf.call({ zoneOf: () => 'Europe/Berlin', d: { options: {} } } as unknown as SeriesPlatform, {
      ...row,
      starttime: start.toUTC().toISO(),
      endtime: start.plus({ hours: 1 }).toUTC().toISO(),
    });
    const from = start.minus({ days: 1 }).toMillis();
    const to = start.plus({ days: 30 }).toMillis();
    const dataverse = [...occurrencesBetween(simulated, from, to)].map((o) => o.startMs);
    expect(dataverse).toHaveLength(10);
    expect(graphStarts(p, 9, from, to)).toEqual(dataverse);
  });

  it('takes a plain date (a DateOnly column) as the local date it is, in a zone behind every other', () => {
    // Dateline Standard Time is UTC-12: read as an instant, the date would fall on the day before.
    const p = patternOfDataverse(master({ recurrencepatterntype: 0, patternstartdate: '2026-03-02', patternendtype: 3, patternenddate: '2026-03-09', utcconversiontimezonecode: 0 }), 'UTC');
    expect(p).toMatchObject({ timeZone: 'Dateline Standard Time', startDate: '2026-03-02', endDate: '2026-03-09' });
  });
});

describe('recurrence pattern mapping, the Dataverse columns written', () => {
  it('writes an interval of 1000, the most Dataverse allows', () => {
    const p = { ...base, interval: 1000 };
    expect(unsupportedInDataverse(p)).toBeUndefined();
    expect(dataverseColumnsOf(p, false)).toHaveProperty('interval', 1000);
  });

  it('refuses a pattern Dataverse cannot hold with an InvalidInput that says so', () => {
    expect(invalidInputOf(() => dataverseColumnsOf({ ...base, interval: 1001 }, false))).toBe(
      'recurrence (missing) cannot be written to Dataverse: an interval of 1001: Dataverse allows at most 1000',
    );
  });

  it.each([
    ['daily', null, null],
    ['weekly', null, null],
    ['absoluteMonthly', false, null],
    ['relativeMonthly', true, null],
    ['absoluteYearly', null, false],
    ['relativeYearly', null, true],
  ] as const)('writes a %s pattern with isnthmonthly %s and isnthyearly %s (empty where the type has no such column)', (type, isnthmonthly, isnthyearly) => {
    const p: SeriesPattern = { ...base, type, daysOfWeek: ['monday'], index: 'first', dayOfMonth: 2, month: 3 };
    expect(dataverseColumnsOf(p, false)).toMatchObject({ isnthmonthly, isnthyearly });
  });

  it('writes the range columns from the range type, whatever else the value holds', () => {
    // A pattern changed from a count or an end date to no end: the old count and date must not reach the record.
    const stale: SeriesPattern = { ...base, range: 'noEnd', numberOfOccurrences: 5, endDate: '2026-04-01' };
    expect(dataverseColumnsOf(stale, false)).toMatchObject({ patternendtype: 1, occurrences: null, patternenddate: null });
  });

  it('writes firstdayofweek on create for a weekly pattern only', () => {
    expect(dataverseColumnsOf({ ...base, type: 'daily', daysOfWeek: [], firstDayOfWeek: null }, true)).not.toHaveProperty('firstdayofweek');
    expect(dataverseColumnsOf({ ...base, firstDayOfWeek: 'wednesday' }, true)).toHaveProperty('firstdayofweek', 3);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------------------

const zones = ['W. Europe Standard Time', 'Eastern Standard Time', 'AUS Eastern Standard Time', 'UTC'] as const;
const daysArb = fc.subarray([...daysOfWeek], { minLength: 1 }).map((d) => [...d] as DayOfWeek[]);

const patternArb: fc.Arbitrary<SeriesPattern> = fc
  .record({
    type: fc.constantFrom(...patternTypes),
    interval: fc.integer({ min: 1, max: 4 }),
    days: daysArb,
    firstDayOfWeek: fc.constantFrom(...daysOfWeek),
    index: fc.constantFrom(...weekIndexes),
    dayOfMonth: fc.integer({ min: 1, max: 31 }),
    month: fc.integer({ min: 1, max: 12 }),
    range: fc.constantFrom('noEnd' as const, 'numbered' as const, 'endDate' as const),
    start: fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2027-12-31T00:00:00Z'), noInvalidDate: true }),
    count: fc.integer({ min: 1, max: 40 }),
    span: fc.integer({ min: 0, max: 500 }),
    timeZone: fc.constantFrom(...zones),
  })
  .map((r) => {
    const t = r.type;
    const days = t === 'weekly' || t === 'relativeMonthly' || t === 'relativeYearly' ? [...r.days].sort((a, b) => daysOfWeek.indexOf(a) - daysOfWeek.indexOf(b)) : [];
    const yearly = t === 'absoluteYearly' || t === 'relativeYearly';
    // A yearly day must exist in its month (both services refuse 30 February); 29 February is allowed.
    const maxDay = yearly ? new Date(Date.UTC(2024, r.month, 0)).getUTCDate() : 31;
    const startDate = r.start.toISOString().slice(0, 10);
    return {
      type: t,
      interval: r.interval,
      daysOfWeek: days,
      firstDayOfWeek: t === 'weekly' ? r.firstDayOfWeek : null,
      index: t === 'relativeMonthly' || t === 'relativeYearly' ? r.index : null,
      dayOfMonth: t === 'absoluteMonthly' || t === 'absoluteYearly' ? Math.min(r.dayOfMonth, maxDay) : null,
      month: yearly ? r.month : null,
      range: r.range,
      startDate,
      endDate: r.range === 'endDate' ? DateTime.fromISO(startDate).plus({ days: r.span }).toISODate()! : null,
      numberOfOccurrences: r.range === 'numbered' ? r.count : null,
      timeZone: r.timeZone,
    } satisfies SeriesPattern;
  });

/** The occurrence starts Graph's rules give a series of this pattern at `hour` local time over [from, to). */
function graphStarts(p: SeriesPattern, hour: number, from: number, to: number): number[] {
  const zone = resolveTimeZone(p.timeZone)!;
  const recurrence = parseRecurrence(graphRecurrenceOf(p), zone);
  const start = DateTime.fromISO(p.startDate, { zone: zone.iana }).set({ hour }).toMillis();
  return [...expand(recurrence, seriesTiming(start, start + 3600_000, zone, false), { start: from, end: to })].map((o) => o.originalStart);
}

/** The instance starts Dataverse's rules give the mapped columns over [from, to). */
function dataverseStarts(p: SeriesPattern, hour: number, from: number, to: number): number[] {
  const iana = ianaOfSeriesZone(p.timeZone);
  const start = DateTime.fromISO(p.startDate, { zone: iana }).set({ hour });
  const row = { ...dataverseColumnsOf(p, true), starttime: start.toUTC().toISO(), endtime: start.plus({ hours: 1 }).toUTC().toISO() };
  // The simulator's own reading of a master row (validation included); a series without a zone code is expanded in
  // the organization's default zone, here UTC, as the product writes no code for UTC.
  const pattern = SeriesPlatform.prototype.patternOf.call({ zoneOf: () => iana, d: { options: {} } } as unknown as SeriesPlatform, row);
  return [...occurrencesBetween(pattern, from, to)].map((o) => o.startMs);
}

describe('recurrence pattern mapping, properties', () => {
  it('maps there and back to the same pattern (Graph and Dataverse)', () => {
    fc.assert(
      fc.property(patternArb, (p) => {
        expect(patternOfGraph(graphRecurrenceOf(p), 'UTC')).toEqual(p);
        expect(patternOfDataverse(dataverseColumnsOf(p, true), 'UTC')).toEqual(p);
      }),
      { seed: 1414, numRuns: 300 },
    );
  });

  it('expands the Graph pattern and the mapped Dataverse pattern to the same starts in the series zone (DST included)', () => {
    fc.assert(
      fc.property(patternArb, fc.integer({ min: 0, max: 23 }), (drawn, hour) => {
        const from = Date.parse(`${drawn.startDate}T00:00:00Z`) - 2 * 86_400_000;
        const to = from + 3 * 366 * 86_400_000;
        // The canonical range start is the first occurrence's date (SeriesPattern): the services read an interval
        // from a start off the pattern differently (Graph's simulator anchors on the first period holding a fitting
        // date, Dataverse's on the start's period; open question P11 in the README), so the property starts there.
        let first: number | undefined;
        try {
          first = graphStarts(drawn, hour, from, to)[0];
        } catch {
          // Graph refuses a range without any fitting date (400 ErrorCalendarInvalidRecurrence): nothing to compare.
        }
        fc.pre(first !== undefined);
        const p = { ...drawn, startDate: DateTime.fromMillis(first, { zone: ianaOfSeriesZone(drawn.timeZone) }).toISODate()! };
        if (p.range === 'endDate' && p.endDate! < p.startDate) return;
        expect(dataverseStarts(p, hour, from, to)).toEqual(graphStarts(p, hour, from, to));
      }),
      { seed: 1414, numRuns: 300 },
    );
  });
});
