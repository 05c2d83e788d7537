// Timer triggers: thin glue to shared/sync/work.ts, each inside its telemetry span. A timer sends one sweep message
// and returns; the per-mailbox work runs on the work queue (shared/handlers/work.ts) on every instance. Nothing here
// reads the registry: the To Do poll's sweep also starts the paged pass of the attention gauge (shared/sync/work.ts).
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import type { MailboxTask } from '../servicebus/work.js';
import { startSweep } from '../sync/work.js';
import { traceInvocation } from '../telemetry/index.js';

const timerTrace = (context: InvocationContext) => ({
  kind: 'server' as const,
  parent: context.traceContext?.traceParent ?? undefined,
  attributes: { functionName: context.functionName, invocationId: context.invocationId },
});

async function sweepTimer(name: string, task: MailboxTask, context: InvocationContext): Promise<void> {
  await traceInvocation(name, timerTrace(context), async (span) => {
    const run = await startSweep(getRuntime(), task);
    span.set({ run: run.run, dataverse: run.dataverse });
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
