// Recurring series end to end (one stack, and one with cancellations propagated): the zone a Dynamics 365 series without utcconversiontimezonecode is
// expanded in (its creator's own time zone, west of UTC here), a single appointment turned into a series on either
// side (Outlook: a PATCH adding `recurrence`; Dynamics 365: AddRecurrence) and a series ended early (Dynamics 365:
// DeleteOpenInstances; Outlook: the range's end date moved earlier), and, with SYNC_PROPAGATE_CANCELLATIONS on, a
// series ended or cancelled in Dynamics 365 keeping its past in Exchange. Each ends with one series on each side, the
// same occurrences on both, and no stray single appointment. The Dataverse simulator skips a day 29-31 in a shorter
// month (recurrence.shortMonth 'skip', one reading of the undocumented rule, probe P6) where Outlook takes the last
// day; only the monthly test below has such a day.
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUsers, startStack, type Stack } from '../../dev/stack/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';

const day = 24 * 3600_000;
const pacific = 'America/Los_Angeles';
/** Dataverse time zone codes (shared/mapping/recurrence.ts): 4 Pacific. */
const pacificCode = 4;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ seed: 41, dataverseRecurrence: { shortMonth: 'skip' }, users: [...defaultUsers, { key: 'pat', userPrincipalName: 'pat@contoso.example', displayName: 'Pat Park', timeZone: 'Pacific Standard Time' }] });
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
async function occurrenceStarts(mailboxId: string, masterId: string, over = window()): Promise<number[]> {
  const listed = await stack.runtime.graph.seriesInstances(mailboxId, masterId, over);
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
/** The body of a daily Dynamics 365 series of `occurrences` from `start` (its pattern starts that day), owned by `ownerId`. */
function dailySeries(ownerId: string, subject: string, start: DateTime, minutes: number, occurrences: number, extra: Record<string, unknown> = {}) {
  return {
    subject,
    recurrencepatterntype: 0,
    interval: 1,
    starttime: start.toUTC().toISO(),
    endtime: start.plus({ minutes }).toUTC().toISO(),
    patternstartdate: start.startOf('day').toUTC().toISO(),
    patternendtype: 2,
    occurrences,
    'ownerid@odata.bind': `/systemusers(${ownerId})`,
    ...extra,
  };
}

function seriesWithoutZoneCode(userKey: string, subject: string) {
  const user = stack.users[userKey]!;
  const date = DateTime.now().setZone(pacific).plus({ days: 5 }).startOf('day');
  const start = date.set({ hour: 19 });
  return {
    start: start.toMillis(),
    record: stack.dataverse.admin.as(user.systemUserId).create('recurringappointmentmasters', dailySeries(user.systemUserId, subject, start, 30, 3)),
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


describe('a numbered Outlook series of more occurrences than Dataverse holds (999)', () => {
  it('becomes one Dynamics 365 series ending on the date of its last occurrence; neither side is rewritten, and a Dynamics 365 edit reaches Outlook with the count kept', async () => {
    const alice = stack.users.alice!;
    const date = DateTime.now().setZone('Europe/Berlin').plus({ days: 3 }).startOf('day');
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Daily log review',
      start: { dateTime: `${date.toISODate()}T08:00:00`, timeZone: 'W. Europe Standard Time' },
      end: { dateTime: `${date.toISODate()}T08:15:00`, timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: date.toISODate()!, numberOfOccurrences: 1000 } },
    });
    await stack.settled();
    const masters = () => stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Daily log review');
    expect(masters()).toHaveLength(1);
    const seriesId = String(masters()[0]!.activityid);
    const last = date.plus({ days: 999 });
    expect(masters()[0]).toMatchObject({ patternendtype: 3, occurrences: null, utcconversiontimezonecode: 110 });
    expect(DateTime.fromISO(String(masters()[0]!.patternenddate)).setZone('Europe/Berlin').toISODate()).toBe(last.toISODate());
    // Dataverse expands the series inside its future window, on the days Outlook has them.
    const dataverse = instanceStarts(String(masters()[0]!.activityid));
    expect(dataverse[0]).toBe(date.set({ hour: 8 }).toMillis());
    expect((await occurrenceStarts(alice.graph.id, String(master.id))).slice(0, dataverse.length)).toEqual(dataverse.filter((t) => t < window().end.getTime()));
    const before = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.id === master.id)!;
    // A reconciliation compares the two and writes nothing: the count and its end date are the same pattern. Its
    // calendarView round lists hundreds of occurrences of the series; they are one change of the master, not one each.
    const reconciled = await reconcileAll(stack.runtime);
    expect(reconciled.mailboxes.find((m) => m.mailboxId.toLowerCase() === alice.graph.id.toLowerCase())!.enqueued).toBeLessThan(10);
    await stack.settled();
    const after = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.id === master.id)!;
    expect(after.item['@odata.etag'] ?? after.item.changeKey).toBe(before.item['@odata.etag'] ?? before.item.changeKey);
    expect(masters()).toHaveLength(1);
    expect(masters()[0]).toMatchObject({ patternendtype: 3 });
    // The other way: a subject change in Dynamics 365 reaches Outlook, and the Outlook range stays numbered.
    stack.dataverse.admin.as(alice.systemUserId).update('recurringappointmentmasters', seriesId, { subject: 'Daily log review (ops)' });
    await stack.settled();
    const renamed = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.id === master.id)!.item;
    expect(renamed.subject).toBe('Daily log review (ops)');
    // A future instance deleted in Dynamics 365 past the first page of /instances (10) cancels its Exchange occurrence.
    const twelfth = stack.dataverse.admin
      .records('appointments')
      .filter((r) => r.seriesid === seriesId)
      .sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)))[11]!;
    stack.dataverse.admin.as(alice.systemUserId).delete('appointments', String(twelfth.activityid));
    await stack.settled();
    const left = await occurrenceStarts(alice.graph.id, String(master.id));
    expect(left).not.toContain(Date.parse(String(twelfth.originalstartdate)));
    expect(left).toContain(Date.parse(String(twelfth.originalstartdate)) + day);
    expect((renamed.recurrence as { range: { type: string; numberOfOccurrences: number } }).range).toMatchObject({ type: 'numbered', numberOfOccurrences: 1000 });
  });
});

describe('a single appointment turned into a series, and a series ended early', () => {
  const dataverseRecords = (set: string, subject: string) => stack.dataverse.admin.records(set).filter((r) => r.subject === subject);
  const eventsNamed = async (mailboxId: string, subject: string) => (await stack.graph.admin.items({ user: mailboxId, kind: 'event' })).filter((e) => e.item.subject === subject);
  /** 10:00 Eastern (bob's zone) in `days` days. */
  const bobsMorning = (days: number) => DateTime.now().setZone('America/New_York').plus({ days }).startOf('day').set({ hour: 10 });

  it('Dynamics 365 AddRecurrence on a synced appointment makes its Exchange event the series: one series each side, no single appointment left, no second invitation', async () => {
    const bob = stack.users.bob!;
    const start = bobsMorning(3);
    const single = stack.dataverse.admin.as(bob.systemUserId).create('appointments', {
      subject: 'Weekly one-to-one',
      scheduledstart: start.toUTC().toISO(),
      scheduledend: start.plus({ minutes: 30 }).toUTC().toISO(),
      'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
      appointment_activity_parties: [{ participationtypemask: 5, addressused: 'carol@fabrikam.example' }],
    });
    await stack.settled();
    const [event] = await eventsNamed(bob.graph.id, 'Weekly one-to-one');
    expect(event!.item.type).toBe('singleInstance');
    const master = stack.dataverse.admin.as(bob.systemUserId).addRecurrence(String(single.activityid), {
      Target: {
        '@odata.type': 'Microsoft.Dynamics.CRM.recurringappointmentmaster',
        utcconversiontimezonecode: 35,
        recurrencepatterntype: 1,
        interval: 1,
        daysofweekmask: 2 ** (start.weekday % 7),
        patternstartdate: start.startOf('day').toUTC().toISO(),
        patternendtype: 2,
        occurrences: 4,
      },
    });
    await stack.settled();
    // Change tracking finds the new master if no step announced it.
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(dataverseRecords('appointments', 'Weekly one-to-one').filter((r) => r.instancetypecode === 0)).toHaveLength(0);
    expect(dataverseRecords('recurringappointmentmasters', 'Weekly one-to-one')).toHaveLength(1);
    const events = await eventsNamed(bob.graph.id, 'Weekly one-to-one');
    expect(events.map((e) => [e.id, e.item.type])).toEqual([[event!.id, 'seriesMaster']]);
    expect(await occurrenceStarts(bob.graph.id, event!.id)).toEqual(instanceStarts(String(master.activityid)));
    const pair = await stack.runtime.pairs.getByExchangeId(bob.graph.id, event!.id);
    expect(pair).toMatchObject({ dataverseEntity: 'recurringappointmentmaster', dataverseId: String(master.activityid).toLowerCase() });
    // One invitation when the meeting was made, one update when it became a series; no cancellation.
    const sent = (await stack.graph.admin.invitations({ user: bob.graph.id })).filter((i) => i.iCalUId === event!.item.iCalUId || i.seriesMasterId === event!.id);
    expect(sent.map((i) => i.type).sort()).toEqual(['request', 'update']);
  });

  it('Dynamics 365 DeleteOpenInstances ends the Exchange series at the same date: later occurrences gone, earlier ones kept, one series each side', async () => {
    const bob = stack.users.bob!;
    const start = bobsMorning(2);
    const instanceReads = () => Object.entries(stack.dataverse.admin.requestCounts().byRoute).filter(([route]) => /^GET .*appointments\(id\)/.test(route)).reduce((n, [, count]) => n + count, 0);
    const readsBefore = instanceReads();
    const series = stack.dataverse.admin.as(bob.systemUserId).create('recurringappointmentmasters', dailySeries(bob.systemUserId, 'Daily triage', start, 15, 6, { utcconversiontimezonecode: 35 }));
    await stack.settled();
    const [event] = await eventsNamed(bob.graph.id, 'Daily triage');
    expect(await occurrenceStarts(bob.graph.id, event!.id)).toHaveLength(6);
    // The six instances' Create steps are the series' own expansion: decided from their images, none read by id.
    expect(instanceReads() - readsBefore).toBe(0);
    // End the series before its fourth occurrence.
    stack.dataverse.admin.as(bob.systemUserId).deleteOpenInstances(String(series.activityid), { SeriesEndDate: start.plus({ days: 3 }).minus({ hours: 1 }).toUTC().toISO(), StateOfPastInstances: 3 });
    await stack.settled();
    await reconcileAll(stack.runtime);
    await stack.settled();
    const kept = [0, 1, 2].map((d) => start.plus({ days: d }).toMillis());
    expect(instanceStarts(String(series.activityid))).toEqual(kept);
    const events = await eventsNamed(bob.graph.id, 'Daily triage');
    expect(events.map((e) => e.item.type)).toEqual(['seriesMaster']);
    expect(await occurrenceStarts(bob.graph.id, event!.id)).toEqual(kept);
    expect(dataverseRecords('recurringappointmentmasters', 'Daily triage')).toHaveLength(1);
  });

  it("Outlook: the range's end date moved earlier ends the Dynamics 365 series there, with no second series and no stray instance", async () => {
    const alice = stack.users.alice!;
    const date = DateTime.now().setZone('Europe/Berlin').plus({ days: 2 }).startOf('day');
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Morning sync',
      start: { dateTime: `${date.toISODate()}T09:00:00`, timeZone: 'W. Europe Standard Time' },
      end: { dateTime: `${date.toISODate()}T09:15:00`, timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'endDate', startDate: date.toISODate()!, endDate: date.plus({ days: 6 }).toISODate()! } },
    });
    await stack.settled();
    const [series] = dataverseRecords('recurringappointmentmasters', 'Morning sync');
    expect(instanceStarts(String(series!.activityid))).toHaveLength(7);
    await stack.runtime.graph.updateEvent(alice.graph.id, String(master.id), {
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'endDate', startDate: date.toISODate()!, endDate: date.plus({ days: 2 }).toISODate()!, recurrenceTimeZone: 'W. Europe Standard Time' } },
    });
    await stack.settled();
    const kept = [0, 1, 2].map((d) => date.plus({ days: d }).set({ hour: 9 }).toMillis());
    expect(await occurrenceStarts(alice.graph.id, String(master.id))).toEqual(kept);
    const masters = dataverseRecords('recurringappointmentmasters', 'Morning sync');
    expect(masters).toHaveLength(1);
    expect(instanceStarts(String(masters[0]!.activityid))).toEqual(kept);
    expect(dataverseRecords('appointments', 'Morning sync').every((r) => r.seriesid === masters[0]!.activityid)).toBe(true);
  });

  it('Outlook: a PATCH adding recurrence to a synced single event makes one Dynamics 365 series (AddRecurrence), with no single appointment left', async () => {
    const alice = stack.users.alice!;
    const date = DateTime.now().setZone('Europe/Berlin').plus({ days: 4 }).startOf('day');
    const event = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Project review',
      start: { dateTime: `${date.toISODate()}T14:00:00`, timeZone: 'W. Europe Standard Time' },
      end: { dateTime: `${date.toISODate()}T15:00:00`, timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
    });
    await stack.settled();
    expect(dataverseRecords('appointments', 'Project review')).toHaveLength(1);
    await stack.runtime.graph.updateEvent(alice.graph.id, String(event.id), {
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: [date.setLocale('en').toFormat('cccc').toLowerCase() as 'monday'] }, range: { type: 'numbered', startDate: date.toISODate()!, numberOfOccurrences: 3, recurrenceTimeZone: 'W. Europe Standard Time' } },
    });
    await stack.settled();
    await reconcileAll(stack.runtime);
    await stack.settled();
    const masters = dataverseRecords('recurringappointmentmasters', 'Project review');
    expect(masters).toHaveLength(1);
    expect(dataverseRecords('appointments', 'Project review').filter((r) => r.instancetypecode === 0)).toHaveLength(0);
    const weekly = [0, 7, 14].map((d) => date.plus({ days: d }).set({ hour: 14 }).toMillis());
    expect(instanceStarts(String(masters[0]!.activityid))).toEqual(weekly);
    expect(await occurrenceStarts(alice.graph.id, String(event.id))).toEqual(weekly);
    expect(await stack.runtime.pairs.getByExchangeId(alice.graph.id, String(event.id))).toMatchObject({ dataverseEntity: 'recurringappointmentmaster', dataverseId: String(masters[0]!.activityid).toLowerCase() });
  });
});

describe('a series under duplicated, delayed and reordered Graph notifications', () => {
  it('converges to one Dynamics 365 series with the moved occurrence, without the cancelled one and with the last subject; a reconciliation then changes nothing', async () => {
    const alice = stack.users.alice!;
    const date = DateTime.now().setZone('Europe/Berlin').plus({ days: 3 }).startOf('day');
    await stack.graph.admin.setFaultPlan({ seed: 14, notifications: { duplicate: 0.6, delay: 0.5, delayMs: { min: 5, max: 120 }, reorder: 0.6 } });
    let history: string[];
    try {
      const master = await stack.graph.admin.createEvent(alice.graph.id, {
        subject: 'Stormy stand-up',
        start: { dateTime: `${date.toISODate()}T08:30:00`, timeZone: 'W. Europe Standard Time' },
        end: { dateTime: `${date.toISODate()}T08:45:00`, timeZone: 'W. Europe Standard Time' },
        categories: [trackedCategory],
        recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: date.toISODate()!, numberOfOccurrences: 5 } },
      });
      // Each edit right after the other, so their notifications overlap, repeat and arrive out of order.
      const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), window());
      const moved = occurrences[1]!;
      const movedTo = date.plus({ days: 1 }).set({ hour: 11 });
      await stack.runtime.graph.updateEvent(alice.graph.id, String(moved.id), {
        start: { dateTime: movedTo.toFormat("yyyy-MM-dd'T'HH:mm:ss"), timeZone: 'W. Europe Standard Time' },
        end: { dateTime: movedTo.plus({ minutes: 15 }).toFormat("yyyy-MM-dd'T'HH:mm:ss"), timeZone: 'W. Europe Standard Time' },
      });
      await stack.runtime.graph.deleteEvent(alice.graph.id, String(occurrences[3]!.id));
      await stack.graph.admin.updateEvent(alice.graph.id, String(master.id), { subject: 'Stormy stand-up (final)' });
      await stack.settled();
      history = await stack.graph.admin.faultHistory();
    } finally {
      await stack.graph.admin.setFaultPlan({});
    }
    // The plan did something to the deliveries.
    expect(history.filter((h) => h.includes('duplicate')).length).toBeGreaterThan(0);
    expect(history.filter((h) => h.startsWith('reorder')).length).toBeGreaterThan(0);
    await reconcileAll(stack.runtime);
    await stack.settled();
    const masters = stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => String(r.subject).startsWith('Stormy stand-up'));
    expect(masters.map((m) => m.subject)).toEqual(['Stormy stand-up (final)']);
    const expected = [0, 2, 4].map((d) => date.plus({ days: d }).set({ hour: 8, minute: 30 }).toMillis()).concat(date.plus({ days: 1 }).set({ hour: 11 }).toMillis()).sort((a, b) => a - b);
    const seriesId = String(masters[0]!.activityid);
    expect(instanceStarts(seriesId)).toEqual(expected);
    const exchangeMaster = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.item.subject === 'Stormy stand-up (final)')!;
    expect(await occurrenceStarts(alice.graph.id, exchangeMaster.id)).toEqual(expected);
    // A second reconciliation finds nothing to do: the same instances, no new series.
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(instanceStarts(seriesId)).toEqual(expected);
    expect(stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => String(r.subject).startsWith('Stormy stand-up'))).toHaveLength(1);
  });
});

describe('day 29-31 expanded differently inside the span (probe P6)', () => {
  it('an occurrence only Outlook has (the 30th for "day 31") is not read as deleted in Dynamics 365 when another instance is deleted there', async () => {
    const bob = stack.users.bob!;
    // The next 31st at least two days away, at 09:00 Eastern; six months of "day 31 of every month".
    let first = DateTime.now().setZone('America/New_York').plus({ days: 2 }).startOf('day');
    while (first.day !== 31) first = first.plus({ days: 1 });
    first = first.set({ hour: 9 });
    const end = first.plus({ months: 6 });
    const local = (d: DateTime) => d.toFormat("yyyy-MM-dd'T'HH:mm:ss");
    const master = await stack.graph.admin.createEvent(bob.graph.id, {
      subject: 'Month-end close',
      start: { dateTime: local(first), timeZone: 'Eastern Standard Time' },
      end: { dateTime: local(first.plus({ hours: 1 })), timeZone: 'Eastern Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'absoluteMonthly', interval: 1, dayOfMonth: 31 }, range: { type: 'endDate', startDate: first.toISODate()!, endDate: end.toISODate()!, recurrenceTimeZone: 'Eastern Standard Time' } },
    });
    await stack.settled();
    const [series] = stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Month-end close');
    const seriesId = String(series!.activityid);
    const halfYear = { start: new Date(Date.now() - day), end: new Date(Date.now() + 220 * day) };
    const exchangeBefore = await occurrenceStarts(bob.graph.id, String(master.id), halfYear);
    const dataverse = instanceStarts(seriesId);
    // Outlook has every month; Dataverse (this reading) only the months with a 31st.
    const shortMonths = exchangeBefore.filter((t) => DateTime.fromMillis(t, { zone: 'America/New_York' }).day !== 31);
    expect(shortMonths.length).toBeGreaterThan(0);
    expect(dataverse).toEqual(exchangeBefore.filter((t) => !shortMonths.includes(t)));
    // Bob deletes the last instance on a 31st in Dynamics 365: that occurrence, and only it, is cancelled in Outlook.
    const rows = stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === seriesId).sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)));
    const deleted = rows[rows.length - 1]!;
    stack.dataverse.admin.as(bob.systemUserId).delete('appointments', String(deleted.activityid));
    await stack.settled();
    const after = await occurrenceStarts(bob.graph.id, String(master.id), halfYear);
    expect(after).toEqual(exchangeBefore.filter((t) => t !== Date.parse(String(deleted.originalstartdate))));
    for (const t of shortMonths) expect(after).toContain(t);
  });
});

// With SYNC_PROPAGATE_CANCELLATIONS on, a cancelled Dynamics 365 appointment cancels its Exchange meeting; for a
// series the single-appointment rule applies to the whole series and keeps its history (issue 14: "delete rules of
// single appointments applied to each cancelled occurrence and to the whole series (past history is kept)"). Exchange
// cancels every occurrence of a cancelled master, past ones included (event-cancel), so a series with past
// occurrences is ended, not cancelled. The series with a past are Outlook meetings begun two days ago (their attendee
// invited by Exchange) and synced into Dynamics 365, where they are ended or cancelled; the clocks are not moved (a
// retry the product schedules by a moved clock would wait that long on the Service Bus simulator, which keeps real
// time).
describe('a Dynamics 365 series cancelled or ended with SYNC_PROPAGATE_CANCELLATIONS on keeps its past occurrences in Exchange', () => {
  let own: Stack;
  const zone = 'America/New_York';
  const series: Record<string, { id: string; start: DateTime; iCalUId: string }> = {};
  beforeAll(async () => {
    own = await startStack({ seed: 44, env: { SYNC_PROPAGATE_CANCELLATIONS: 'true' } });
    const bob = own.users.bob!;
    // Started two days and an hour ago: occurrences 0-2 are past, 3-5 future.
    const start = DateTime.now().setZone(zone).minus({ days: 2, hours: 1 }).startOf('minute');
    const local = (d: DateTime) => d.toFormat("yyyy-MM-dd'T'HH:mm:ss");
    for (const subject of ['Ended stand-up', 'Cancelled stand-up']) {
      const event = await own.graph.admin.createEvent(bob.graph.id, {
        subject,
        start: { dateTime: local(start), timeZone: 'Eastern Standard Time' },
        end: { dateTime: local(start.plus({ minutes: 15 })), timeZone: 'Eastern Standard Time' },
        categories: [trackedCategory],
        attendees: [{ emailAddress: { address: 'carol@fabrikam.example' }, type: 'required' }],
        recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: start.toISODate()!, numberOfOccurrences: 6, recurrenceTimeZone: 'Eastern Standard Time' } },
      });
      series[subject] = { id: '', start, iCalUId: String(event.iCalUId) };
    }
    await own.settled();
    for (const subject of Object.keys(series)) {
      const masters = own.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === subject);
      expect(masters).toHaveLength(1);
      series[subject]!.id = String(masters[0]!.activityid);
    }
  }, 60_000);
  afterAll(async () => own?.close());

  const masterOf = async (subject: string) => {
    const found = (await own.graph.admin.items({ user: own.users.bob!.graph.id, kind: 'event' })).filter((e) => e.item.subject === subject);
    expect(found.map((e) => e.item.type)).toEqual(['seriesMaster']);
    return found[0]!;
  };
  const startsOf = async (masterId: string) => {
    const over = { start: new Date(Date.now() - 5 * day), end: new Date(Date.now() + 10 * day) };
    return sortedStarts((await own.runtime.graph.seriesInstances(own.users.bob!.graph.id, masterId, over)).map((o) => `${o.start!.dateTime!}Z`));
  };
  const sentFor = async (iCalUId: string) => (await own.graph.admin.invitations({ iCalUId })).map((i) => i.type);

  it('DeleteOpenInstances of a series still all in the future is an end too: the kept occurrences stay in Exchange, uncancelled', async () => {
    const bob = own.users.bob!;
    const start = DateTime.now().setZone(zone).plus({ days: 1 }).startOf('day').set({ hour: 9 });
    const record = own.dataverse.admin.as(bob.systemUserId).create(
      'recurringappointmentmasters',
      dailySeries(bob.systemUserId, 'Future stand-up', start, 15, 5, {
        utcconversiontimezonecode: 35,
        recurringappointmentmaster_activity_parties: [{ participationtypemask: 5, addressused: 'carol@fabrikam.example' }],
      }),
    );
    await own.settled();
    const before = await masterOf('Future stand-up');
    expect(await startsOf(before.id)).toHaveLength(5);
    // Ended before its third occurrence: the first two stay (scheduled) in Dynamics 365, so they stay in Exchange.
    own.dataverse.admin.as(bob.systemUserId).deleteOpenInstances(String(record.activityid), { SeriesEndDate: start.plus({ days: 2 }).minus({ hours: 1 }).toUTC().toISO(), StateOfPastInstances: 3 });
    await own.settled();
    const kept = [0, 1].map((d) => start.plus({ days: d }).toMillis());
    const after = await masterOf('Future stand-up');
    expect(after.item.isCancelled).toBe(false);
    expect(await startsOf(after.id)).toEqual(kept);
    expect(await sentFor(String(after.item.iCalUId))).not.toContain('cancellation');
  });

  it('DeleteOpenInstances with past instances: Exchange keeps the past occurrences and the kept future one, the later ones are gone, and no attendee gets a cancellation', async () => {
    const bob = own.users.bob!;
    const { id, start } = series['Ended stand-up']!;
    const before = await masterOf('Ended stand-up');
    expect(await startsOf(before.id)).toHaveLength(6);
    expect(await sentFor(series['Ended stand-up']!.iCalUId)).toEqual(['request']);
    // Ended before its fifth occurrence: 0-2 past, 3 future and kept.
    own.dataverse.admin.as(bob.systemUserId).deleteOpenInstances(id, { SeriesEndDate: start.plus({ days: 4 }).minus({ hours: 1 }).toUTC().toISO(), StateOfPastInstances: 1 });
    await own.settled();
    await reconcileAll(own.runtime);
    await own.settled();
    const kept = [0, 1, 2, 3].map((d) => start.plus({ days: d }).toMillis());
    const after = await masterOf('Ended stand-up');
    expect(after.id).toBe(before.id);
    expect(after.item.isCancelled).toBe(false);
    expect(await startsOf(after.id)).toEqual(kept);
    expect(await sentFor(String(after.item.iCalUId))).not.toContain('cancellation');
    expect(await own.runtime.pairs.getByExchangeId(bob.graph.id, after.id)).toMatchObject({ dataverseId: id, status: 'linked' });
  });

  it('a plain cancel of a series with past instances ends the Exchange series at its last past occurrence: the past is kept, the future gone, no cancellation sent; a reconciliation changes nothing', async () => {
    const bob = own.users.bob!;
    const { id, start } = series['Cancelled stand-up']!;
    const before = await masterOf('Cancelled stand-up');
    expect(await startsOf(before.id)).toHaveLength(6);
    own.dataverse.admin.as(bob.systemUserId).cancel('recurringappointmentmasters', id);
    await own.settled();
    const past = [0, 1, 2].map((d) => start.plus({ days: d }).toMillis());
    const after = await masterOf('Cancelled stand-up');
    expect(after.id).toBe(before.id);
    expect(after.item.isCancelled).toBe(false);
    expect(await startsOf(after.id)).toEqual(past);
    // The invitation when Bob made it, one update when it ended.
    expect(await sentFor(String(after.item.iCalUId))).toEqual(['request', 'update']);
    // The Dynamics 365 series stays as it is, canceled; the next passes do not extend the Exchange series again.
    expect(own.dataverse.admin.record('recurringappointmentmasters', id)).toMatchObject({ statecode: 2, patternendtype: 2, occurrences: 6 });
    await reconcileAll(own.runtime);
    await own.settled();
    expect(await startsOf(after.id)).toEqual(past);
    expect(own.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Cancelled stand-up')).toHaveLength(1);
  });
});
