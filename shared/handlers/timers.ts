// Timer triggers: thin glue to shared/sync/timers.ts and shared/sync/reconcile.ts, each inside its telemetry span;
// the To Do poll's duration, reconciliation's repairs and every mailbox's state are metrics (shared/telemetry).
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { reconcileAll } from '../sync/reconcile.js';
import { pollTodo as runPollTodo, renewSubscriptions as runRenew } from '../sync/timers.js';
import { record, telemetryEnabled, traceInvocation } from '../telemetry/index.js';

const timerTrace = (context: InvocationContext) => ({
  kind: 'server' as const,
  parent: context.traceContext?.traceParent ?? undefined,
  attributes: { functionName: context.functionName, invocationId: context.invocationId },
});

export async function pollTodo(_timer: Timer, context: InvocationContext): Promise<void> {
  await traceInvocation('pollTodo', timerTrace(context), async (span) => {
    const started = performance.now();
    const result = await runPollTodo(getRuntime());
    record.todoPollDuration(performance.now() - started);
    span.set({ enqueued: result.enqueued, skipped: result.skipped, resynced: result.resynced, count: result.mailboxes });
    // Once a minute, every mailbox's state as a gauge: the "mailbox needs attention" alert reads it (infra/modules/alerts.bicep).
    if (telemetryEnabled()) for (const m of await getRuntime().mailboxes.list()) record.mailboxAttention(m.id, m.state);
    context.info(`To Do poll ${JSON.stringify(result)}`);
  });
}

export async function renewSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  await traceInvocation('renewSubscriptions', timerTrace(context), async () => {
    const result = await runRenew(getRuntime());
    context.info(`subscription renewal ${JSON.stringify(result)}`);
  });
}

/** Reconciliation by delta and change tracking. */
export async function reconcile(_timer: Timer, context: InvocationContext): Promise<void> {
  await traceInvocation('reconcile', timerTrace(context), async (span) => {
    const result = await reconcileAll(getRuntime());
    // A repair is a change reconciliation found and enqueued: one no notification had brought.
    for (const m of result.mailboxes) record.reconcileRepairs(m.enqueued, { direction: 'toDataverse', mailboxId: m.mailboxId });
    record.reconcileRepairs(result.dataverse.enqueued, { direction: 'toExchange' });
    const errors = result.mailboxes.reduce((n, m) => n + m.errors.length, result.dataverse.errors.length);
    span.set({ enqueued: result.mailboxes.reduce((n, m) => n + m.enqueued, result.dataverse.enqueued), errors });
    const summary = {
      mailboxes: result.mailboxes.map((m) => ({ mailboxId: m.mailboxId, enqueued: m.enqueued, skipped: m.skipped, resynced: m.resynced, errors: m.errors.length })),
      dataverse: { enqueued: result.dataverse.enqueued, skipped: result.dataverse.skipped, resynced: result.dataverse.resynced, errors: result.dataverse.errors.length },
    };
    context.info(`reconciliation ${JSON.stringify(summary)}`);
  });
}
