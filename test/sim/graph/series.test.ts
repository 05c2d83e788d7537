// Recurring events in the Graph simulator through the real Graph SDK: series masters, computed occurrences,
// exceptions, cancelled occurrences, instances, calendarView and its delta, notifications and the options the
// documentation leaves open.
// Wire JSON is checked by the assertions, as support.ts notes for Loose.
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGraph, USERS, Webhook, type Loose, type TestGraph } from './support.js';

const BERLIN = 'W. Europe Standard Time';
/** Mondays 09:00-09:30 Berlin time from 25 March 2030, 4 times: the second one is after the DST change of 31 March. */
const weekly = (extra: Record<string, unknown> = {}) => ({
  subject: 'One-to-one',
  start: { dateTime: '2030-03-25T09:00:00', timeZone: BERLIN },
  end: { dateTime: '2030-03-25T09:30:00', timeZone: BERLIN },
  recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] }, range: { type: 'numbered', startDate: '2030-03-25', numberOfOccurrences: 4 } },
  ...extra,
});
const WINDOW = 'startDateTime=2030-03-01T00:00:00Z&endDateTime=2030-05-01T00:00:00Z';
const inMinutes = (g: TestGraph, minutes: number) => g.sim.admin.now().then((now) => new Date(Date.parse(now) + minutes * 60_000).toISOString());

async function deltaRound(g: TestGraph, url: string): Promise<{ items: Loose[]; deltaLink: string }> {
  const items: Loose[] = [];
  let next = url;
  for (;;) {
    const page = await g.client.api(next).get();
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, deltaLink: page['@odata.deltaLink'] };
    next = page['@odata.nextLink'];
  }
}

describe('Graph simulator: recurring series', () => {
  let g: TestGraph;
  let adele: string;
  let bob: string;
  beforeAll(async () => {
    g = await startTestGraph();
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    [adele, bob] = (await g.sim.admin.seedUsers(USERS)).map((u) => u.id) as [string, string];
  });

  const view = async (user: string, zone = BERLIN): Promise<Loose[]> => (await g.client.api(`/users/${user}/calendarView?${WINDOW}`).header('Prefer', `outlook.timezone="${zone}"`).top(50).get()).value;

  it('creates a series master; /events lists the master, calendarView its occurrences at 09:00 local across DST, with stable distinct ids', async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    expect(master).toMatchObject({ type: 'seriesMaster', seriesMasterId: null, originalStartTimeZone: BERLIN });
    expect(master.recurrence).toEqual({
      pattern: { type: 'weekly', interval: 1, month: 0, dayOfMonth: 0, daysOfWeek: ['monday'], firstDayOfWeek: 'sunday', index: 'first' },
      range: { type: 'numbered', startDate: '2030-03-25', endDate: '0001-01-01', recurrenceTimeZone: BERLIN, numberOfOccurrences: 4 },
    });
    const listed = (await g.client.api(`/users/${adele}/events`).get()).value;
    expect(listed.map((e: Loose) => [e.id, e.type])).toEqual([[master.id, 'seriesMaster']]);

    const occurrences = await view(adele);
    expect(occurrences.map((o) => o.start.dateTime)).toEqual(['2030-03-25T09:00:00.0000000', '2030-04-01T09:00:00.0000000', '2030-04-08T09:00:00.0000000', '2030-04-15T09:00:00.0000000']);
    expect(occurrences.every((o) => o.type === 'occurrence' && o.seriesMasterId === master.id && o.recurrence === null)).toBe(true);
    expect(occurrences.map((o) => o.originalStart)).toEqual(['2030-03-25T08:00:00Z', '2030-04-01T07:00:00Z', '2030-04-08T07:00:00Z', '2030-04-15T07:00:00Z']);
    const ids = occurrences.map((o) => o.id);
    expect(new Set([...ids, master.id]).size).toBe(5);
    expect((await view(adele)).map((o) => o.id)).toEqual(ids);
    // Default: iCalUId differs per occurrence (https://learn.microsoft.com/graph/api/resources/event).
    expect(new Set(occurrences.map((o) => o.iCalUId)).size).toBe(4);
    expect(occurrences.map((o) => o.iCalUId)).not.toContain(master.iCalUId);

    const one = await g.client.api(`/users/${adele}/events/${ids[1]}`).get();
    expect(one).toMatchObject({ id: ids[1], type: 'occurrence', seriesMasterId: master.id, originalStart: '2030-04-01T07:00:00Z', subject: 'One-to-one' });
    const instances = (await g.client.api(`/users/${adele}/events/${master.id}/instances?startDateTime=2030-03-30T00:00:00Z&endDateTime=2030-04-10T00:00:00Z`).get()).value;
    expect(instances.map((o: Loose) => o.id)).toEqual([ids[1], ids[2]]);
  });

  it('refuses an invalid recurrence with 400 in Graph error shape (weekly without daysOfWeek, bad range)', async () => {
    const noDays = await g.raw('POST', `/users/${adele}/events`, weekly({ recurrence: { pattern: { type: 'weekly', interval: 1 }, range: { type: 'noEnd', startDate: '2030-03-25' } } }));
    expect(noDays.status).toBe(400);
    expect(noDays.body.error).toMatchObject({ code: 'ErrorCalendarInvalidRecurrence', message: expect.stringContaining('daysOfWeek'), innerError: { 'request-id': expect.any(String) } });
    const badRange = await g.raw('POST', `/users/${adele}/events`, weekly({ recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-03-25', numberOfOccurrences: 0 } } }));
    expect(badRange.status).toBe(400);
    expect(badRange.body.error.code).toBe('ErrorCalendarInvalidRecurrence');
    expect((await g.client.api(`/users/${adele}/events`).get()).value).toEqual([]);
  });

  it('turns an updated occurrence into a stored exception with the same id, shown by calendarView, instances and $expand=exceptionOccurrences', async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    const [, second] = await view(adele);
    const patched = await g.client.api(`/users/${adele}/events/${second.id}`).patch({ subject: 'Moved', start: { dateTime: '2030-04-01T14:00:00', timeZone: BERLIN }, end: { dateTime: '2030-04-01T14:30:00', timeZone: BERLIN } });
    expect(patched).toMatchObject({ id: second.id, type: 'exception', seriesMasterId: master.id, originalStart: '2030-04-01T07:00:00Z', subject: 'Moved' });
    const after = await view(adele);
    expect(after.map((o) => [o.type, o.subject, o.start.dateTime])).toEqual([
      ['occurrence', 'One-to-one', '2030-03-25T09:00:00.0000000'],
      ['exception', 'Moved', '2030-04-01T14:00:00.0000000'],
      ['occurrence', 'One-to-one', '2030-04-08T09:00:00.0000000'],
      ['occurrence', 'One-to-one', '2030-04-15T09:00:00.0000000'],
    ]);
    expect((await g.client.api(`/users/${adele}/events`).get()).value.map((e: Loose) => e.id)).toEqual([master.id]);
    const expanded = await g.client.api(`/users/${adele}/events/${master.id}?$expand=exceptionOccurrences`).get();
    expect(expanded.exceptionOccurrences.map((e: Loose) => [e.id, e.subject])).toEqual([[second.id, 'Moved']]);
    expect((await g.client.api(`/users/${adele}/events/${master.id}`).get()).exceptionOccurrences).toBeUndefined();
  });

  it('refuses to move an occurrence onto or past the day of its neighbour with ErrorOccurrenceCrossingBoundary', async () => {
    await g.client.api(`/users/${adele}/events`).post(weekly());
    const [, second] = await view(adele);
    const crossing = await g.raw('PATCH', `/users/${adele}/events/${second.id}`, { start: { dateTime: '2030-04-08T11:00:00', timeZone: BERLIN }, end: { dateTime: '2030-04-08T11:30:00', timeZone: BERLIN } });
    expect(crossing.status).toBe(400);
    expect(crossing.body.error).toMatchObject({ code: 'ErrorOccurrenceCrossingBoundary', message: 'Modified occurrence is crossing or overlapping adjacent occurrence.' });
    const ok = await g.raw('PATCH', `/users/${adele}/events/${second.id}`, { start: { dateTime: '2030-04-07T11:00:00', timeZone: BERLIN }, end: { dateTime: '2030-04-07T11:30:00', timeZone: BERLIN } });
    expect(ok.status).toBe(200);
  });

  it('records a deleted occurrence in cancelledOccurrences (returned only with $select) and leaves it out of calendarView and instances', async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    const [, second, third] = await view(adele);
    await g.client.api(`/users/${adele}/events/${second.id}`).delete();
    await g.client.api(`/users/${adele}/events/${third.id}`).patch({ subject: 'exception then deleted' });
    await g.client.api(`/users/${adele}/events/${third.id}`).delete();
    const selected = await g.client.api(`/users/${adele}/events/${master.id}?$select=subject,cancelledOccurrences`).get();
    expect(selected.cancelledOccurrences).toEqual([`OID.${master.id}.2030-04-01`, `OID.${master.id}.2030-04-08`]);
    expect((await g.client.api(`/users/${adele}/events/${master.id}`).get()).cancelledOccurrences).toBeUndefined();
    expect((await view(adele)).map((o) => o.start.dateTime)).toEqual(['2030-03-25T09:00:00.0000000', '2030-04-15T09:00:00.0000000']);
    expect((await g.raw('GET', `/users/${adele}/events/${second.id}`)).status).toBe(404);
  });

  it('drops exceptions and cancellations when the pattern of the master changes', async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    const [first, second] = await view(adele);
    await g.client.api(`/users/${adele}/events/${first.id}`).patch({ subject: 'special' });
    await g.client.api(`/users/${adele}/events/${second.id}`).delete();
    await g.client.api(`/users/${adele}/events/${master.id}`).patch({ recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] }, range: { type: 'numbered', startDate: '2030-03-25', numberOfOccurrences: 3 } } });
    const after = await view(adele);
    expect(after.map((o) => [o.type, o.subject])).toEqual([
      ['occurrence', 'One-to-one'],
      ['occurrence', 'One-to-one'],
      ['occurrence', 'One-to-one'],
    ]);
    expect((await g.client.api(`/users/${adele}/events/${master.id}?$select=cancelledOccurrences`).get()).cancelledOccurrences).toEqual([]);
    // A subject change of the whole series keeps them.
    await g.client.api(`/users/${adele}/events/${after[0].id}`).patch({ subject: 'kept' });
    await g.client.api(`/users/${adele}/events/${master.id}`).patch({ subject: 'Renamed' });
    expect((await view(adele)).map((o) => o.subject)).toEqual(['kept', 'Renamed', 'Renamed']);
  });

  it('calendarView delta lists occurrences (never the master) and, after a deletion, the remaining occurrences only', async () => {
    await g.client.api(`/users/${adele}/events`).post(weekly());
    const initial = await deltaRound(g, `/users/${adele}/calendarView/delta?${WINDOW}`);
    expect(initial.items.map((o) => o.type)).toEqual(['occurrence', 'occurrence', 'occurrence', 'occurrence']);
    expect(initial.items[0]).toMatchObject({ '@odata.type': '#microsoft.graph.event', subject: 'One-to-one', iCalUId: expect.any(String) });
    await g.client.api(`/users/${adele}/events/${initial.items[1].id}`).delete();
    const next = await deltaRound(g, initial.deltaLink);
    expect(next.items.map((o) => o.id)).toEqual([initial.items[0].id, initial.items[2].id, initial.items[3].id]);
  });

  describe('change notifications', () => {
    let hook: Webhook;
    beforeEach(async () => {
      hook = await new Webhook().start();
    });
    afterEach(async () => {
      await g.sim.admin.notificationsSettled();
      await hook.close();
    });

    it('announces a deleted or updated occurrence only as an update of the master', async () => {
      const master = await g.client.api(`/users/${adele}/events`).post(weekly());
      await g.client.api('/subscriptions').post({ changeType: 'created,updated,deleted', notificationUrl: hook.url, resource: `/users/${adele}/events`, expirationDateTime: await inMinutes(g, 60), clientState: 's' });
      const [first, second] = await view(adele);
      await g.client.api(`/users/${adele}/events/${second.id}`).delete();
      await g.client.api(`/users/${adele}/events/${first.id}`).patch({ subject: 'changed' });
      await g.sim.admin.notificationsSettled();
      expect(hook.items().map((n: Loose) => [n.changeType, n.resourceData.id])).toEqual([
        ['updated', master.id],
        ['updated', master.id],
      ]);
    });
  });

  it('sends one invitation per series and one per changed occurrence; the attendee copy is a series of its own linked by iCalUId', async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly({ attendees: [{ emailAddress: { address: 'bob@contoso.test' }, type: 'required' }] }));
    const copy = (await g.client.api(`/users/${bob}/events`).get()).value;
    expect(copy).toHaveLength(1);
    expect(copy[0]).toMatchObject({ type: 'seriesMaster', iCalUId: master.iCalUId, isOrganizer: false, recurrence: master.recurrence });
    expect(copy[0].id).not.toBe(master.id);
    const bobView = await view(bob);
    expect(bobView.map((o) => o.seriesMasterId)).toEqual([copy[0].id, copy[0].id, copy[0].id, copy[0].id]);

    const [, second, third] = await view(adele);
    await g.client.api(`/users/${adele}/events/${second.id}`).patch({ location: { displayName: 'Room 2' } });
    await g.client.api(`/users/${adele}/events/${third.id}`).delete();
    const log = (await g.sim.admin.invitations()).map((i) => [i.type, i.eventId, i.seriesMasterId ?? null, i.originalStart ?? null, i.recipients]);
    expect(log).toEqual([
      ['request', master.id, null, null, ['bob@contoso.test']],
      ['update', second.id, master.id, '2030-04-01T07:00:00.000Z', ['bob@contoso.test']],
      ['cancellation', third.id, master.id, '2030-04-08T07:00:00.000Z', ['bob@contoso.test']],
    ]);
    const bobAfter = await view(bob);
    expect(bobAfter.map((o) => [o.type, o.subject, o.location.displayName])).toEqual([
      ['occurrence', 'One-to-one', ''],
      ['exception', 'One-to-one', 'Room 2'],
      ['exception', 'Canceled: One-to-one', ''],
      ['occurrence', 'One-to-one', ''],
    ]);
    expect(bobAfter[1].iCalUId).toBe(second.iCalUId);
  });
});

describe('Graph simulator: recurring series, options the documentation leaves open', () => {
  let g: TestGraph;
  let adele: string;
  beforeAll(async () => {
    g = await startTestGraph({ recurrence: { occurrenceICalUId: 'series', deltaOccurrences: 'sparse', deltaAfterCancellation: 'silent' } });
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    adele = (await g.sim.admin.seedUsers(USERS))[0]!.id;
  });

  it("occurrenceICalUId 'series': occurrences and exceptions carry the master's iCalUId", async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    const occurrences = (await g.client.api(`/users/${adele}/calendarView?${WINDOW}`).get()).value;
    await g.client.api(`/users/${adele}/events/${occurrences[0].id}`).patch({ subject: 'x' });
    const after = (await g.client.api(`/users/${adele}/calendarView?${WINDOW}`).get()).value;
    expect(after.map((o: Loose) => o.iCalUId)).toEqual([master.iCalUId, master.iCalUId, master.iCalUId, master.iCalUId]);
    // Finding the series by iCalUId still gives the master, not its exception.
    expect((await g.client.api(`/users/${adele}/events`).filter(`iCalUId eq '${master.iCalUId}'`).get()).value.map((e: Loose) => e.id)).toEqual([master.id]);
  });

  it("deltaOccurrences 'sparse': occurrences in calendarView delta carry only their keys, exceptions and single events everything", async () => {
    const master = await g.client.api(`/users/${adele}/events`).post(weekly());
    const round = await deltaRound(g, `/users/${adele}/calendarView/delta?${WINDOW}`);
    expect(round.items).toHaveLength(4);
    expect(Object.keys(round.items[0]).sort()).toEqual(['@odata.etag', '@odata.type', 'end', 'id', 'seriesMasterId', 'start', 'type']);
    expect(round.items[0]).toMatchObject({ type: 'occurrence', seriesMasterId: master.id });
  });

  it("deltaAfterCancellation 'silent': the round after a deleted occurrence lists nothing for the series; a fresh round lists what is left", async () => {
    await g.client.api(`/users/${adele}/events`).post(weekly());
    const initial = await deltaRound(g, `/users/${adele}/calendarView/delta?${WINDOW}`);
    await g.client.api(`/users/${adele}/events/${initial.items[1].id}`).delete();
    expect((await deltaRound(g, initial.deltaLink)).items).toEqual([]);
    expect((await deltaRound(g, `/users/${adele}/calendarView/delta?${WINDOW}`)).items).toHaveLength(3);
  });
});
