// The "something changed" message every webhook, poll and reconciliation puts on the changes queue. Small on
// purpose: the worker decides from current state, never from the message. Versioned so a deployment can drain
// old messages while reading new ones.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { guidSchema } from '../guid.js';

export const exchangeResources = ['event', 'todoTask', 'contact'] as const;
export const dataverseEntities = ['appointment', 'task', 'phonecall', 'letter', 'fax', 'contact'] as const;
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
  /** Dataverse id of the paired record, when the webhook knew it (session choice). */
  dataverseId: z.string().optional(),
});

export const dataverseChangeSchema = z.object({
  ...common,
  source: z.literal('dataverse'),
  entity: z.enum(dataverseEntities),
  /** Any GUID shape: Dataverse's own ids are sequential GUIDs, not RFC version 1-8 uuids (see shared/guid.ts). */
  recordId: guidSchema(),
  message: z.enum(['Create', 'Update', 'Delete', 'SetState', 'Reconcile']),
  /** versionnumber after the change, when the webhook carried it. */
  version: z.string().optional(),
  /** Attributes of the post image (already in Web API form), so a mapped-columns-complete image saves a read. */
  image: z.record(z.string(), z.unknown()).optional(),
  /** For Delete: the owner from the pre image, for scope. */
  ownerId: z.string().optional(),
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

/** Service Bus message id and session id are at most 128 characters (azure-platform.md section 7). */
const short = (value: string) => (value.length <= 100 ? value : `h-${createHash('sha256').update(value).digest('base64url')}`);

/**
 * The messageId: derived from the change itself, so Service Bus duplicate detection drops a notification that
 * Graph or Dataverse delivered twice. Retries add the attempt, so they are not dropped as duplicates.
 */
export function messageIdOf(message: ChangeMessage): string {
  const suffix = message.attempt > 1 ? `#${message.attempt}` : '';
  switch (message.source) {
    case 'exchange':
      return short(`ex|${message.mailboxId}|${message.itemId}|${message.changeType}|${message.etag ?? message.receivedAt}`) + suffix;
    case 'dataverse':
      return short(`dv|${message.entity}|${message.recordId}|${message.message}|${message.version ?? message.receivedAt}`) + suffix;
    case 'lifecycle':
      return short(`lc|${message.subscriptionId}|${message.lifecycleEvent}|${message.receivedAt}`) + suffix;
  }
}

/**
 * The sessionId: every change to one item pair shares a session, so two changes to it are never applied at the same
 * time. A pair is named by its Dataverse id; an Exchange item not yet paired by its own id (its Dataverse record,
 * if any, is created by the worker of that very session).
 */
export function sessionIdOf(message: ChangeMessage): string {
  switch (message.source) {
    case 'exchange':
      return message.dataverseId ? `dv-${message.dataverseId.toLowerCase()}` : short(`ex-${message.mailboxId}-${message.itemId}`);
    case 'dataverse':
      return `dv-${message.recordId.toLowerCase()}`;
    case 'lifecycle':
      return short(`sub-${message.subscriptionId}`);
  }
}

/** Parses a message body from the queue; throws a ZodError naming the failing path. */
export function parseChangeMessage(body: unknown): ChangeMessage {
  const value = typeof body === 'string' ? (JSON.parse(body) as unknown) : Buffer.isBuffer(body) ? (JSON.parse(body.toString('utf8')) as unknown) : body;
  return changeMessageSchema.parse(value);
}
