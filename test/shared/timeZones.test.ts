// The one Windows <-> IANA time-zone converter, used by onboarding (the mailbox's zone) and the mapping (event zones).
import { describe, expect, it } from 'vitest';
import { resolveZone } from '../../shared/mapping/time.js';
import { ianaTimeZone } from '../../shared/onboarding/mailbox.js';

describe('mailbox time zone (onboarding)', () => {
  it.each([
    ['W. Europe Standard Time', 'Europe/Berlin'],
    ['Eastern Standard Time', 'America/New_York'],
    ['Europe/Paris', 'Europe/Paris'],
    ['UTC', 'UTC'],
    ['tzone://Microsoft/Utc', 'UTC'],
  ])('%s is %s', (zone, iana) => {
    expect(ianaTimeZone(zone)).toBe(iana);
  });

  it('defect: a name with a slash that is no IANA zone is refused, not registered as the mailbox zone', () => {
    expect(() => ianaTimeZone('Mars/Olympus_Mons')).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => ianaTimeZone('Nowhere Standard Time')).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });

  it('reads a zone the way the mapping reads it (one converter for both)', () => {
    for (const zone of ['W. Europe Standard Time', 'Eastern Standard Time', 'Tokyo Standard Time', 'Asia/Kolkata', 'UTC', 'tzone://Microsoft/Utc']) {
      expect(resolveZone(zone, 'start.timeZone')).toBe(ianaTimeZone(zone));
    }
  });
});
