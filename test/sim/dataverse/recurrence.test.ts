// The expansion of recurringappointmentmaster patterns (dev/sim/dataverse/recurrence.ts), table-driven per pattern
// type, range type and daylight-saving case.
import { describe, expect, it } from 'vitest';
import { formatLocalDate, occurrences, occurrencesBetween, type Pattern } from '../../../dev/sim/dataverse/recurrence.js';

const base: Pattern = {
  type: 0,
  interval: 1,
  daysOfWeekMask: 0,
  dayOfMonth: null,
  monthOfYear: null,
  instance: null,
  firstDayOfWeek: 0,
  nth: false,
  startDate: { year: 2026, month: 1, day: 1 },
  endType: 2,
  occurrences: 4,
  endDate: null,
  startTime: { hour: 9, minute: 0, second: 0 },
  durationMinutes: 30,
  zone: 'UTC',
};

const d = (s: string) => {
  const [year, month, day] = s.split('-').map(Number);
  return { year: year!, month: month!, day: day! };
};

function dates(p: Partial<Pattern>, limit = 50): string[] {
  const out: string[] = [];
  for (const o of occurrences({ ...base, ...p })) {
    out.push(formatLocalDate(o.date));
    if (out.length >= limit) break;
  }
  return out;
}

describe('recurrence patterns (recurrencepatterntype, interval, daysofweekmask, dayofmonth, monthofyear, instance)', () => {
  const cases: Array<{ name: string; pattern: Partial<Pattern>; expected: string[] }> = [
    { name: 'daily every 2 days', pattern: { type: 0, interval: 2 }, expected: ['2026-01-01', '2026-01-03', '2026-01-05', '2026-01-07'] },
    {
      name: 'weekly on Monday, Wednesday and Friday, starting on a Wednesday',
      pattern: { type: 1, daysOfWeekMask: 2 | 8 | 32, startDate: d('2026-01-07'), occurrences: 5 },
      expected: ['2026-01-07', '2026-01-09', '2026-01-12', '2026-01-14', '2026-01-16'],
    },
    {
      name: 'weekly on Monday from a Wednesday: the first occurrence is the next Monday',
      pattern: { type: 1, daysOfWeekMask: 2, startDate: d('2026-01-07'), occurrences: 2 },
      expected: ['2026-01-12', '2026-01-19'],
    },
    {
      name: 'every 2 weeks on Sunday and Monday, weeks starting on Sunday (firstdayofweek 0)',
      pattern: { type: 1, interval: 2, daysOfWeekMask: 1 | 2, firstDayOfWeek: 0, startDate: d('2026-03-01') },
      expected: ['2026-03-01', '2026-03-02', '2026-03-15', '2026-03-16'],
    },
    {
      name: 'every 2 weeks on Sunday and Monday, weeks starting on Monday (firstdayofweek 1)',
      pattern: { type: 1, interval: 2, daysOfWeekMask: 1 | 2, firstDayOfWeek: 1, startDate: d('2026-03-01') },
      expected: ['2026-03-01', '2026-03-09', '2026-03-15', '2026-03-23'],
    },
    {
      name: 'every weekday (mask 62)',
      pattern: { type: 1, daysOfWeekMask: 62, startDate: d('2026-01-09'), occurrences: 4 },
      expected: ['2026-01-09', '2026-01-12', '2026-01-13', '2026-01-14'],
    },
    {
      name: 'monthly on day 31: short months take their last day',
      pattern: { type: 2, dayOfMonth: 31, startDate: d('2026-01-31') },
      expected: ['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30'],
    },
    {
      name: 'every 2 months on day 10, starting after the 10th',
      pattern: { type: 2, interval: 2, dayOfMonth: 10, startDate: d('2026-01-20'), occurrences: 3 },
      expected: ['2026-03-10', '2026-05-10', '2026-07-10'],
    },
    {
      name: 'monthly on the second Tuesday (isnthmonthly, instance 2)',
      pattern: { type: 2, nth: true, instance: 2, daysOfWeekMask: 4, occurrences: 3 },
      expected: ['2026-01-13', '2026-02-10', '2026-03-10'],
    },
    {
      name: 'monthly on the last weekday (instance 5, mask 62)',
      pattern: { type: 2, nth: true, instance: 5, daysOfWeekMask: 62, occurrences: 3 },
      expected: ['2026-01-30', '2026-02-27', '2026-03-31'],
    },
    {
      name: 'monthly on the first weekend day (instance 1, mask 65)',
      pattern: { type: 2, nth: true, instance: 1, daysOfWeekMask: 65, occurrences: 3 },
      expected: ['2026-01-03', '2026-02-01', '2026-03-01'],
    },
    {
      name: 'yearly on 29 February: other years take 28 February',
      pattern: { type: 3, monthOfYear: 2, dayOfMonth: 29, startDate: d('2024-01-01'), occurrences: 3 },
      expected: ['2024-02-29', '2025-02-28', '2026-02-28'],
    },
    {
      name: 'yearly on the last Monday of May (isnthyearly)',
      pattern: { type: 3, nth: true, instance: 5, daysOfWeekMask: 2, monthOfYear: 5, occurrences: 2 },
      expected: ['2026-05-25', '2027-05-31'],
    },
    {
      name: 'every 2 years on 5 January, starting after it',
      pattern: { type: 3, interval: 2, monthOfYear: 1, dayOfMonth: 5, startDate: d('2026-03-01'), occurrences: 2 },
      expected: ['2028-01-05', '2030-01-05'],
    },
  ];
  for (const c of cases) it(c.name, () => expect(dates(c.pattern)).toEqual(c.expected));
});

describe('recurrence ranges (patternendtype)', () => {
  it('2 Occurrences: stops after the given count', () => {
    expect(dates({ occurrences: 3 })).toHaveLength(3);
  });
  it('3 Pattern End Date: the end date is inclusive', () => {
    expect(dates({ endType: 3, endDate: d('2026-01-05'), occurrences: null })).toEqual(['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05']);
  });
  it('3 Pattern End Date: an end date off the pattern ends at the occurrence before it', () => {
    expect(dates({ type: 1, daysOfWeekMask: 2, endType: 3, endDate: d('2026-01-21'), occurrences: null })).toEqual(['2026-01-05', '2026-01-12', '2026-01-19']);
  });
  it('1 No End Date: never ends; a window bounds it', () => {
    expect(dates({ endType: 1, occurrences: null }, 400)).toHaveLength(400);
    const from = Date.UTC(2030, 0, 1);
    const inWindow = [...occurrencesBetween({ ...base, endType: 1, occurrences: null }, from, from + 3 * 86_400_000)].map((o) => formatLocalDate(o.date));
    expect(inWindow).toEqual(['2030-01-01', '2030-01-02', '2030-01-03']);
  });
  it('occurrence indexes count from the pattern start, also outside a window', () => {
    const from = Date.UTC(2026, 0, 3);
    expect([...occurrencesBetween({ ...base, occurrences: 10 }, from, Infinity)].map((o) => o.index)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('recurrence in the series time zone across daylight-saving changes', () => {
  const iso = (p: Partial<Pattern>) => [...occurrences({ ...base, ...p })].map((o) => new Date(o.startMs).toISOString());
  const cases: Array<{ name: string; pattern: Partial<Pattern>; expected: string[] }> = [
    {
      name: 'weekly Monday 09:00 Europe/Berlin keeps 09:00 local over the change of 29 March 2026',
      pattern: { type: 1, daysOfWeekMask: 2, startDate: d('2026-03-16'), occurrences: 3, zone: 'Europe/Berlin' },
      expected: ['2026-03-16T08:00:00.000Z', '2026-03-23T08:00:00.000Z', '2026-03-30T07:00:00.000Z'],
    },
    {
      name: 'daily 09:00 America/New_York over the change of 8 March 2026',
      pattern: { startDate: d('2026-03-07'), occurrences: 2, zone: 'America/New_York' },
      expected: ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z'],
    },
    {
      name: 'daily 09:00 Europe/Berlin back to standard time on 25 October 2026',
      pattern: { startDate: d('2026-10-24'), occurrences: 2, zone: 'Europe/Berlin' },
      expected: ['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z'],
    },
    {
      name: 'a 02:30 start that does not exist on 29 March 2026 in Berlin moves forward by the gap',
      pattern: { startDate: d('2026-03-28'), occurrences: 2, zone: 'Europe/Berlin', startTime: { hour: 2, minute: 30, second: 0 } },
      expected: ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z'],
    },
  ];
  for (const c of cases) it(c.name, () => expect(iso(c.pattern)).toEqual(c.expected));

  it('the duration is wall-clock minutes from the start', () => {
    const [o] = [...occurrences({ ...base, occurrences: 1, durationMinutes: 90, zone: 'Europe/Berlin' })];
    expect(o!.endMs - o!.startMs).toBe(90 * 60_000);
  });
});
