// One Service Bus delivery: parse, apply, and decide what a failure means. A retryable failure is not thrown back
// to the trigger (which would redeliver at once and, on a session queue, hold the session): the change is
// rescheduled as a new message with back-off, and this delivery completes. A permanent failure, or one that
// exhausted SYNC_MAX_ATTEMPTS, is dead-lettered with its reason: the reason is recorded, and the delivery is
// failed until Service Bus moves the message to the dead-letter queue (maxDeliveryCount; immediate redeliveries,
// so the session is held only for moments).
// Before that, the mailbox error policy (shared/sync/errorPolicy.ts) has its say: a permanent cause of the mailbox
// blocks it, and an outage that outlasts the retries pauses it; the change then waits on Service Bus for the end of
// the pause instead of being dead-lettered, and a change put off for a paused mailbox is brought back at that time.
// A change that waited out a pause and fails again while its mailbox answers is one failing item: it takes the item's
// path (retries, then the dead-letter queue with reason ItemFailing) and the mailbox resumes.
import { ZodError } from 'zod';
import { toSyncError, type SyncError } from '../errors.js';
import { backoffMs } from '../http/retry.js';
import type { Runtime } from '../runtime.js';
import { deferredOf, parseChangeMessage, retryOf, waitOf, type ChangeMessage } from '../servicebus/messages.js';
import { MailboxFailure, classifyFailure, decideFailure } from './errorPolicy.js';
import { claimMinWaitMs } from './claim.js';
import { blockMailbox, mailboxAnswers, pauseMailbox, policySettings, resumeMailbox } from './mailboxHealth.js';
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
    await putOffForPausedMailboxes(rt, message, outcomes);
    return outcomes;
  } catch (error) {
    const failure = error instanceof MailboxFailure ? error : undefined;
    const sync = failure ? failure.error : toSyncError(error);
    const mailboxId = failure?.mailboxId ?? (message.source === 'exchange' ? message.mailboxId : undefined);
    const verdict = classifyFailure(sync);
    // Waiting behind another change's claim is decided without the mailbox's state (decideFailure: a wait neither
    // probes, pauses nor blocks), so a claim wait reads no mailbox row.
    const mailbox = mailboxId && verdict.class !== 'wait' ? await rt.mailboxes.get(mailboxId) : undefined;
    const input = { retryable: sync.retryable, attempt: message.attempt, probing: mailbox?.state === 'paused', deferrals: message.deferral ?? 0, waits: message.waits ?? 0 };
    let decision = decideFailure(verdict, input, policySettings(rt));
    if (decision.action === 'checkMailbox') decision = decideFailure(verdict, { ...input, mailboxAnswers: mailbox ? await mailboxAnswers(rt, mailbox) : false }, policySettings(rt));
    // One item failing while its mailbox answers: the mailbox goes on (resumed when this change was its probe).
    if ((decision.action === 'retry' || decision.action === 'deadLetter') && decision.itemFailing && mailbox) await resumeMailbox(rt, mailbox.id);
    if (decision.action === 'block' && mailbox) {
      await blockMailbox(rt, mailbox.id, decision.code, decision.reason);
      await recordForMessage(rt, message, mailbox.id, { decision: 'MailboxBlocked', reason: `${decision.code}: ${decision.reason}` }, 'ignored');
      // The other mailboxes of a Dataverse change still get it (the blocked one is skipped from now on).
      if (message.source === 'dataverse') await rt.sender.send([deferredOf(message)]);
      log.error('change not applied: mailbox blocked', { code: decision.code, cause: sync.code, serviceCode: sync.serviceCode, status: sync.status, blockedMailboxId: mailbox.id });
      return [];
    }
    if (decision.action === 'pause') return putOffForOutage(rt, message, mailbox?.id, sync, log);
    if (decision.action === 'wait') {
      const wait = sync.retryAfterMs ?? claimMinWaitMs;
      await rt.sender.send([waitOf(message, `${sync.code}: ${sync.message}`)], { scheduledEnqueueTime: new Date(rt.now().getTime() + wait) });
      log.info('change waits for another change of its item', { cause: sync.code, code: sync.code, waitMs: wait, waits: (message.waits ?? 0) + 1 });
      return [];
    }
    if (decision.action === 'retry') {
      const wait = Math.min(maxBackoffMs, backoffMs(sync, message.attempt, 1_000));
      await rt.sender.send([retryOf(message, `${sync.code}: ${sync.message}`)], {
        scheduledEnqueueTime: new Date(rt.now().getTime() + wait),
      });
      log.warn('change failed; retry scheduled', { cause: sync.code, code: sync.code, status: sync.status, waitMs: wait, nextAttempt: message.attempt + 1, ...(decision.itemFailing ? { itemFailing: true } : {}) });
      return [];
    }
    if (decision.action === 'deadLetter' && decision.itemFailing) {
      return deadLetter(rt, delivery, 'ItemFailing', `the item failed again after its mailbox's pause while the mailbox answered: ${sync.code}: ${sync.message}`, message);
    }
    const reason = sync.retryable ? 'MaxAttemptsExceeded' : sync.code;
    return deadLetter(rt, delivery, reason, `${sync.code}: ${sync.message}`, message);
  }
}

/**
 * An outage outlasted the change's retries (or failed the probe of a paused mailbox): the mailbox is paused and the
 * change waits on Service Bus for the end of the pause. A change that belongs to no mailbox yet (its Dataverse
 * record could not be read) waits with the same doubling back-off, counted by its deferrals.
 */
async function putOffForOutage(rt: Runtime, message: ChangeMessage, mailboxId: string | undefined, sync: SyncError, log: Runtime['log']): Promise<Outcome[]> {
  const cause = `${sync.code}: ${sync.message}`;
  const settings = policySettings(rt);
  const paused = mailboxId ? await pauseMailbox(rt, mailboxId, cause) : undefined;
  const seconds = Math.min(settings.pauseMaxSeconds, settings.pauseMinSeconds * 2 ** (message.deferral ?? 0));
  const until = paused ?? new Date(rt.now().getTime() + seconds * 1000).toISOString();
  await rt.sender.send([{ ...deferredOf(message), lastError: cause.slice(0, 1024) }], { scheduledEnqueueTime: new Date(until) });
  if (mailboxId) await recordForMessage(rt, message, mailboxId, { decision: 'MailboxPaused', reason: `waits for the mailbox's pause to end at ${until}: ${cause}` }, 'paused');
  log.warn('change put off: outage', { cause: sync.code, status: sync.status, until, pausedMailboxId: mailboxId, deferral: (message.deferral ?? 0) + 1 });
  return [];
}

/** Changes put off for paused mailboxes come back when each pause ends (only for those mailboxes). */
async function putOffForPausedMailboxes(rt: Runtime, message: ChangeMessage, outcomes: Outcome[]): Promise<void> {
  const byUntil = new Map<string, string[]>();
  for (const o of outcomes) {
    if (o.kind !== 'paused' || !o.until || !o.mailboxId) continue;
    byUntil.set(o.until, [...(byUntil.get(o.until) ?? []), o.mailboxId]);
    await recordForMessage(rt, message, o.mailboxId, { decision: 'MailboxPaused', reason: `waits for the mailbox's pause to end at ${o.until}` }, 'paused');
  }
  for (const [until, mailboxes] of byUntil) {
    await rt.sender.send([deferredOf(message, message.source === 'dataverse' ? mailboxes : undefined)], { scheduledEnqueueTime: new Date(until) });
  }
}

/** Records a decision about the item a change message names, for one mailbox (explain). Never fails the change. */
async function recordForMessage(rt: Runtime, message: ChangeMessage, mailboxId: string, summary: { decision: string; reason: string }, outcome: string): Promise<void> {
  if (message.source === 'lifecycle') return;
  const exchange = message.source === 'exchange';
  await recordDecision(rt, mailboxId, exchange ? 'toDataverse' : 'toExchange', exchange ? kindOfResource(message.resource) : kindOfTable(message.entity), summary, {
    outcome,
    source: exchange ? message.changeType : message.message.toLowerCase(),
    ...(exchange ? { exchangeId: message.itemId, dataverseId: message.dataverseId } : { dataverseId: message.recordId }),
  }).catch(() => undefined);
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
