// Test & Enable's time-zone check: the user's own Dynamics 365 zone (usersettings.timezonecode) against the
// mailbox's. A difference only warns: instants are written, so only the clock time each side shows differs.
import { describe, expect, it } from 'vitest';
import { judgeTimeZone } from '../../../shared/onboarding/mailboxTest.js';

describe('judgeTimeZone', () => {
  it.each([
    ['the same zone, IANA on the mailbox', 110, 'Europe/Berlin', 'Success'],
    ['the same zone, Windows on the mailbox', 35, 'Eastern Standard Time', 'Success'],
    ['another IANA zone of the same Windows zone', 110, 'Europe/Amsterdam', 'Success'],
    ['a different zone', 35, 'Europe/Berlin', 'Warning'],
    ['GMT against UTC', 85, 'UTC', 'Warning'],
    ['a code this version does not know', 999, 'Europe/Berlin', 'Warning'],
    ['no settings row', undefined, 'Europe/Berlin', 'Warning'],
  ])('%s', (_what, code, zone, status) => {
    const result = judgeTimeZone(code, zone);
    expect(result.status).toBe(status);
    expect(result.code).toBe('dataverse.timeZone');
  });

  it('names both zones when they differ and says nothing moves', () => {
    expect(judgeTimeZone(35, 'Europe/Berlin').detail).toBe(
      "timezonecode 35 (Eastern Standard Time) differs from the mailbox's Europe/Berlin: times are synced as instants, so nothing moves, but Dynamics 365 and Outlook show them at different clock times",
    );
  });
});
