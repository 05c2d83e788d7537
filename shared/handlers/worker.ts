// The Service Bus trigger of the changes queue: hands one message to the worker. Resolving completes the message
// (the trigger's auto-complete); throwing abandons it, which only happens for a message judged dead (see
// shared/sync/worker.ts), so Service Bus dead-letters it after maxDeliveryCount.
import type { InvocationContext } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { processDelivery } from '../sync/worker.js';

export async function syncWorker(message: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const messageId = typeof meta.messageId === 'string' ? meta.messageId : context.invocationId;
  const deliveryCount = typeof meta.deliveryCount === 'number' ? meta.deliveryCount : Number(meta.deliveryCount ?? 1);
  await processDelivery(getRuntime(), message, { messageId, deliveryCount, sessionId: typeof meta.sessionId === 'string' ? meta.sessionId : undefined });
}
