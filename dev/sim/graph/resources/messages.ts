// Mail, as much as e-mail tracking needs: messages in the well-known folders (inbox, drafts, sentitems,
// deleteditems), create/get/list/update/delete, POST /messages/{id}/send and POST /sendMail (GDC
// api-reference/v1.0/api/user-sendmail.md: 202 Accepted, saveToSentItems default true). Mail sent to a simulated
// user arrives in that user's Inbox; every sent message is recorded for inspection.
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { utcTimestamp0 } from '../timeZones.js';
import { collectionKeys, type Actor, type World } from '../world.js';
import { applyExtendedProperties, bodyAsHtml, bodyPreview, checkIfMatch, extendedPropertiesInput, extendedPropertyKeys, itemBodyInput, parseBody, recipientInput, rejectUnknownProperties, type ResourceSpec } from './common.js';

type Recipient = { emailAddress: { name: string; address: string } };

export interface MessageData {
  subject: string;
  body: { contentType: 'text' | 'html'; content: string };
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
  receivedAt: number;
  sentAt: number | null;
  flagStatus: string;
}
export type MessageRecord = ItemRecord<MessageData>;

/** One message handed to Exchange for delivery. */
export interface SentMailRecord {
  sequence: number;
  at: string;
  fromUserId: string;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  internetMessageId: string;
  byAppId: string | null;
}

const messageInput = z.object({
  subject: z.string().nullable().optional(),
  body: itemBodyInput.nullable().optional(),
  toRecipients: z.array(recipientInput).nullable().optional(),
  ccRecipients: z.array(recipientInput).nullable().optional(),
  bccRecipients: z.array(recipientInput).nullable().optional(),
  replyTo: z.array(recipientInput).nullable().optional(),
  from: recipientInput.nullable().optional(),
  isRead: z.boolean().optional(),
  importance: z.enum(['low', 'normal', 'high']).optional(),
  categories: z.array(z.string()).nullable().optional(),
  flag: z.object({ flagStatus: z.enum(['notFlagged', 'complete', 'flagged']) }).optional(),
  internetMessageId: z.string().optional(),
  singleValueExtendedProperties: extendedPropertiesInput.optional(),
});
const KNOWN = new Set([...Object.keys(messageInput.shape), 'id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'bodyPreview', 'isDraft', 'hasAttachments', 'parentFolderId', 'conversationId', 'webLink', 'sender', 'receivedDateTime', 'sentDateTime']);
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
];

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
      hasAttachments: false,
      internetMessageId: d.internetMessageId,
      subject: d.subject,
      bodyPreview: bodyPreview(d.body),
      importance: d.importance,
      parentFolderId: record.parentId,
      conversationId: d.conversationId,
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
    if (opts.bodyAsText && 'body' in out) out.body = { contentType: 'text', content: bodyPreview(d.body) };
  },
};

export const mailFolderSpec: ResourceSpec = {
  typeName: 'mailFolder',
  etag: false,
  properties: new Set(['displayname', 'parentfolderid', 'childfoldercount', 'unreaditemcount', 'totalitemcount']),
  view(record) {
    return { id: record.id, displayName: (record.data as { displayName: string }).displayName, parentFolderId: record.userId, childFolderCount: 0, unreadItemCount: 0, totalItemCount: 0 };
  },
};

const toRecipient = (r: { emailAddress: { address?: string | null; name?: string | null } }): Recipient => ({ emailAddress: { name: r.emailAddress.name ?? r.emailAddress.address ?? '', address: r.emailAddress.address ?? '' } });

/** Mail rules. */
export class MessageService {
  private readonly sent: SentMailRecord[] = [];

  constructor(private readonly world: World) {}

  sentMail(): SentMailRecord[] {
    return [...this.sent];
  }

  clear(): void {
    this.sent.length = 0;
  }

  /** Resolves a folder id or well-known name (inbox, drafts, sentitems, deleteditems). */
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

  indexKeys(record: MessageRecord): string[] {
    return [...record.data.categories.map((c) => `cat:${c.toLowerCase()}`), `imid:${record.data.internetMessageId.toLowerCase()}`, ...extendedPropertyKeys(record.ext)];
  }

  /** POST /messages (a draft in Drafts) or /mailFolders/{id}/messages. */
  create(mb: Mailbox, folderId: string, body: unknown, actor: Actor, overrides: Partial<MessageData> = {}): MessageRecord {
    const input = this.parse(body);
    const now = this.world.clock.now();
    const me: Recipient = { emailAddress: { name: mb.user.displayName, address: mb.user.mail } };
    const data: MessageData = {
      subject: input.subject ?? '',
      body: { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' },
      from: input.from ? toRecipient(input.from) : me,
      sender: input.from ? toRecipient(input.from) : me,
      toRecipients: (input.toRecipients ?? []).map(toRecipient),
      ccRecipients: (input.ccRecipients ?? []).map(toRecipient),
      bccRecipients: (input.bccRecipients ?? []).map(toRecipient),
      replyTo: (input.replyTo ?? []).map(toRecipient),
      isRead: input.isRead ?? true,
      isDraft: folderId === mb.mailFolders.get('drafts'),
      importance: input.importance ?? 'normal',
      categories: input.categories ?? [],
      internetMessageId: input.internetMessageId ?? `<${this.world.randomToken(12)}@sim.graph.local>`,
      conversationId: `AAQkA${this.world.randomToken(24)}=`,
      receivedAt: now,
      sentAt: null,
      flagStatus: input.flag?.flagStatus ?? 'notFlagged',
      ...overrides,
    };
    const ext = new Map<string, { id: string; value: string }>();
    applyExtendedProperties(ext, input.singleValueExtendedProperties);
    const coll = this.world.collection(this.folderKey(mb, folderId), 'message', mb.user.id, folderId);
    return this.world.insert({ kind: 'message', userId: mb.user.id, collection: coll, data, ext, indexKeys: this.indexKeys({ data, ext } as MessageRecord), actor });
  }

  update(record: MessageRecord, body: unknown, actor: Actor, ifMatch?: string): MessageRecord {
    checkIfMatch(ifMatch, record);
    const input = this.parse(body);
    const d = { ...record.data };
    if (input.isRead !== undefined) d.isRead = input.isRead;
    if (input.categories !== undefined) d.categories = input.categories ?? [];
    if (input.importance !== undefined) d.importance = input.importance;
    if (input.flag) d.flagStatus = input.flag.flagStatus;
    if (d.isDraft) {
      if (input.subject !== undefined) d.subject = input.subject ?? '';
      if (input.body !== undefined) d.body = { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' };
      if (input.toRecipients !== undefined) d.toRecipients = (input.toRecipients ?? []).map(toRecipient);
      if (input.ccRecipients !== undefined) d.ccRecipients = (input.ccRecipients ?? []).map(toRecipient);
      if (input.bccRecipients !== undefined) d.bccRecipients = (input.bccRecipients ?? []).map(toRecipient);
    }
    applyExtendedProperties(record.ext, input.singleValueExtendedProperties);
    record.data = d;
    this.world.touch(record, this.indexKeys(record), actor);
    return record;
  }

  delete(record: MessageRecord, actor: Actor, ifMatch?: string): void {
    checkIfMatch(ifMatch, record);
    this.world.remove(record, actor);
  }

  /** POST /sendMail. */
  sendMail(mb: Mailbox, body: unknown, actor: Actor): void {
    const input = parseBody(z.object({ message: z.record(z.string(), z.unknown()), saveToSentItems: z.boolean().optional() }), body, 'sendMail');
    const draft = this.create(mb, mb.mailFolders.get('drafts') as string, input.message, actor);
    this.send(mb, draft, actor, input.saveToSentItems ?? true);
  }

  /** POST /messages/{id}/send: the draft leaves Drafts, is delivered and (by default) saved to Sent Items. */
  send(mb: Mailbox, draft: MessageRecord, actor: Actor, saveToSentItems = true): void {
    if (!draft.data.isDraft) throw new GraphError(400, 'ErrorInvalidOperation', 'Only a draft message can be sent.');
    const all = [...draft.data.toRecipients, ...draft.data.ccRecipients, ...draft.data.bccRecipients];
    if (all.length === 0) throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is not valid., A message can\'t be sent because it contains no recipients.');
    const now = this.world.clock.now();
    this.world.remove(draft, actor);
    const sentData = { ...draft.data, isDraft: false, sentAt: now, receivedAt: now, isRead: true };
    if (saveToSentItems) this.insertCopy(mb, mb.mailFolders.get('sentitems') as string, sentData, actor);
    const delivered = new Set<string>();
    for (const r of all) {
      const box = this.world.findMailbox(r.emailAddress.address);
      if (!box || delivered.has(box.user.id)) continue;
      delivered.add(box.user.id);
      this.insertCopy(box, box.mailFolders.get('inbox') as string, { ...sentData, isRead: false, bccRecipients: [] }, actor);
    }
    this.sent.push({
      sequence: this.sent.length + 1,
      at: new Date(now).toISOString(),
      fromUserId: mb.user.id,
      from: mb.user.mail.toLowerCase(),
      to: draft.data.toRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      cc: draft.data.ccRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      bcc: draft.data.bccRecipients.map((r) => r.emailAddress.address.toLowerCase()),
      subject: draft.data.subject,
      internetMessageId: draft.data.internetMessageId,
      byAppId: actor.kind === 'app' ? actor.appId : null,
    });
  }

  private insertCopy(mb: Mailbox, folderId: string, data: MessageData, actor: Actor): MessageRecord {
    const coll = this.world.collection(this.folderKey(mb, folderId), 'message', mb.user.id, folderId);
    const copy = { ...data, categories: [...data.categories] };
    return this.world.insert({ kind: 'message', userId: mb.user.id, collection: coll, data: copy, indexKeys: this.indexKeys({ data: copy, ext: new Map() } as unknown as MessageRecord), actor });
  }

  private parse(body: unknown): z.infer<typeof messageInput> {
    if (body && typeof body === 'object' && !Array.isArray(body)) rejectUnknownProperties(body as Record<string, unknown>, KNOWN, 'message');
    return parseBody(messageInput, body, 'message');
  }
}
