// The "something changed" message every webhook, poll and reconciliation puts on the changes queue. Small on
// purpose: the worker decides from current state, never from the message. Versioned so a deployment can drain
// old messages while reading new ones.
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { guidSchema } from '../guid.js';
import { resourceNames, tableNames } from '../sync/kinds/index.js';

/** The Graph resources and Dataverse tables a message may name: those the kinds map (shared/sync/kinds/). */
export const exchangeResources = resourceNames;
export const dataverseEntities = tableNames;
export type DataverseEntity = (typeof dataverseEntities)[number];

const common = {
  v: z.literal(1),
  /** Correlation id carried into every log line of the change. */
  correlationId: z.string().min(1).max(128),
  /** 1 for the first try; the worker reschedules retries with attempt + 1. */
  attempt: z.number().int().min(1).default(1),
  /** When the change was received (ISO); used for latency figures. */
  receivedAt: z.string(),
  /** Why the last attempt failed, carried on retries for the logs and the dead-letter reason. */
  lastError: z.string().max(1024).optional(),
  /**
   * Where the change was found, when not an event of the other side (a webhook or notification): 'listing' a delta
   * or change-tracking round, 'resync' a listing that started over (first sync after enable, an expired token). The
   * breaker judges deletes inferred from a listing more strictly and holds those of a resync (shared/sync/breaker.ts).
   */
  origin: z.enum(['listing', 'resync']).optional(),
  /**
   * How often the change was put off because its mailbox was paused (or blocked meanwhile): part of the message id,
   * so each new schedule is a new message to duplicate detection (shared/sync/errorPolicy.ts).
   */
  deferral: z.number().int().min(1).optional(),
  /**
   * How often the change waited behind another change's create of its item (a claim, shared/sync/claim.ts): a wait
   * is not an attempt, so it has its own count, part of the message id like the attempt.
   */
  waits: z.number().int().min(1).optional(),
};

export const exchangeChangeSchema = z.object({
  ...common,
  source: z.literal('exchange'),
  /** Entra object id of the mailbox. */
  mailboxId: z.string().min(1),
  resource: z.enum(exchangeResources),
  itemId: z.string().min(1),
  /** To Do list of a todoTask. */
  listId: z.string().optional(),
  changeType: z.enum(['created', 'updated', 'deleted']),
  /** @odata.etag of the notification's resourceData, for echo detection. */
  etag: z.string().optional(),
  /**
   * Dataverse id of the paired record, when the webhook knew it: from the item's pointer row, a hint for logs and
   * explain (the worker decides from the pair it reads), and the session of the item pair in the previous release's
   * session queue.
   */
  dataverseId: z.string().optional(),
});

/** The SDK message a Dataverse change came from (Reconcile: found by change tracking or an operator's replay). */
const dataverseMessages = ['Create', 'Update', 'Delete', 'Reconcile'] as const;

export const dataverseChangeSchema = z.object({
  ...common,
  source: z.literal('dataverse'),
  entity: z.enum(dataverseEntities),
  /** Any GUID shape: Dataverse's own ids are sequential GUIDs, not RFC version 1-8 uuids (see shared/guid.ts). */
  recordId: guidSchema(),
  /**
   * No SetState: a state change raises the Update step, which filters on statecode and statuscode
   * (https://learn.microsoft.com/power-apps/developer/data-platform/special-update-operation-behavior), so a SetState
   * step would deliver every state change twice. None is registered (shared/onboarding/webhooks.ts).
   */
  message: z.enum(dataverseMessages),
  /** versionnumber after the change, when the webhook carried it. */
  version: z.string().optional(),
  /**
   * Create/Update: attributes of the post image (already in Web API form), so a mapped-columns-complete image saves
   * a read. Delete: the pre image's columns (owner, an instance's series: shared/sync/columns.ts deleteImageColumns).
   */
  image: z.record(z.string(), z.unknown()).optional(),
  /** For Delete: the owner from the pre image, for scope. */
  ownerId: z.string().optional(),
  /**
   * Put off for these mailboxes only (Entra object ids): they were paused when the others applied the change, so
   * only they are written when it comes back (the others' scope, unlinks included, is decided again as usual).
   */
  mailboxes: z.array(z.string().min(1).max(128)).min(1).max(500).optional(),
  /**
   * The record that carries this one's changes (an instance's series), from the image: the change shares the
   * carrier's session, so the changes of one series (its instances' among them) are never applied at the same time.
   */
  carrierId: guidSchema().optional(),
});

export const lifecycleEventSchema = z.object({
  ...common,
  source: z.literal('lifecycle'),
  subscriptionId: z.string().min(1),
  lifecycleEvent: z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']),
});

export const changeMessageSchema = z.discriminatedUnion('source', [exchangeChangeSchema, dataverseChangeSchema, lifecycleEventSchema]);
export type ChangeMessage = z.infer<typeof changeMessageSchema>;
export type ExchangeChange = z.infer<typeof exchangeChangeSchema>;
export type DataverseChange = z.infer<typeof dataverseChangeSchema>;
export type LifecycleEvent = z.infer<typeof lifecycleEventSchema>;
export type ChangeMessageInput = z.input<typeof changeMessageSchema>;

/** Where a change came from: when it was received and, when the source gave one, its correlation id. */
export interface ChangeOrigin {
  receivedAt: string;
  /** Kept when it fits the schema (at most 128 characters); a fresh one otherwise. */
  correlationId?: string | undefined;
}

type ExchangeFields = Pick<ExchangeChange, 'mailboxId' | 'resource' | 'itemId' | 'changeType'> & Partial<Record<'listId' | 'etag' | 'dataverseId', string | undefined>> & { origin?: ChangeSource | undefined };
type ChangeSource = 'listing' | 'resync';
type DataverseFields = Pick<DataverseChange, 'entity' | 'recordId'> & { message: (typeof dataverseMessages)[number]; version?: string | undefined; image?: Record<string, unknown> | undefined; ownerId?: string | undefined; carrierId?: string | undefined; origin?: ChangeSource | undefined };
type LifecycleFields = Pick<LifecycleEvent, 'subscriptionId' | 'lifecycleEvent'>;

/** The fields that are set: an absent optional field is left out rather than written as undefined. */
function defined<T extends Record<string, unknown>>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

function envelope(origin: ChangeOrigin) {
  const id = origin.correlationId;
  return { v: 1 as const, correlationId: id && id.length <= 128 ? id : randomUUID(), receivedAt: origin.receivedAt };
}

/** A change of an Exchange item (webhook, delta round, backfill, a removed To Do list). */
export function exchangeChange(fields: ExchangeFields, origin: ChangeOrigin): ChangeMessageInput {
  return { ...envelope(origin), source: 'exchange', ...defined(fields) };
}

/** A change of a Dataverse record (webhook, change tracking, backfill). */
export function dataverseChange(fields: DataverseFields, origin: ChangeOrigin): ChangeMessageInput {
  return { ...envelope(origin), source: 'dataverse', ...defined({ ...fields, recordId: fields.recordId.toLowerCase() }) };
}

/** A Graph lifecycle notification of a subscription. */
export function lifecycleChange(fields: LifecycleFields, origin: ChangeOrigin): ChangeMessageInput {
  return { ...envelope(origin), source: 'lifecycle', ...fields };
}

/** The next attempt of a change that failed, carrying why (bounded as the schema bounds it). */
export function retryOf(message: ChangeMessage, lastError: string): ChangeMessage {
  return { ...message, attempt: message.attempt + 1, lastError: lastError.slice(0, 1024) };
}

/** The change again after a wait behind another change's claim: the same attempt, one wait more. */
export function waitOf(message: ChangeMessage, reason: string): ChangeMessage {
  return { ...message, waits: (message.waits ?? 0) + 1, lastError: reason.slice(0, 1024) };
}

/** The change put off until its mailbox's pause ends (only for `mailboxes`, when given): a new message, its attempts afresh. */
export function deferredOf(message: ChangeMessage, mailboxes?: string[]): ChangeMessage {
  const { lastError: _lastError, ...rest } = message;
  const next = { ...rest, attempt: 1, deferral: (message.deferral ?? 0) + 1 } as ChangeMessage;
  if (next.source === 'dataverse' && mailboxes) next.mailboxes = mailboxes;
  return next;
}

/** A fresh copy of a dead-lettered change: attempt 1, no error of an earlier life. */
export function replayOf(message: ChangeMessage): ChangeMessage {
  const { lastError: _lastError, waits: _waits, ...rest } = message;
  return { ...rest, attempt: 1 };
}

/** The versionnumber in a Dataverse etag (W/"123"), so a repeated change of one version is one message id. */
export function versionOfEtag(etag: string | undefined): string | undefined {
  return /"(\d+)"/.exec(etag ?? '')?.[1];
}

/** A Service Bus message id is at most 128 characters (azure-platform.md section 7). */
const short = (value: string) => (value.length <= 100 ? value : `h-${createHash('sha256').update(value).digest('base64url')}`);

/**
 * The messageId: derived from the change itself, so Service Bus duplicate detection drops a notification that
 * Graph or Dataverse delivered twice. Retries add the attempt (and waits their count), so they are not dropped as duplicates.
 */
export function messageIdOf(message: ChangeMessage): string {
  const suffix = (message.attempt > 1 ? `#${message.attempt}` : '') + (message.waits ? `+${message.waits}` : '') + (message.deferral ? `~${message.deferral}` : '');
  switch (message.source) {
    case 'exchange':
      return short(`ex|${message.mailboxId}|${message.itemId}|${message.changeType}|${message.etag ?? message.receivedAt}`) + suffix;
    case 'dataverse':
      return short(`dv|${message.entity}|${message.recordId}|${message.message}|${message.version ?? message.receivedAt}`) + suffix;
    case 'lifecycle':
      return short(`lc|${message.subscriptionId}|${message.lifecycleEvent}|${message.receivedAt}`) + suffix;
  }
}

/** Parses a message body from the queue; throws a ZodError naming the failing path. */
export function parseChangeMessage(body: unknown): ChangeMessage {
  const value = typeof body === 'string' ? (JSON.parse(body) as unknown) : Buffer.isBuffer(body) ? (JSON.parse(body.toString('utf8')) as unknown) : body;
  return changeMessageSchema.parse(value);
}
