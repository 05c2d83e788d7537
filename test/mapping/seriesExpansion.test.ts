// The sync's own expansion of a series pattern (shared/mapping/seriesExpansion.ts), used to write a numbered range
// above Dataverse's 999 occurrences as the end date of its last occurrence. Checked against an oracle written
// differently: a day-by-day test of each calendar day against the rules of the recurrencePattern reference
// (https://learn.microsoft.com/graph/api/resources/recurrencepattern), independent of both simulators' expanders.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { daysOfWeek, patternTypes, weekIndexes, type DayOfWeek, type SeriesPattern } from '../../shared/mapping/recurrence.js';
import { nthOccurrenceDate, occurrenceDates, onShortMonthRule, withDataverseRange } from '../../shared/mapping/seriesExpansion.js';

/** Whether `date` is an occurrence of `p` (on or after its start; the range's end is not applied). */
function isOccurrence(p: SeriesPattern, date: DateTime): boolean {
  const start = DateTime.fromISO(p.startDate, { zone: 'UTC' });
  if (date < start) return false;
  const weekday = date.weekday % 7; // luxon: Monday 1 .. Sunday 7; here Sunday 0
  const onDay = (days: readonly DayOfWeek[]) => days.some((d) => daysOfWeek.indexOf(d) === weekday);
  const monthsApart = (date.year - start.year) * 12 + (date.month - start.month);
  const dayOfMonthRule = (dayOfMonth: number) => date.day === Math.min(dayOfMonth, date.daysInMonth!);
  const relativeRule = () => {
    if (!onDay(p.daysOfWeek)) return false;
    // Matching days of this month before and after the date.
    let before = 0;
    let after = 0;
    for (let d = 1; d <= date.daysInMonth!; d++) {
      if (d === date.day) continue;
      const other = date.set({ day: d });
      if (!onDay(p.daysOfWeek) || !p.daysOfWeek.some((x) => daysOfWeek.indexOf(x) === other.weekday % 7)) continue;
      if (d < date.day) before++;
      else after++;
    }
    return p.index === 'last' ? after === 0 : before === weekIndexes.indexOf(p.index!);
  };
  switch (p.type) {
    case 'daily':
      return Math.round(date.diff(start, 'days').days) % p.interval === 0;
    case 'weekly': {
      const first = daysOfWeek.indexOf(p.firstDayOfWeek!);
      const weekStartOf = (d: DateTime) => d.minus({ days: (d.weekday % 7 - first + 7) % 7 });
      const weeks = Math.round(weekStartOf(date).diff(weekStartOf(start), 'days').days / 7);
      return onDay(p.daysOfWeek) && weeks % p.interval === 0;
    }
    case 'absoluteMonthly':
      return monthsApart % p.interval === 0 && dayOfMonthRule(p.dayOfMonth!);
    case 'relativeMonthly':
      return monthsApart % p.interval === 0 && relativeRule();
    case 'absoluteYearly':
      return date.month === p.month && (date.year - start.year) % p.interval === 0 && dayOfMonthRule(p.dayOfMonth!);
    case 'relativeYearly':
      return date.month === p.month && (date.year - start.year) % p.interval === 0 && relativeRule();
  }
}

/** The first `count` occurrence dates by the oracle, day by day. */
function oracleDates(p: SeriesPattern, count: number): string[] {
  const out: string[] = [];
  for (let d = DateTime.fromISO(p.startDate, { zone: 'UTC' }); out.length < count; d = d.plus({ days: 1 })) if (isOccurrence(p, d)) out.push(d.toISODate()!);
  return out;
}

const patternArb: fc.Arbitrary<SeriesPattern> = fc
  .record({
    type: fc.constantFrom(...patternTypes),
    interval: fc.integer({ min: 1, max: 3 }),
    days: fc.subarray([...daysOfWeek], { minLength: 1 }),
    firstDayOfWeek: fc.constantFrom(...daysOfWeek),
    index: fc.constantFrom(...weekIndexes),
    dayOfMonth: fc.integer({ min: 1, max: 31 }),
    month: fc.integer({ min: 1, max: 12 }),
    start: fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2028-12-31T00:00:00Z'), noInvalidDate: true }),
  })
  .map((r) => {
    const t = r.type;
    const yearly = t === 'absoluteYearly' || t === 'relativeYearly';
    return {
      type: t,
      interval: r.interval,
      daysOfWeek: t === 'weekly' || t === 'relativeMonthly' || t === 'relativeYearly' ? [...r.days].sort((a, b) => daysOfWeek.indexOf(a) - daysOfWeek.indexOf(b)) : [],
      firstDayOfWeek: t === 'weekly' ? r.firstDayOfWeek : null,
      index: t === 'relativeMonthly' || t === 'relativeYearly' ? r.index : null,
      dayOfMonth: t === 'absoluteMonthly' || t === 'absoluteYearly' ? (yearly ? Math.min(r.dayOfMonth, new Date(Date.UTC(2024, r.month, 0)).getUTCDate()) : r.dayOfMonth) : null,
      month: yearly ? r.month : null,
      range: 'noEnd',
      startDate: r.start.toISOString().slice(0, 10),
      endDate: null,
      numberOfOccurrences: null,
      timeZone: 'W. Europe Standard Time',
    } satisfies SeriesPattern;
  });

const take = (p: SeriesPattern, n: number) => {
  const out: string[] = [];
  for (const d of occurrenceDates(p)) {
    out.push(d);
    if (out.length === n) break;
  }
  return out;
};

describe('series expansion in the sync (for numbered ranges above 999)', () => {
  // CPU alone, but much of it: the oracle walks up to 120 years day by day (a yearly series every third year, 40
  // occurrences). 14 s by itself on the 2-core machine; beside a loaded suite it outran the 30 s default once (51 s),
  // so it has a longer timeout (a bound on a hang, not a measure of speed).
  it('gives the occurrence dates the recurrencePattern rules give, day by day, for random patterns', () => {
    fc.assert(
      fc.property(patternArb, fc.integer({ min: 1, max: 40 }), (p, count) => {
        const expected = oracleDates(p, count);
        expect(take(p, count)).toEqual(expected);
        expect(nthOccurrenceDate(p, count)).toBe(expected[count - 1]);
      }),
      { seed: 1415, numRuns: 150 },
    );
  }, 180_000);

  const daily: SeriesPattern = { type: 'daily', interval: 1, daysOfWeek: [], firstDayOfWeek: null, index: null, dayOfMonth: null, month: null, range: 'numbered', startDate: '2027-01-04', endDate: null, numberOfOccurrences: 1000, timeZone: 'Pacific Standard Time' };
  it.each<[string, Partial<SeriesPattern>, string]>([
    ['1000 daily', {}, '2029-09-29'],
    ['1200 every other day', { interval: 2, numberOfOccurrences: 1200 }, '2033-07-29'],
    ['1000 weekdays (weekly Monday to Friday)', { type: 'weekly', daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'], firstDayOfWeek: 'sunday' }, '2030-11-01'],
    ['1000 on day 31 of every month (the last day in shorter months)', { type: 'absoluteMonthly', dayOfMonth: 31 }, '2110-04-30'],
    ['1000 on the last Friday of the month', { type: 'relativeMonthly', index: 'last', daysOfWeek: ['friday'] }, '2110-04-25'],
  ])('a numbered range of %s becomes an end-date range ending on its last occurrence', (_name, change, endDate) => {
    const p = { ...daily, ...change };
    const mapped = withDataverseRange(p, 999);
    expect(mapped).toEqual({ ...p, range: 'endDate', endDate, numberOfOccurrences: null });
    // Cross-check by the oracle (day by day up to the end date: the same count).
    expect(oracleDates({ ...p, range: 'noEnd', numberOfOccurrences: null }, p.numberOfOccurrences!).at(-1)).toBe(endDate);
  });

  it('leaves 999 occurrences and every other range as they are', () => {
    expect(withDataverseRange({ ...daily, numberOfOccurrences: 999 }, 999)).toEqual({ ...daily, numberOfOccurrences: 999 });
    const noEnd = { ...daily, range: 'noEnd' as const, numberOfOccurrences: null };
    expect(withDataverseRange(noEnd, 999)).toBe(noEnd);
    // The range's type decides, not a count it carries (Graph keeps numberOfOccurrences on every range).
    const endDate = { ...daily, range: 'endDate' as const, endDate: '2027-02-01', numberOfOccurrences: 1000 };
    expect(withDataverseRange(endDate, 999)).toBe(endDate);
  });

  it('counts a yearly series from its start date when that date is an occurrence', () => {
    const yearly: SeriesPattern = { ...daily, type: 'absoluteYearly', dayOfMonth: 4, month: 1 };
    expect(take(yearly, 2)).toEqual(['2027-01-04', '2028-01-04']);
    expect(take({ ...yearly, type: 'relativeYearly', dayOfMonth: null, index: 'first', daysOfWeek: ['monday'] }, 1)).toEqual(['2027-01-04']);
  });

  it('refuses an occurrence number that is not a positive integer, naming it', () => {
    for (const count of [0, -1, 1.5]) expect(() => nthOccurrenceDate(daily, count)).toThrow(new RangeError(`count must be a positive integer, not ${count}`));
  });
});

describe('dates only the short-month rule gives (probe P6)', () => {
  const monthly: SeriesPattern = { type: 'absoluteMonthly', interval: 1, daysOfWeek: [], firstDayOfWeek: null, index: null, dayOfMonth: 31, month: null, range: 'noEnd', startDate: '2027-01-31', endDate: null, numberOfOccurrences: null, timeZone: 'UTC' };
  it.each<[string, SeriesPattern, string, boolean]>([
    ['day 31 on 30 April', monthly, '2027-04-30', true],
    ['day 31 on 28 February', monthly, '2027-02-28', true],
    ['day 31 on 31 March', monthly, '2027-03-31', false],
    ['day 29 on 29 February of a leap year', { ...monthly, dayOfMonth: 29 }, '2028-02-29', false],
    ['yearly 31 May', { ...monthly, type: 'absoluteYearly', month: 5 }, '2027-05-31', false],
    ['yearly day 31 of April on 30 April', { ...monthly, type: 'absoluteYearly', month: 4 }, '2027-04-30', true],
    ['a weekly pattern never, whatever day of the month it carries', { ...monthly, type: 'weekly', daysOfWeek: ['friday'] }, '2027-04-30', false],
    ['a relative pattern never', { ...monthly, type: 'relativeMonthly', dayOfMonth: null, index: 'last', daysOfWeek: ['friday'] }, '2027-04-30', false],
  ])('%s', (_name, p, date, expected) => {
    expect(onShortMonthRule(p, date)).toBe(expected);
  });
});
