import { PageIterator } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventBody, startTestGraph, USERS, type TestGraph, pluck, type Loose } from './support.js';

const DV = 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name DataverseId';

describe('Graph simulator: events through the real Graph SDK and msal-node', () => {
  let g: TestGraph;
  let adele: string;
  beforeAll(async () => {
    g = await startTestGraph();
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    const [a] = await g.sim.admin.seedUsers(USERS);
    adele = a!.id;
  });

  it('creates, reads, updates and deletes an event; every write changes changeKey, etag and lastModifiedDateTime', async () => {
    const created = await g.client.api(`/users/${adele}/events`).post(eventBody('Kick-off'));
    expect(created['@odata.etag']).toBe(`W/"${created.changeKey}"`);
    expect(created.type).toBe('singleInstance');
    expect(created.isOrganizer).toBe(true);
    expect(created.organizer.emailAddress.address).toBe('adele@contoso.test');
    expect(created.start).toEqual({ dateTime: '2030-01-10T08:00:00.0000000', timeZone: 'UTC' });
    expect(created.originalStartTimeZone).toBe('W. Europe Standard Time');
    const got = await g.client.api(`/users/adele@contoso.test/events/${created.id}`).get();
    expect(got.iCalUId).toBe(created.iCalUId);
    await g.sim.admin.advanceClock(1000);
    const patched = await g.client.api(`/users/${adele}/events/${created.id}`).patch({ subject: 'Kick-off (moved)' });
    expect(patched.changeKey).not.toBe(created.changeKey);
    expect(patched['@odata.etag']).toBe(`W/"${patched.changeKey}"`);
    expect(Date.parse(patched.lastModifiedDateTime)).toBeGreaterThan(Date.parse(created.lastModifiedDateTime));
    expect(patched.iCalUId).toBe(created.iCalUId);
    await g.client.api(`/users/${adele}/events/${created.id}`).delete();
    const gone = await g.raw('GET', `/users/${adele}/events/${created.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('ErrorItemNotFound');
    expect(gone.body.error.innerError).toMatchObject({ 'request-id': expect.any(String), 'client-request-id': expect.any(String), date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/) });
    expect((await g.raw('DELETE', `/users/${adele}/events/${created.id}`)).status).toBe(404);
  });

  it('answers a stale If-Match with 412 ErrorIrresolvableConflict and accepts the current etag', async () => {
    const created = await g.client.api(`/users/${adele}/events`).post(eventBody('Etag'));
    await g.client.api(`/users/${adele}/events/${created.id}`).patch({ subject: 'changed elsewhere' });
    const stale = await g.raw('PATCH', `/users/${adele}/events/${created.id}`, { subject: 'mine' }, { 'If-Match': created['@odata.etag'] });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('ErrorIrresolvableConflict');
    const current = await g.client.api(`/users/${adele}/events/${created.id}`).get();
    const ok = await g.raw('PATCH', `/users/${adele}/events/${created.id}`, { subject: 'mine' }, { 'If-Match': current['@odata.etag'] });
    expect(ok.status).toBe(200);
    expect(ok.body.subject).toBe('mine');
  });

  it('returns the first item when a create is retried with the same transactionId', async () => {
    const body = eventBody('Once', { transactionId: '7E163156-7762-4BEB-A1C6-729EA81755A7' });
    const first = await g.client.api(`/users/${adele}/events`).post(body);
    const second = await g.client.api(`/users/${adele}/events`).post(body);
    expect(second.id).toBe(first.id);
    const all = await g.client.api(`/users/${adele}/events`).get();
    expect(all.value).toHaveLength(1);
    expect(all.value[0].transactionId).toBe('7E163156-7762-4BEB-A1C6-729EA81755A7');
  });

  it('expresses start/end in the Prefer outlook.timezone zone (Windows or IANA) and answers Preference-Applied', async () => {
    const created = await g.client.api(`/users/${adele}/events`).post(eventBody('TZ'));
    const pst = await g.raw('GET', `/users/${adele}/events/${created.id}`, undefined, { Prefer: 'outlook.timezone="Pacific Standard Time", IdType="ImmutableId"' });
    expect(pst.body.start).toEqual({ dateTime: '2030-01-10T00:00:00.0000000', timeZone: 'Pacific Standard Time' });
    expect(pst.headers.get('preference-applied')).toContain('IdType="ImmutableId"');
    const tokyo = await g.client.api(`/users/${adele}/events/${created.id}`).header('Prefer', 'outlook.timezone="Asia/Tokyo"').get();
    expect(tokyo.end).toEqual({ dateTime: '2030-01-10T18:00:00.0000000', timeZone: 'Asia/Tokyo' });
    const bad = await g.raw('POST', `/users/${adele}/events`, eventBody('x', { start: { dateTime: '2030-01-10T09:00:00', timeZone: 'Mars/Olympus' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('TimeZoneNotSupportedException');
  });

  it('refuses all-day events that do not start and end at midnight in their zone, and returns all-day events midnight to midnight', async () => {
    const bad = await g.raw('POST', `/users/${adele}/events`, {
      subject: 'Holiday',
      isAllDay: true,
      start: { dateTime: '2030-02-01T09:00:00', timeZone: 'W. Europe Standard Time' },
      end: { dateTime: '2030-02-02T00:00:00', timeZone: 'W. Europe Standard Time' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('ErrorPropertyValidationFailure');
    const good = await g.client.api(`/users/${adele}/events`).post({
      subject: 'Holiday',
      isAllDay: true,
      start: { dateTime: '2030-02-01T00:00:00', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2030-02-02T00:00:00', timeZone: 'Europe/Berlin' },
    });
    expect(good.start).toEqual({ dateTime: '2030-02-01T00:00:00.0000000', timeZone: 'UTC' });
    expect(good.end).toEqual({ dateTime: '2030-02-02T00:00:00.0000000', timeZone: 'UTC' });
  });

  it('round-trips singleValueExtendedProperties, finds events by them and expands them only when asked', async () => {
    const created = await g.client.api(`/users/${adele}/events`).post(eventBody('Linked', { singleValueExtendedProperties: [{ id: DV, value: 'a1b2' }], categories: ['Tracked to Dynamics 365'] }));
    expect(created.singleValueExtendedProperties).toBeUndefined();
    await g.client.api(`/users/${adele}/events`).post(eventBody('Other', { singleValueExtendedProperties: [{ id: DV, value: 'zzz' }] }));
    const found = await g.client
      .api(`/users/${adele}/events`)
      .filter(`singleValueExtendedProperties/any(ep: ep/id eq '${DV}' and ep/value eq 'a1b2') and categories/any(c:c eq 'Tracked to Dynamics 365')`)
      .expand(`singleValueExtendedProperties($filter=id eq '${DV}')`)
      .select('subject')
      .get();
    expect(found.value).toHaveLength(1);
    expect(found.value[0]).toEqual({ '@odata.etag': created['@odata.etag'], id: created.id, subject: 'Linked', singleValueExtendedProperties: [{ id: DV, value: 'a1b2' }] });
    const byUid = await g.client.api(`/users/${adele}/events`).filter(`iCalUId eq '${created.iCalUId}'`).get();
    expect(pluck(byUid.value, 'id')).toEqual([created.id]);
    const badId = await g.raw('POST', `/users/${adele}/events`, eventBody('x', { singleValueExtendedProperties: [{ id: 'DataverseId', value: '1' }] }));
    expect(badId.status).toBe(400);
  });

  it('pages lists with @odata.nextLink that the SDK PageIterator follows, honouring $orderby and $top', async () => {
    for (let i = 0; i < 7; i += 1) {
      await g.client.api(`/users/${adele}/events`).post(eventBody(`E${i}`, { start: { dateTime: `2030-03-0${i + 1}T10:00:00`, timeZone: 'UTC' }, end: { dateTime: `2030-03-0${i + 1}T11:00:00`, timeZone: 'UTC' } }));
    }
    const first = await g.client.api(`/users/${adele}/events`).orderby('start/dateTime desc').top(3).get();
    expect(first['@odata.nextLink']).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\/.+\$skip=3/);
    const subjects: string[] = [];
    await new PageIterator(g.client, first, (e: Loose) => {
      subjects.push(e.subject);
      return true;
    }).iterate();
    expect(subjects).toEqual(['E6', 'E5', 'E4', 'E3', 'E2', 'E1', 'E0']);
  });

  it('serves calendarView for a window, and the same events under /calendar/events', async () => {
    await g.client.api(`/users/${adele}/events`).post(eventBody('In', { start: { dateTime: '2030-04-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2030-04-01T11:00:00', timeZone: 'UTC' } }));
    await g.client.api(`/users/${adele}/calendar/events`).post(eventBody('Out', { start: { dateTime: '2030-05-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2030-05-01T11:00:00', timeZone: 'UTC' } }));
    const view = await g.client.api(`/users/${adele}/calendarView`).query({ startDateTime: '2030-04-01T00:00:00Z', endDateTime: '2030-04-02T00:00:00Z' }).get();
    expect(pluck(view.value, 'subject')).toEqual(['In']);
    const all = await g.client.api(`/users/${adele}/calendar/events`).get();
    expect(all.value).toHaveLength(2);
    const noWindow = await g.raw('GET', `/users/${adele}/calendarView`);
    expect(noWindow.status).toBe(400);
  });

  it('resolves users by id or UPN, reports mailbox time zones as Windows names, and rejects bad tokens in Graph shape', async () => {
    const byUpn = await g.client.api('/users/adele@contoso.test').get();
    expect(byUpn.id).toBe(adele);
    const settings = await g.client.api(`/users/${adele}/mailboxSettings`).get();
    expect(settings.timeZone).toBe('W. Europe Standard Time');
    const unknown = await g.raw('GET', '/users/nobody@contoso.test/events');
    expect(unknown.status).toBe(404);
    const noToken = await fetch(`${g.sim.baseUrl}/v1.0/users/${adele}/events`);
    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as Loose).error.code).toBe('InvalidAuthenticationToken');
    const wrongAudience = await fetch(`${g.sim.baseUrl}/v1.0/users/${adele}/events`, { headers: { Authorization: `Bearer ${g.sim.identity.issueToken(g.clientId, 'https://org.crm.dynamics.com')}` } });
    expect(wrongAudience.status).toBe(401);
    const me = await g.raw('GET', '/me/events');
    expect(me.status).toBe(400);
  });

  it('rejects unknown properties and a missing permission as Graph does', async () => {
    const unknown = await g.raw('POST', `/users/${adele}/events`, eventBody('x', { sendInvitations: false }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('RequestBodyRead');
    g.sim.identity.registerApp({ clientId: 'reader', clientSecret: 's', roles: ['Calendars.Read'] });
    const token = g.sim.identity.issueToken('reader', 'https://graph.microsoft.com');
    const res = await fetch(`${g.sim.baseUrl}/v1.0/users/${adele}/events`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(eventBody('x')) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Loose).error.code).toBe('ErrorAccessDenied');
  });
});
