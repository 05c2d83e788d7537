// Recurring appointment series through the Web API: the recurringappointmentmaster table and its validation, the
// expansion into appointment instances inside the organization's windows (synchronous part and the job), exceptions,
// deleted instances, the split on a recurrence edit, AddRecurrence and DeleteOpenInstances, and their webhooks.
/* eslint-disable @typescript-eslint/no-unsafe-return -- wire JSON (Loose) is checked by the assertions */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataverseAdminClient } from '../../../dev/sim/dataverse/index.js';
import { startHarness, WebhookReceiver, type Harness, type Loose } from './support.js';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** Midnight UTC of the day `days` from today, plus `hours`. */
function at(days: number, hours = 0): number {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + days) + hours * 3_600_000;
}

/** Occurrence k of the test series: two hours from now (to the minute) plus k days, so k < 0 is past and k >= 0 future. */
const BASE = Math.floor(Date.now() / 60_000) * 60_000 + 2 * 3_600_000;
const occ = (k: number) => BASE + k * DAY;
/** UTC midnight of occurrence k's day (the series zone is UTC here). */
const day0 = (k: number) => {
  const t = new Date(occ(k));
  return Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
};
const HALF_HOUR = 30 * 60_000;
/** The series here name no zone code and are expanded in UTC (the app user's own zone is the default, GMT with summer time). */
const inUtc = { zoneWithoutCode: 'UTC' } as const;

/** A daily 30-minute UTC series whose first occurrence is occ(startDay), with `count` occurrences. */
function daily(startDay: number, count: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject: 'Stand-up',
    recurrencepatterntype: 0,
    interval: 1,
    starttime: iso(occ(startDay)),
    endtime: iso(occ(startDay) + HALF_HOUR),
    patternstartdate: iso(day0(startDay)),
    patternendtype: 2,
    occurrences: count,
    ...extra,
  };
}

async function createSeries(h: Harness, body: Record<string, unknown>): Promise<Loose> {
  const res = await h.api('recurringappointmentmasters', { method: 'POST', headers: { Prefer: 'return=representation' }, body });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

async function instancesOf(h: Harness, masterId: string): Promise<Loose[]> {
  const res = await h.api(`appointments?$filter=seriesid eq ${masterId}&$orderby=scheduledstart asc`);
  expect(res.status, res.text).toBe(200);
  return res.json.value;
}

async function master(h: Harness, id: string): Promise<Loose> {
  const res = await h.api(`recurringappointmentmasters(${id})`);
  expect(res.status, res.text).toBe(200);
  return res.json;
}

describe('recurringappointmentmaster: table, validation and synchronous expansion', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ recurrence: inUtc });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.reset());

  it('the organization exposes its expansion settings', async () => {
    const res = await h.api('organizations?$select=pastexpansionwindow,futureexpansionwindow,recurrenceexpansionsynchcreatemax,recurrenceexpansionjobbatchsize,recurrenceexpansionjobbatchinterval');
    expect(res.status).toBe(200);
    expect(res.json.value).toHaveLength(1);
    expect(res.json.value[0]).toMatchObject({ pastexpansionwindow: 3, futureexpansionwindow: 12, recurrenceexpansionsynchcreatemax: 15, recurrenceexpansionjobbatchsize: 100, recurrenceexpansionjobbatchinterval: 5 });
    const write = await h.api(`organizations(${res.json.value[0].organizationid})`, { method: 'PATCH', body: { futureexpansionwindow: 2 } });
    expect(write.status).toBe(405);
  });

  it('creating a series creates its instances as appointments with seriesid, instancetypecode 2 and originalstartdate', async () => {
    const m = await createSeries(h, daily(1, 4));
    expect(m).toMatchObject({ instancetypecode: 1, isregularactivity: false, expansionstatecode: 2, duration: 30, _groupid_value: m.activityid, scheduledstart: iso(occ(1)), scheduledend: iso(occ(1) + HALF_HOUR) });
    expect(m.effectivestartdate).toBe(iso(day0(1)));
    expect(m.effectiveenddate).toBe(iso(occ(4) + HALF_HOUR));
    const rows = await instancesOf(h, m.activityid);
    expect(rows.map((r) => r.scheduledstart)).toEqual([1, 2, 3, 4].map((d) => iso(occ(d))));
    for (const r of rows) {
      expect(r).toMatchObject({ seriesid: m.activityid, instancetypecode: 2, isregularactivity: true, subject: 'Stand-up', scheduledend: iso(Date.parse(r.scheduledstart) + 30 * 60_000) });
      expect(r.originalstartdate).toBe(r.scheduledstart);
    }
  });

  it('instances copy the series parties and owner', async () => {
    const alice = h.sim.admin.seedUser({ fullname: 'Alice A', internalemailaddress: 'alice@contoso.test' });
    const [contact] = h.sim.admin.seedRecords('contacts', [{ firstname: 'Carl', emailaddress1: 'carl@fabrikam.test' }]);
    const m = await createSeries(h, {
      ...daily(1, 2),
      'ownerid@odata.bind': `/systemusers(${alice.systemuserid})`,
      recurringappointmentmaster_activity_parties: [
        { participationtypemask: 7, 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemuserid})` },
        { participationtypemask: 5, 'partyid_contact@odata.bind': `/contacts(${contact!})` },
        { participationtypemask: 6, addressused: 'guest@example.test' },
      ],
    });
    const rows = await instancesOf(h, m.activityid);
    expect(rows).toHaveLength(2);
    const parties = await h.api(`appointments(${rows[0].activityid})/appointment_activity_parties?$select=participationtypemask,addressused`);
    expect(parties.json.value.map((p: Loose) => `${p.participationtypemask}:${p.addressused}`).sort()).toEqual(['5:carl@fabrikam.test', '6:guest@example.test', '7:alice@contoso.test', '9:alice@contoso.test']);
    expect(rows[0]._ownerid_value).toBe(alice.systemuserid);
  });

  const invalid: Array<{ name: string; body: Record<string, unknown>; mentions: string }> = [
    { name: 'no recurrencepatterntype', body: { ...daily(1, 2), recurrencepatterntype: undefined }, mentions: 'recurrencepatterntype' },
    { name: 'no starttime', body: { ...daily(1, 2), starttime: undefined }, mentions: 'starttime' },
    { name: 'no endtime and no duration', body: { ...daily(1, 2), endtime: undefined }, mentions: 'endtime or duration' },
    { name: 'endtime before starttime', body: { ...daily(1, 2), endtime: iso(occ(1) - HALF_HOUR) }, mentions: 'before its starttime' },
    { name: 'no patternstartdate', body: { ...daily(1, 2), patternstartdate: undefined }, mentions: 'patternstartdate' },
    { name: 'no patternendtype', body: { ...daily(1, 2), patternendtype: undefined }, mentions: 'patternendtype' },
    { name: 'patternendtype 2 without occurrences', body: { ...daily(1, 2), occurrences: undefined }, mentions: 'occurrences' },
    { name: 'patternendtype 3 without patternenddate', body: { ...daily(1, 2), patternendtype: 3 }, mentions: 'patternenddate' },
    { name: 'patternenddate before patternstartdate', body: { ...daily(3, 2), patternendtype: 3, patternenddate: iso(day0(1)) }, mentions: 'before patternstartdate' },
    { name: 'weekly without daysofweekmask', body: { ...daily(1, 2), recurrencepatterntype: 1 }, mentions: 'daysofweekmask' },
    { name: 'monthly without dayofmonth', body: { ...daily(1, 2), recurrencepatterntype: 2 }, mentions: 'dayofmonth' },
    { name: 'Nth monthly without instance', body: { ...daily(1, 2), recurrencepatterntype: 2, isnthmonthly: true, daysofweekmask: 2 }, mentions: 'instance' },
    { name: 'yearly without monthofyear', body: { ...daily(1, 2), recurrencepatterntype: 3, dayofmonth: 5 }, mentions: 'monthofyear' },
    { name: 'yearly on 30 February', body: { ...daily(1, 2), recurrencepatterntype: 3, dayofmonth: 30, monthofyear: 2 }, mentions: 'does not exist' },
    { name: 'isnthyearly on a monthly pattern', body: { ...daily(1, 2), recurrencepatterntype: 2, dayofmonth: 3, isnthyearly: true }, mentions: 'isnthyearly' },
    { name: 'isweekdaypattern on a daily pattern', body: { ...daily(1, 2), isweekdaypattern: true }, mentions: 'isweekdaypattern' },
    { name: 'interval 0', body: { ...daily(1, 2), interval: 0 }, mentions: "'interval'" },
    { name: 'interval 1001', body: { ...daily(1, 2), interval: 1001 }, mentions: "'interval'" },
    { name: '1000 occurrences', body: { ...daily(1, 1000) }, mentions: "'occurrences'" },
    { name: 'daysofweekmask 128', body: { ...daily(1, 2), recurrencepatterntype: 1, daysofweekmask: 128 }, mentions: "'daysofweekmask'" },
    { name: 'instance 6', body: { ...daily(1, 2), recurrencepatterntype: 2, isnthmonthly: true, daysofweekmask: 2, instance: 6 }, mentions: "'instance'" },
    { name: 'an unknown time zone code', body: { ...daily(1, 2), utcconversiontimezonecode: 9999 }, mentions: 'utcconversiontimezonecode' },
    { name: 'read-only instancetypecode', body: { ...daily(1, 2), instancetypecode: 1 }, mentions: 'read-only' },
    { name: 'read-only expansionstatecode', body: { ...daily(1, 2), expansionstatecode: 2 }, mentions: 'read-only' },
    { name: 'read-only scheduledstart', body: { ...daily(1, 2), scheduledstart: iso(occ(1)) }, mentions: 'read-only' },
    { name: 'read-only deletedexceptionslist', body: { ...daily(1, 2), deletedexceptionslist: 'x' }, mentions: 'read-only' },
  ];
  for (const c of invalid) {
    it(`refuses a series with ${c.name} (400 0x80040203, nothing written)`, async () => {
      const body = Object.fromEntries(Object.entries(c.body).filter(([, v]) => v !== undefined));
      const res = await h.api('recurringappointmentmasters', { method: 'POST', body });
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.code).toBe('0x80040203');
      expect(res.json.error.message).toContain(c.mentions);
      expect((await h.api('recurringappointmentmasters')).json.value).toHaveLength(0);
      expect((await h.api('appointments')).json.value).toHaveLength(0);
    });
  }

  it('firstdayofweek cannot be updated (IsValidForUpdate False)', async () => {
    const m = await createSeries(h, { ...daily(1, 2), recurrencepatterntype: 1, daysofweekmask: 2, firstdayofweek: 1 });
    const res = await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { firstdayofweek: 0 } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('only be set on create');
  });

  it('instance columns seriesid, instancetypecode and originalstartdate are read-only on appointment', async () => {
    for (const [column, value] of [['seriesid', '00000000-0000-4000-8000-000000000001'], ['instancetypecode', 2], ['originalstartdate', iso(at(1))]] as const) {
      const res = await h.api('appointments', { method: 'POST', body: { subject: 'x', [column]: value } });
      expect(res.status, column).toBe(400);
      expect(res.json.error.message).toContain('read-only');
    }
  });

  it('a weekly series in a DST zone (utcconversiontimezonecode 110, W. Europe) keeps 09:00 local across the spring change', async () => {
    h.sim.admin.setOrganizationSettings({ futureexpansionwindow: 24 });
    // The Monday two weeks before the last Sunday of next March (the EU change to summer time).
    const year = DateTime.utc().year + 1;
    let change = DateTime.fromObject({ year, month: 3, day: 31 }, { zone: 'Europe/Berlin' });
    while (change.weekday !== 7) change = change.minus({ days: 1 });
    const firstMonday = change.minus({ days: 13 }).set({ hour: 9 });
    const m = await createSeries(h, {
      subject: 'Weekly',
      recurrencepatterntype: 1,
      interval: 1,
      daysofweekmask: 2,
      utcconversiontimezonecode: 110,
      starttime: iso(firstMonday.toMillis()),
      endtime: iso(firstMonday.plus({ hours: 1 }).toMillis()),
      patternstartdate: iso(firstMonday.startOf('day').toMillis()),
      patternendtype: 2,
      occurrences: 3,
    });
    const starts = (await instancesOf(h, m.activityid)).map((r) => DateTime.fromISO(r.scheduledstart, { zone: 'Europe/Berlin' }));
    expect(starts.map((s) => s.toFormat('HH:mm'))).toEqual(['09:00', '09:00', '09:00']);
    expect(starts.map((s) => s.toUTC().toFormat('HH:mm'))).toEqual(['08:00', '08:00', '07:00']);
  });
});

describe('recurring series: expansion windows and the asynchronous expansion job', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ recurrence: { ...inUtc, pastExpansionWindow: 1, futureExpansionWindow: 2, recurrenceExpansionSynchCreateMax: 5, recurrenceExpansionJobBatchSize: 10, recurrenceExpansionJobBatchInterval: 60 } });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.reset());

  it('creates the first N (recurrenceexpansionsynchcreatemax) synchronously and the rest in job batches, inside the past and future windows only', async () => {
    // A daily series started 100 days ago with no end: only [now - 1 month, now + 2 months] is ever expanded.
    const m = await createSeries(h, daily(-100, 0, { patternendtype: 1, occurrences: undefined }));
    let rows = await instancesOf(h, m.activityid);
    expect(rows).toHaveLength(5);
    const now = Date.now();
    const pastCutoff = DateTime.fromMillis(now, { zone: 'utc' }).minus({ months: 1 }).toMillis();
    expect(Date.parse(rows[0].scheduledstart)).toBeGreaterThanOrEqual(pastCutoff);
    expect(Date.parse(rows[0].scheduledstart)).toBeLessThan(pastCutoff + DAY);
    let series = await master(h, m.activityid);
    expect(series.expansionstatecode).toBe(1);
    expect(series.lastexpandedinstancedate).toBe(rows[4].scheduledstart);
    expect(series.nextexpansioninstancedate).toBe(iso(Date.parse(rows[4].scheduledstart) + DAY));

    expect(h.sim.admin.runRecurrenceExpansion()).toBe(10);
    expect(await instancesOf(h, m.activityid)).toHaveLength(15);
    while (h.sim.admin.runRecurrenceExpansion() > 0);
    rows = await instancesOf(h, m.activityid);
    const futureCutoff = DateTime.fromMillis(Date.now(), { zone: 'utc' }).plus({ months: 2 }).toMillis();
    const last = Date.parse(rows[rows.length - 1].scheduledstart);
    expect(last).toBeLessThan(futureCutoff);
    expect(last).toBeGreaterThanOrEqual(futureCutoff - DAY - 60_000);
    // Consecutive days, none missing.
    for (let i = 1; i < rows.length; i++) expect(Date.parse(rows[i].scheduledstart) - Date.parse(rows[i - 1].scheduledstart)).toBe(DAY);
    series = await master(h, m.activityid);
    expect(series.expansionstatecode).toBe(1);

    // The future window moves with the clock; the job runs as its interval elapses.
    h.sim.admin.advanceClock(10 * DAY);
    while (h.sim.admin.runRecurrenceExpansion() > 0);
    const later = await instancesOf(h, m.activityid);
    expect(later.length).toBe(rows.length + 10);
  });

  it('the admin HTTP API reads and changes the organization settings and runs the job', async () => {
    const client = new DataverseAdminClient(h.sim.url);
    expect(await client.organizationSettings()).toMatchObject({ recurrenceexpansionsynchcreatemax: 5, recurrenceexpansionjobbatchsize: 10 });
    expect(await client.setOrganizationSettings({ recurrenceexpansionjobbatchsize: 3 })).toMatchObject({ recurrenceexpansionjobbatchsize: 3 });
    const org = await h.api('organizations?$select=recurrenceexpansionjobbatchsize');
    expect(org.json.value[0].recurrenceexpansionjobbatchsize).toBe(3);
    const m = await createSeries(h, daily(1, 9));
    expect(await client.runRecurrenceExpansion()).toEqual({ created: 3 });
    expect(await instancesOf(h, m.activityid)).toHaveLength(8);
    await expect(client.setOrganizationSettings({ futureexpansionwindow: 141 })).rejects.toThrow(/outside the valid range/);
  });

  it('the job runs on the simulator clock: advancing by intervals runs it', async () => {
    const m = await createSeries(h, daily(1, 30));
    expect(await instancesOf(h, m.activityid)).toHaveLength(5);
    h.sim.admin.advanceClock(60_000);
    expect(await instancesOf(h, m.activityid)).toHaveLength(15);
    h.sim.admin.advanceClock(5 * 60_000);
    expect(await instancesOf(h, m.activityid)).toHaveLength(30);
    expect((await master(h, m.activityid)).expansionstatecode).toBe(2);
  });

  it('a bounded series beyond the future window stays partial until the window reaches it', async () => {
    const m = await createSeries(h, daily(80, 3));
    expect(await instancesOf(h, m.activityid)).toHaveLength(0);
    const series = await master(h, m.activityid);
    expect(series.expansionstatecode).toBe(0);
    expect(series.nextexpansioninstancedate).toBe(iso(occ(80)));
    h.sim.admin.advanceClock(30 * DAY);
    expect(await instancesOf(h, m.activityid)).toHaveLength(3);
    expect((await master(h, m.activityid)).expansionstatecode).toBe(2);
  });
});

describe('recurring series: exceptions, deleted instances, pattern edits and actions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ recurrence: inUtc });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.reset());

  it('updating an instance makes it an exception; a master update skips the excepted column only', async () => {
    const m = await createSeries(h, daily(1, 3, { location: 'Room 1' }));
    const [a, b] = await instancesOf(h, m.activityid);
    expect((await h.api(`appointments(${a.activityid})`, { method: 'PATCH', body: { subject: 'Moved stand-up', scheduledstart: iso(occ(1) + 3_600_000), scheduledend: iso(occ(1) + 3_600_000 + HALF_HOUR) } })).status).toBe(204);
    let rows = await instancesOf(h, m.activityid);
    expect(rows.map((r) => r.instancetypecode)).toEqual([3, 2, 2]);
    expect(rows[0]).toMatchObject({ originalstartdate: iso(occ(1)), scheduledstart: iso(occ(1) + 3_600_000) });
    expect((await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { subject: 'Daily sync', location: 'Room 2' } })).status).toBe(204);
    rows = await instancesOf(h, m.activityid);
    expect(rows.map((r) => [r.subject, r.location])).toEqual([
      ['Moved stand-up', 'Room 2'],
      ['Daily sync', 'Room 2'],
      ['Daily sync', 'Room 2'],
    ]);
    expect(rows[1].activityid).toBe(b.activityid);
  });

  it('deleting an instance records it in the master deletedexceptionslist; deleting the master deletes the instances', async () => {
    const m = await createSeries(h, daily(1, 3));
    const [, b] = await instancesOf(h, m.activityid);
    expect((await h.api(`appointments(${b.activityid})`, { method: 'DELETE' })).status).toBe(204);
    expect((await instancesOf(h, m.activityid)).map((r) => r.originalstartdate)).toEqual([iso(occ(1)), iso(occ(3))]);
    expect((await master(h, m.activityid)).deletedexceptionslist).toBe(iso(occ(2)));
    expect(h.sim.admin.runRecurrenceExpansion()).toBe(0);
    expect((await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.api('appointments')).json.value).toHaveLength(0);
  });

  it('a recurrence edit splits the series: a new master with the same groupid keeps the past instances, the future is re-expanded', async () => {
    const m = await createSeries(h, daily(-3, 8));
    const before = await instancesOf(h, m.activityid);
    expect(before).toHaveLength(8);
    const res = await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { interval: 2 } });
    expect(res.status, res.text).toBe(204);
    const masters = (await h.api(`recurringappointmentmasters?$filter=_groupid_value eq ${m.activityid}`)).json.value as Loose[];
    expect(masters).toHaveLength(2);
    const history = masters.find((x) => x.activityid !== m.activityid)!;
    expect(history).toMatchObject({ interval: 1, seriesstatus: false, expansionstatecode: 2, patternendtype: 3, patternenddate: iso(day0(-1)), effectiveenddate: iso(occ(-1) + HALF_HOUR) });
    const past = await instancesOf(h, history.activityid);
    expect(past.map((r) => r.activityid)).toEqual(before.slice(0, 3).map((r) => r.activityid));
    const live = await master(h, m.activityid);
    expect(live).toMatchObject({ interval: 2, seriesstatus: true, _groupid_value: m.activityid });
    const future = await instancesOf(h, m.activityid);
    expect(future.length).toBeGreaterThan(0);
    // Interval 2 from the pattern start (occurrence -3), 8 occurrences: -3, -1, 1, 3, 5, 7, 9, 11; from now on: 1..11.
    expect(future.map((r) => r.scheduledstart)).toEqual([1, 3, 5, 7, 9, 11].map((k) => iso(occ(k))));
    for (const r of future) expect(before.some((x) => x.activityid === r.activityid)).toBe(false);
    expect(live.effectivestartdate).toBe(iso(day0(1)));
  });

  it('a recurrence edit of a series with only future instances re-expands it under the same id', async () => {
    const m = await createSeries(h, daily(1, 4));
    const before = await instancesOf(h, m.activityid);
    expect((await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { occurrences: 2 } })).status).toBe(204);
    expect((await h.api('recurringappointmentmasters')).json.value).toHaveLength(1);
    const after = await instancesOf(h, m.activityid);
    expect(after.map((r) => r.scheduledstart)).toEqual([iso(occ(1)), iso(occ(2))]);
    expect(after.some((r) => before.some((x) => x.activityid === r.activityid))).toBe(false);
  });

  it('DeleteOpenInstances ends the series: future open instances deleted, past ones set to StateOfPastInstances, series canceled', async () => {
    const m = await createSeries(h, daily(-2, 5));
    const res = await h.api('DeleteOpenInstances', {
      method: 'POST',
      body: { Target: { '@odata.type': 'Microsoft.Dynamics.CRM.recurringappointmentmaster', activityid: m.activityid }, SeriesEndDate: iso(occ(0) - 3_600_000), StateOfPastInstances: 1 },
    });
    expect(res.status, res.text).toBe(204);
    const rows = await instancesOf(h, m.activityid);
    expect(rows.map((r) => [r.scheduledstart, r.statecode, r.statuscode])).toEqual([
      [iso(occ(-2)), 1, 3],
      [iso(occ(-1)), 1, 3],
    ]);
    expect(await master(h, m.activityid)).toMatchObject({ statecode: 2, statuscode: 4, patternendtype: 3, patternenddate: iso(day0(-1)), effectiveenddate: iso(occ(-1) + HALF_HOUR), expansionstatecode: 2 });
    const bad = await h.api('DeleteOpenInstances', { method: 'POST', body: { Target: { activityid: m.activityid }, SeriesEndDate: iso(occ(0)), StateOfPastInstances: 7 } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('StateOfPastInstances');
  });

  it('AddRecurrence turns an appointment into a series: the appointment is deleted and its data copied to the new master', async () => {
    const created = await h.api('appointments', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'One-to-one', location: 'Room 3', globalobjectid: 'uid-1', scheduledstart: iso(at(1, 14)), scheduledend: iso(at(1, 15)) } });
    const appointmentId = created.json.activityid;
    const res = await h.api(`appointments(${appointmentId})/Microsoft.Dynamics.CRM.AddRecurrence`, {
      method: 'POST',
      body: { Target: { '@odata.type': 'Microsoft.Dynamics.CRM.recurringappointmentmaster', recurrencepatterntype: 1, interval: 1, daysofweekmask: 127, patternendtype: 2, occurrences: 3 } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json['@odata.context']).toContain('$metadata#recurringappointmentmasters/$entity');
    const id = res.json.activityid;
    expect(id).not.toBe(appointmentId);
    expect(res.json).toMatchObject({ subject: 'One-to-one', location: 'Room 3', globalobjectid: 'uid-1', starttime: iso(at(1, 14)), duration: 60 });
    expect((await h.api(`appointments(${appointmentId})`)).status).toBe(404);
    expect((await instancesOf(h, id)).map((r) => r.scheduledstart)).toEqual([1, 2, 3].map((d) => iso(at(d, 14))));
    const again = await h.api(`appointments(${(await instancesOf(h, id))[0].activityid})/Microsoft.Dynamics.CRM.AddRecurrence`, { method: 'POST', body: { Target: { recurrencepatterntype: 0, patternendtype: 1 } } });
    expect(again.status).toBe(400);
  });
});

/** Registers an asynchronous webhook step on `message` of `entity`, as a setup tool would. */
async function register(h: Harness, url: string, message: string, entity: string): Promise<void> {
  const msg = await h.api(`sdkmessages?$filter=name eq '${message}'&$select=sdkmessageid`);
  const messageId = msg.json.value[0].sdkmessageid;
  const filter = await h.api(`sdkmessagefilters?$filter=primaryobjecttypecode eq '${entity}' and _sdkmessageid_value eq ${messageId}&$select=sdkmessagefilterid`);
  expect(filter.json.value, `${message} ${entity}`).toHaveLength(1);
  let endpoint = (await h.api(`serviceendpoints?$filter=name eq 'series'`)).json.value[0]?.serviceendpointid;
  if (!endpoint) {
    const created = await h.api('serviceendpoints', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { name: 'series', contract: 8, url, authtype: 4, authvalue: 'key', messageformat: 2 } });
    endpoint = created.json.serviceendpointid;
  }
  const step = await h.api('sdkmessageprocessingsteps', {
    method: 'POST',
    body: {
      name: `${message} of ${entity}`,
      mode: 1,
      stage: 40,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpoint})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filter.json.value[0].sdkmessagefilterid})`,
    },
  });
  expect(step.status, step.text).toBe(204);
}

function parse(body: string): Loose {
  return JSON.parse(body);
}

function targetOf(delivery: { body: string }): Record<string, unknown> {
  const target = parse(delivery.body).InputParameters.find((p: Loose) => p.key === 'Target').value;
  return Object.fromEntries(target.Attributes.map((a: Loose) => [a.key, a.value]));
}

for (const instanceSteps of ['fire', 'silent'] as const) {
  describe(`recurring series webhooks with instanceSteps '${instanceSteps}'`, () => {
    let h: Harness;
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      receiver = await new WebhookReceiver().start();
      h = await startHarness({ recurrence: { ...inUtc, instanceSteps } });
    });
    afterAll(async () => {
      await h.close();
      await receiver.close();
    });
    beforeEach(async () => {
      h.reset();
      receiver.clear();
      for (const [message, entity] of [
        ['Create', 'recurringappointmentmaster'],
        ['Update', 'recurringappointmentmaster'],
        ['Delete', 'recurringappointmentmaster'],
        ['DeleteOpenInstances', 'recurringappointmentmaster'],
        ['AddRecurrence', 'recurringappointmentmaster'],
        ['Create', 'appointment'],
        ['Update', 'appointment'],
        ['Delete', 'appointment'],
      ] as const) {
        await register(h, receiver.url, message, entity);
      }
    });

    const count = (entity: string, message: string) => h.sim.admin.deliveries({ entity, message }).length;

    it(`creating a series raises Create on the master${instanceSteps === 'fire' ? ' and on each instance' : ' only'}`, async () => {
      const m = await createSeries(h, daily(1, 3));
      await h.sim.admin.flushWebhooks();
      expect(count('recurringappointmentmaster', 'Create')).toBe(1);
      expect(count('appointment', 'Create')).toBe(instanceSteps === 'fire' ? 3 : 0);
      const masterTarget = targetOf(h.sim.admin.deliveries({ entity: 'recurringappointmentmaster', message: 'Create' })[0]!);
      expect(masterTarget['recurrencepatterntype']).toMatchObject({ Value: 0 });
      if (instanceSteps === 'fire') {
        const target = targetOf(h.sim.admin.deliveries({ entity: 'appointment', message: 'Create' })[0]!);
        expect(target['seriesid']).toBe(m.activityid);
        expect(target['instancetypecode']).toMatchObject({ Value: 2 });
        expect(target['originalstartdate']).toBe(`/Date(${occ(1)})/`);
      }
      expect(receiver.received.length).toBe(h.sim.admin.deliveries().length);
    });

    it('updating an instance raises Update on that appointment whatever the option (a caller update)', async () => {
      const m = await createSeries(h, daily(1, 2));
      await h.sim.admin.flushWebhooks();
      const [a] = await instancesOf(h, m.activityid);
      await h.api(`appointments(${a.activityid})`, { method: 'PATCH', body: { subject: 'x' } });
      await h.api(`appointments(${a.activityid})`, { method: 'DELETE' });
      await h.sim.admin.flushWebhooks();
      expect(count('appointment', 'Update')).toBe(1);
      expect(count('appointment', 'Delete')).toBe(1);
    });

    it(`a master update carried to the instances ${instanceSteps === 'fire' ? 'raises' : 'does not raise'} Update on them; a split ${instanceSteps === 'fire' ? 'raises' : 'does not raise'} the platform's creates and deletes`, async () => {
      const m = await createSeries(h, daily(-1, 3));
      await h.sim.admin.flushWebhooks();
      const createsBefore = count('appointment', 'Create');
      await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { subject: 'Renamed' } });
      await h.sim.admin.flushWebhooks();
      expect(count('recurringappointmentmaster', 'Update')).toBe(1);
      expect(count('appointment', 'Update')).toBe(instanceSteps === 'fire' ? 3 : 0);
      await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { interval: 2 } });
      await h.sim.admin.flushWebhooks();
      expect(count('recurringappointmentmaster', 'Update')).toBe(2);
      // One past instance moves to the history master; the two future ones are deleted and, every 2 days from the
      // pattern start (occurrences -1, 1, 3), two are re-created.
      expect(count('appointment', 'Delete')).toBe(instanceSteps === 'fire' ? 2 : 0);
      expect(count('appointment', 'Create') - createsBefore).toBe(instanceSteps === 'fire' ? 2 : 0);
      expect(count('recurringappointmentmaster', 'Create')).toBe(instanceSteps === 'fire' ? 2 : 1);
    });

    it('DeleteOpenInstances and AddRecurrence raise their own messages on recurringappointmentmaster', async () => {
      const m = await createSeries(h, daily(-1, 3));
      await h.api('DeleteOpenInstances', { method: 'POST', body: { Target: { activityid: m.activityid }, SeriesEndDate: iso(occ(0) - 3_600_000), StateOfPastInstances: 1 } });
      const appt = await h.api('appointments', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'Single', scheduledstart: iso(at(2, 9)), scheduledend: iso(at(2, 10)) } });
      const added = await h.api(`appointments(${appt.json.activityid})/Microsoft.Dynamics.CRM.AddRecurrence`, { method: 'POST', body: { Target: { recurrencepatterntype: 0, patternendtype: 2, occurrences: 2 } } });
      expect(added.status, added.text).toBe(200);
      await h.sim.admin.flushWebhooks();
      const [doi] = h.sim.admin.deliveries({ message: 'DeleteOpenInstances' });
      expect(doi).toBeDefined();
      const params = Object.fromEntries(parse(doi!.body).InputParameters.map((p: Loose) => [p.key, p.value]));
      expect(params['StateOfPastInstances']).toBe(1);
      expect(params['SeriesEndDate']).toBe(`/Date(${occ(0) - 3_600_000})/`);
      const [ar] = h.sim.admin.deliveries({ message: 'AddRecurrence' });
      expect(ar!.recordId).toBe(added.json.activityid);
      const output = Object.fromEntries(parse(ar!.body).OutputParameters.map((p: Loose) => [p.key, p.value]));
      expect(output['id']).toBe(added.json.activityid);
      // The converted appointment's deletion is a real Delete of that appointment; the new series' instances follow
      // the option; the master itself raises AddRecurrence, not Create.
      expect(h.sim.admin.deliveries({ entity: 'appointment', message: 'Delete', recordId: appt.json.activityid })).toHaveLength(1);
      const instanceCreates = h.sim.admin.deliveries({ entity: 'appointment', message: 'Create' }).filter((x) => targetOf(x)['seriesid'] === added.json.activityid);
      expect(instanceCreates).toHaveLength(instanceSteps === 'fire' ? 2 : 0);
      expect(h.sim.admin.deliveries({ entity: 'recurringappointmentmaster', message: 'Create', recordId: added.json.activityid })).toHaveLength(0);
    });
  });
}

describe("recurring series split with splitKeeps 'history'", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ recurrence: { ...inUtc, splitKeeps: 'history' } });
  });
  afterAll(async () => h.close());

  it('the updated master ends with the past instances and a new master with the same groupid carries the new pattern', async () => {
    const m = await createSeries(h, daily(-3, 8));
    const before = await instancesOf(h, m.activityid);
    expect((await h.api(`recurringappointmentmasters(${m.activityid})`, { method: 'PATCH', body: { interval: 2 } })).status).toBe(204);
    const ended = await master(h, m.activityid);
    expect(ended).toMatchObject({ interval: 1, seriesstatus: false, expansionstatecode: 2, patternendtype: 3 });
    expect((await instancesOf(h, m.activityid)).map((r) => r.activityid)).toEqual(before.slice(0, 3).map((r) => r.activityid));
    const masters = (await h.api(`recurringappointmentmasters?$filter=_groupid_value eq ${m.activityid}`)).json.value as Loose[];
    const live = masters.find((x) => x.activityid !== m.activityid)!;
    expect(live).toMatchObject({ interval: 2, seriesstatus: true });
    const future = await instancesOf(h, live.activityid);
    expect(future.length).toBeGreaterThan(0);
    expect(future.map((r) => r.scheduledstart)).toEqual([1, 3, 5, 7, 9, 11].map((k) => iso(occ(k))));
  });
});

describe('a series without utcconversiontimezonecode is expanded in its creator\'s own time zone (recurrence.zoneWithoutCode)', () => {
  /** 19:00 Pacific in five days (03:00 UTC the next day), daily, 2 occurrences, no zone code; created by `userId`. */
  function evening(sim: Harness['sim'], userId: string, ownerId: string) {
    const date = DateTime.now().setZone('America/Los_Angeles').plus({ days: 5 }).startOf('day');
    const start = date.set({ hour: 19 });
    const row = sim.admin.as(userId).create('recurringappointmentmasters', {
      subject: 'Evening',
      recurrencepatterntype: 0,
      interval: 1,
      starttime: start.toUTC().toISO(),
      endtime: start.plus({ minutes: 30 }).toUTC().toISO(),
      patternstartdate: date.toUTC().toISO(),
      patternendtype: 2,
      occurrences: 2,
      'ownerid@odata.bind': `/systemusers(${ownerId})`,
    });
    return { start: start.toMillis(), id: String(row.activityid) };
  }
  const starts = (sim: Harness['sim'], id: string) =>
    sim.admin
      .records('appointments')
      .filter((r) => r.seriesid === id)
      .map((r) => Date.parse(String(r.scheduledstart)))
      .sort((a, b) => a - b);

  for (const [option, expectedZone] of [
    ['creator', 'pacific'],
    ['owner', 'berlin'],
    ['UTC', 'utc'],
  ] as const) {
    it(`'${option}': a series created by a Pacific user for a W. Europe owner is expanded in ${expectedZone === 'pacific' ? "the creator's" : expectedZone === 'berlin' ? "the owner's" : 'the named'} zone`, async () => {
      const h = await startHarness({ recurrence: { zoneWithoutCode: option } });
      try {
        const creator = h.sim.admin.seedUser({ fullname: 'Pat Park', firstname: 'Pat', lastname: 'Park', internalemailaddress: 'pat@contoso.example', domainname: 'pat@contoso.example' });
        const owner = h.sim.admin.seedUser({ fullname: 'Alice Adams', firstname: 'Alice', lastname: 'Adams', internalemailaddress: 'alice@contoso.example', domainname: 'alice@contoso.example' });
        h.sim.admin.setUserTimeZone(creator.systemuserid, 4);
        h.sim.admin.setUserTimeZone(owner.systemuserid, 110);
        const { start, id } = evening(h.sim, creator.systemuserid, owner.systemuserid);
        const zone = expectedZone === 'pacific' ? 'America/Los_Angeles' : expectedZone === 'berlin' ? 'Europe/Berlin' : 'UTC';
        // The pattern's first date is the Pacific date of the pattern start read in that zone, at the start's local time there.
        const patternDay = DateTime.fromMillis(start, { zone: 'America/Los_Angeles' }).startOf('day').setZone(zone).startOf('day');
        const local = DateTime.fromMillis(start, { zone });
        const first = patternDay.set({ hour: local.hour, minute: local.minute }).toMillis();
        expect(starts(h.sim, id)).toEqual([first, DateTime.fromMillis(first, { zone }).plus({ days: 1 }).toMillis()]);
        if (option === 'creator') expect(first).toBe(start);
        else expect(first).not.toBe(start);
      } finally {
        await h.close();
      }
    });
  }
});
