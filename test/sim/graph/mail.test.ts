import { LargeFileUploadTask, FileUpload } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_ROLES, pluck, startTestGraph, USERS, Webhook, type Loose, type TestGraph } from './support.js';

const STAMP = 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name dxsActivityId';
const to = (address: string) => [{ emailAddress: { address } }];
const header = (m: Loose, name: string): string | undefined => (m.internetMessageHeaders as { name: string; value: string }[] | undefined)?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;

describe('Graph simulator: mail', () => {
  let g: TestGraph;
  let adele: string;
  let bob: string;
  beforeAll(async () => {
    g = await startTestGraph({}, [...ALL_ROLES, 'MailboxSettings.ReadWrite']);
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    [adele, bob] = (await g.sim.admin.seedUsers(USERS)).map((u) => u.id) as [string, string];
  });

  it('a draft sent from Drafts gets a new id in Sent Items, keeps its internetMessageId, conversation and stamp, and arrives in the recipient Inbox with headers', async () => {
    const draft = await g.client.api(`/users/${adele}/messages`).post({
      subject: 'Quote',
      body: { contentType: 'HTML', content: '<p>Hello</p>' },
      toRecipients: to('bob@contoso.test'),
      bccRecipients: to('carol@contoso.test'),
      internetMessageHeaders: [{ name: 'x-dxs-activity', value: 'a1' }],
      singleValueExtendedProperties: [{ id: STAMP, value: 'activity-1' }],
    });
    expect(draft).toMatchObject({ isDraft: true, sentDateTime: null, hasAttachments: false, conversationIndex: expect.any(String), conversationId: expect.any(String) });
    expect(draft.internetMessageHeaders).toBeUndefined();
    expect(Buffer.from(draft.conversationIndex, 'base64')).toHaveLength(22);
    await g.client.api(`/users/${adele}/messages/${draft.id}/send`).post({});
    expect((await g.raw('GET', `/users/${adele}/messages/${draft.id}`)).status).toBe(404);
    const sentItems = await g.client.api(`/users/${adele}/mailFolders/sentitems/messages`).expand(`singleValueExtendedProperties($filter=id eq '${STAMP}')`).get();
    expect(sentItems.value).toHaveLength(1);
    const sent = sentItems.value[0];
    expect(sent.id).not.toBe(draft.id);
    expect(sent).toMatchObject({ isDraft: false, internetMessageId: draft.internetMessageId, conversationId: draft.conversationId, singleValueExtendedProperties: [{ id: STAMP, value: 'activity-1' }] });
    expect(sent.sentDateTime).toEqual(expect.any(String));
    const byStamp = await g.client.api(`/users/${adele}/mailFolders('sentitems')/messages`).filter(`singleValueExtendedProperties/any(ep: ep/id eq '${STAMP}' and ep/value eq 'activity-1')`).get();
    expect(pluck(byStamp.value, 'id')).toEqual([sent.id]);
    const sentHeaders = await g.client.api(`/users/${adele}/messages/${sent.id}`).select('internetMessageHeaders').get();
    expect(sentHeaders.internetMessageHeaders).toBeUndefined();

    const inbox = await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).filter(`internetMessageId eq '${draft.internetMessageId}'`).select('id,subject,isRead,bccRecipients,internetMessageHeaders,parentFolderId,from').get();
    expect(inbox.value).toHaveLength(1);
    const received = inbox.value[0];
    expect(received).toMatchObject({ subject: 'Quote', isRead: false, bccRecipients: [], from: { emailAddress: { address: 'adele@contoso.test' } } });
    expect(header(received, 'Message-ID')).toBe(draft.internetMessageId);
    expect(header(received, 'x-dxs-activity')).toBe('a1');
    expect(header(received, 'Thread-Index')).toBe(draft.conversationIndex);
    // The Bcc recipient got a copy too; the sender's stamp did not travel.
    const carol = await g.client.api(`/users/carol@contoso.test/messages`).expand('singleValueExtendedProperties').get();
    expect(carol.value[0]).toMatchObject({ internetMessageId: draft.internetMessageId, singleValueExtendedProperties: [] });
    const [log] = await g.sim.admin.sentMail();
    expect(log).toMatchObject({ sentItemId: sent.id, internetMessageId: draft.internetMessageId, bcc: ['carol@contoso.test'] });
  });

  it('createReply, createReplyAll and createForward make drafts in the thread with In-Reply-To and References, and the delivered reply carries them', async () => {
    await g.sim.admin.act({ action: 'sendMail', user: 'bob@contoso.test', message: { subject: 'Order 42', body: { contentType: 'text', content: 'Can you quote?' }, toRecipients: to('adele@contoso.test'), ccRecipients: to('carol@contoso.test') } });
    const [original] = (await g.client.api(`/users/${adele}/mailFolders/inbox/messages`).get()).value;
    const reply = await g.client.api(`/users/${adele}/messages/${original.id}/createReply`).post({ comment: 'Yes, attached.' });
    expect(reply).toMatchObject({ isDraft: true, subject: 'RE: Order 42', conversationId: original.conversationId, toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }], ccRecipients: [] });
    expect(reply.internetMessageId).not.toBe(original.internetMessageId);
    expect(Buffer.from(reply.conversationIndex, 'base64').subarray(0, 22)).toEqual(Buffer.from(original.conversationIndex, 'base64'));
    expect(Buffer.from(reply.conversationIndex, 'base64')).toHaveLength(27);
    const unique = await g.client.api(`/users/${adele}/messages/${reply.id}`).select('uniqueBody,body').get();
    expect(unique.uniqueBody.content).toContain('Yes, attached.');
    expect(unique.uniqueBody.content).not.toContain('Can you quote?');
    expect(unique.body.content).toContain('Can you quote?');

    const all = await g.client.api(`/users/${adele}/messages/${original.id}/createReplyAll`).post({});
    expect(pluck(all.toRecipients, 'emailAddress')).toEqual([{ name: 'Bob Kelly', address: 'bob@contoso.test' }]);
    expect((all.ccRecipients as { emailAddress: { address: string } }[]).map((r) => r.emailAddress.address)).toEqual(['carol@contoso.test']);
    const fwd = await g.client.api(`/users/${adele}/messages/${original.id}/createForward`).post({ toRecipients: to('x@fabrikam.test') });
    expect(fwd).toMatchObject({ subject: 'FW: Order 42', conversationId: original.conversationId });
    expect((await g.raw('POST', `/users/${adele}/messages/${original.id}/createReply`, { comment: 'a', message: { body: { contentType: 'text', content: 'b' } } })).status).toBe(400);

    await g.client.api(`/users/${adele}/messages/${reply.id}/send`).post({});
    const back = (await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).select('internetMessageHeaders,conversationId,subject').get()).value[0];
    expect(back.conversationId).toBe(original.conversationId);
    expect(header(back, 'In-Reply-To')).toBe(original.internetMessageId);
    expect(header(back, 'References')).toBe(original.internetMessageId);
  });

  it('sendMail honours saveToSentItems:false, refuses a message without recipients without leaving a draft, and counts to the 500-recipient limit', async () => {
    expect((await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: 'quiet', toRecipients: to('bob@contoso.test') }, saveToSentItems: false })).status).toBe(202);
    expect((await g.client.api(`/users/${adele}/mailFolders/sentitems/messages`).get()).value).toEqual([]);
    expect((await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).get()).value).toHaveLength(1);
    const none = await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: 'nobody' } });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('ErrorInvalidRecipients');
    const tooMany = await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: 'many', toRecipients: Array.from({ length: 501 }, (_, i) => ({ emailAddress: { address: `r${i}@fabrikam.test` } })) } });
    expect(tooMany.status).toBe(400);
    expect((await g.client.api(`/users/${adele}/mailFolders/drafts/messages`).get()).value).toEqual([]);
    const sendAs = await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: 'as bob', from: { emailAddress: { address: 'bob@contoso.test' } }, toRecipients: to('x@fabrikam.test') } });
    expect(sendAs.status).toBe(403);
    expect(sendAs.body.error.code).toBe('ErrorSendAsDenied');
  });

  it('defers sends over 30 a minute to the Outbox and submits them when the minute frees on the simulator clock (sendRateExceeded: defer)', async () => {
    for (let i = 0; i < 31; i += 1) expect((await g.raw('POST', `/users/${adele}/sendMail`, { message: { subject: `m${i}`, toRecipients: to('bob@contoso.test') } })).status).toBe(202);
    const outbox = await g.client.api(`/users/${adele}/mailFolders/outbox/messages`).get();
    expect(pluck(outbox.value, 'subject')).toEqual(['m30']);
    expect((await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).top(100).get()).value).toHaveLength(30);
    expect((await g.sim.admin.sentMail())[30]).toMatchObject({ subject: 'm30', submittedAt: null, sentItemId: null });
    await g.sim.admin.advanceClock(61_000);
    expect((await g.client.api(`/users/${adele}/mailFolders/outbox/messages`).get()).value).toEqual([]);
    expect((await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).top(100).get()).value).toHaveLength(31);
    const last = (await g.sim.admin.sentMail())[30];
    expect(last?.submittedAt).not.toBeNull();
    expect(Date.parse(last?.submittedAt ?? '') - Date.parse(last?.at ?? '')).toBeGreaterThanOrEqual(59_000);
  });

  it('rejects sends over the message rate with 429 ErrorSubmissionQuotaExceeded and Retry-After (sendRateExceeded: reject)', async () => {
    const r = await startTestGraph({ mail: { sendRateExceeded: 'reject', messagesPerMinute: 2 } });
    try {
      const [u] = await r.sim.admin.seedUsers([{ userPrincipalName: 'dan@contoso.test' }]);
      const send = (s: string) => r.raw('POST', `/users/${u?.id ?? ''}/sendMail`, { message: { subject: s, toRecipients: to('x@fabrikam.test') } });
      expect((await send('1')).status).toBe(202);
      expect((await send('2')).status).toBe(202);
      const third = await send('3');
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('ErrorSubmissionQuotaExceeded');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await r.client.api(`/users/${u?.id ?? ''}/mailFolders/drafts/messages`).get()).value).toEqual([]);
      await r.sim.admin.advanceClock(60_001);
      expect((await send('3')).status).toBe(202);
      expect((await r.sim.admin.sentMail()).map((m) => m.subject)).toEqual(['1', '2', '3']);
    } finally {
      await r.sim.close();
    }
  });

  it('keeps the draft id for the Sent Items copy and returns its headers when configured so (sentCopyId: draft, sentCopyHeaders: full)', async () => {
    const r = await startTestGraph({ mail: { sentCopyId: 'draft', sentCopyHeaders: 'full', sentCopyExtendedProperties: 'drop' } });
    try {
      const [u] = await r.sim.admin.seedUsers([{ userPrincipalName: 'dan@contoso.test' }]);
      const id = u?.id ?? '';
      const draft = await r.client.api(`/users/${id}/messages`).post({ subject: 's', toRecipients: to('x@fabrikam.test'), singleValueExtendedProperties: [{ id: STAMP, value: 'v' }] });
      await r.client.api(`/users/${id}/messages/${draft.id}/send`).post({});
      const sent = await r.client.api(`/users/${id}/messages/${draft.id}`).select('parentFolderId,internetMessageHeaders').expand('singleValueExtendedProperties').get();
      expect(header(sent, 'Message-ID')).toBe(draft.internetMessageId);
      expect(sent.singleValueExtendedProperties).toEqual([]);
      const folder = await r.client.api(`/users/${id}/mailFolders/sentitems`).get();
      expect(sent.parentFolderId).toBe(folder.id);
    } finally {
      await r.sim.close();
    }
  });

  it('makes the Sent Items copy only sentCopyDelayMs after the send when configured so: in no folder meanwhile', async () => {
    const r = await startTestGraph({ mail: { sentCopyId: 'draft', sentCopyDelayMs: 60_000 } });
    try {
      const [u] = await r.sim.admin.seedUsers([{ userPrincipalName: 'dan@contoso.test' }]);
      const id = u?.id ?? '';
      const draft = await r.client.api(`/users/${id}/messages`).post({ subject: 's', toRecipients: to('x@fabrikam.test') });
      await r.client.api(`/users/${id}/messages/${draft.id}/send`).post({});
      expect((await r.raw('GET', `/users/${id}/messages/${draft.id}`)).status).toBe(404);
      expect((await r.client.api(`/users/${id}/mailFolders/sentitems/messages`).get()).value).toEqual([]);
      expect((await r.client.api(`/users/${id}/mailFolders/drafts/messages`).get()).value).toEqual([]);
      expect((await r.sim.admin.sentMail()).map((m) => m.sentItemId)).toEqual([null]);
      await r.sim.admin.advanceClock(60_000);
      const sent = await r.client.api(`/users/${id}/messages/${draft.id}`).select('isDraft').get();
      expect(sent.isDraft).toBe(false);
      expect((await r.sim.admin.sentMail()).map((m) => m.sentItemId)).toEqual([draft.id]);
    } finally {
      await r.sim.close();
    }
  });

  it('attaches files under 3 MB in one POST, larger ones through an upload session with the SDK LargeFileUploadTask, and reference attachments; refuses the documented wrong sizes', async () => {
    const draft = await g.client.api(`/users/${adele}/messages`).post({
      subject: 'files',
      toRecipients: to('bob@contoso.test'),
      attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'logo.png', contentType: 'image/png', contentBytes: Buffer.from('png').toString('base64'), isInline: true, contentId: 'logo' }],
    });
    expect(draft.hasAttachments).toBe(false);
    const small = await g.client.api(`/users/${adele}/messages/${draft.id}/attachments`).post({ '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt', contentBytes: Buffer.from('hello').toString('base64') });
    expect(small).toMatchObject({ '@odata.type': '#microsoft.graph.fileAttachment', name: 'a.txt', size: 5, isInline: false, contentBytes: 'aGVsbG8=' });
    expect((await g.client.api(`/users/${adele}/messages/${draft.id}`).get()).hasAttachments).toBe(true);
    const link = await g.client.api(`/users/${adele}/messages/${draft.id}/attachments`).post({ '@odata.type': '#microsoft.graph.referenceAttachment', name: 'spec.docx' });
    expect(link['@odata.type']).toBe('#microsoft.graph.referenceAttachment');
    const tooBig = await g.raw('POST', `/users/${adele}/messages/${draft.id}/attachments`, { '@odata.type': '#microsoft.graph.fileAttachment', name: 'big', contentBytes: Buffer.alloc(3 * 1024 * 1024).toString('base64') });
    expect(tooBig.status).toBe(413);
    const tooSmall = await g.raw('POST', `/users/${adele}/messages/${draft.id}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'x', size: 1000 } });
    expect(tooSmall.body.error.code).toBe('ErrorAttachmentSizeShouldNotBeLessThanMinimumSize');

    const bytes = Buffer.alloc(5 * 1024 * 1024 + 17, 7);
    bytes[bytes.length - 1] = 9;
    const session = await LargeFileUploadTask.createUploadSession(g.client, `/users/${adele}/messages/${draft.id}/attachments/createUploadSession`, {
      AttachmentItem: { attachmentType: 'file', name: 'report.pdf', size: bytes.length, contentType: 'application/pdf' },
    });
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const task = new LargeFileUploadTask(g.client, new FileUpload(ab, 'report.pdf', bytes.length), session, { rangeSize: 2 * 1024 * 1024 });
    const result = await task.upload();
    const attachmentId = /Attachments\('([^']+)'\)/.exec(result.location ?? '')?.[1] ?? '';
    expect(attachmentId).not.toBe('');
    const meta = await g.client.api(`/users/${adele}/messages/${draft.id}/attachments/${attachmentId}`).select('name,size,contentType').get();
    expect(meta).toMatchObject({ name: 'report.pdf', size: bytes.length, contentType: 'application/pdf' });
    expect(meta.contentBytes).toBeUndefined();
    const rawRes = await fetch(`${g.sim.baseUrl}/v1.0/users/${adele}/messages/${draft.id}/attachments/${attachmentId}/$value`, { headers: { Authorization: `Bearer ${await g.token()}` } });
    expect(Buffer.from(await rawRes.arrayBuffer()).equals(bytes)).toBe(true);

    // A PUT out of order is refused; the session URL carries its own authorisation.
    const second = await LargeFileUploadTask.createUploadSession(g.client, `/users/${adele}/messages/${draft.id}/attachments/createUploadSession`, { AttachmentItem: { attachmentType: 'file', name: 'b', size: 4 * 1024 * 1024 } });
    const outOfOrder = await fetch(second.url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `bytes 10-19/${4 * 1024 * 1024}` }, body: Buffer.alloc(10) });
    expect(outOfOrder.status).toBe(416);
    expect((await fetch(second.url.replace(/authtoken=[^&]+/, 'authtoken=wrong'), { method: 'PUT', body: Buffer.alloc(1) })).status).toBe(404);

    await g.client.api(`/users/${adele}/messages/${draft.id}/send`).post({});
    const got = (await g.client.api(`/users/${bob}/mailFolders/inbox/messages`).get()).value[0];
    const list = await g.client.api(`/users/${bob}/messages/${got.id}/attachments`).select('name,size,isInline').get();
    expect(pluck(list.value, 'name')).toEqual(['logo.png', 'a.txt', 'spec.docx', 'report.pdf']);
  });

  it('moves a message to another folder with a new id (the same id with Prefer IdType="ImmutableId"), copies it, and reports both in per-folder delta', async () => {
    await g.sim.admin.act({ action: 'create', user: 'adele@contoso.test', kind: 'message', body: { subject: 'in', toRecipients: to('adele@contoso.test') } });
    const inboxDelta = await g.client.api(`/users/${adele}/mailFolders/inbox/messages/delta`).select('subject').get();
    const [m] = inboxDelta.value;
    const archived = await g.client.api(`/users/${adele}/messages/${m.id}/move`).post({ destinationId: 'archive' });
    expect(archived.id).not.toBe(m.id);
    expect((await g.raw('GET', `/users/${adele}/messages/${m.id}`)).status).toBe(404);
    const next = await g.client.api(inboxDelta['@odata.deltaLink']).get();
    expect(next.value).toEqual([{ '@odata.type': '#microsoft.graph.message', id: m.id, '@removed': { reason: 'deleted' } }]);
    const kept = await g.client.api(`/users/${adele}/messages/${archived.id}/move`).header('Prefer', 'IdType="ImmutableId"').post({ destinationId: 'deleteditems' });
    expect(kept.id).toBe(archived.id);
    const copy = await g.client.api(`/users/${adele}/messages/${kept.id}/copy`).post({ destinationId: 'inbox' });
    expect(copy.id).not.toBe(kept.id);
    expect(copy.internetMessageId).toBe(kept.internetMessageId);
    const after = await g.client.api(next['@odata.deltaLink']).get();
    expect(pluck(after.value, 'id')).toEqual([copy.id]);
    expect((await g.raw('POST', `/users/${adele}/messages/${copy.id}/move`, { destinationId: 'nowhere' })).status).toBe(404);
  });

  it('notifies subscriptions on /messages and on one folder: a folder subscription hears only its folder', async () => {
    const hook = await new Webhook().start();
    try {
      const expiry = new Date(Date.parse(await g.sim.admin.now()) + 3600_000).toISOString();
      const all = await g.client.api('/subscriptions').post({ changeType: 'created,updated,deleted', notificationUrl: hook.url, resource: `/users/${adele}/messages`, expirationDateTime: expiry, clientState: 'all' });
      const sent = await g.client.api('/subscriptions').post({ changeType: 'created', notificationUrl: hook.url, resource: `/users/${adele}/mailFolders('sentitems')/messages`, expirationDateTime: expiry, clientState: 'sent' });
      await g.client.api(`/users/${adele}/sendMail`).post({ message: { subject: 'n', toRecipients: to('x@fabrikam.test') } });
      await g.sim.admin.notificationsSettled();
      const items = hook.items();
      const sentCopy = (await g.client.api(`/users/${adele}/mailFolders/sentitems/messages`).get()).value[0];
      expect(items.filter((i: Loose) => i.subscriptionId === sent.id).map((i: Loose): unknown[] => [i.changeType as string, i.resourceData.id as string])).toEqual([['created', sentCopy.id]]);
      const allItems = items.filter((i: Loose) => i.subscriptionId === all.id);
      expect(allItems.map((i: Loose): string => i.changeType as string)).toEqual(['created', 'deleted', 'created']);
      expect(allItems[2].resource).toBe(`Users/${adele}/Messages/${sentCopy.id}`);
    } finally {
      await hook.close();
    }
  });

  it('keeps the master category list: six defaults, create with a preset colour, duplicate names refused, displayName fixed, items carry names', async () => {
    const list = await g.client.api(`/users/${adele}/outlook/masterCategories`).get();
    expect(pluck(list.value, 'displayName')).toEqual(['Red category', 'Orange category', 'Yellow category', 'Green category', 'Blue category', 'Purple category']);
    const tracked = await g.client.api(`/users/${adele}/outlook/masterCategories`).post({ displayName: 'Tracked to Dynamics 365', color: 'preset9' });
    expect(tracked).toMatchObject({ id: expect.any(String), displayName: 'Tracked to Dynamics 365', color: 'preset9' });
    expect((await g.raw('POST', `/users/${adele}/outlook/masterCategories`, { displayName: 'tracked to dynamics 365' })).status).toBe(409);
    expect((await g.raw('PATCH', `/users/${adele}/outlook/masterCategories/${tracked.id}`, { displayName: 'Other' })).status).toBe(400);
    expect((await g.client.api(`/users/${adele}/outlook/masterCategories/${tracked.id}`).patch({ color: 'preset2' })).color).toBe('preset2');
    expect((await g.raw('POST', `/users/${adele}/outlook/masterCategories`, { displayName: 'x', color: 'purple' })).status).toBe(400);
    const m = await g.sim.admin.act({ action: 'create', user: 'adele@contoso.test', kind: 'message', body: { subject: 'c' } });
    await g.client.api(`/users/${adele}/messages/${String(m.id)}`).patch({ categories: ['Tracked to Dynamics 365'] });
    const found = await g.client.api(`/users/${adele}/messages`).filter("categories/any(c:c eq 'Tracked to Dynamics 365')").select('categories').get();
    expect(found.value).toEqual([expect.objectContaining({ id: m.id, categories: ['Tracked to Dynamics 365'] })]);
    expect((await g.raw('DELETE', `/users/${adele}/outlook/masterCategories/${tracked.id}`)).status).toBe(204);
    // Deleting the category from the list leaves the name on the item, as Outlook does.
    expect((await g.client.api(`/users/${adele}/messages/${String(m.id)}`).get()).categories).toEqual(['Tracked to Dynamics 365']);
  });
});
