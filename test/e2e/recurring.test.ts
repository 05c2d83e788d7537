// Recurring series sync as series: a tracked weekly series in Outlook becomes one recurringappointmentmaster (whose
// instances Dataverse expands), not one appointment per occurrence; a Dynamics 365 series becomes one Exchange series
// with one invitation round, not one event per instance. Run under each simulator option that decides how many
// echoes a series write makes: Dataverse instance steps firing or silent, Graph occurrence iCalUIds per occurrence or
// series-wide (dev/sim/dataverse/README.md "Recurring appointments", dev/sim/graph/README.md "recurrence").
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';
import { buildStatus } from '../../shared/status/index.js';
import { main } from '../../shared/cli/main.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { planBackfill, runBackfill } from '../../shared/onboarding/backfill.js';

const day = 24 * 3600_000;
const weekdays = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

/** A local wall time in W. Europe (alice's zone) as Graph takes it: `YYYY-MM-DDTHH:mm:ss`. */
function berlinLocal(date: Date, hour: number): string {
  return `${date.toISOString().slice(0, 10)}T${String(hour).padStart(2, '0')}:00:00`;
}

/**
 * A daily Dynamics 365 series organized by bob (Eastern time, code 35), starting in two days at `utcHour` UTC, which is
 * `localHour` in his zone; the pattern starts at that day's local midnight (DateOnly UserLocal), so both sides expand
 * the same days.
 */
function bobsDailySeries(stack: Stack, columns: { subject: string; utcHour: number; localHour: number; minutes: number; occurrences: number; parties?: Record<string, unknown>[] }) {
  const bob = stack.users.bob!;
  const first = new Date(Date.now() + 2 * day);
  first.setUTCHours(columns.utcHour, 0, 0, 0);
  const midnight = new Date(first.getTime() - columns.localHour * 3600_000);
  return stack.dataverse.admin.as(bob.systemUserId).create('recurringappointmentmasters', {
    subject: columns.subject,
    utcconversiontimezonecode: 35,
    recurrencepatterntype: 0,
    interval: 1,
    starttime: first.toISOString(),
    endtime: new Date(first.getTime() + columns.minutes * 60_000).toISOString(),
    patternstartdate: midnight.toISOString(),
    patternendtype: 2,
    occurrences: columns.occurrences,
    'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
    ...(columns.parties ? { recurringappointmentmaster_activity_parties: columns.parties } : {}),
  });
}

const options = [
  { name: 'instance steps fire, iCalUId per occurrence', dataverseRecurrence: { instanceSteps: 'fire' as const }, graphRecurrence: { occurrenceICalUId: 'perOccurrence' as const } },
  { name: 'instance steps silent, iCalUId series-wide, sparse delta', dataverseRecurrence: { instanceSteps: 'silent' as const }, graphRecurrence: { occurrenceICalUId: 'series' as const, deltaOccurrences: 'sparse' as const } },
];

describe.each(options)('recurring series sync as one series each way ($name)', ({ dataverseRecurrence, graphRecurrence }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 31, dataverseRecurrence, graphRecurrence });
  }, 60_000);
  afterAll(async () => stack?.close());

  const mastersNamed = (subject: string) => stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === subject);
  const appointmentsNamed = (subject: string) => stack.dataverse.admin.records('appointments').filter((r) => r.subject === subject);

  it('a tracked weekly series in Outlook makes one Dynamics 365 series in the series zone, and reconciliation adds nothing', async () => {
    const alice = stack.users.alice!;
    const first = new Date(Date.now() + 7 * day);
    const startDate = first.toISOString().slice(0, 10);
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Weekly sync',
      start: { dateTime: berlinLocal(first, 9), timeZone: 'W. Europe Standard Time' },
      end: { dateTime: berlinLocal(first, 10), timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: [weekdays[first.getUTCDay()]!] }, range: { type: 'numbered', startDate, numberOfOccurrences: 4 } },
    });
    expect(master.type).toBe('seriesMaster');
    await stack.settled();
    await reconcileAll(stack.runtime);
    await stack.settled();

    const masters = mastersNamed('Weekly sync');
    expect(masters).toHaveLength(1);
    const series = masters[0]!;
    expect(series).toMatchObject({ recurrencepatterntype: 1, interval: 1, daysofweekmask: 2 ** first.getUTCDay(), patternendtype: 2, occurrences: 4, utcconversiontimezonecode: 110, globalobjectid: master.iCalUId });
    // The instances are the platform's expansion of the one series, at 09:00 Berlin time; none is a single appointment.
    const rows = appointmentsNamed('Weekly sync');
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.seriesid === series.activityid && r.instancetypecode === 2)).toBe(true);
    const pair = await stack.runtime.pairs.getByExchangeId(alice.graph.id, String(master.id));
    expect(pair).toMatchObject({ dataverseEntity: 'recurringappointmentmaster', dataverseId: String(series.activityid).toLowerCase() });
    // Nothing came back to Outlook: still one series, no second master.
    const events = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => e.item.subject === 'Weekly sync');
    expect(events.map((e) => e.item.type)).toEqual(['seriesMaster']);
  });

  it('moving one occurrence and cancelling another in Outlook reach their Dynamics 365 instances, keyed by original start', async () => {
    const alice = stack.users.alice!;
    const master = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.item.subject === 'Weekly sync')!.item;
    const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), { start: new Date(Date.now()), end: new Date(Date.now() + 60 * day) });
    expect(occurrences.length).toBe(4);
    const [moved, cancelled] = [occurrences[1]!, occurrences[2]!];
    const movedStart = Date.parse(String(moved.originalStart)) + 2 * 3600_000;
    // What Outlook does, through Graph (an occurrence's id is computed, so the simulator's person actions, which
    // work on stored items, cannot address it).
    await stack.runtime.graph.updateEvent(alice.graph.id, String(moved.id), {
      start: { dateTime: new Date(movedStart).toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(movedStart + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      subject: 'Weekly sync (moved)',
    });
    await stack.runtime.graph.deleteEvent(alice.graph.id, String(cancelled.id));
    await stack.settled();
    const series = mastersNamed('Weekly sync')[0]!;
    const instances = stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid);
    const byOriginal = new Map(instances.map((r) => [Date.parse(String(r.originalstartdate)), r]));
    expect(byOriginal.has(Date.parse(String(cancelled.originalStart)))).toBe(false);
    expect(byOriginal.get(Date.parse(String(moved.originalStart)))).toMatchObject({ instancetypecode: 3, subject: 'Weekly sync (moved)' });
    expect(Date.parse(String(byOriginal.get(Date.parse(String(moved.originalStart)))!.scheduledstart))).toBe(movedStart);
    expect(instances).toHaveLength(3);
    // A second pass finds nothing more to do (the state is recorded per original start).
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid)).toHaveLength(3);
  });

  it('a series across a daylight-saving change keeps its local time in Dynamics 365 (09:00 Berlin before and after)', async () => {
    const alice = stack.users.alice!;
    // Wednesdays from 17 March 2027; Europe/Berlin moves to summer time on 28 March 2027.
    await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Across DST',
      start: { dateTime: '2027-03-17T09:00:00', timeZone: 'W. Europe Standard Time' },
      end: { dateTime: '2027-03-17T09:30:00', timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['wednesday'] }, range: { type: 'numbered', startDate: '2027-03-17', numberOfOccurrences: 4 } },
    });
    await stack.settled();
    const series = mastersNamed('Across DST');
    expect(series).toHaveLength(1);
    const starts = stack.dataverse.admin
      .records('appointments')
      .filter((r) => r.seriesid === series[0]!.activityid)
      .map((r) => String(r.scheduledstart))
      .sort();
    expect(starts).toEqual(['2027-03-17T08:00:00Z', '2027-03-24T08:00:00Z', '2027-03-31T07:00:00Z', '2027-04-07T07:00:00Z']);
  });

  it('an all-day weekly series from Outlook is an all-day series in Dynamics 365, its instances at local midnight', async () => {
    const alice = stack.users.alice!;
    const first = new Date(Date.now() + 9 * day);
    const date = first.toISOString().slice(0, 10);
    const next = new Date(first.getTime() + day).toISOString().slice(0, 10);
    await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'All-day review',
      isAllDay: true,
      start: { dateTime: `${date}T00:00:00`, timeZone: 'W. Europe Standard Time' },
      end: { dateTime: `${next}T00:00:00`, timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: [weekdays[first.getUTCDay()]!] }, range: { type: 'numbered', startDate: date, numberOfOccurrences: 3 } },
    });
    await stack.settled();
    const series = mastersNamed('All-day review');
    expect(series).toHaveLength(1);
    expect(series[0]).toMatchObject({ isalldayevent: true, duration: 1440, occurrences: 3 });
    const rows = stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series[0]!.activityid);
    expect(rows).toHaveLength(3);
    // Every instance starts and ends at midnight in Berlin (23:00 or 22:00 UTC the day before).
    const berlin = (value: unknown) => DateTime.fromISO(String(value), { zone: 'Europe/Berlin' }).toFormat('HH:mm');
    expect(rows.map((r) => [r.isalldayevent, berlin(r.scheduledstart), berlin(r.scheduledend)])).toEqual(Array(3).fill([true, '00:00', '00:00']));
  });

  it('an Outlook pattern change reaches the Dynamics 365 series', async () => {
    const alice = stack.users.alice!;
    const master = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.item.subject === 'Weekly sync')!.item;
    const recurrence = master.recurrence as { pattern: { daysOfWeek: string[] }; range: { startDate: string } };
    await stack.graph.admin.updateEvent(alice.graph.id, String(master.id), {
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: recurrence.pattern.daysOfWeek }, range: { type: 'numbered', startDate: recurrence.range.startDate, numberOfOccurrences: 6 } },
    });
    await stack.settled();
    const masters = mastersNamed('Weekly sync').filter((r) => r.seriesstatus !== false);
    expect(masters.map((r) => r.occurrences)).toEqual([6]);
  });

  it('a Dynamics 365 series with an attendee makes one Exchange series and one invitation round', async () => {
    const bob = stack.users.bob!;
    const first = new Date(Date.now() + 3 * day);
    first.setUTCHours(14, 0, 0, 0);
    const midnight = new Date(first);
    midnight.setUTCHours(0, 0, 0, 0);
    stack.dataverse.admin.as(bob.systemUserId).create('recurringappointmentmasters', {
      subject: 'Series from Dynamics',
      recurrencepatterntype: 1,
      interval: 1,
      daysofweekmask: 2 ** first.getUTCDay(),
      starttime: first.toISOString(),
      endtime: new Date(first.getTime() + 1800_000).toISOString(),
      patternstartdate: midnight.toISOString(),
      patternendtype: 2,
      occurrences: 3,
      'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
      recurringappointmentmaster_activity_parties: [{ participationtypemask: 5, addressused: 'carol@fabrikam.example' }],
    });
    await stack.settled();
    await reconcileAll(stack.runtime);
    await stack.settled();
    const bobsEvents = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).filter((e) => e.item.subject === 'Series from Dynamics');
    expect(bobsEvents).toHaveLength(1);
    const master = bobsEvents[0]!.item;
    expect(master.type).toBe('seriesMaster');
    expect((master.recurrence as { range: { numberOfOccurrences: number } }).range.numberOfOccurrences).toBe(3);
    const invitations = await stack.graph.admin.invitations({ iCalUId: String(master.iCalUId) });
    expect(invitations.filter((i) => i.type === 'request')).toHaveLength(1);
    // No instance is paired or counted as left out: the series carries them.
    const status = (await buildStatus(stack.runtime)).mailboxes.find((m) => m.id === bob.graph.id);
    expect(status?.recurringIgnored ?? 0).toBe(0);
  });
  it('a Dynamics 365 pattern change reaches the Exchange series', async () => {
    const bob = stack.users.bob!;
    const series = mastersNamed('Series from Dynamics')[0]!;
    stack.dataverse.admin.as(bob.systemUserId).update('recurringappointmentmasters', String(series.activityid), { occurrences: 5 });
    await stack.settled();
    const masters = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).filter((e) => e.item.subject === 'Series from Dynamics');
    expect(masters).toHaveLength(1);
    expect((masters[0]!.item.recurrence as { range: { numberOfOccurrences: number } }).range.numberOfOccurrences).toBe(5);
  });
});

// One stack (default simulator options) for the instance and attendee-copy tests: their series and users differ.
describe('series with the default simulator options', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 32 });
  }, 60_000);
  afterAll(async () => stack?.close());

  describe('an instance changed in Dynamics 365 becomes an exception of the Exchange series', () => {
    it('the organizer renames and moves one instance: that occurrence, and only it, changes in Exchange, with one update sent', async () => {
      const bob = stack.users.bob!;
      // 15:00 UTC is 10:00 in bob's zone (Eastern, UTC-5 in winter).
      const series = bobsDailySeries(stack, { subject: 'Daily check-in', utcHour: 15, localHour: 10, minutes: 15, occurrences: 5, parties: [{ participationtypemask: 5, addressused: 'carol@fabrikam.example' }] });
      await stack.settled();
      const instances = stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid);
      expect(instances).toHaveLength(5);
      const target = instances.sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)))[2]!;
      const newStart = Date.parse(String(target.scheduledstart)) + 3600_000;
      stack.dataverse.admin.as(bob.systemUserId).update('appointments', String(target.activityid), {
        subject: 'Daily check-in (longer)',
        scheduledstart: new Date(newStart).toISOString(),
        scheduledend: new Date(newStart + 1800_000).toISOString(),
      });
      await stack.settled();
      const master = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).find((e) => e.item.type === 'seriesMaster' && e.item.subject === 'Daily check-in')!.item;
      const occurrences = await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), { start: new Date(Date.now()), end: new Date(Date.now() + 30 * day) });
      const exceptions = occurrences.filter((o) => o.type === 'exception');
      expect(exceptions).toHaveLength(1);
      expect(Date.parse(String(exceptions[0]!.originalStart))).toBe(Date.parse(String(target.originalstartdate)));
      expect(exceptions[0]!.subject).toBe('Daily check-in (longer)');
      expect(Date.parse(`${exceptions[0]!.start!.dateTime!}Z`)).toBe(newStart);
      // An exception's messages carry its own iCalUId where occurrences have their own (the simulator's default).
      const sent = (await stack.graph.admin.invitations({ user: bob.graph.id })).filter((i) => i.iCalUId === master.iCalUId || i.seriesMasterId === master.id);
      expect(sent.map((i) => i.type).sort()).toEqual(['request', 'update']);
    });

    it('the organizer deletes a future instance: its Exchange occurrence is cancelled, with one cancellation sent, and a later pass changes nothing', async () => {
      const bob = stack.users.bob!;
      const series = stack.dataverse.admin.records('recurringappointmentmasters').find((r) => r.subject === 'Daily check-in')!;
      const instances = stack.dataverse.admin
        .records('appointments')
        .filter((r) => r.seriesid === series.activityid && r.instancetypecode === 2)
        .sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)));
      const target = instances[instances.length - 1]!;
      stack.dataverse.admin.as(bob.systemUserId).delete('appointments', String(target.activityid));
      await stack.settled();
      const master = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).find((e) => e.item.type === 'seriesMaster' && e.item.subject === 'Daily check-in')!.item;
      const window = { start: new Date(Date.now()), end: new Date(Date.now() + 30 * day) };
      const occurrences = await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window);
      expect(occurrences).toHaveLength(4);
      expect(occurrences.some((o) => Date.parse(String(o.originalStart)) === Date.parse(String(target.originalstartdate)))).toBe(false);
      const read = await stack.runtime.graph.getSeriesMaster(bob.graph.id, String(master.id));
      expect(read.cancelledOccurrences).toHaveLength(1);
      const cancellations = (await stack.graph.admin.invitations({ user: bob.graph.id })).filter((i) => i.type === 'cancellation' && (i.iCalUId === master.iCalUId || i.seriesMasterId === master.id));
      expect(cancellations).toHaveLength(1);
      // The other four instances stay, and a reconciliation (Exchange now lists the cancellation) deletes nothing more.
      await reconcileAll(stack.runtime);
      await stack.settled();
      expect(stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid)).toHaveLength(4);
      expect(await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window)).toHaveLength(4);
    });
  });

  describe("an attendee's copy of a synced organizer's series", () => {
    it('is linked to the one Dynamics 365 series as a mirror, not made a second series, and takes no occurrence writes', async () => {
      const bob = stack.users.bob!;
      const alice = stack.users.alice!;
      const first = new Date(Date.now() + 4 * day);
      first.setUTCHours(15, 0, 0, 0);
      stack.dataverse.admin.as(bob.systemUserId).create('recurringappointmentmasters', {
        subject: 'Team sync',
        utcconversiontimezonecode: 35,
        recurrencepatterntype: 1,
        interval: 1,
        daysofweekmask: 2 ** new Date(first.getTime() - 5 * 3600_000).getUTCDay(),
        starttime: first.toISOString(),
        endtime: new Date(first.getTime() + 1800_000).toISOString(),
        patternstartdate: new Date(first.getTime() - 10 * 3600_000).toISOString(),
        patternendtype: 2,
        occurrences: 3,
        'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
        recurringappointmentmaster_activity_parties: [{ participationtypemask: 5, 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})` }],
      });
      await stack.settled();
      await reconcileAll(stack.runtime);
      await stack.settled();
      expect(stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Team sync')).toHaveLength(1);
      const copies = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => e.item.subject === 'Team sync');
      expect(copies.map((c) => [c.item.type, c.item.isOrganizer])).toEqual([['seriesMaster', false]]);
      const pair = await stack.runtime.pairs.getByExchangeId(alice.graph.id, copies[0]!.id);
      expect(pair).toMatchObject({ status: 'linked', mirror: true, dataverseEntity: 'recurringappointmentmaster' });
      // The attendee cancels one occurrence in her calendar: the organizer's series keeps every instance.
      const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, copies[0]!.id, { start: new Date(), end: new Date(Date.now() + 30 * day) });
      await stack.runtime.graph.deleteEvent(alice.graph.id, String(occurrences[1]!.id));
      await stack.settled();
      const series = stack.dataverse.admin.records('recurringappointmentmasters').find((r) => r.subject === 'Team sync')!;
      expect(stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid)).toHaveLength(3);
    });
  });
});

describe('cancelled and deleted occurrences meet the mass-delete breaker both ways', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 33 });
    // An absolute cap of 2 deletes per hour for appointments (the ratio cannot trip: 1 is all of the pairs).
    const plan = await stack.runtime.config.planSet('global', { 'breaker.appointment.deleteCap': 2, 'breaker.appointment.deleteRatio': 1, 'breaker.appointment.inferredDeleteCap': 2, 'breaker.appointment.inferredDeleteRatio': 1 });
    await stack.runtime.config.apply(plan, 'test');
  }, 60_000);
  afterAll(async () => stack?.close());

  async function cli(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { ...stack.env, USER: 'test-operator' } });
    return { code, stdout, stderr };
  }
  type Held = { dataverseId?: string; exchangeId?: string; part?: { key: string } };
  const heldIn = async (scope: string) => (JSON.parse((await cli('breaker', 'show', scope, '--json')).stdout) as { trip: { trigger: string } | null; held: Held[] });

  it('Exchange -> Dataverse: four occurrences cancelled in Outlook delete two instances and hold two; discard keeps one, release deletes the other, and a later pass deletes nothing more', async () => {
    const alice = stack.users.alice!;
    const first = new Date(Date.now() + 2 * day);
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Daily stand-up',
      start: { dateTime: berlinLocal(first, 9), timeZone: 'W. Europe Standard Time' },
      end: { dateTime: berlinLocal(first, 10), timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: first.toISOString().slice(0, 10), numberOfOccurrences: 6 } },
    });
    await stack.settled();
    const series = stack.dataverse.admin.records('recurringappointmentmasters').find((r) => r.subject === 'Daily stand-up')!;
    const instances = () => stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid);
    expect(instances()).toHaveLength(6);
    const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), { start: new Date(), end: new Date(Date.now() + 30 * day) });
    for (const o of occurrences.slice(1, 5)) await stack.runtime.graph.deleteEvent(alice.graph.id, String(o.id));
    await stack.settled();
    expect(instances()).toHaveLength(4);
    const scope = `${alice.userPrincipalName}/appointment/toDataverse`;
    const { trip, held } = await heldIn(scope);
    expect(trip?.trigger).toBe('hardCap');
    expect(held).toHaveLength(2);
    expect(held.every((h) => h.part && h.dataverseId && instances().some((r) => r.activityid === h.dataverseId))).toBe(true);
    const [kept, released] = held as [Held, Held];
    expect((await cli('breaker', 'discard', scope, '--ids', kept.dataverseId!)).code).toBe(0);
    expect((await cli('breaker', 'release', scope, '--ids', released.dataverseId!)).code).toBe(0);
    expect(instances().map((r) => r.activityid)).toContain(kept.dataverseId);
    expect(instances().map((r) => r.activityid)).not.toContain(released.dataverseId);
    // The scope is cleared; a reconciliation compares the series again and leaves the discarded instance alone.
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(instances()).toHaveLength(3);
    expect((await heldIn(scope)).held).toHaveLength(0);
  });

  it('Dataverse -> Exchange: four instances deleted in Dynamics 365 cancel two occurrences and hold two; release cancels them', async () => {
    const bob = stack.users.bob!;
    // 13:00 UTC is 08:00 in bob's zone (Eastern, UTC-5 in winter).
    const series = bobsDailySeries(stack, { subject: 'Daily review', utcHour: 13, localHour: 8, minutes: 30, occurrences: 6 });
    await stack.settled();
    const master = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).find((e) => e.item.type === 'seriesMaster' && e.item.subject === 'Daily review')!.item;
    const window = { start: new Date(), end: new Date(Date.now() + 30 * day) };
    expect(await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window)).toHaveLength(6);
    const rows = stack.dataverse.admin
      .records('appointments')
      .filter((r) => r.seriesid === series.activityid)
      .sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)));
    for (const r of rows.slice(1, 5)) stack.dataverse.admin.as(bob.systemUserId).delete('appointments', String(r.activityid));
    await stack.settled();
    expect(await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window)).toHaveLength(4);
    const scope = `${bob.userPrincipalName}/appointment/toExchange`;
    const { trip, held } = await heldIn(scope);
    expect(trip?.trigger).toBe('hardCap');
    expect(held).toHaveLength(2);
    expect(held.every((h) => h.part && h.exchangeId)).toBe(true);
    expect((await cli('breaker', 'release', scope)).code).toBe(0);
    expect(await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window)).toHaveLength(2);
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window)).toHaveLength(2);
    expect(stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid)).toHaveLength(2);
  });
});

describe('a pattern change with exceptions present drops the exceptions on both sides, as Outlook does; the periodic comparison finds what no notification said', () => {
  let stack: Stack;
  beforeAll(async () => {
    // A calendarView delta round lists nothing for a cancelled occurrence (deltaAfterCancellation 'silent', the
    // behaviour found by experiment); under 'relist' the delta round alone finds it too.
    stack = await startStack({ seed: 34, graphRecurrence: { deltaAfterCancellation: 'silent' } });
  }, 60_000);
  afterAll(async () => stack?.close());
  const window = () => ({ start: new Date(), end: new Date(Date.now() + 60 * day) });

  it('in Outlook: the moved occurrence is gone in Exchange, and Dynamics 365 expands the new pattern without it', async () => {
    const alice = stack.users.alice!;
    const first = new Date(Date.now() + 3 * day);
    const startDate = first.toISOString().slice(0, 10);
    const weekly = { type: 'weekly', interval: 1, daysOfWeek: [weekdays[first.getUTCDay()]!] };
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Pattern from Outlook',
      start: { dateTime: berlinLocal(first, 9), timeZone: 'W. Europe Standard Time' },
      end: { dateTime: berlinLocal(first, 10), timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: weekly, range: { type: 'numbered', startDate, numberOfOccurrences: 4 } },
    });
    await stack.settled();
    const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), window());
    await stack.runtime.graph.updateEvent(alice.graph.id, String(occurrences[1]!.id), { subject: 'Pattern from Outlook (moved)' });
    await stack.settled();
    const live = () => stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Pattern from Outlook' && r.seriesstatus !== false);
    const instancesOf = (id: unknown) => stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === id);
    expect(instancesOf(live()[0]!.activityid).filter((r) => r.instancetypecode === 3)).toHaveLength(1);

    await stack.graph.admin.updateEvent(alice.graph.id, String(master.id), { recurrence: { pattern: weekly, range: { type: 'numbered', startDate, numberOfOccurrences: 6 } } });
    await stack.settled();
    expect((await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), window())).map((o) => o.type)).toEqual(Array(6).fill('occurrence'));
    const series = live();
    expect(series.map((r) => r.occurrences)).toEqual([6]);
    const rows = instancesOf(series[0]!.activityid);
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r.instancetypecode === 3 || r.subject !== 'Pattern from Outlook')).toEqual([]);
    // Nothing is recorded for the dropped exception any more, and a reconciliation re-sends nothing.
    const pair = await stack.runtime.pairs.getByExchangeId(alice.graph.id, String(master.id));
    expect(Object.keys(pair!.base).filter((k) => k.startsWith('occ:'))).toEqual([]);
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect((await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), window())).filter((o) => o.type === 'exception')).toEqual([]);
  });

  it('in Dynamics 365: the renamed instance is gone after the re-expansion, and Exchange drops its exception', async () => {
    const bob = stack.users.bob!;
    const first = new Date(Date.now() + 2 * day);
    first.setUTCHours(15, 0, 0, 0);
    const midnight = new Date(first.getTime() - 10 * 3600_000);
    const as = stack.dataverse.admin.as(bob.systemUserId);
    const series = as.create('recurringappointmentmasters', {
      subject: 'Pattern from Dynamics',
      utcconversiontimezonecode: 35,
      recurrencepatterntype: 0,
      interval: 1,
      starttime: first.toISOString(),
      endtime: new Date(first.getTime() + 1800_000).toISOString(),
      patternstartdate: midnight.toISOString(),
      patternendtype: 2,
      occurrences: 4,
      'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
    });
    await stack.settled();
    const instances = () => stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid);
    const target = instances().sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)))[1]!;
    as.update('appointments', String(target.activityid), { subject: 'Pattern from Dynamics (renamed)' });
    await stack.settled();
    const master = (await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' })).find((e) => e.item.type === 'seriesMaster' && e.item.subject === 'Pattern from Dynamics')!.item;
    expect((await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window())).filter((o) => o.type === 'exception')).toHaveLength(1);

    as.update('recurringappointmentmasters', String(series.activityid), { occurrences: 6 });
    await stack.settled();
    const occurrences = await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window());
    expect(occurrences.map((o) => o.type)).toEqual(Array(6).fill('occurrence'));
    expect(instances()).toHaveLength(6);
    expect(instances().filter((r) => r.instancetypecode === 3 || r.subject !== 'Pattern from Dynamics')).toEqual([]);
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect((await stack.runtime.graph.seriesInstances(bob.graph.id, String(master.id), window())).filter((o) => o.type === 'exception')).toEqual([]);
  });

  it("an occurrence cancelled in Outlook whose only notification (the master's update) was lost is found by the next reconciliation", async () => {
    const alice = stack.users.alice!;
    const master = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).find((e) => e.item.subject === 'Pattern from Outlook')!.item;
    const series = stack.dataverse.admin.records('recurringappointmentmasters').find((r) => r.subject === 'Pattern from Outlook' && r.seriesstatus !== false)!;
    const instances = () => stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === series.activityid);
    expect(instances()).toHaveLength(6);
    const occurrences = await stack.runtime.graph.seriesInstances(alice.graph.id, String(master.id), window());
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.runtime.graph.deleteEvent(alice.graph.id, String(occurrences[3]!.id));
    await stack.graph.admin.setFaultPlan({});
    await stack.settled();
    expect(instances()).toHaveLength(6);
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect(instances()).toHaveLength(5);
    expect(instances().some((r) => Date.parse(String(r.originalstartdate)) === Date.parse(String(occurrences[3]!.originalStart)))).toBe(false);
  });
});

describe('backfill of a newly enabled mailbox pairs series, not occurrences', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ onboard: false, seed: 35 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('a series on both sides is linked, not duplicated, and a Dynamics 365 series begun before the window is in it by its effective dates', async () => {
    const alice = stack.users.alice!;
    const dv = stack.dataverse.admin.as(alice.systemUserId);
    // Weekly at 09:00 Berlin (08:00 UTC in winter), begun ten days ago, no end: on both sides, the same meeting.
    const began = new Date(Date.now() - 10 * day);
    began.setUTCHours(8, 0, 0, 0);
    const localMidnight = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - 3600_000);
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Both sides',
      start: { dateTime: berlinLocal(began, 9), timeZone: 'W. Europe Standard Time' },
      end: { dateTime: berlinLocal(began, 10), timeZone: 'W. Europe Standard Time' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: [weekdays[began.getUTCDay()]!], firstDayOfWeek: 'sunday' }, range: { type: 'noEnd', startDate: began.toISOString().slice(0, 10) } },
    });
    const weeklyColumns = (start: Date) => ({
      recurrencepatterntype: 1,
      interval: 1,
      daysofweekmask: 2 ** start.getUTCDay(),
      firstdayofweek: 0,
      starttime: start.toISOString(),
      endtime: new Date(start.getTime() + 3600_000).toISOString(),
      patternstartdate: localMidnight(start).toISOString(),
      patternendtype: 1,
      utcconversiontimezonecode: 110,
      'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
    });
    dv.create('recurringappointmentmasters', { subject: 'Both sides', globalobjectid: master.iCalUId, ...weeklyColumns(began) });
    // Only in Dynamics 365: a weekly series begun 90 days ago, before the 30-day window; its first occurrence is
    // outside the window, its later ones inside.
    const longAgo = new Date(Date.now() - 90 * day);
    longAgo.setUTCHours(8, 0, 0, 0);
    dv.create('recurringappointmentmasters', { subject: 'Begun long ago', ...weeklyColumns(longAgo) });

    const { mailbox } = await enableMailbox(stack.runtime, alice.userPrincipalName);
    const plan = await planBackfill(stack.runtime, mailbox);
    // One entry per series: the occurrences calendarView lists are their masters', and the instances Dataverse
    // expanded are their series'.
    expect(plan.link.map((e) => e.reason)).toEqual(['same meeting (iCalUId = globalobjectid)']);
    expect(plan.createInExchange).toHaveLength(1);
    expect(plan.createInDataverse).toEqual([]);
    await runBackfill(stack.runtime, mailbox);
    await stack.settled();

    const events = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).map((e) => e.item);
    expect(events.filter((e) => e.subject === 'Both sides').map((e) => e.type)).toEqual(['seriesMaster']);
    expect(events.filter((e) => e.subject === 'Begun long ago').map((e) => e.type)).toEqual(['seriesMaster']);
    expect(stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Both sides')).toHaveLength(1);
    const pair = await stack.runtime.pairs.getByExchangeId(alice.graph.id, String(master.id));
    expect(pair).toMatchObject({ status: 'linked', dataverseEntity: 'recurringappointmentmaster' });
    // Nothing is left to link or create on a second run.
    const again = await planBackfill(stack.runtime, mailbox);
    expect(again.link.length + again.createInExchange.length + again.createInDataverse.length).toBe(0);
  });
});
