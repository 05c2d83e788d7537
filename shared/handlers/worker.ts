// The Service Bus trigger of the changes queue: hands one message to the worker. Resolving completes the message
// (the trigger's auto-complete); throwing abandons it, which only happens for a message judged dead (see
// shared/sync/worker.ts), so Service Bus dead-letters it after maxDeliveryCount.
// With telemetry on, the delivery runs in a CONSUMER span that continues the trace the message carries (its
// `traceparent` application property, set when it was sent), and what processDelivery returns or throws becomes the
// outcome, latency, queue-time, retry and dead-letter metrics (shared/telemetry).
import type { InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { changesQueue } from '../servicebus/queues.js';
import { parseChangeMessage, type ChangeMessage } from '../servicebus/messages.js';
import { PoisonMessageError, changeSubject, processDelivery, type DeliveryInfo } from '../sync/worker.js';
import { record, telemetryEnabled, traceInvocation, traceparentOf, type EdgeSpan } from '../telemetry/index.js';

/** Outcome kinds that mean the other side was written. */
const writes = new Set(['created', 'updated', 'deleted', 'linked', 'unlinked']);

export async function syncWorker(message: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const messageId = typeof meta.messageId === 'string' ? meta.messageId : context.invocationId;
  const deliveryCount = typeof meta.deliveryCount === 'number' ? meta.deliveryCount : Number(meta.deliveryCount ?? 1);
  const delivery: DeliveryInfo = { messageId, deliveryCount, sessionId: typeof meta.sessionId === 'string' ? meta.sessionId : undefined };
  if (!telemetryEnabled()) {
    await processDelivery(getRuntime(), message, delivery);
    return;
  }
  await tracedDelivery(message, context, delivery, meta);
}

async function tracedDelivery(body: unknown, context: InvocationContext, delivery: DeliveryInfo, meta: Record<string, unknown>): Promise<void> {
  const rt = getRuntime();
  const startedAt = rt.now();
  let change: ChangeMessage | undefined;
  try {
    change = parseChangeMessage(body);
  } catch {
    // processDelivery dead-letters it with the reason; the span says so below.
  }
  const subject = change ? changeSubject(change) : {};
  const host = context.traceContext?.traceParent ?? undefined;
  const carried = traceparentOf(meta.applicationProperties);
  const attributes = {
    ...subject,
    functionName: context.functionName,
    invocationId: context.invocationId,
    messageId: delivery.messageId,
    sessionId: delivery.sessionId,
    deliveryCount: delivery.deliveryCount,
    correlationId: change?.correlationId,
    attempt: change?.attempt,
    'messaging.system': 'servicebus',
    'messaging.destination.name': changesQueue.name,
    'messaging.operation.type': 'process',
    'messaging.message.id': delivery.messageId,
  };
  // The message's trace is the parent (one operation from webhook to write); the host's own context is linked.
  await traceInvocation('syncWorker', { kind: 'consumer', parent: carried ?? host, links: carried ? [host] : [], attributes }, async (span) => {
    const dims = { direction: subject.direction, kind: subject.kind, mailboxId: subject.mailboxId };
    if (change) {
      const enqueued = typeof meta.enqueuedTimeUtc === 'string' ? Date.parse(meta.enqueuedTimeUtc) : Date.parse(change.receivedAt);
      record.queueTime(startedAt.getTime() - enqueued, dims);
      // A rescheduled retry being run: counted once per attempt, by the code that failed the attempt before.
      if (change.attempt > 1 && delivery.deliveryCount === 1) record.retry({ ...dims, errorCode: change.lastError?.split(':')[0] });
    }
    try {
      const outcomes = await processDelivery(rt, body, delivery);
      if (change) recordOutcomes(span, change, outcomes, subject);
    } catch (error) {
      if (error instanceof PoisonMessageError) {
        span.set({ outcome: 'dead-lettered', reason: error.record.reason });
        // Counted when judged dead (the record was written by this delivery), not on each redelivery after it.
        if (error.record.at >= startedAt.toISOString()) record.deadLetter({ ...dims, reason: error.record.reason });
        span.fail(error.record.reason);
      }
      throw error;
    }
  });
}

function recordOutcomes(span: EdgeSpan, change: ChangeMessage, outcomes: Awaited<ReturnType<typeof processDelivery>>, subject: Record<string, string>): void {
  const done = Date.now();
  let wrote = false;
  for (const o of outcomes) {
    record.outcome({ outcome: o.kind, kind: subject.kind, direction: subject.direction, mailboxId: o.mailboxId ?? subject.mailboxId });
    if (writes.has(o.kind)) wrote = true;
  }
  if (outcomes.length === 1) {
    const [o] = outcomes;
    span.set({ outcome: o!.kind, mailboxId: o!.mailboxId ?? subject.mailboxId, dataverseId: o!.dataverseId, exchangeId: o!.exchangeId });
  } else {
    span.set({ outcome: outcomes.length === 0 ? 'none' : [...new Set(outcomes.map((o) => o.kind))].sort().join('+'), count: outcomes.length });
  }
  // Sync latency: the change received (receivedAt) -> the write done; only for changes that wrote something.
  if (wrote) {
    const firstWrite = outcomes.find((o) => writes.has(o.kind))!;
    record.latency(done - Date.parse(change.receivedAt), { direction: subject.direction, kind: subject.kind, outcome: firstWrite.kind, mailboxId: firstWrite.mailboxId ?? subject.mailboxId });
  }
}
