// Time conversions between Dataverse and Graph (shared/mapping/time.ts) and the To Do date reading
// (shared/mapping/common.ts dateOfGraph): the cases the item mappings' tests do not reach (zones without a Windows
// name, a midnight that does not exist, invalid input, the host's own zone).
import { DateTime, Settings } from 'luxon';
import { describe, expect, it } from 'vitest';
import { dateOfGraph } from '../../shared/mapping/common.js';
import type { MappingContext } from '../../shared/mapping/context.js';
import { addDays, canonicalInstant, graphMidnightOf, graphZoneOf, instantOfDataverse, instantOfGraph, localDateOf, resolveZone } from '../../shared/mapping/time.js';

const ctxIn = (timeZone: string): MappingContext => ({ now: new Date('2026-12-03T06:00:00Z'), mailbox: { address: 'user@contoso.example', systemUserId: '5c5a5b54-2a7a-ee11-8179-000000000001' }, timeZone });

describe('zones', () => {
  it('an unknown zone name is invalid input naming the field', () => {
    expect(() => resolveZone('Mars/Olympus', 'start.timeZone')).toThrow(expect.objectContaining({ code: 'InvalidInput', field: 'start.timeZone', message: expect.stringContaining('is neither an IANA nor a Windows time zone name') }));
  });

  it('a mailbox zone without a Windows name is written as UTC, with its local midnight converted', () => {
    // Antarctica/Troll has no Windows twin; it is UTC+2 in June.
    expect(graphZoneOf(ctxIn('Antarctica/Troll'))).toEqual({ name: 'UTC', iana: 'UTC' });
    expect(graphMidnightOf('2026-06-03', ctxIn('Antarctica/Troll'))).toEqual({ dateTime: '2026-06-02T22:00:00', timeZone: 'UTC' });
  });

  it('a date is written as midnight in the mailbox zone even on a day whose midnight does not exist (DST starts at 00:00)', () => {
    // Chile moves its clocks from 00:00 to 01:00 on 6 September 2026: an all-day item still starts on the date.
    expect(graphMidnightOf('2026-09-06', ctxIn('America/Santiago'))).toEqual({ dateTime: '2026-09-06T00:00:00', timeZone: 'Pacific SA Standard Time' });
  });
});

describe('invalid values', () => {
  it('a Graph date-time or a Dataverse value that is no date-time is invalid input naming the field', () => {
    expect(() => instantOfGraph({ dateTime: 'soon', timeZone: 'UTC' }, 'start', ctxIn('Europe/Berlin'))).toThrow(
      expect.objectContaining({ code: 'InvalidInput', field: 'start.dateTime', message: expect.stringContaining('is not a valid date-time') }),
    );
    expect(() => instantOfDataverse('2026-13-01T00:00:00Z', 'scheduledstart')).toThrow(
      expect.objectContaining({ code: 'InvalidInput', field: 'scheduledstart', message: expect.stringContaining('is not a valid date-time') }),
    );
  });

  it('an invalid instant gives empty text, never "null"', () => {
    expect(canonicalInstant(DateTime.invalid('test'))).toBe('');
    expect(localDateOf(DateTime.invalid('test'), ctxIn('UTC'))).toBe('');
  });
});

describe('addDays', () => {
  it('counts calendar days whatever the host zone (Samoa skipped 30 December 2011)', () => {
    const before = Settings.defaultZone;
    Settings.defaultZone = 'Pacific/Apia';
    try {
      expect(addDays('2011-12-29', 1)).toBe('2011-12-30');
    } finally {
      Settings.defaultZone = before;
    }
  });
});

describe('dateOfGraph', () => {
  // The mailbox is in New York; the values are in UTC, so reading one as an instant dates it a day earlier.
  const ny = ctxIn('America/New_York');
  it('takes a midnight value as written, in each form Graph writes it', () => {
    for (const dateTime of ['2026-12-03T00:00', '2026-12-03T00:00:00', '2026-12-03T00:00:00.0000000', '2026-12-03T00:00:00.0']) {
      expect(dateOfGraph({ dateTime, timeZone: 'UTC' }, 'dueDateTime', ny)).toBe('2026-12-03');
    }
  });
  it('reads any other time as an instant dated in the mailbox zone', () => {
    for (const dateTime of ['2026-12-03T00:00:30', '2026-12-03T00:00:00.5000000', '2026-12-03T04:00:00']) {
      expect(dateOfGraph({ dateTime, timeZone: 'UTC' }, 'dueDateTime', ny)).toBe('2026-12-02');
    }
  });
});
