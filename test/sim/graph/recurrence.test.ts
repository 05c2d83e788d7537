// Table-driven tests of the Graph simulator's recurrence expansion (dev/sim/graph/recurrence.ts): every pattern and
// range type, firstDayOfWeek, index first..last, day 29-31 in short months, and DST in the series' zone.
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../../dev/sim/graph/graphError.js';
import { expand, formatCivilDate, occurrenceDates, parseRecurrence, renderRecurrence, seriesTiming } from '../../../dev/sim/graph/recurrence.js';
import { resolveTimeZone, type ResolvedZone } from '../../../dev/sim/graph/timeZones.js';

const zone = (name: string): ResolvedZone => resolveTimeZone(name) as ResolvedZone;
const UTC = zone('UTC');
const dates = (recurrence: unknown, limit = 50): string[] => {
  const out: string[] = [];
  for (const d of occurrenceDates(parseRecurrence(recurrence, UTC))) {
    out.push(formatCivilDate(d));
    if (out.length >= limit) break;
  }
  return out;
};

describe('recurrence expansion: pattern and range types', () => {
  const cases: { name: string; pattern: Record<string, unknown>; range: Record<string, unknown>; expected: string[]; limit?: number }[] = [
    { name: 'daily every 3 days, numbered', pattern: { type: 'daily', interval: 3 }, range: { type: 'numbered', startDate: '2030-01-01', numberOfOccurrences: 4 }, expected: ['2030-01-01', '2030-01-04', '2030-01-07', '2030-01-10'] },
    { name: 'daily, endDate inclusive', pattern: { type: 'daily', interval: 1 }, range: { type: 'endDate', startDate: '2030-01-01', endDate: '2030-01-03' }, expected: ['2030-01-01', '2030-01-02', '2030-01-03'] },
    { name: 'daily, noEnd (first 3)', pattern: { type: 'daily', interval: 7 }, range: { type: 'noEnd', startDate: '2030-01-01' }, expected: ['2030-01-01', '2030-01-08', '2030-01-15'], limit: 3 },
    { name: 'weekly Monday and Thursday from a Tuesday', pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday', 'thursday'] }, range: { type: 'numbered', startDate: '2030-01-01', numberOfOccurrences: 4 }, expected: ['2030-01-03', '2030-01-07', '2030-01-10', '2030-01-14'] },
    { name: 'every other week Sunday+Monday, firstDayOfWeek sunday', pattern: { type: 'weekly', interval: 2, daysOfWeek: ['sunday', 'monday'], firstDayOfWeek: 'sunday' }, range: { type: 'numbered', startDate: '2030-01-07', numberOfOccurrences: 4 }, expected: ['2030-01-07', '2030-01-20', '2030-01-21', '2030-02-03'] },
    { name: 'every other week Sunday+Monday, firstDayOfWeek monday', pattern: { type: 'weekly', interval: 2, daysOfWeek: ['sunday', 'monday'], firstDayOfWeek: 'monday' }, range: { type: 'numbered', startDate: '2030-01-07', numberOfOccurrences: 4 }, expected: ['2030-01-07', '2030-01-13', '2030-01-21', '2030-01-27'] },
    { name: 'every other Monday starting on a Wednesday: the first fitting week anchors the interval', pattern: { type: 'weekly', interval: 2, daysOfWeek: ['Monday'] }, range: { type: 'numbered', startDate: '2030-01-02', numberOfOccurrences: 3 }, expected: ['2030-01-07', '2030-01-21', '2030-02-04'] },
    { name: 'weekly Monday until the end of 2017 (the docs example ends on 25 December)', pattern: { type: 'weekly', interval: 1, daysOfWeek: ['Monday'] }, range: { type: 'endDate', startDate: '2017-09-04', endDate: '2017-12-31' }, expected: Array.from({ length: 17 }, (_, k) => new Date(Date.UTC(2017, 8, 4 + 7 * k)).toISOString().slice(0, 10)) },
    { name: 'absoluteMonthly day 31 falls on the last day of shorter months', pattern: { type: 'absoluteMonthly', interval: 1, dayOfMonth: 31 }, range: { type: 'numbered', startDate: '2030-01-31', numberOfOccurrences: 4 }, expected: ['2030-01-31', '2030-02-28', '2030-03-31', '2030-04-30'] },
    { name: 'absoluteMonthly quarterly on the 15th, starting after the 15th', pattern: { type: 'absoluteMonthly', interval: 3, dayOfMonth: 15 }, range: { type: 'numbered', startDate: '2030-01-20', numberOfOccurrences: 3 }, expected: ['2030-02-15', '2030-05-15', '2030-08-15'] },
    { name: 'relativeMonthly second Wednesday', pattern: { type: 'relativeMonthly', interval: 1, daysOfWeek: ['wednesday'], index: 'second' }, range: { type: 'numbered', startDate: '2030-01-01', numberOfOccurrences: 3 }, expected: ['2030-01-09', '2030-02-13', '2030-03-13'] },
    { name: 'relativeMonthly last weekday (Mon-Fri)', pattern: { type: 'relativeMonthly', interval: 1, daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'], index: 'last' }, range: { type: 'numbered', startDate: '2030-03-01', numberOfOccurrences: 2 }, expected: ['2030-03-29', '2030-04-30'] },
    { name: 'relativeMonthly first weekend day', pattern: { type: 'relativeMonthly', interval: 1, daysOfWeek: ['saturday', 'sunday'] }, range: { type: 'numbered', startDate: '2030-03-01', numberOfOccurrences: 2 }, expected: ['2030-03-02', '2030-04-06'] },
    { name: 'relativeMonthly first Thursday every other month from 29 August 2017 starts in September (docs example)', pattern: { type: 'relativeMonthly', interval: 2, daysOfWeek: ['Thursday'], index: 'first' }, range: { type: 'noEnd', startDate: '2017-08-29' }, expected: ['2017-09-07', '2017-11-02'], limit: 2 },
    { name: 'absoluteYearly 29 February falls on 28 February in common years', pattern: { type: 'absoluteYearly', interval: 1, dayOfMonth: 29, month: 2 }, range: { type: 'numbered', startDate: '2028-02-29', numberOfOccurrences: 3 }, expected: ['2028-02-29', '2029-02-28', '2030-02-28'] },
    { name: 'absoluteYearly every 2 years', pattern: { type: 'absoluteYearly', interval: 2, dayOfMonth: 15, month: 4 }, range: { type: 'endDate', startDate: '2030-01-01', endDate: '2035-12-31' }, expected: ['2030-04-15', '2032-04-15', '2034-04-15'] },
    { name: 'relativeYearly last Wednesday of November', pattern: { type: 'relativeYearly', interval: 1, daysOfWeek: ['wednesday'], index: 'last', month: 11 }, range: { type: 'numbered', startDate: '2030-01-01', numberOfOccurrences: 2 }, expected: ['2030-11-27', '2031-11-26'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(dates({ pattern: c.pattern, range: c.range }, c.limit)).toEqual(c.expected);
    });
  }

  it('renders every property as Graph returns it (lower-case enums, defaults, 0 and 0001-01-01 for unused fields)', () => {
    const r = parseRecurrence({ pattern: { type: 'weekly', interval: 1, daysOfWeek: ['Thursday', 'Monday'] }, range: { type: 'noEnd', startDate: '2030-01-01' } }, zone('W. Europe Standard Time'));
    expect(renderRecurrence(r)).toEqual({
      pattern: { type: 'weekly', interval: 1, month: 0, dayOfMonth: 0, daysOfWeek: ['monday', 'thursday'], firstDayOfWeek: 'sunday', index: 'first' },
      range: { type: 'noEnd', startDate: '2030-01-01', endDate: '0001-01-01', recurrenceTimeZone: 'W. Europe Standard Time', numberOfOccurrences: 0 },
    });
  });
});

describe('recurrence validation', () => {
  const invalid: { name: string; recurrence: unknown; code: string }[] = [
    { name: 'weekly without daysOfWeek', recurrence: { pattern: { type: 'weekly', interval: 1 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'relativeMonthly without daysOfWeek', recurrence: { pattern: { type: 'relativeMonthly', interval: 1, index: 'first' }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'absoluteMonthly without dayOfMonth', recurrence: { pattern: { type: 'absoluteMonthly', interval: 1 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'absoluteYearly without month', recurrence: { pattern: { type: 'absoluteYearly', interval: 1, dayOfMonth: 3 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'absoluteYearly on 31 April', recurrence: { pattern: { type: 'absoluteYearly', interval: 1, dayOfMonth: 31, month: 4 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'interval 0', recurrence: { pattern: { type: 'daily', interval: 0 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'numbered range without numberOfOccurrences', recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'endDate range ending before it starts', recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'endDate', startDate: '2030-01-05', endDate: '2030-01-01' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'endDate range without a date that fits', recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['sunday'] }, range: { type: 'endDate', startDate: '2030-01-01', endDate: '2030-01-04' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'an index outside first..last (validated even where ignored)', recurrence: { pattern: { type: 'daily', interval: 1, index: 'fifth' }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'RequestBodyRead' },
    { name: 'an unknown pattern type', recurrence: { pattern: { type: 'hourly', interval: 1 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'RequestBodyRead' },
    { name: 'an unknown property', recurrence: { pattern: { type: 'daily', interval: 1, every: 2 }, range: { type: 'noEnd', startDate: '2030-01-01' } }, code: 'RequestBodyRead' },
    { name: 'a malformed startDate', recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'noEnd', startDate: '2030-02-30' } }, code: 'ErrorCalendarInvalidRecurrence' },
    { name: 'an unknown recurrenceTimeZone', recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'noEnd', startDate: '2030-01-01', recurrenceTimeZone: 'Mars/Olympus' } }, code: 'TimeZoneNotSupportedException' },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with 400 ${c.code}`, () => {
      let error: unknown;
      try {
        parseRecurrence(c.recurrence, UTC);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(GraphError);
      expect((error as GraphError).status).toBe(400);
      expect((error as GraphError).code).toBe(c.code);
    });
  }
});

describe('recurrence expansion across DST, in the series zone', () => {
  const instants = (recurrence: unknown, zoneName: string, start: string, end: string, allDay = false): [string, string][] => {
    const z = zone(zoneName);
    const r = parseRecurrence(recurrence, z);
    return [...expand(r, seriesTiming(Date.parse(start), Date.parse(end), z, allDay))].map((o) => [new Date(o.start).toISOString(), new Date(o.end).toISOString()]);
  };

  it('a weekly 09:00 series in W. Europe keeps 09:00 local across the March change (08:00Z then 07:00Z)', () => {
    const r = { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] }, range: { type: 'numbered', startDate: '2030-03-25', numberOfOccurrences: 2 } };
    expect(instants(r, 'W. Europe Standard Time', '2030-03-25T08:00:00Z', '2030-03-25T09:00:00Z')).toEqual([
      ['2030-03-25T08:00:00.000Z', '2030-03-25T09:00:00.000Z'],
      ['2030-04-01T07:00:00.000Z', '2030-04-01T08:00:00.000Z'],
    ]);
  });

  it('a daily 09:00 Pacific series moves from 17:00Z to 16:00Z on 10 March 2030', () => {
    const r = { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-03-09', numberOfOccurrences: 2 } };
    expect(instants(r, 'Pacific Standard Time', '2030-03-09T17:00:00Z', '2030-03-09T17:30:00Z').map((p) => p[0])).toEqual(['2030-03-09T17:00:00.000Z', '2030-03-10T16:00:00.000Z']);
  });

  it('a series anchored in UTC stays at the same UTC time (its local time moves)', () => {
    const r = { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-03-30', numberOfOccurrences: 2 } };
    expect(instants(r, 'UTC', '2030-03-30T08:00:00Z', '2030-03-30T09:00:00Z').map((p) => p[0])).toEqual(['2030-03-30T08:00:00.000Z', '2030-03-31T08:00:00.000Z']);
  });

  it('an all-day series runs midnight to midnight local: the day of the change is 23 hours long', () => {
    const r = { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-03-30', numberOfOccurrences: 2 } };
    expect(instants(r, 'W. Europe Standard Time', '2030-03-29T23:00:00Z', '2030-03-30T23:00:00Z', true)).toEqual([
      ['2030-03-29T23:00:00.000Z', '2030-03-30T23:00:00.000Z'],
      ['2030-03-30T23:00:00.000Z', '2030-03-31T22:00:00.000Z'],
    ]);
  });

  it('range dates are read in recurrenceTimeZone when it is given', () => {
    // 23:30 in Tokyo is 14:30Z the same day; the range's dates are Tokyo dates.
    const r = { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-01-10', numberOfOccurrences: 1, recurrenceTimeZone: 'Tokyo Standard Time' } };
    const z = zone('UTC');
    const parsed = parseRecurrence(r, z);
    const [occ] = [...expand(parsed, seriesTiming(Date.parse('2030-01-10T14:30:00Z'), Date.parse('2030-01-10T15:00:00Z'), parsed.range.zone, false))];
    expect(new Date(occ!.start).toISOString()).toBe('2030-01-10T14:30:00.000Z');
  });

  it('expands only inside a window, and a noEnd series needs one', () => {
    const r = parseRecurrence({ pattern: { type: 'daily', interval: 1 }, range: { type: 'noEnd', startDate: '2012-01-01' } }, UTC);
    const t = seriesTiming(Date.parse('2012-01-01T10:00:00Z'), Date.parse('2012-01-01T11:00:00Z'), UTC, false);
    const inWindow = [...expand(r, t, { start: Date.parse('2030-06-01T00:00:00Z'), end: Date.parse('2030-06-04T00:00:00Z') })];
    expect(inWindow.map((o) => new Date(o.start).toISOString().slice(0, 10))).toEqual(['2030-06-01', '2030-06-02', '2030-06-03']);
    expect(() => [...expand(r, t)]).toThrow();
  });
});
