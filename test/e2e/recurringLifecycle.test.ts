// Recurring series end to end, one stack: the zone a Dynamics 365 series without utcconversiontimezonecode is
// expanded in (its creator's own time zone, west of UTC here), a single appointment turned into a series on either
// side (Outlook: a PATCH adding `recurrence`; Dynamics 365: AddRecurrence) and a series ended early (Dynamics 365:
// DeleteOpenInstances; Outlook: the range's end date moved earlier). Each ends with one series on each side, the
// same occurrences on both, and no stray single appointment.
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUsers, startStack, type Stack } from '../../dev/stack/index.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';

const day = 24 * 3600_000;
const pacific = 'America/Los_Angeles';
/** Dataverse time zone codes (shared/mapping/recurrence.ts): 4 Pacific. */
const pacificCode = 4;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ seed: 41, users: [...defaultUsers, { key: 'pat', userPrincipalName: 'pat@contoso.example', displayName: 'Pat Park', timeZone: 'Pacific Standard Time' }] });
}, 60_000);
afterAll(async () => stack?.close());

const window = () => ({ start: new Date(Date.now() - day), end: new Date(Date.now() + 60 * day) });
const sortedStarts = (values: unknown[]) => values.map((v) => Date.parse(String(v))).sort((a, b) => a - b);

/** The Dataverse instances of a series (any of its groupid's masters), their scheduled starts sorted. */
function instanceStarts(seriesId: string): number[] {
  return sortedStarts(
    stack.dataverse.admin
      .records('appointments')
      .filter((r) => r.seriesid === seriesId)
      .map((r) => r.scheduledstart),
  );
}

/** The Exchange occurrences of a series master, their starts (read in UTC) sorted. */
async function occurrenceStarts(mailboxId: string, masterId: string): Promise<number[]> {
  const listed = await stack.runtime.graph.seriesInstances(mailboxId, masterId, window());
  return sortedStarts(listed.map((o) => `${o.start!.dateTime!}Z`));
}

async function seriesMasterNamed(mailboxId: string, subject: string) {
  const found = (await stack.graph.admin.items({ user: mailboxId, kind: 'event' })).filter((e) => e.item.subject === subject);
  return found;
}

/**
 * A daily series created in Dynamics 365 by `userKey` without utcconversiontimezonecode, at 19:00 Pacific in five
 * days: 03:00 UTC the next day, so the local date west of UTC differs from the UTC date. The pattern starts at that
 * day's Pacific midnight (DateOnly UserLocal, the creator's zone).
 */
function seriesWithoutZoneCode(userKey: string, subject: string) {
  const user = stack.users[userKey]!;
  const date = DateTime.now().setZone(pacific).plus({ days: 5 }).startOf('day');
  const start = date.set({ hour: 19 });
  return {
    start: start.toMillis(),
    record: stack.dataverse.admin.as(user.systemUserId).create('recurringappointmentmasters', {
      subject,
      recurrencepatterntype: 0,
      interval: 1,
      starttime: start.toUTC().toISO(),
      endtime: start.plus({ minutes: 30 }).toUTC().toISO(),
      patternstartdate: date.toUTC().toISO(),
      patternendtype: 2,
      occurrences: 3,
      'ownerid@odata.bind': `/systemusers(${user.systemUserId})`,
    }),
  };
}

describe('a Dynamics 365 series without utcconversiontimezonecode is read in the zone Dataverse expands it in (its creator\'s own)', () => {
  it('a Pacific user\'s series starts in Exchange on the day and at the time its first instance has, not a day early', async () => {
    const pat = stack.users.pat!;
    const { start, record } = seriesWithoutZoneCode('pat', 'Evening planning');
    await stack.settled();
    const dataverse = instanceStarts(String(record.activityid));
    expect(dataverse).toHaveLength(3);
    expect(dataverse[0]).toBe(start);
    const masters = await seriesMasterNamed(pat.graph.id, 'Evening planning');
    expect(masters.map((m) => m.item.type)).toEqual(['seriesMaster']);
    expect(await occurrenceStarts(pat.graph.id, masters[0]!.id)).toEqual(dataverse);
  });

  it("a user whose Dynamics 365 zone (Pacific) differs from the mailbox's (W. Europe) gets the series Dataverse expanded, not one read in the mailbox's zone", async () => {
    const alice = stack.users.alice!;
    stack.dataverse.admin.setUserTimeZone(alice.systemUserId, pacificCode);
    try {
      const { start, record } = seriesWithoutZoneCode('alice', 'Call with the west coast');
      await stack.settled();
      const dataverse = instanceStarts(String(record.activityid));
      expect(dataverse[0]).toBe(start);
      const masters = await seriesMasterNamed(alice.graph.id, 'Call with the west coast');
      expect(masters.map((m) => m.item.type)).toEqual(['seriesMaster']);
      expect(await occurrenceStarts(alice.graph.id, masters[0]!.id)).toEqual(dataverse);
      // A reconciliation compares the series again and changes nothing.
      await reconcileAll(stack.runtime);
      await stack.settled();
      expect(await occurrenceStarts(alice.graph.id, masters[0]!.id)).toEqual(dataverse);
      expect(stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Call with the west coast')).toHaveLength(1);
    } finally {
      stack.dataverse.admin.setUserTimeZone(alice.systemUserId, 110);
    }
  });
});

