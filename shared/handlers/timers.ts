// Timer triggers: thin glue to shared/sync/work.ts, each inside its telemetry span. A timer sends one sweep message
// and returns; the per-mailbox work runs on the work queue (shared/handlers/work.ts) on every instance.
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import type { MailboxTask } from '../servicebus/work.js';
import { startSweep } from '../sync/work.js';
import { record, telemetryEnabled, traceInvocation } from '../telemetry/index.js';

const timerTrace = (context: InvocationContext) => ({
  kind: 'server' as const,
  parent: context.traceContext?.traceParent ?? undefined,
  attributes: { functionName: context.functionName, invocationId: context.invocationId },
});

async function sweepTimer(name: string, task: MailboxTask, context: InvocationContext): Promise<void> {
  await traceInvocation(name, timerTrace(context), async (span) => {
    const run = await startSweep(getRuntime(), task);
    span.set({ run: run.run, dataverse: run.dataverse });
    // Once a minute, every mailbox's state as a gauge: the "mailbox needs attention" alert reads it (infra/modules/alerts.bicep).
    if (task === 'pollTodo' && telemetryEnabled()) for (const m of await getRuntime().mailboxes.list()) record.mailboxAttention(m.id, m.state);
    context.info(`${name}: sweep ${JSON.stringify(run)}`);
  });
}

/** Every minute: the mailboxes whose (adaptive) To Do poll is due. */
export async function pollTodo(_timer: Timer, context: InvocationContext): Promise<void> {
  await sweepTimer('pollTodo', 'pollTodo', context);
}

/** The mailboxes whose subscriptions are due for a renewal check. */
export async function renewSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  await sweepTimer('renewSubscriptions', 'renew', context);
}

/** Every minute: the mailboxes whose place in the reconciliation period has come, and Dataverse change tracking once a period. */
export async function reconcile(_timer: Timer, context: InvocationContext): Promise<void> {
  await sweepTimer('reconcile', 'reconcile', context);
}
