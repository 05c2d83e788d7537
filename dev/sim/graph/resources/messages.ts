// Mail as the message resource describes it (https://learn.microsoft.com/graph/api/resources/message): messages in
// the well-known folders (inbox, drafts, sentitems, deleteditems, outbox, junkemail, archive), create (a draft),
// get/list/update/delete, move and copy, attachments (attachments.ts), createReply/createReplyAll/createForward
// drafts threaded to the original (mailThreading.ts), reply/replyAll/forward, POST /messages/{id}/send and
// POST /sendMail (https://learn.microsoft.com/graph/api/user-sendmail: 202 Accepted, saveToSentItems default true).
// A sent message leaves Drafts; its copy in Sent Items is a new item; each recipient that is a mailbox of the tenant
// gets a copy in its Inbox with the same internetMessageId. Exchange's sending limits (sendingLimits.ts) decide when
// a message is submitted. Every sent message is recorded for inspection.
import { z } from 'zod';
import type { TimeSource } from '../clock.js';
import { GraphError } from '../graphError.js';
import { DEFAULT_MAIL_BEHAVIOUR, type MailBehaviour } from '../options.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { utcTimestamp0 } from '../timeZones.js';
import { collectionKeys, type Actor, type World } from '../world.js';
import { attachmentInput, parseAttachment, UploadSessions, type AttachmentData, type UploadSession } from './attachments.js';
import {
  applyExtendedProperties,
  bodyAsHtml,
  bodyPreview,
  checkIfMatch,
  extendedPropertiesInput,
  extendedPropertyKeys,
  htmlToText,
  itemBodyInput,
  parseBody,
  recipientInput,
  rejectUnknownProperties,
  type ResourceSpec,
} from './common.js';
import { MasterCategories } from './masterCategories.js';
import { childConversationIndex, newConversationIndex, prefixedSubject, replyReferences } from './mailThreading.js';
import { SendingLimits } from './sendingLimits.js';

type Recipient = { emailAddress: { name: string; address: string } };
type Body = { contentType: 'text' | 'html'; content: string };

/** Where a message came from: its headers depend on it (options.ts MailBehaviour.sentCopyHeaders). */
export type MessageOrigin = 'draft' | 'sent' | 'received' | 'stored';

export interface MessageData {
  subject: string;
  body: Body;
  /** The part of the body unique to this message (a reply's own text); null = the whole body. */
  uniqueBody: Body | null;
  from: Recipient | null;
  sender: Recipient | null;
  toRecipients: Recipient[];
  ccRecipients: Recipient[];
  bccRecipients: Recipient[];
  replyTo: Recipient[];
  isRead: boolean;
  isDraft: boolean;
  importance: string;
  categories: string[];
  internetMessageId: string;
  conversationId: string;
  /** Thread-Index bytes, base64. */
  conversationIndex: string;
  inReplyTo: string | null;
  references: string[];
  /** Custom `x-` headers given when the message was created. */
  customHeaders: { name: string; value: string }[];
  attachments: AttachmentData[];
  origin: MessageOrigin;
  /** internetMessageHeaders are not returned (a draft or Sent Items copy under sentCopyHeaders 'none'). */
  headersHidden: boolean;
  receivedAt: number;
  sentAt: number | null;
  flagStatus: string;
}
export type MessageRecord = ItemRecord<MessageData>;

/** One message handed to Exchange for delivery. */
export interface SentMailRecord {
  sequence: number;
  /** When the send was asked for. */
  at: string;
  /** When Exchange submitted it (later than `at` when the message rate made it wait in the Outbox); null while waiting. */
  submittedAt: string | null;
  fromUserId: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  internetMessageId: string;
  /** Id of the Sent Items copy (null when saveToSentItems was false or the message still waits). */
  sentItemId: string | null;
  byAppId: string | null;
}

const headerInput = z.object({ name: z.string(), value: z.string() });
const messageInput = z.object({
  subject: z.string().nullable().optional(),
  body: itemBodyInput.nullable().optional(),
  toRecipients: z.array(recipientInput).nullable().optional(),
  ccRecipients: z.array(recipientInput).nullable().optional(),
  bccRecipients: z.array(recipientInput).nullable().optional(),
  replyTo: z.array(recipientInput).nullable().optional(),
  from: recipientInput.nullable().optional(),
  sender: recipientInput.nullable().optional(),
  isRead: z.boolean().optional(),
  importance: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['low', 'normal', 'high']))
    .optional(),
  categories: z.array(z.string()).nullable().optional(),
  flag: z.object({ flagStatus: z.enum(['notFlagged', 'complete', 'flagged']) }).optional(),
  internetMessageId: z.string().optional(),
  internetMessageHeaders: z.array(headerInput).nullable().optional(),
  attachments: z.array(attachmentInput.passthrough()).nullable().optional(),
  singleValueExtendedProperties: extendedPropertiesInput.optional(),
});
type MessageInput = z.infer<typeof messageInput>;
const KNOWN = new Set([
  ...Object.keys(messageInput.shape),
  'id',
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'bodyPreview',
  'isDraft',
  'hasAttachments',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'webLink',
  'receivedDateTime',
  'sentDateTime',
  'uniqueBody',
  'inferenceClassification',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
]);
const MESSAGE_PROPS = [
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'webLink',
  'inferenceClassification',
  'body',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
  'internetMessageHeaders',
  'uniqueBody',
];

const rfc2822Date = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');
const mailbox = (r: Recipient) => (r.emailAddress.name && r.emailAddress.name !== r.emailAddress.address ? `${r.emailAddress.name} <${r.emailAddress.address}>` : r.emailAddress.address);

/** The RFC 5322 headers of a message as Graph lists them in internetMessageHeaders. */
function headersOf(record: MessageRecord): { name: string; value: string }[] | undefined {
  const d = record.data;
  if (d.headersHidden) return undefined;
  const h: { name: string; value: string }[] = [];
  h.push({ name: 'Received', value: `from sim.graph.local by sim.graph.local with HTTPS; ${rfc2822Date(d.sentAt ?? d.receivedAt)}` });
  if (d.from) h.push({ name: 'From', value: mailbox(d.from) });
  if (d.toRecipients.length) h.push({ name: 'To', value: d.toRecipients.map(mailbox).join(', ') });
  if (d.ccRecipients.length) h.push({ name: 'CC', value: d.ccRecipients.map(mailbox).join(', ') });
  h.push({ name: 'Subject', value: d.subject });
  h.push({ name: 'Thread-Topic', value: d.subject.replace(/^((RE|FW|AW|WG):\s*)+/i, '') });
  h.push({ name: 'Thread-Index', value: d.conversationIndex });
  h.push({ name: 'Date', value: rfc2822Date(d.sentAt ?? d.receivedAt) });
  h.push({ name: 'Message-ID', value: d.internetMessageId });
  if (d.references.length) h.push({ name: 'References', value: d.references.join(' ') });
  if (d.inReplyTo) h.push({ name: 'In-Reply-To', value: d.inReplyTo });
  h.push({ name: 'MIME-Version', value: '1.0' });
  h.push({ name: 'Content-Type', value: d.attachments.length ? 'multipart/mixed' : 'text/html; charset="utf-8"' });
  h.push(...d.customHeaders);
  return h;
}

export const messageSpec: ResourceSpec = {
  typeName: 'message',
  etag: true,
  properties: new Set(MESSAGE_PROPS.map((p) => p.toLowerCase())),
  view(record) {
    const d = (record as MessageRecord).data;
    return {
      id: record.id,
      createdDateTime: utcTimestamp0(record.createdAt),
      lastModifiedDateTime: utcTimestamp0(record.modifiedAt),
      changeKey: record.changeKey,
      categories: [...d.categories],
      receivedDateTime: utcTimestamp0(d.receivedAt),
      sentDateTime: d.sentAt === null ? null : utcTimestamp0(d.sentAt),
      // "hasAttachments ... doesn't include inline attachments" (message resource).
      hasAttachments: d.attachments.some((a) => !a.isInline),
      internetMessageId: d.internetMessageId,
      subject: d.subject,
      bodyPreview: bodyPreview(d.body),
      importance: d.importance,
      parentFolderId: record.parentId,
      conversationId: d.conversationId,
      conversationIndex: d.conversationIndex,
      isDeliveryReceiptRequested: false,
      isReadReceiptRequested: false,
      isRead: d.isRead,
      isDraft: d.isDraft,
      webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(record.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
      inferenceClassification: 'focused',
      body: bodyAsHtml(d.body),
      sender: d.sender,
      from: d.from,
      toRecipients: d.toRecipients,
      ccRecipients: d.ccRecipients,
      bccRecipients: d.bccRecipients,
      replyTo: d.replyTo,
      flag: { flagStatus: d.flagStatus },
    };
  },
  adjust(out, record, opts) {
    const d = (record as MessageRecord).data;
    if (opts.bodyAsText && 'body' in out) out.body = { contentType: 'text', content: d.body.contentType === 'html' ? htmlToText(d.body.content) : d.body.content };
  },
  // Both are returned only through $select (message resource: internetMessageHeaders "Returned only on applying a
  // $select query option"; uniqueBody "By default, this property isn't returned").
  selectOnly: {
    internetMessageHeaders: (record) => headersOf(record as MessageRecord),
    uniqueBody: (record) => bodyAsHtml((record as MessageRecord).data.uniqueBody ?? (record as MessageRecord).data.body),
  },
};

export const mailFolderSpec: ResourceSpec = {
  typeName: 'mailFolder',
  etag: false,
  properties: new Set(['displayname', 'parentfolderid', 'childfoldercount', 'unreaditemcount', 'totalitemcount', 'ishidden']),
  view(record) {
    return { id: record.id, displayName: (record.data as { displayName: string }).displayName, parentFolderId: record.userId, childFolderCount: 0, unreadItemCount: 0, totalItemCount: 0, isHidden: false };
  },
};

const toRecipient = (r: { emailAddress: { address?: string | null; name?: string | null } }): Recipient => ({ emailAddress: { name: r.emailAddress.name ?? r.emailAddress.address ?? '', address: r.emailAddress.address ?? '' } });
const sameAddress = (a: Recipient, b: string) => a.emailAddress.address.toLowerCase() === b.toLowerCase();
const cloneAttachment = (a: AttachmentData, id: string): AttachmentData => ({ ...a, id, bytes: a.bytes ? Buffer.from(a.bytes) : null });

interface DeferredSend {
  userId: string;
  recordId: string;
  at: number;
  saveToSentItems: boolean;
  actor: Actor;
  log: SentMailRecord;
}

/** A Sent Items copy not yet made (`sentCopyDelayMs`). */
interface PendingCopy {
  userId: string;
  at: number;
  insert: (mb: Mailbox) => void;
}

/** Mail rules. */
export class MessageService {
  private readonly sent: SentMailRecord[] = [];
  private readonly deferred: DeferredSend[] = [];
  private readonly pendingCopies: PendingCopy[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly limits: SendingLimits;
  readonly uploads: UploadSessions;
  readonly categories: MasterCategories;

  constructor(
    private readonly world: World,
    private readonly behaviour: () => MailBehaviour = () => DEFAULT_MAIL_BEHAVIOUR,
    baseUrl: () => string = () => 'https://127.0.0.1',
  ) {
    this.limits = new SendingLimits(behaviour);
    this.categories = new MasterCategories(() => world.guid());
    const clock: TimeSource = world.clock;
    this.uploads = new UploadSessions(
      { complete: (s, bytes) => this.completeUpload(s, bytes), now: () => clock.now(), baseUrl, tenantId: world.tenantId },
      (n) => world.randomToken(n),
    );
  }

  sentMail(): SentMailRecord[] {
    this.pump();
    return this.sent.map((s) => ({ ...s }));
  }

  clear(): void {
    this.sent.length = 0;
    this.deferred.length = 0;
    this.pendingCopies.length = 0;
    this.limits.reset();
    this.uploads.reset();
    this.categories.reset();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  /** Resolves a folder id or well-known name (inbox, drafts, sentitems, deleteditems, outbox, junkemail, archive). */
  folderId(mb: Mailbox, idOrName: string): string {
    const wk = mb.mailFolders.get(idOrName.toLowerCase());
    if (wk) return wk;
    for (const id of mb.mailFolders.values()) if (id === idOrName) return id;
    throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  }

  folderKey(mb: Mailbox, folderId: string): string {
    return collectionKeys.messages(mb.user.id, folderId);
  }

  find(mb: Mailbox, id: string): MessageRecord {
    const r = this.world.items.get(id);
    if (!r || r.kind !== 'message' || r.userId !== mb.user.id) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return r as MessageRecord;
  }

  indexKeys(record: Pick<MessageRecord, 'data' | 'ext'>): string[] {
    return [
      ...record.data.categories.map((c) => `cat:${c.toLowerCase()}`),
      `imid:${record.data.internetMessageId.toLowerCase()}`,
      `conv:${record.data.conversationId.toLowerCase()}`,
      ...extendedPropertyKeys(record.ext),
    ];
  }

  /** POST /messages (a draft in Drafts) or /mailFolders/{id}/messages. */
  create(mb: Mailbox, folderId: string, body: unknown, actor: Actor, overrides: Partial<MessageData> = {}): MessageRecord {
    const input = this.parse(body);
    const now = this.world.clock.now();
    const me: Recipient = { emailAddress: { name: mb.user.displayName, address: mb.user.mail } };
    const isDraft = folderId === mb.mailFolders.get('drafts');
    const data: MessageData = {
      subject: input.subject ?? '',
      body: { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' },
      uniqueBody: null,
      from: input.from ? toRecipient(input.from) : me,
      sender: input.sender ? toRecipient(input.sender) : input.from ? toRecipient(input.from) : me,
      toRecipients: (input.toRecipients ?? []).map(toRecipient),
      ccRecipients: (input.ccRecipients ?? []).map(toRecipient),
      bccRecipients: (input.bccRecipients ?? []).map(toRecipient),
      replyTo: (input.replyTo ?? []).map(toRecipient),
      isRead: input.isRead ?? true,
      isDraft,
      importance: input.importance ?? 'normal',
      categories: input.categories ?? [],
      internetMessageId: input.internetMessageId ?? this.newInternetMessageId(),
      conversationId: `AAQkA${this.world.randomToken(24)}=`,
      conversationIndex: newConversationIndex(now, Buffer.from(this.world.randomToken(16), 'base64url')),
      inReplyTo: null,
      references: [],
      customHeaders: this.customHeaders(input.internetMessageHeaders),
      attachments: this.attachmentsOf(input, now),
      origin: isDraft ? 'draft' : 'stored',
      headersHidden: isDraft && this.behaviour().sentCopyHeaders === 'none',
      receivedAt: now,
      sentAt: null,
      flagStatus: input.flag?.flagStatus ?? 'notFlagged',
      ...overrides,
    };
    this.checkSize(data.attachments);
    const ext = new Map<string, { id: string; value: string }>();
    applyExtendedProperties(ext, input.singleValueExtendedProperties);
    const coll = this.world.collection(this.folderKey(mb, folderId), 'message', mb.user.id, folderId);
    return this.world.insert({ kind: 'message', userId: mb.user.id, collection: coll, data, ext, indexKeys: this.indexKeys({ data, ext }), actor });
  }

  update(record: MessageRecord, body: unknown, actor: Actor, ifMatch?: string): MessageRecord {
    checkIfMatch(ifMatch, record);
    const input = this.parse(body);
    const d = { ...record.data };
    this.applyInput(d, input, record.ext);
    record.data = d;
    this.world.touch(record, this.indexKeys(record), actor);
    return record;
  }

  delete(record: MessageRecord, actor: Actor, ifMatch?: string): void {
    checkIfMatch(ifMatch, record);
    this.world.remove(record, actor);
  }

  /**
   * POST /messages/{id}/move and /copy (https://learn.microsoft.com/graph/api/message-move): 201 with the message in
   * its new folder. A moved message gets a new id unless the request asked for immutable ids
   * (https://learn.microsoft.com/graph/outlook-immutable-id); a copy is always a new item.
   */
  moveOrCopy(mb: Mailbox, record: MessageRecord, body: unknown, actor: Actor, mode: 'move' | 'copy', immutableId: boolean): MessageRecord {
    const input = parseBody(z.object({ destinationId: z.string().min(1, 'destinationId is required') }), body, 'message');
    const dest = this.folderId(mb, input.destinationId);
    const data: MessageData = { ...record.data, categories: [...record.data.categories], attachments: record.data.attachments.map((a) => cloneAttachment(a, this.attachmentId())) };
    const ext = new Map(record.ext);
    if (mode === 'move') {
      if (dest === record.parentId) return record;
      this.world.remove(record, actor);
    }
    const coll = this.world.collection(this.folderKey(mb, dest), 'message', mb.user.id, dest);
    return this.world.insert({
      ...(mode === 'move' && immutableId ? { id: record.id } : {}),
      kind: 'message',
      userId: mb.user.id,
      collection: coll,
      data,
      ext,
      indexKeys: this.indexKeys({ data, ext }),
      actor,
      createdAt: record.createdAt,
    });
  }

  /**
   * createReply / createReplyAll / createForward (https://learn.microsoft.com/graph/api/message-createreply): a draft
   * in Drafts in the original's conversation, with In-Reply-To and References naming it (a forward: References
   * only) and the original quoted under the comment. `comment` and `message.body` together are 400, as documented.
   */
  createResponse(mb: Mailbox, original: MessageRecord, kind: 'reply' | 'replyAll' | 'forward', body: unknown, actor: Actor): MessageRecord {
    const input = parseBody(
      z.object({ comment: z.string().nullable().optional(), message: z.record(z.string(), z.unknown()).nullable().optional(), toRecipients: z.array(recipientInput).nullable().optional() }),
      body ?? {},
      'message',
    );
    const patch = input.message ? this.parse(input.message) : undefined;
    if (input.comment && patch?.body) throw new GraphError(400, 'ErrorInvalidRequest', "Specify either 'comment' or the body of 'message', not both.");
    const o = original.data;
    const me = mb.user.mail;
    const replyTarget = o.replyTo.length > 0 ? o.replyTo : o.from ? [o.from] : [];
    let to: Recipient[] = [];
    let cc: Recipient[] = [];
    if (kind === 'reply') to = replyTarget.map((r) => ({ emailAddress: { ...r.emailAddress } }));
    if (kind === 'replyAll') {
      const seen = new Set<string>();
      const keep = (r: Recipient) => {
        const key = r.emailAddress.address.toLowerCase();
        if (sameAddress(r, me) || seen.has(key)) return false;
        seen.add(key);
        return true;
      };
      to = [...replyTarget, ...o.toRecipients].filter(keep).map((r) => ({ emailAddress: { ...r.emailAddress } }));
      cc = o.ccRecipients.filter(keep).map((r) => ({ emailAddress: { ...r.emailAddress } }));
    }
    if (kind === 'forward') to = (input.toRecipients ?? []).map(toRecipient);
    const now = this.world.clock.now();
    const comment = input.comment ?? '';
    const quoted = [
      `<div>${escapeHtml(comment)}</div>`,
      '<hr style="display:inline-block;width:98%" tabindex="-1">',
      `<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> ${escapeHtml(o.from ? mailbox(o.from) : '')}<br><b>Sent:</b> ${escapeHtml(rfc2822Date(o.sentAt ?? o.receivedAt))}<br><b>To:</b> ${escapeHtml(o.toRecipients.map(mailbox).join('; '))}<br><b>Subject:</b> ${escapeHtml(o.subject)}</div>`,
      `<div>${o.body.contentType === 'html' ? o.body.content.replace(/^[\s\S]*<body[^>]*>|<\/body>[\s\S]*$/gi, '') : escapeHtml(o.body.content)}</div>`,
    ].join('');
    const data: MessageData = {
      subject: prefixedSubject(kind === 'forward' ? 'FW' : 'RE', o.subject),
      body: { contentType: 'html', content: quoted },
      uniqueBody: { contentType: 'html', content: `<div>${escapeHtml(comment)}</div>` },
      from: { emailAddress: { name: mb.user.displayName, address: mb.user.mail } },
      sender: { emailAddress: { name: mb.user.displayName, address: mb.user.mail } },
      toRecipients: to,
      ccRecipients: cc,
      bccRecipients: [],
      replyTo: [],
      isRead: true,
      isDraft: true,
      importance: 'normal',
      categories: [],
      internetMessageId: this.newInternetMessageId(),
      conversationId: o.conversationId,
      conversationIndex: childConversationIndex(o.conversationIndex, now, this.world.randomToken(1).charCodeAt(0)),
      inReplyTo: kind === 'forward' ? null : o.internetMessageId,
      references: replyReferences(o.references, o.internetMessageId),
      customHeaders: [],
      // A forward carries the original's attachments; a reply does not (Outlook's behaviour).
      attachments: kind === 'forward' ? o.attachments.map((a) => cloneAttachment(a, this.attachmentId())) : [],
      origin: 'draft',
      headersHidden: this.behaviour().sentCopyHeaders === 'none',
      receivedAt: now,
      sentAt: null,
      flagStatus: 'notFlagged',
    };
    const ext = new Map<string, { id: string; value: string }>();
    if (patch) this.applyInput(data, patch, ext);
    this.checkSize(data.attachments);
    const drafts = mb.mailFolders.get('drafts') as string;
    const coll = this.world.collection(this.folderKey(mb, drafts), 'message', mb.user.id, drafts);
    return this.world.insert({ kind: 'message', userId: mb.user.id, collection: coll, data, ext, indexKeys: this.indexKeys({ data, ext }), actor });
  }

  /** POST /sendMail: `{ message, saveToSentItems }`. */
  sendMail(mb: Mailbox, body: unknown, actor: Actor): void {
    const input = parseBody(z.object({ message: z.record(z.string(), z.unknown()), saveToSentItems: z.union([z.boolean(), z.string()]).optional() }), body, 'sendMail');
    const save = typeof input.saveToSentItems === 'string' ? input.saveToSentItems.toLowerCase() !== 'false' : (input.saveToSentItems ?? true);
    // Validate before anything is stored: a refused sendMail leaves no draft behind.
    const draft = this.create(mb, mb.mailFolders.get('drafts') as string, input.message, actor);
    try {
      this.send(mb, draft, actor, save);
    } catch (err) {
      if (this.world.items.has(draft.id)) this.world.remove(draft, actor);
      throw err;
    }
  }

  /**
   * POST /messages/{id}/send: the draft leaves Drafts and is submitted now, or waits in the Outbox until the
   * message rate allows it (options.ts MailBehaviour.sendRateExceeded).
   */
  send(mb: Mailbox, draft: MessageRecord, actor: Actor, saveToSentItems = true): void {
    if (!draft.data.isDraft) throw new GraphError(400, 'ErrorInvalidOperation', 'Only a draft message can be sent.');
    const d = draft.data;
    const all = [...d.toRecipients, ...d.ccRecipients, ...d.bccRecipients];
    if (all.length === 0) throw new GraphError(400, 'ErrorInvalidRecipients', "At least one recipient isn't valid., A message can't be sent because it contains no recipients.");
    for (const r of all) {
      if (!/^[^@\s]+@[^@\s]+$/.test(r.emailAddress.address)) throw new GraphError(400, 'ErrorInvalidRecipients', `At least one recipient isn't valid., Recipient '${r.emailAddress.address}' isn't resolved. All recipients must be resolved before a message can be submitted.`);
    }
    if (d.from && !sameAddress(d.from, mb.user.mail) && !sameAddress(d.from, mb.user.userPrincipalName)) {
      throw new GraphError(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.');
    }
    const now = this.world.clock.now();
    const at = this.limits.reserve(mb.user.id, all.length, now);
    const log: SentMailRecord = {
      sequence: this.sent.length + 1,
      at: new Date(now).toISOString(),
      submittedAt: null,
      fromUserId: mb.user.id,
      from: mb.user.mail.toLowerCase(),
      to: d.toRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      cc: d.ccRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      bcc: d.bccRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      subject: d.subject,
      internetMessageId: d.internetMessageId,
      sentItemId: null,
      byAppId: actor.kind === 'app' ? actor.appId : null,
    };
    this.sent.push(log);
    if (at <= now) {
      this.submit(mb, draft, actor, saveToSentItems, log);
      return;
    }
    // Waiting in the Outbox: no longer a draft, not yet sent.
    this.world.remove(draft, actor);
    const outbox = mb.mailFolders.get('outbox') as string;
    const coll = this.world.collection(this.folderKey(mb, outbox), 'message', mb.user.id, outbox);
    const queued = this.world.insert({ id: draft.id, kind: 'message', userId: mb.user.id, collection: coll, data: { ...d, isDraft: false }, ext: draft.ext, indexKeys: this.indexKeys(draft), actor, createdAt: draft.createdAt });
    this.deferred.push({ userId: mb.user.id, recordId: queued.id, at, saveToSentItems, actor, log });
    this.schedule();
  }

  /** Submits every message whose Outbox wait is over (called before each mail request and by the timer). */
  pump(): void {
    if (this.deferred.length === 0 && this.pendingCopies.length === 0) return;
    const now = this.world.clock.now();
    const copies = this.pendingCopies.filter((c) => c.at <= now);
    for (const c of copies) {
      this.pendingCopies.splice(this.pendingCopies.indexOf(c), 1);
      const mb = this.world.mailboxes.get(c.userId);
      if (mb) c.insert(mb);
    }
    const due = this.deferred.filter((q) => q.at <= now);
    if (due.length === 0) {
      if (copies.length > 0) this.schedule();
      return;
    }
    for (const q of due) {
      this.deferred.splice(this.deferred.indexOf(q), 1);
      const mb = this.world.mailboxes.get(q.userId);
      const record = this.world.items.get(q.recordId);
      // Deleted from the Outbox meanwhile: not sent.
      if (!mb || !record || record.kind !== 'message') continue;
      this.submit(mb, record as MessageRecord, q.actor, q.saveToSentItems, q.log);
    }
    this.schedule();
  }

  /** POST .../attachments. */
  addAttachment(record: MessageRecord, body: unknown, actor: Actor): AttachmentData {
    const a = parseAttachment(body, () => this.attachmentId(), this.world.clock.now());
    this.checkSize([...record.data.attachments, a]);
    record.data = { ...record.data, attachments: [...record.data.attachments, a] };
    this.world.touch(record, this.indexKeys(record), actor);
    return a;
  }

  attachment(record: MessageRecord, id: string): AttachmentData {
    const a = record.data.attachments.find((x) => x.id === id);
    if (!a) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return a;
  }

  deleteAttachment(record: MessageRecord, id: string, actor: Actor): void {
    this.attachment(record, id);
    record.data = { ...record.data, attachments: record.data.attachments.filter((a) => a.id !== id) };
    this.world.touch(record, this.indexKeys(record), actor);
  }

  /** POST .../attachments/createUploadSession. */
  createUploadSession(mb: Mailbox, record: MessageRecord, body: unknown): Record<string, unknown> {
    const used = record.data.attachments.reduce((s, a) => s + a.size, 0);
    return this.uploads.create(mb.user.id, record.id, body, this.behaviour().maxMessageSizeBytes - used);
  }

  private completeUpload(s: UploadSession, bytes: Buffer): string {
    const mb = this.world.mailboxes.get(s.userId);
    const record = mb ? this.world.items.get(s.messageId) : undefined;
    if (!mb || !record || record.kind !== 'message') throw new GraphError(404, 'ErrorItemNotFound', 'The message of this upload session no longer exists.');
    const now = this.world.clock.now();
    const a: AttachmentData = { id: this.attachmentId(), kind: 'file', name: s.name, contentType: s.contentType, isInline: s.isInline, contentId: s.contentId, contentLocation: null, bytes, size: bytes.length, modifiedAt: now };
    const m = record as MessageRecord;
    this.checkSize([...m.data.attachments, a]);
    m.data = { ...m.data, attachments: [...m.data.attachments, a] };
    this.world.touch(m, this.indexKeys(m), { kind: 'person', userId: mb.user.id });
    return a.id;
  }

  private submit(mb: Mailbox, record: MessageRecord, actor: Actor, saveToSentItems: boolean, log: SentMailRecord): void {
    const now = this.world.clock.now();
    const b = this.behaviour();
    this.world.remove(record, actor);
    const sentData: MessageData = { ...record.data, isDraft: false, sentAt: now, receivedAt: now, isRead: true, origin: 'sent', headersHidden: b.sentCopyHeaders === 'none' };
    log.submittedAt = new Date(now).toISOString();
    if (saveToSentItems) {
      const ext = b.sentCopyExtendedProperties === 'keep' ? new Map(record.ext) : new Map<string, { id: string; value: string }>();
      const insert = (box: Mailbox) => {
        const copy = this.insertCopy(box, box.mailFolders.get('sentitems') as string, sentData, ext, actor, b.sentCopyId === 'draft' ? record.id : undefined);
        log.sentItemId = copy.id;
      };
      if (b.sentCopyDelayMs > 0) {
        this.pendingCopies.push({ userId: mb.user.id, at: now + b.sentCopyDelayMs, insert });
        this.schedule();
      } else insert(mb);
    }
    const delivered = new Set<string>();
    for (const r of [...sentData.toRecipients, ...sentData.ccRecipients, ...sentData.bccRecipients]) {
      const box = this.world.findMailbox(r.emailAddress.address);
      if (!box || delivered.has(box.user.id)) continue;
      delivered.add(box.user.id);
      // Bcc is visible in the sender's copy only; the sender's extended properties stay in the sender's mailbox.
      this.insertCopy(box, box.mailFolders.get('inbox') as string, { ...sentData, isRead: false, bccRecipients: [], origin: 'received', headersHidden: false, flagStatus: 'notFlagged' }, new Map(), actor);
    }
  }

  private insertCopy(mb: Mailbox, folderId: string, data: MessageData, ext: Map<string, { id: string; value: string }>, actor: Actor, id?: string): MessageRecord {
    const coll = this.world.collection(this.folderKey(mb, folderId), 'message', mb.user.id, folderId);
    const copy: MessageData = { ...data, categories: [...data.categories], attachments: data.attachments.map((a) => cloneAttachment(a, this.attachmentId())) };
    return this.world.insert({ ...(id ? { id } : {}), kind: 'message', userId: mb.user.id, collection: coll, data: copy, ext, indexKeys: this.indexKeys({ data: copy, ext }), actor });
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || (this.deferred.length === 0 && this.pendingCopies.length === 0)) return;
    const next = Math.min(...this.deferred.map((q) => q.at), ...this.pendingCopies.map((c) => c.at));
    this.timer = setTimeout(() => this.pump(), Math.max(0, next - this.world.clock.now()) + 1);
    this.timer.unref();
  }

  private applyInput(d: MessageData, input: MessageInput, ext: Map<string, { id: string; value: string }>): void {
    if (input.isRead !== undefined) d.isRead = input.isRead;
    if (input.categories !== undefined) d.categories = input.categories ?? [];
    if (input.importance !== undefined) d.importance = input.importance;
    if (input.flag) d.flagStatus = input.flag.flagStatus;
    if (d.isDraft) {
      if (input.subject !== undefined) d.subject = input.subject ?? '';
      if (input.body !== undefined) {
        d.body = { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' };
        d.uniqueBody = null;
      }
      if (input.toRecipients !== undefined) d.toRecipients = (input.toRecipients ?? []).map(toRecipient);
      if (input.ccRecipients !== undefined) d.ccRecipients = (input.ccRecipients ?? []).map(toRecipient);
      if (input.bccRecipients !== undefined) d.bccRecipients = (input.bccRecipients ?? []).map(toRecipient);
      if (input.replyTo !== undefined) d.replyTo = (input.replyTo ?? []).map(toRecipient);
      if (input.from !== undefined && input.from) d.from = toRecipient(input.from);
      if (input.internetMessageHeaders !== undefined) d.customHeaders = this.customHeaders(input.internetMessageHeaders);
      if (input.attachments) {
        d.attachments = [...d.attachments, ...this.attachmentsOf(input, this.world.clock.now())];
        this.checkSize(d.attachments);
      }
    } else if (input.internetMessageHeaders !== undefined || input.attachments) {
      throw new GraphError(400, 'ErrorInvalidOperation', 'Headers and attachments can only be changed on a draft.');
    }
    applyExtendedProperties(ext, input.singleValueExtendedProperties);
  }

  /** Custom headers must be named `x-...` (message resource: "name them starting with 'x-'"). */
  private customHeaders(input: { name: string; value: string }[] | null | undefined): { name: string; value: string }[] {
    const out = [];
    for (const h of input ?? []) {
      if (!/^x-[A-Za-z0-9-]+$/i.test(h.name)) throw new GraphError(400, 'InvalidInternetMessageHeader', `The internet message header name '${h.name}' should start with 'x-' or 'X-'.`);
      out.push({ name: h.name, value: h.value });
    }
    return out;
  }

  private attachmentsOf(input: MessageInput, now: number): AttachmentData[] {
    return (input.attachments ?? []).map((a) => parseAttachment(a, () => this.attachmentId(), now));
  }

  private checkSize(attachments: AttachmentData[]): void {
    const total = attachments.reduce((s, a) => s + a.size, 0);
    const max = this.behaviour().maxMessageSizeBytes;
    if (total > max) throw new GraphError(400, 'ErrorMessageSizeExceeded', `The message's attachments total ${total} bytes; the maximum message size is ${max} bytes.`);
  }

  private attachmentId(): string {
    return `AAMkA${this.world.randomToken(30)}=`;
  }

  private newInternetMessageId(): string {
    return `<${this.world.randomToken(12)}@sim.graph.local>`;
  }

  private parse(body: unknown): MessageInput {
    if (body && typeof body === 'object' && !Array.isArray(body)) rejectUnknownProperties(body as Record<string, unknown>, KNOWN, 'message');
    return parseBody(messageInput, body, 'message');
  }
}


function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
