// Timer triggers: thin glue to shared/sync/timers.ts and shared/sync/reconcile.ts.
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { reconcileAll } from '../sync/reconcile.js';
import { pollTodo as runPollTodo, renewSubscriptions as runRenew } from '../sync/timers.js';

export async function pollTodo(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runPollTodo(getRuntime());
  context.info(`To Do poll ${JSON.stringify(result)}`);
}

export async function renewSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runRenew(getRuntime());
  context.info(`subscription renewal ${JSON.stringify(result)}`);
}

/** Reconciliation by delta and change tracking. */
export async function reconcile(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await reconcileAll(getRuntime());
  const summary = {
    mailboxes: result.mailboxes.map((m) => ({ mailboxId: m.mailboxId, enqueued: m.enqueued, skipped: m.skipped, resynced: m.resynced, errors: m.errors.length })),
    dataverse: { enqueued: result.dataverse.enqueued, skipped: result.dataverse.skipped, resynced: result.dataverse.resynced, errors: result.dataverse.errors.length },
  };
  context.info(`reconciliation ${JSON.stringify(summary)}`);
}
