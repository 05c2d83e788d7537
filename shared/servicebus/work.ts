// The messages of the work queue (queues.ts workQueue): one small message per mailbox and periodic task, and the
// paged sweeps that enqueue them. The timers send only a sweep; a sweep reads one page of due mailboxes, enqueues
// their work and then the next page's sweep, so no call lists the whole registry and the timer's own time does not
// grow with the number of mailboxes (shared/sync/work.ts).
import { createHash } from 'node:crypto';
import type { ServiceBusClient, ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { workQueue } from './queues.js';

/** The per-mailbox periodic tasks. */
export const mailboxTasks = ['pollTodo', 'reconcile', 'renew'] as const;
export type MailboxTask = (typeof mailboxTasks)[number];

const iso = z.string().datetime({ offset: true });

export const mailboxWorkSchema = z.object({
  v: z.literal(1),
  type: z.literal('mailbox'),
  task: z.enum(mailboxTasks),
  mailboxId: z.string().min(1).max(128),
  /** When the mailbox was due (its schedule keeps the phase of a spread reconciliation from it). */
  dueAt: iso,
  /** The sweep that enqueued it (the same for every page of one run). */
  run: iso,
});

export const sweepSchema = z.object({
  v: z.literal(1),
  type: z.literal('sweep'),
  task: z.enum(mailboxTasks),
  run: iso,
  /** 0 for the first page; each page enqueues the next with the continuation token Table Storage returned. */
  page: z.number().int().min(0).max(1_000_000),
  continuation: z.string().max(2048).optional(),
});

/** Dataverse change tracking: tenant-wide, one message per reconciliation period. */
export const dataverseRoundSchema = z.object({
  v: z.literal(1),
  type: z.literal('dataverse'),
  run: iso,
});

/** Decision retention (shared/sync/decisionRetention.ts): one page of the decisions table per message, once a day. */
export const retentionPageSchema = z.object({
  v: z.literal(1),
  type: z.literal('retention'),
  run: iso,
  page: z.number().int().min(0).max(10_000_000),
  continuation: z.string().max(2048).optional(),
});

/**
 * The attention gauge's pass (shared/sync/work.ts): one page of the mailboxes in a state that stops their sync per
 * message, started with the To Do poll's sweep once a minute.
 */
export const attentionPageSchema = z.object({
  v: z.literal(1),
  type: z.literal('attention'),
  run: iso,
  page: z.number().int().min(0).max(1_000_000),
  continuation: z.string().max(2048).optional(),
});

export const workMessageSchema = z.discriminatedUnion('type', [mailboxWorkSchema, sweepSchema, dataverseRoundSchema, retentionPageSchema, attentionPageSchema]);
export type WorkMessage = z.infer<typeof workMessageSchema>;
export type MailboxWork = z.infer<typeof mailboxWorkSchema>;
export type Sweep = z.infer<typeof sweepSchema>;
export type RetentionPageMessage = z.infer<typeof retentionPageSchema>;
export type AttentionPageMessage = z.infer<typeof attentionPageSchema>;

/** Service Bus ids are at most 128 characters (azure-platform.md section 7); mailbox ids are GUIDs, but accept any. */
const short = (value: string) => (value.length <= 120 ? value : `h-${createHash('sha256').update(value).digest('base64url')}`);

/**
 * The messageId: the same run never enqueues the same work twice (a sweep redelivered after its instance died sends
 * the same ids, and duplicate detection drops them).
 */
export function workMessageId(message: WorkMessage): string {
  switch (message.type) {
    case 'mailbox':
      return short(`w|${message.task}|${message.mailboxId.toLowerCase()}|${message.run}`);
    case 'sweep':
      return short(`s|${message.task}|${message.run}|${message.page}`);
    case 'dataverse':
      return short(`d|${message.run}`);
    case 'retention':
      return short(`r|${message.run}|${message.page}`);
    case 'attention':
      return short(`a|${message.run}|${message.page}`);
  }
}

/**
 * The sessionId: a mailbox's tasks share its session (never two at once for one mailbox, which also keeps its Graph
 * concurrency under the 4 requests Graph allows per app and mailbox); a task's sweep pages share one session, so a
 * sweep still going when the next is due runs after it instead of beside it.
 */
export function workSessionId(message: WorkMessage): string {
  switch (message.type) {
    case 'mailbox':
      return short(`mbx-${message.mailboxId.toLowerCase()}`);
    case 'sweep':
      return `sweep-${message.task}`;
    case 'dataverse':
      return 'dataverse-change-tracking';
    case 'retention':
      return 'decision-retention';
    case 'attention':
      return 'mailbox-attention';
  }
}

/** Parses a work message body; throws a ZodError naming the failing path. */
export function parseWorkMessage(body: unknown): WorkMessage {
  const value = typeof body === 'string' ? (JSON.parse(body) as unknown) : Buffer.isBuffer(body) ? (JSON.parse(body.toString('utf8')) as unknown) : body;
  return workMessageSchema.parse(value);
}

export interface WorkSender {
  /** Enqueues work messages in batches; resolves once Service Bus has accepted them. */
  send(messages: WorkMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** A batch stays far below the 256 KB of a Standard-tier batch: a work message is about 250 bytes. */
const batchSize = 200;

export function createWorkSender(client: ServiceBusClient, queueName = workQueue.name): WorkSender {
  let sender: ServiceBusSender | undefined;
  const get = () => (sender ??= client.createSender(queueName));
  return {
    async send(messages) {
      for (let i = 0; i < messages.length; i += batchSize) {
        const wire: ServiceBusMessage[] = messages.slice(i, i + batchSize).map((m) => {
          const body = workMessageSchema.parse(m);
          return { body, contentType: 'application/json', messageId: workMessageId(body), sessionId: workSessionId(body), subject: body.type };
        });
        try {
          await get().sendMessages(wire);
        } catch (error) {
          throw new SyncError('Transient', `could not enqueue ${wire.length} work message(s) on ${queueName}`, { cause: error });
        }
      }
    },
    async close() {
      await sender?.close();
    },
  };
}
