import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventBody, startTestGraph, USERS, type TestGraph } from './support.js';

const attendee = (address: string, type = 'required') => ({ emailAddress: { address }, type });

describe('Graph simulator: meeting invitations (docs/reference/platform-facts.md section 8)', () => {
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

  it('sends no invitation for an event without attendees', async () => {
    const e = await g.client.api(`/users/${adele}/events`).post(eventBody('solo'));
    await g.client.api(`/users/${adele}/events/${e.id}`).patch({ subject: 'solo 2' });
    await g.client.api(`/users/${adele}/events/${e.id}`).delete();
    expect(await g.sim.admin.invitations()).toEqual([]);
  });

  it("records the invitation of a created meeting and puts the meeting into a simulated attendee's calendar", async () => {
    const e = await g.client.api(`/users/${adele}/events`).post(eventBody('meeting', { attendees: [attendee('bob@contoso.test'), attendee('ext@fabrikam.test', 'optional')] }));
    const [inv] = await g.sim.admin.invitations();
    expect(inv).toMatchObject({ type: 'request', trigger: 'create', fromUserId: adele, eventId: e.id, iCalUId: e.iCalUId, recipients: ['bob@contoso.test', 'ext@fabrikam.test'], byAppId: 'sync-app' });
    const bobs = await g.client.api(`/users/${bob}/events`).filter(`iCalUId eq '${e.iCalUId}'`).get();
    expect(bobs.value).toHaveLength(1);
    expect(bobs.value[0]).toMatchObject({ subject: 'meeting', isOrganizer: false, responseStatus: { response: 'none' }, organizer: { emailAddress: { address: 'adele@contoso.test' } } });
  });

  it('sends an update to all attendees when a meeting field changes, only to changed attendees when only attendees change, and nothing for personal fields', async () => {
    const e = await g.client.api(`/users/${adele}/events`).post(eventBody('m', { attendees: [attendee('bob@contoso.test'), attendee('x@fabrikam.test')] }));
    await g.client.api(`/users/${adele}/events/${e.id}`).patch({ location: { displayName: 'Room 1' } });
    await g.client.api(`/users/${adele}/events/${e.id}`).patch({ attendees: [attendee('bob@contoso.test'), attendee('x@fabrikam.test'), attendee('new@fabrikam.test')] });
    await g.client.api(`/users/${adele}/events/${e.id}`).patch({ categories: ['Tracked to Dynamics 365'], singleValueExtendedProperties: [{ id: 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name DataverseId', value: '1' }] });
    await g.client.api(`/users/${adele}/events/${e.id}`).patch({ attendees: [attendee('bob@contoso.test'), attendee('new@fabrikam.test')] });
    const log = (await g.sim.admin.invitations()).map((i) => ({ type: i.type, recipients: i.recipients, changedFields: i.changedFields }));
    expect(log).toEqual([
      { type: 'request', recipients: ['bob@contoso.test', 'x@fabrikam.test'], changedFields: [] },
      { type: 'update', recipients: ['bob@contoso.test', 'x@fabrikam.test'], changedFields: ['location', 'locations'] },
      { type: 'update', recipients: ['new@fabrikam.test'], changedFields: ['attendees'] },
      { type: 'cancellation', recipients: ['x@fabrikam.test'], changedFields: ['attendees'] },
    ]);
    const bobCopy = (await g.client.api(`/users/${bob}/events`).get()).value[0];
    expect(bobCopy.location.displayName).toBe('Room 1');
  });

  it("records cancellations when the organizer deletes or cancels, and the attendee's response when a person accepts", async () => {
    const e = await g.client.api(`/users/${adele}/events`).post(eventBody('m', { attendees: [attendee('bob@contoso.test')] }));
    const bobCopy = (await g.client.api(`/users/${bob}/events`).get()).value[0];
    await g.sim.admin.respond(bob, bobCopy.id, 'accepted');
    const organizerView = await g.client.api(`/users/${adele}/events/${e.id}`).get();
    expect(organizerView.attendees[0].status.response).toBe('accepted');
    await g.client.api(`/users/${adele}/events/${e.id}`).delete();
    const types = (await g.sim.admin.invitations()).map((i) => `${i.type}:${i.trigger}`);
    expect(types).toEqual(['request:create', 'response:respond', 'cancellation:delete']);
    const cancelled = await g.client.api(`/users/${bob}/events/${bobCopy.id}`).get();
    expect(cancelled.isCancelled).toBe(true);

    const e2 = await g.client.api(`/users/${adele}/events`).post(eventBody('m2', { attendees: [attendee('bob@contoso.test')] }));
    expect((await g.raw('POST', `/users/${adele}/events/${e2.id}/cancel`, { comment: 'sorry' })).status).toBe(202);
    expect((await g.sim.admin.invitations({ eventId: e2.id })).map((i) => i.type)).toEqual(['request', 'cancellation']);
    const copy = (await g.client.api(`/users/${bob}/events`).filter(`iCalUId eq '${e2.iCalUId}'`).get()).value[0];
    const attendeeCancel = await g.raw('POST', `/users/${bob}/events/${copy.id}/cancel`, {});
    expect(attendeeCancel.status).toBe(400);
  });

  it("changes only the attendee's copy (and sends nothing) when the attendee's copy is edited", async () => {
    await g.client.api(`/users/${adele}/events`).post(eventBody('m', { attendees: [attendee('bob@contoso.test')] }));
    const copy = (await g.client.api(`/users/${bob}/events`).get()).value[0];
    await g.client.api(`/users/${bob}/events/${copy.id}`).patch({ categories: ['Tracked to Dynamics 365'], subject: 'my title' });
    expect((await g.sim.admin.invitations()).map((i) => i.type)).toEqual(['request']);
  });
});
