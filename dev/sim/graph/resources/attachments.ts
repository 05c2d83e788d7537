// Attachments of messages (https://learn.microsoft.com/graph/api/resources/attachment, fileattachment,
// referenceattachment; https://learn.microsoft.com/graph/api/message-post-attachments: "This operation limits the
// size of the attachment you can add to under 3 MB") and upload sessions for files of 3 MB to 150 MB
// (https://learn.microsoft.com/graph/outlook-large-attachments, attachment-createuploadsession): the session's
// pre-authenticated uploadUrl takes PUTs of consecutive byte ranges (Content-Range: bytes a-b/total), answers 200
// with nextExpectedRanges until the last byte, then 201 with a Location naming the new attachment.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import { utcTimestamp0, utcTimestamp7 } from '../timeZones.js';
import { parseBody, rejectUnknownProperties } from './common.js';

export const MB = 1024 * 1024;
/** Below this a file goes in one POST; from it on, through an upload session. */
export const SMALL_ATTACHMENT_LIMIT = 3 * MB;
/** The largest file an upload session takes. */
export const LARGE_ATTACHMENT_LIMIT = 150 * MB;
/** How long an upload session's URL stays valid (the docs give no figure; the simulator's choice). */
const UPLOAD_SESSION_MS = 60 * 60_000;

export interface AttachmentData {
  id: string;
  kind: 'file' | 'reference';
  name: string;
  contentType: string | null;
  isInline: boolean;
  contentId: string | null;
  contentLocation: string | null;
  bytes: Buffer | null;
  size: number;
  modifiedAt: number;
}

const FILE_TYPE = '#microsoft.graph.fileAttachment';
const REFERENCE_TYPE = '#microsoft.graph.referenceAttachment';
const ITEM_TYPE = '#microsoft.graph.itemAttachment';

export const attachmentInput = z.object({
  '@odata.type': z.string(),
  name: z.string().nullable().optional(),
  contentType: z.string().nullable().optional(),
  contentBytes: z.string().nullable().optional(),
  contentId: z.string().nullable().optional(),
  contentLocation: z.string().nullable().optional(),
  isInline: z.boolean().optional(),
  size: z.number().optional(),
  id: z.string().optional(),
  lastModifiedDateTime: z.string().optional(),
});
const KNOWN_ATTACHMENT = new Set(Object.keys(attachmentInput.shape));

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses one attachment of a POST /attachments, a draft or sendMail; files must be under 3 MB. */
export function parseAttachment(body: unknown, newId: () => string, now: number): AttachmentData {
  if (body && typeof body === 'object' && !Array.isArray(body)) rejectUnknownProperties(body as Record<string, unknown>, KNOWN_ATTACHMENT, 'attachment');
  const input = parseBody(attachmentInput, body, 'attachment');
  const type = input['@odata.type'].replace(/^#?/, '#').toLowerCase();
  if (type === ITEM_TYPE.toLowerCase()) throw new GraphError(400, 'BadRequest', 'itemAttachment (an attached message, event or contact) is not simulated; attach a fileAttachment or referenceAttachment.');
  if (!input.name) throw new GraphError(400, 'ErrorInvalidRequest', "The attachment's 'name' is required.");
  if (type === REFERENCE_TYPE.toLowerCase()) {
    if (input.contentBytes) throw new GraphError(400, 'RequestBodyRead', "The property 'contentBytes' does not exist on type 'microsoft.graph.referenceAttachment'.");
    // size: "The size of the metadata that is stored on the message for the attachment in bytes" (referenceattachment).
    return { id: newId(), kind: 'reference', name: input.name, contentType: input.contentType ?? null, isInline: input.isInline ?? false, contentId: null, contentLocation: null, bytes: null, size: 256 + Buffer.byteLength(input.name), modifiedAt: now };
  }
  if (type !== FILE_TYPE.toLowerCase()) throw new GraphError(400, 'RequestBodyRead', `'${input['@odata.type']}' is not an attachment type: use #microsoft.graph.fileAttachment or #microsoft.graph.referenceAttachment.`);
  const b64 = (input.contentBytes ?? '').replace(/\s+/g, '');
  if (!b64 || !BASE64.test(b64)) throw new GraphError(400, 'ErrorInvalidRequest', "A fileAttachment needs 'contentBytes' in base64.");
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length >= SMALL_ATTACHMENT_LIMIT) {
    // Graph's exact answer for an oversized single POST is not documented; 413 names the way that works.
    throw new GraphError(413, 'RequestEntityTooLarge', `The attachment is ${bytes.length} bytes; a single POST takes files under 3 MB (${SMALL_ATTACHMENT_LIMIT} bytes). Use attachments/createUploadSession for larger files.`);
  }
  return {
    id: newId(),
    kind: 'file',
    name: input.name,
    contentType: input.contentType ?? 'application/octet-stream',
    isInline: input.isInline ?? false,
    contentId: input.contentId ?? null,
    contentLocation: input.contentLocation ?? null,
    bytes,
    size: bytes.length,
    modifiedAt: now,
  };
}

/** The attachment as Graph returns it (`contentBytes` only for files, and only when not excluded by $select). */
export function attachmentView(a: AttachmentData, select?: ReadonlySet<string>): Record<string, unknown> {
  const full: Record<string, unknown> =
    a.kind === 'file'
      ? {
          '@odata.type': FILE_TYPE,
          '@odata.mediaContentType': a.contentType,
          id: a.id,
          lastModifiedDateTime: utcTimestamp0(a.modifiedAt),
          name: a.name,
          contentType: a.contentType,
          size: a.size,
          isInline: a.isInline,
          contentId: a.contentId,
          contentLocation: a.contentLocation,
          contentBytes: a.bytes?.toString('base64') ?? '',
        }
      : { '@odata.type': REFERENCE_TYPE, id: a.id, lastModifiedDateTime: utcTimestamp0(a.modifiedAt), name: a.name, contentType: a.contentType, size: a.size, isInline: a.isInline };
  if (!select) return full;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(full)) if (k.startsWith('@odata') || k === 'id' || select.has(k.toLowerCase())) out[k] = v;
  return out;
}

export const ATTACHMENT_PROPERTIES = new Set(['name', 'contenttype', 'size', 'isinline', 'contentid', 'contentlocation', 'contentbytes', 'lastmodifieddatetime']);

/** An open upload session. */
export interface UploadSession {
  id: string;
  token: string;
  userId: string;
  messageId: string;
  name: string;
  contentType: string | null;
  isInline: boolean;
  contentId: string | null;
  size: number;
  received: Buffer[];
  receivedBytes: number;
  expiresAt: number;
}

const uploadInput = z.object({
  AttachmentItem: z.object({
    attachmentType: z.string().refine((s) => s.toLowerCase() === 'file', { message: "attachmentType must be 'file'" }),
    name: z.string().min(1, 'name is required'),
    size: z.number().int().nonnegative(),
    contentType: z.string().nullable().optional(),
    isInline: z.boolean().optional(),
    contentId: z.string().nullable().optional(),
  }),
});

/** What the upload endpoint needs from the mail service. */
export interface UploadTarget {
  /** Stores the finished file on the message; returns the attachment id (throws a GraphError when the message is gone). */
  complete(session: UploadSession, bytes: Buffer): string;
  now(): number;
  baseUrl(): string;
  tenantId: string;
}

/** Upload sessions and the PUT endpoint behind their uploadUrl. */
export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();

  constructor(
    private readonly target: UploadTarget,
    private readonly random: (bytes: number) => string,
  ) {}

  reset(): void {
    this.sessions.clear();
  }

  /** POST .../attachments/createUploadSession: 201 uploadSession. `maxSize` is what the message can still take. */
  create(userId: string, messageId: string, body: unknown, maxSize: number): Record<string, unknown> {
    const input = parseBody(uploadInput, body, 'attachmentItem').AttachmentItem;
    if (input.size < SMALL_ATTACHMENT_LIMIT) {
      throw new GraphError(400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size must be greater than the minimum size.');
    }
    if (input.size > LARGE_ATTACHMENT_LIMIT) throw new GraphError(400, 'ErrorInvalidRequest', `The attachment is ${input.size} bytes; an upload session takes at most 150 MB (${LARGE_ATTACHMENT_LIMIT} bytes).`);
    if (input.size > maxSize) throw new GraphError(400, 'ErrorMessageSizeExceeded', `The message would exceed the maximum message size: it can take ${Math.max(0, maxSize)} more bytes.`);
    const session: UploadSession = {
      id: `AAMkA${this.random(24)}=`,
      token: this.random(32),
      userId,
      messageId,
      name: input.name,
      contentType: input.contentType ?? 'application/octet-stream',
      isInline: input.isInline ?? false,
      contentId: input.contentId ?? null,
      size: input.size,
      received: [],
      receivedBytes: 0,
      expiresAt: this.target.now() + UPLOAD_SESSION_MS,
    };
    this.sessions.set(session.id, session);
    return {
      '@odata.context': `${this.target.baseUrl()}/v1.0/$metadata#microsoft.graph.uploadSession`,
      uploadUrl: `${this.itemUrl(session)}/AttachmentSessions('${encodeURIComponent(session.id)}')?authtoken=${session.token}`,
      expirationDateTime: utcTimestamp7(session.expiresAt),
      nextExpectedRanges: ['0-'],
    };
  }

  /** Serves PUT / DELETE on an uploadUrl (outside /v1.0, authorised by the URL's token, as documented). */
  async handleHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}), 'Content-Length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    const m = /AttachmentSessions\('([^']+)'\)$/.exec(decodeURIComponent(url.pathname));
    const session = m ? this.sessions.get(m[1] as string) : undefined;
    if (!session || session.token !== url.searchParams.get('authtoken')) {
      req.resume();
      fail(404, 'ErrorItemNotFound', 'The upload session was not found or has been deleted.');
      return;
    }
    if (session.expiresAt <= this.target.now()) {
      req.resume();
      this.sessions.delete(session.id);
      fail(404, 'ErrorItemNotFound', 'The upload session has expired.');
      return;
    }
    if (req.method === 'DELETE') {
      req.resume();
      this.sessions.delete(session.id);
      send(204);
      return;
    }
    if (req.method !== 'PUT') {
      req.resume();
      fail(405, 'BadRequest', `The HTTP method '${req.method ?? ''}' is not allowed for an upload session.`);
      return;
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers['content-range'] ?? '');
    if (!range) {
      req.resume();
      fail(400, 'ErrorInvalidRequest', "The Content-Range header is required, as 'bytes {start}-{end}/{total}'.");
      return;
    }
    const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (total !== session.size || end < start || end >= total) {
      req.resume();
      fail(400, 'ErrorInvalidRequest', `Content-Range 'bytes ${start}-${end}/${total}' does not fit the session's file of ${session.size} bytes.`);
      return;
    }
    if (start !== session.receivedBytes) {
      // "You must upload bytes in a file in order."
      req.resume();
      fail(416, 'ErrorInvalidRange', `The next expected byte is ${session.receivedBytes}, not ${start}.`);
      return;
    }
    const expected = end - start + 1;
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const c of req) {
      const b = c as Buffer;
      got += b.length;
      if (got > expected) break;
      chunks.push(b);
    }
    if (got !== expected) {
      fail(400, 'ErrorInvalidRequest', `The body has ${got} bytes; Content-Range announced ${expected}.`);
      return;
    }
    session.received.push(Buffer.concat(chunks));
    session.receivedBytes += expected;
    if (session.receivedBytes < session.size) {
      send(200, {
        '@odata.context': `${this.itemUrl(session).replace('/api/v2.0/', '/api/v2.0/$metadata#')}/AttachmentSessions/$entity`,
        ExpirationDateTime: utcTimestamp7(session.expiresAt),
        nextExpectedRanges: [String(session.receivedBytes)],
      });
      return;
    }
    this.sessions.delete(session.id);
    let attachmentId: string;
    try {
      attachmentId = this.target.complete(session, Buffer.concat(session.received));
    } catch (err) {
      if (err instanceof GraphError) fail(err.status, err.code, err.message);
      else fail(500, 'InternalServerError', 'Simulator error while storing the attachment.');
      return;
    }
    send(201, undefined, { Location: `${this.itemUrl(session)}/Attachments('${attachmentId}')` });
  }

  private itemUrl(s: UploadSession): string {
    return `${this.target.baseUrl()}/api/v2.0/Users('${s.userId}@${this.target.tenantId}')/Messages('${s.messageId}')`;
  }
}
