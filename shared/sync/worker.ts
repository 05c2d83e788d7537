// One Service Bus delivery: parse, apply, and decide what a failure means. A retryable failure is not thrown back
// to the trigger (which would redeliver at once and, on a session queue, hold the session): the change is
// rescheduled as a new message with back-off, and this delivery completes. A permanent failure, or one that
// exhausted SYNC_MAX_ATTEMPTS, is dead-lettered with its reason: the reason is recorded, and the delivery is
// failed until Service Bus moves the message to the dead-letter queue (maxDeliveryCount; immediate redeliveries,
// so the session is held only for moments).
import { ZodError } from 'zod';
import { toSyncError } from '../errors.js';
import { backoffMs } from '../http/retry.js';
import type { Runtime } from '../runtime.js';
import { parseChangeMessage, retryOf, type ChangeMessage } from '../servicebus/messages.js';
import { applyDataverseChange, applyExchangeChange, recordDecision, type Outcome } from './engine.js';
import { kindOfResource, kindOfTable } from './kinds/index.js';
import { noteActivity } from './activity.js';
import { applyLifecycleEvent } from './lifecycle.js';
import { recordApplied } from './reconcile.js';

export interface DeliveryInfo {
  messageId: string;
  deliveryCount: number;
  sessionId?: string | undefined;
}

export interface DeadLetterRecord {
  reason: string;
  description: string;
  messageId: string;
  correlationId?: string;
  at: string;
}

/** Thrown so the trigger fails the delivery of a message already judged dead. */
export class PoisonMessageError extends Error {
  constructor(readonly record: DeadLetterRecord) {
    super(`dead-lettering message ${record.messageId}: ${record.reason}: ${record.description}`);
    this.name = 'PoisonMessageError';
  }
}

export const deadLetterScope = 'deadletter';
const maxBackoffMs = 15 * 60_000;

/** What a change is about, for its log lines: kind, direction and ids (never contents). */
export function changeSubject(message: ChangeMessage): Record<string, string> {
  if (message.source === 'exchange') {
    return { direction: 'toDataverse', kind: message.resource, mailboxId: message.mailboxId, exchangeId: message.itemId, change: message.changeType, ...(message.dataverseId ? { dataverseId: message.dataverseId } : {}) };
  }
  if (message.source === 'dataverse') return { direction: 'toExchange', kind: message.entity, dataverseId: message.recordId, change: message.message };
  return { direction: 'lifecycle', kind: 'subscription', subscriptionId: message.subscriptionId, change: message.lifecycleEvent };
}

/** Applies one change message. Resolves when the delivery may complete; throws PoisonMessageError otherwise. */
export async function processDelivery(rt: Runtime, body: unknown, delivery: DeliveryInfo): Promise<Outcome[]> {
  const started = Date.now();
  // A message judged dead is failed on every later delivery until Service Bus moves it; a first delivery never is.
  const known = delivery.deliveryCount > 1 ? await rt.cursors.get<DeadLetterRecord>(deadLetterScope, delivery.messageId) : undefined;
  if (known) throw new PoisonMessageError(known);
  let message: ChangeMessage;
  try {
    message = parseChangeMessage(body);
  } catch (error) {
    const description = error instanceof ZodError ? error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') : (error as Error).message;
    return deadLetter(rt, delivery, 'InvalidMessage', description, undefined);
  }
  const log = rt.log.with({ correlationId: message.correlationId, messageId: delivery.messageId, attempt: message.attempt, source: message.source, ...changeSubject(message) });
  await rt.ready();
  try {
    const outcomes =
      message.source === 'exchange' ? await applyExchangeChange(rt, message) : message.source === 'dataverse' ? await applyDataverseChange(rt, message) : await applyLifecycleEvent(rt, message);
    log.info('change applied', { outcomes: outcomes.map((o) => `${o.kind}${o.mailboxId ? `@${o.mailboxId}` : ''}`), latencyMs: Date.now() - Date.parse(message.receivedAt), queuedMs: started - Date.parse(message.receivedAt) });
    // For status: the last successful sync per mailbox and direction. Never fails the change.
    await recordApplied(rt, message.source, outcomes).catch(() => undefined);
    // Adaptive To Do polling: a mailbox with a change synced either way is polled at the shortest interval again.
    await noteActivity(rt, outcomes);
    return outcomes;
  } catch (error) {
    const sync = toSyncError(error);
    if (sync.retryable && message.attempt < rt.settings.SYNC_MAX_ATTEMPTS) {
      const wait = Math.min(maxBackoffMs, backoffMs(sync, message.attempt, 1_000));
      await rt.sender.send([retryOf(message, `${sync.code}: ${sync.message}`)], {
        scheduledEnqueueTime: new Date(rt.now().getTime() + wait),
      });
      log.warn('change failed; retry scheduled', { cause: sync.code, code: sync.code, status: sync.status, waitMs: wait, nextAttempt: message.attempt + 1 });
      return [];
    }
    const reason = sync.retryable ? 'MaxAttemptsExceeded' : sync.code;
    return deadLetter(rt, delivery, reason, `${sync.code}: ${sync.message}`, message);
  }
}

async function deadLetter(rt: Runtime, delivery: DeliveryInfo, reason: string, description: string, message: ChangeMessage | undefined): Promise<never> {
  const record: DeadLetterRecord = {
    reason,
    description: description.slice(0, 1024),
    messageId: delivery.messageId,
    ...(message ? { correlationId: message.correlationId } : {}),
    at: rt.now().toISOString(),
  };
  await rt.cursors.set(deadLetterScope, delivery.messageId, record);
  // Explain answers "dead-lettered, and why" for the item the message was about (never fails the dead-lettering).
  if (message && message.source !== 'lifecycle') {
    const exchange = message.source === 'exchange';
    const summary = { decision: 'DeadLettered', reason: `${reason}: ${record.description.slice(0, 300)} (message ${delivery.messageId}; dlq replay can send it again)` };
    await recordDecision(rt, exchange ? message.mailboxId : undefined, exchange ? 'toDataverse' : 'toExchange', exchange ? kindOfResource(message.resource) : kindOfTable(message.entity), summary, {
      outcome: 'dead-lettered',
      source: exchange ? message.changeType : message.message.toLowerCase(),
      ...(exchange ? { exchangeId: message.itemId, dataverseId: message.dataverseId } : { dataverseId: message.recordId }),
    }).catch(() => undefined);
  }
  rt.log.error('change dead-lettered', {
    messageId: delivery.messageId,
    correlationId: message?.correlationId,
    ...(message ? { attempt: message.attempt, source: message.source, ...changeSubject(message) } : {}),
    reason,
    error: record.description.slice(0, 300),
  });
  throw new PoisonMessageError(record);
}
