// `dlq list|replay`: the dead-letter queue of the changes queue, joined with the reason the worker recorded
// (shared/sync/worker.ts: cursors scope `deadletter`, keyed by messageId). Replay sends a fresh copy of each change
// (attempt 1, a new messageId so duplicate detection does not drop it) and completes the dead letter only after
// the send succeeded, so a failure never loses a change.
import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import { changeMessageSchema, messageIdOf, replayOf, type ChangeMessage } from '../../servicebus/messages.js';
import { peekFromStart } from '../../servicebus/peek.js';
import { changesQueue } from '../../servicebus/queues.js';
import { toServiceBusMessage } from '../../servicebus/sender.js';
import { deadLetterScope, type DeadLetterRecord } from '../../sync/worker.js';
import type { Runtime } from '../../runtime.js';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable, truncate } from '../format.js';

/** The dead-letter queue's path (Service Bus: <queue>/$deadletterqueue). */
export const deadLetterPath = `${changesQueue.name}/$deadletterqueue`;

export interface DeadLetterView {
  messageId: string;
  sequenceNumber: string;
  enqueuedAt: string;
  source: string;
  item: string;
  attempt: string;
  reason: string;
  description: string;
}

function bodyOf(message: ServiceBusReceivedMessage): unknown {
  const body: unknown = message.body;
  try {
    if (Buffer.isBuffer(body)) return JSON.parse(body.toString('utf8')) as unknown;
    if (typeof body === 'string') return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
  return body;
}

/** The change a dead letter carries, or undefined when its body does not pass the message schema. */
export function changeOf(message: ServiceBusReceivedMessage): ChangeMessage | undefined {
  const parsed = changeMessageSchema.safeParse(bodyOf(message));
  return parsed.success ? parsed.data : undefined;
}

function itemOf(change: ChangeMessage | undefined): string {
  if (!change) return '(body is not a change message)';
  switch (change.source) {
    case 'exchange':
      return `${change.resource} ${change.itemId} of mailbox ${change.mailboxId}${change.dataverseId ? ` (dataverse ${change.dataverseId})` : ''}`;
    case 'dataverse':
      return `${change.entity} ${change.recordId} (${change.message})`;
    case 'lifecycle':
      return `subscription ${change.subscriptionId} (${change.lifecycleEvent})`;
  }
}

/** One dead letter with its recorded reason (Service Bus's own reason when the worker recorded none). */
export function describeDeadLetter(message: ServiceBusReceivedMessage, recorded: DeadLetterRecord | undefined): DeadLetterView {
  const change = changeOf(message);
  const props = message.applicationProperties ?? {};
  return {
    messageId: String(message.messageId ?? ''),
    sequenceNumber: message.sequenceNumber?.toString() ?? '',
    enqueuedAt: message.enqueuedTimeUtc?.toISOString() ?? '',
    source: change?.source ?? (typeof props.source === 'string' ? props.source : '?'),
    item: itemOf(change),
    attempt: String(change?.attempt ?? props.attempt ?? '?'),
    reason: recorded?.reason ?? message.deadLetterReason ?? '(none recorded)',
    description: recorded?.description ?? message.deadLetterErrorDescription ?? '',
  };
}


const positiveInt = (value: string | undefined, fallback: number, name: string) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5000) throw new UsageError(`--${name} must be a whole number from 1 to 5000, got "${value}"`);
  return n;
};

/** A messageId for the replayed copy: the change's own id plus a replay stamp, at most 128 characters. */
export function replayMessageId(base: string, now: Date): string {
  const stem = base.replace(/#replay-\d+$/, '');
  const suffix = `#replay-${now.getTime()}`;
  return `${stem.slice(0, 128 - suffix.length)}${suffix}`;
}

/** The message to send for a dead letter: a fresh copy of its change, attempt 1. */
export function replayMessage(message: ServiceBusReceivedMessage, now: Date): ServiceBusMessage {
  const change = changeOf(message);
  if (change) {
    const fresh = replayOf(change);
    const wire = toServiceBusMessage(fresh);
    return { ...wire, messageId: replayMessageId(messageIdOf(fresh), now) };
  }
  // Not a change we can read (the schema may have been fixed since): send the body back as it was.
  const original = String(message.messageId ?? 'dead-letter');
  return {
    body: message.body as unknown,
    ...(message.contentType ? { contentType: message.contentType } : {}),
    messageId: replayMessageId(original, now),
    ...(message.correlationId !== undefined ? { correlationId: message.correlationId } : {}),
    ...(message.subject ? { subject: message.subject } : {}),
    applicationProperties: { ...(message.applicationProperties ?? {}), attempt: 1 },
  };
}

async function recordedReasons(rt: Runtime): Promise<Map<string, DeadLetterRecord>> {
  await rt.ready();
  return new Map((await rt.cursors.list<DeadLetterRecord>(deadLetterScope)).map((r) => [r.name, r.value]));
}

export const dlqListCommand: CommandSpec = {
  name: 'dlq list',
  summary: `Peek the dead-letter queue ${deadLetterPath} with each message's recorded reason`,
  usage: '[--max N] [--json]',
  help: [
    `Peeks (does not lock or remove) the messages of ${deadLetterPath} and joins each with the reason the worker`,
    'recorded when it gave up on it (or Service Bus\'s own reason, e.g. MaxDeliveryCountExceeded).',
    '',
    'Options:',
    '  --max N   peek at most N messages (default 100)',
    '  --json    print the rows as JSON (full descriptions)',
  ].join('\n'),
  options: { max: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const max = positiveInt(values.max as string | undefined, 100, 'max');
    const rt = await ctx.runtime();
    const receiver = rt.serviceBus.createReceiver(changesQueue.name, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    try {
      const messages = await peekFromStart(receiver, max);
      const reasons = await recordedReasons(rt);
      const rows = messages.map((m) => describeDeadLetter(m, reasons.get(String(m.messageId ?? ''))));
      if (values.json) return ctx.out(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return ctx.out(`${deadLetterPath} is empty.`);
      ctx.out(`${rows.length} message(s) in ${deadLetterPath}${rows.length === max ? ` (first ${max}; --max to see more)` : ''}:`);
      ctx.out(
        formatTable(
          ['MESSAGE ID', 'ENQUEUED', 'SOURCE', 'ITEM', 'ATTEMPT', 'REASON', 'DESCRIPTION'],
          rows.map((r) => [r.messageId, r.enqueuedAt, r.source, r.item, r.attempt, r.reason, truncate(r.description, 120)]),
        ),
      );
    } finally {
      await receiver.close();
    }
  },
};

export const dlqReplayCommand: CommandSpec = {
  name: 'dlq replay',
  summary: `Send dead-lettered changes back to ${changesQueue.name}`,
  usage: '(--all | --message-id <id> [--message-id <id> ...]) [--max N]',
  help: [
    `Receives messages from ${deadLetterPath} (peek-lock) and sends a fresh copy of each change to ${changesQueue.name}:`,
    'attempt 1, a new messageId ending in #replay-<time> so duplicate detection does not drop it. The recorded',
    'reason is removed and the dead letter completed only after the send succeeded; if the send fails the dead',
    'letter stays. Fix the cause first: a change that fails again is dead-lettered again.',
    '',
    'Options:',
    '  --all                replay every message (up to --max)',
    '  --message-id <id>    replay this message (repeatable); ids as `dlq list` prints them',
    '  --max N              at most N messages (default 100)',
  ].join('\n'),
  options: { all: { type: 'boolean' }, 'message-id': { type: 'string', multiple: true }, max: { type: 'string' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const ids = (values['message-id'] as string[] | undefined) ?? [];
    if (!values.all && ids.length === 0) throw new UsageError('say what to replay: --all or --message-id <id>');
    if (values.all && ids.length > 0) throw new UsageError('--all and --message-id exclude each other');
    const max = positiveInt(values.max as string | undefined, 100, 'max');
    const rt = await ctx.runtime();
    const peeker = rt.serviceBus.createReceiver(changesQueue.name, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    const wanted = new Set(ids);
    let targets: Set<string>;
    let missing: string[];
    try {
      const peeked = await peekFromStart(peeker, values.all ? max : 5000);
      targets = new Set(peeked.map((m) => String(m.sequenceNumber)).filter((_, i) => values.all || wanted.has(String(peeked[i]!.messageId))));
      const present = new Set(peeked.map((m) => String(m.messageId)));
      missing = ids.filter((id) => !present.has(id));
      if (missing.length) ctx.warn(`not in ${deadLetterPath}: ${missing.join(', ')}`);
      if (targets.size === 0) {
        ctx.out(`Nothing to replay.`);
        if (missing.length) throw new Error(`${missing.length} requested message(s) are not in ${deadLetterPath} (already replayed?)`);
        return;
      }
    } finally {
      await peeker.close();
    }
    const receiver = rt.serviceBus.createReceiver(changesQueue.name, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    const sender = rt.serviceBus.createSender(changesQueue.name);
    const others: ServiceBusReceivedMessage[] = [];
    let replayed = 0;
    try {
      // Messages arrive in sequence order; others that come first stay locked until the end, so the loop never
      // receives them again, and are then abandoned (they stay in the dead-letter queue).
      while (targets.size > 0) {
        const batch = await receiver.receiveMessages(Math.min(50, targets.size + others.length + 10), { maxWaitTimeInMs: 2_000 });
        if (batch.length === 0) break;
        for (const message of batch) {
          const seq = String(message.sequenceNumber);
          if (!targets.has(seq)) {
            others.push(message);
            continue;
          }
          targets.delete(seq);
          const copy = replayMessage(message, ctx.now());
          await sender.sendMessages(copy);
          const original = String(message.messageId ?? '');
          await rt.cursors.remove(deadLetterScope, original);
          await receiver.completeMessage(message);
          replayed += 1;
          ctx.out(`  replayed ${original} as ${String(copy.messageId)} (${describeDeadLetter(message, undefined).item})`);
        }
      }
    } finally {
      for (const message of others) await receiver.abandonMessage(message).catch(() => undefined);
      await sender.close();
      await receiver.close();
    }
    ctx.out(`${replayed} message(s) replayed to ${changesQueue.name}.`);
    if (targets.size > 0) throw new Error(`${targets.size} message(s) could not be received from ${deadLetterPath} (locked by another receiver?)`);
    if (missing.length) throw new Error(`${missing.length} requested message(s) are not in ${deadLetterPath} (already replayed?)`);
  },
};
