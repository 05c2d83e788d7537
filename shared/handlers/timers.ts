// Timer triggers: thin glue to shared/sync/timers.ts.
import type { InvocationContext, Timer } from '@azure/functions';
import { getRuntime } from '../runtime.js';
import { pollTodo as runPollTodo, renewSubscriptions as runRenew } from '../sync/timers.js';

export async function pollTodo(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runPollTodo(getRuntime());
  context.info(`To Do poll ${JSON.stringify(result)}`);
}

export async function renewSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await runRenew(getRuntime());
  context.info(`subscription renewal ${JSON.stringify(result)}`);
}
