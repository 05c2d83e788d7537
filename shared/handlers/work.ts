// The Service Bus trigger of the work queue: one sweep page or one mailbox's periodic task (shared/sync/work.ts).
// A message that is no work message is logged and completed (nothing to retry: the next sweep enqueues real work);
// a failure of the stores the schedule lives in is thrown, so Service Bus redelivers the message.
import type { InvocationContext } from '@azure/functions';
import { ZodError } from 'zod';
import { getRuntime } from '../runtime.js';
import { parseWorkMessage, type WorkMessage } from '../servicebus/work.js';
import { processWork } from '../sync/work.js';
import { record, traceInvocation } from '../telemetry/index.js';

export async function mailboxWorker(body: unknown, context: InvocationContext): Promise<void> {
  const rt = getRuntime();
  let message: WorkMessage;
  try {
    message = parseWorkMessage(body);
  } catch (error) {
    const problem = error instanceof ZodError ? error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') : 'not JSON';
    const messageId = context.triggerMetadata?.messageId;
    rt.log.error('work message refused', { messageId: typeof messageId === 'string' ? messageId : undefined, problem: problem.slice(0, 300) });
    return;
  }
  const attributes = { functionName: context.functionName, invocationId: context.invocationId, type: message.type, task: message.type === 'dataverse' || message.type === 'retention' || message.type === 'attention' ? message.type : message.task, mailboxId: message.type === 'mailbox' ? message.mailboxId : undefined };
  await traceInvocation('mailboxWorker', { kind: 'consumer', parent: context.traceContext?.traceParent ?? undefined, attributes }, async (span) => {
    const started = performance.now();
    const result = await processWork(rt, message);
    if (message.type === 'mailbox' && 'enqueued' in result) {
      if (message.task === 'pollTodo') record.todoPollDuration(performance.now() - started);
      // A repair is a change reconciliation found and enqueued: one no notification had brought.
      if (message.task === 'reconcile') record.reconcileRepairs(result.enqueued, { direction: 'toDataverse', mailboxId: message.mailboxId });
    }
    if (message.type === 'dataverse' && 'enqueued' in result) record.reconcileRepairs(result.enqueued, { direction: 'toExchange' });
    if ('attention' in result) {
      // The mailboxes of the page, each as 1 on the gauge; the span says how many (ids belong on the metric).
      for (const m of result.attention) record.mailboxAttention(m.mailboxId, m.state);
      span.set({ count: result.attention.length });
      return;
    }
    span.set({ ...result });
  });
}
