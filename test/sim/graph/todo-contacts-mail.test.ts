import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGraph, USERS, type TestGraph, pluck } from './support.js';

describe('Graph simulator: To Do, contacts and mail', () => {
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

  it('gives each user a default "Tasks" list, supports list and task CRUD, keeps completedDateTime with the status, and refuses extended properties on tasks', async () => {
    const lists = await g.client.api(`/users/${adele}/todo/lists`).get();
    expect(lists.value).toEqual([{ '@odata.etag': expect.stringMatching(/^W\/"/), displayName: 'Tasks', isOwner: true, isShared: false, wellknownListName: 'defaultList', id: expect.any(String) }]);
    const defaultDelete = await g.raw('DELETE', `/users/${adele}/todo/lists/${lists.value[0].id}`);
    expect(defaultDelete.status).toBe(400);
    const list = await g.client.api(`/users/${adele}/todo/lists`).post({ displayName: 'CRM' });
    const task = await g.client.api(`/users/${adele}/todo/lists/${list.id}/tasks`).post({
      title: 'Call back',
      importance: 'high',
      dueDateTime: { dateTime: '2030-01-15T00:00:00', timeZone: 'W. Europe Standard Time' },
      linkedResources: [{ applicationName: 'Dynamics 365', externalId: 'activity-1', webUrl: 'https://org.crm.dynamics.com/x' }],
    });
    expect(task.dueDateTime).toEqual({ dateTime: '2030-01-14T23:00:00.0000000', timeZone: 'UTC' });
    expect(task.linkedResources[0]).toMatchObject({ externalId: 'activity-1', id: expect.any(String) });
    const done = await g.client.api(`/users/${adele}/todo/lists/${list.id}/tasks/${task.id}`).patch({ status: 'completed' });
    expect(done.completedDateTime.timeZone).toBe('UTC');
    const reopened = await g.client.api(`/users/${adele}/todo/lists/${list.id}/tasks/${task.id}`).patch({ status: 'waitingOnOthers' });
    expect(reopened.completedDateTime).toBeUndefined();
    const found = await g.client.api(`/users/${adele}/todo/lists/${list.id}/tasks`).filter("linkedResources/any(l: l/externalId eq 'activity-1')").expand('linkedResources').get();
    expect(pluck(found.value, 'id')).toEqual([task.id]);
    expect(found.value[0].linkedResources).toHaveLength(1);
    const ext = await g.raw('PATCH', `/users/${adele}/todo/lists/${list.id}/tasks/${task.id}`, { singleValueExtendedProperties: [{ id: 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name X', value: '1' }] });
    expect(ext.status).toBe(400);
    const badStatus = await g.raw('PATCH', `/users/${adele}/todo/lists/${list.id}/tasks/${task.id}`, { status: 'cancelled' });
    expect(badStatus.status).toBe(400);
    expect((await g.raw('DELETE', `/users/${adele}/todo/lists/${list.id}`)).status).toBe(204);
    expect((await g.raw('GET', `/users/${adele}/todo/lists/${list.id}/tasks/${task.id}`)).status).toBe(404);
  });

  it("serves contacts in the default folder (also as contactFolders('contacts')) and other folders, with the documented empty values and an e-mail filter", async () => {
    const c = await g.client.api(`/users/${adele}/contacts`).post({ givenName: 'Pavel', surname: 'Bansky', emailAddresses: [{ address: 'pavelb@fabrikam.test', name: 'Pavel Bansky' }], businessPhones: ['+1 732 555 0102'] });
    expect(c).toMatchObject({ displayName: 'Pavel Bansky', fileAs: '', personalNotes: '', homeAddress: {}, children: [], title: null, parentFolderId: expect.any(String) });
    const viaAlias = await g.client.api(`/users/${adele}/contactFolders('contacts')/contacts`).get();
    expect(pluck(viaAlias.value, 'id')).toEqual([c.id]);
    const folder = await g.client.api(`/users/${adele}/contactFolders`).post({ displayName: 'Dynamics' });
    expect(pluck((await g.client.api(`/users/${adele}/contactFolders`).get()).value, 'displayName')).toEqual(['Dynamics']);
    const inFolder = await g.client.api(`/users/${adele}/contactFolders/${folder.id}/contacts`).post({ givenName: 'Alex', emailAddresses: [{ address: 'Alex@FineArtSchool.test' }] });
    expect(inFolder.parentFolderId).toBe(folder.id);
    const byMail = await g.client.api(`/users/${adele}/contactFolders/${folder.id}/contacts`).filter("emailAddresses/any(a:a/address eq 'alex@fineartschool.test')").get();
    expect(pluck(byMail.value, 'id')).toEqual([inFolder.id]);
    const patched = await g.client.api(`/users/${adele}/contacts/${c.id}`).patch({ homeAddress: { city: 'Redmond' }, surname: 'B.' });
    expect(patched).toMatchObject({ homeAddress: { city: 'Redmond' }, displayName: 'Pavel B.' });
  });

  it('sends mail: sendMail answers 202, records the message, saves it to Sent Items and delivers it to a simulated recipient', async () => {
    const res = await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: 'Hello', body: { contentType: 'Text', content: 'Hi Bob' }, toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }] } });
    expect(res.status).toBe(202);
    const [sent] = await g.sim.admin.sentMail();
    expect(sent).toMatchObject({ from: 'adele@contoso.test', to: ['bob@contoso.test'], subject: 'Hello', byAppId: 'sync-app' });
    const inbox = await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).get();
    expect(inbox.value).toHaveLength(1);
    expect(inbox.value[0]).toMatchObject({ subject: 'Hello', isRead: false, internetMessageId: sent!.internetMessageId });
    const sentItems = await g.client.api(`/users/${adele}/mailFolders('sentitems')/messages`).get();
    expect(sentItems.value[0].isDraft).toBe(false);
    const draft = await g.client.api(`/users/${adele}/messages`).post({ subject: 'Draft', toRecipients: [{ emailAddress: { address: 'x@fabrikam.test' } }] });
    expect(draft.isDraft).toBe(true);
    expect((await g.raw('POST', `/users/${adele}/messages/${draft.id}/send`)).status).toBe(202);
    expect((await g.sim.admin.sentMail()).map((m) => m.subject)).toEqual(['Hello', 'Draft']);
  });
});
