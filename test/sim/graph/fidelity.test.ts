// Shape fidelity: the simulator's answers against Microsoft's documented example payloads
// (test/fixtures/microsoft/) and the property names of @microsoft/microsoft-graph-types. Keys, JSON types
// and formats are compared, never the samples' placeholder values.
import { readFileSync } from 'node:fs';
import type { Contact, Event, Message, Subscription, TodoTask, TodoTaskList } from '@microsoft/microsoft-graph-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGraph, USERS, Webhook, type TestGraph, type Loose } from './support.js';

const sample = (name: string): Loose => JSON.parse(readFileSync(new URL(`../../fixtures/microsoft/${name}`, import.meta.url), 'utf8'));

type KeySet<T> = { [K in keyof Required<T>]: true };
// The compiler checks these lists against the Graph types: a missing or an extra name fails `tsc`.
const EVENT_KEYS: KeySet<Event> = {
  id: true, categories: true, changeKey: true, createdDateTime: true, lastModifiedDateTime: true, allowNewTimeProposals: true, attendees: true, body: true, bodyPreview: true,
  cancelledOccurrences: true, end: true, hasAttachments: true, hideAttendees: true, iCalUId: true, importance: true, isAllDay: true, isCancelled: true, isDraft: true,
  isOnlineMeeting: true, isOrganizer: true, isReminderOn: true, location: true, locations: true, onlineMeeting: true, onlineMeetingProvider: true, onlineMeetingUrl: true,
  organizer: true, originalEndTimeZone: true, originalStart: true, originalStartTimeZone: true, recurrence: true, reminderMinutesBeforeStart: true, responseRequested: true,
  responseStatus: true, sensitivity: true, seriesMasterId: true, showAs: true, start: true, subject: true, transactionId: true, type: true, webLink: true, attachments: true,
  calendar: true, exceptionOccurrences: true, extensions: true, instances: true, multiValueExtendedProperties: true, singleValueExtendedProperties: true,
};
const CONTACT_KEYS: KeySet<Contact> = {
  id: true, categories: true, changeKey: true, createdDateTime: true, lastModifiedDateTime: true, assistantName: true, birthday: true, businessAddress: true, businessHomePage: true,
  businessPhones: true, children: true, companyName: true, department: true, displayName: true, emailAddresses: true, fileAs: true, generation: true, givenName: true,
  homeAddress: true, homePhones: true, imAddresses: true, initials: true, jobTitle: true, manager: true, middleName: true, mobilePhone: true, nickName: true, officeLocation: true,
  otherAddress: true, parentFolderId: true, personalNotes: true, profession: true, spouseName: true, surname: true, title: true, yomiCompanyName: true, yomiGivenName: true,
  yomiSurname: true, extensions: true, multiValueExtendedProperties: true, photo: true, singleValueExtendedProperties: true,
};
const TASK_KEYS: KeySet<TodoTask> = {
  id: true, body: true, bodyLastModifiedDateTime: true, categories: true, completedDateTime: true, createdDateTime: true, dueDateTime: true, hasAttachments: true, importance: true,
  isReminderOn: true, lastModifiedDateTime: true, recurrence: true, reminderDateTime: true, startDateTime: true, status: true, title: true, attachments: true,
  attachmentSessions: true, checklistItems: true, extensions: true, linkedResources: true,
};
const LIST_KEYS: KeySet<TodoTaskList> = { id: true, displayName: true, isOwner: true, isShared: true, wellknownListName: true, extensions: true, tasks: true };
const MESSAGE_KEYS: KeySet<Message> = {
  id: true, categories: true, changeKey: true, createdDateTime: true, lastModifiedDateTime: true, bccRecipients: true, body: true, bodyPreview: true, ccRecipients: true,
  conversationId: true, conversationIndex: true, flag: true, from: true, hasAttachments: true, importance: true, inferenceClassification: true, internetMessageHeaders: true,
  internetMessageId: true, isDeliveryReceiptRequested: true, isDraft: true, isRead: true, isReadReceiptRequested: true, parentFolderId: true, receivedDateTime: true, replyTo: true,
  sender: true, sentDateTime: true, subject: true, toRecipients: true, uniqueBody: true, webLink: true, attachments: true, extensions: true, multiValueExtendedProperties: true,
  singleValueExtendedProperties: true,
};
const SUBSCRIPTION_KEYS: KeySet<Subscription> = {
  id: true, applicationId: true, changeType: true, clientState: true, creatorId: true, encryptionCertificate: true, encryptionCertificateId: true, expirationDateTime: true,
  includeResourceData: true, latestSupportedTlsVersion: true, lifecycleNotificationUrl: true, notificationQueryOptions: true, notificationUrl: true, notificationUrlAppId: true, resource: true,
};

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every property the simulator returns is a property of the Graph type (annotations aside). */
function expectTypedKeys(item: Record<string, unknown>, keys: Record<string, true>, label: string, extra: string[] = []): void {
  for (const k of Object.keys(item)) if (!k.startsWith('@odata.') && !extra.includes(k)) expect(keys, `${label}.${k}`).toHaveProperty(k);
}

/** Every key of the documented sample is present with the same JSON type (null in the sample allows anything). */
function expectSampleShape(actual: unknown, documented: unknown, path = '$'): void {
  if (documented === null) return;
  expect(kind(actual), path).toBe(kind(documented));
  if (Array.isArray(documented) && Array.isArray(actual) && documented.length > 0 && actual.length > 0) expectSampleShape(actual[0], documented[0], `${path}[0]`);
  else if (kind(documented) === 'object') {
    for (const [k, v] of Object.entries(documented as Record<string, unknown>)) {
      expect(actual, `${path}.${k}`).toHaveProperty([k]);
      expectSampleShape((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  }
}

const TS7 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;
const LOCAL7 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}$/;

describe('Graph simulator: fidelity to the documented payloads and the Graph types', () => {
  let g: TestGraph;
  let user: string;
  beforeAll(async () => {
    g = await startTestGraph();
    user = (await g.sim.admin.seedUsers(USERS))[0]!.id;
  });
  afterAll(async () => g.sim.close());

  it('answers the documented event create request like the documented response (Prefer outlook.timezone)', async () => {
    const created = await g.client.api(`/users/${user}/events`).header('Prefer', 'outlook.timezone="Pacific Standard Time"').post(sample('graph-event-create-request.json'));
    const documented = sample('graph-event-create-response.json');
    expectSampleShape(created, documented);
    expectTypedKeys(created, EVENT_KEYS, 'event');
    expect(created.createdDateTime).toMatch(TS7);
    expect(created.start).toEqual({ dateTime: '2017-04-15T12:00:00.0000000', timeZone: 'Pacific Standard Time' });
    expect(created.start.dateTime).toMatch(LOCAL7);
    expect(created.body.contentType).toBe('html');
    expect(created.iCalUId).toMatch(/^040000008200E00074C5B7101A82E008[0-9A-F]+$/);
    expect(created.responseStatus).toEqual({ response: 'organizer', time: '0001-01-01T00:00:00Z' });
    expect(created.attendees[0]).toEqual({ type: 'required', status: { response: 'none', time: '0001-01-01T00:00:00Z' }, emailAddress: { name: 'Samantha Booth', address: 'samanthab@contoso.onmicrosoft.com' } });
    expect(created.location).toEqual(documented.location);
  });

  it('pages calendarView/delta like the documented pages, including the @removed entry', async () => {
    const first = await g.client.api(`/users/${user}/calendarView/delta?startDateTime=2017-04-01T00:00:00Z&endDateTime=2017-05-01T00:00:00Z`).header('Prefer', 'odata.maxpagesize=2').get();
    const documentedPage = sample('graph-event-calendarview-delta-page.json');
    expect(Object.keys(first).sort()).toEqual(Object.keys(sample('graph-event-calendarview-delta-final-page.json')).sort());
    expectSampleShape(first.value[0], documentedPage.value[0]);
    expect(first['@odata.context']).toMatch(/\$metadata#Collection\(event\)$/);
    await g.client.api(`/users/${user}/events/${first.value[0].id}`).delete();
    const next = await g.client.api(first['@odata.deltaLink']).get();
    const removed = sample('graph-event-calendarview-delta-incremental-removed.json').value[0];
    expect(Object.keys(next.value[0])).toEqual(Object.keys(removed));
    expect(next.value[0]['@removed']).toEqual({ reason: 'deleted' });
  });

  it('answers the documented contact create request with the documented full contact shape', async () => {
    const created = await g.client.api(`/users/${user}/contacts`).post(sample('graph-contact-create-request.json'));
    expectSampleShape(created, sample('graph-contact-create-response.json'));
    const got = await g.client.api(`/users/${user}/contacts/${created.id}`).get();
    const documented = sample('graph-contact.json');
    expect(Object.keys(got).sort()).toEqual(Object.keys(documented).sort());
    expectSampleShape(got, documented);
    expectTypedKeys(got, CONTACT_KEYS, 'contact');
    expect(got.createdDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('answers the documented todoTask create request like the documented task, and delta pages like the documented page', async () => {
    const lists = await g.client.api(`/users/${user}/todo/lists`).get();
    expectTypedKeys(lists.value[0], LIST_KEYS, 'todoTaskList');
    const listId = lists.value[0].id;
    const created = await g.client.api(`/users/${user}/todo/lists/${listId}/tasks`).post(sample('graph-todotask-create-request.json'));
    expectSampleShape(created, sample('graph-todotask.json'));
    expectTypedKeys(created, TASK_KEYS, 'todoTask');
    expect(created.createdDateTime).toMatch(TS7);
    const delta = await g.client.api(`/users/${user}/todo/lists/${listId}/tasks/delta`).get();
    const documented = sample('graph-todotask-delta-page.json');
    expect(Object.keys(delta)).toEqual(expect.arrayContaining(Object.keys(documented)));
    expectSampleShape(delta.value[0], documented.value[0]);
  });

  it('shapes errors, throttling, batches and messages as documented', async () => {
    const missing = await g.raw('GET', `/users/${user}/events/nope`);
    expect(Object.keys(missing.body.error).sort()).toEqual(Object.keys(sample('graph-error-generic.json').error).sort());
    expect(Object.keys(missing.body.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
    const batch = await g.client.api('/$batch').post({ requests: [{ id: '1', method: 'GET', url: `/users/${user}/events?$top=1` }, { id: '2', method: 'DELETE', url: `/users/${user}/events/nope` }] });
    const documented = sample('graph-batch-response.json');
    for (const r of batch.responses) for (const k of ['id', 'status', 'body']) expect(r).toHaveProperty(k);
    expect(Object.keys(batch)).toEqual(Object.keys(documented));
    const msg = await g.client.api(`/users/${user}/messages`).post({ subject: 'x', toRecipients: [{ emailAddress: { address: 'a@b.test' } }] });
    expectTypedKeys(msg, MESSAGE_KEYS, 'message');
  });

  it('answers subscriptions with Graph subscription properties only (notificationContentType, shown by the documented sample, aside)', async () => {
    const hook = await new Webhook().start();
    try {
      const expirationDateTime = new Date(Date.parse(await g.sim.admin.now()) + 3600_000).toISOString();
      const sub = await g.client.api('/subscriptions').post({ ...sample('graph-subscription-create-request.json'), resource: `/users/${user}/messages`, notificationUrl: hook.url, expirationDateTime });
      expectTypedKeys(sub, SUBSCRIPTION_KEYS, 'subscription', ['notificationContentType']);
      expectSampleShape(sub, sample('graph-subscription-create-response.json'));
      const listed = await g.client.api('/subscriptions').get();
      expectTypedKeys(listed.value[0], SUBSCRIPTION_KEYS, 'listed subscription', ['notificationContentType']);
    } finally {
      await hook.close();
    }
  });
});
