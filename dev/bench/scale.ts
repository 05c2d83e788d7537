// Scale benchmark of the periodic work (`npm run bench -- scale`): for 10, 100 and 1,000 simulated mailboxes, with
// the simulators at 0 ms and at 50-100 ms per call, and the local host running 1 and 4 worker instances, each task
// (To Do poll, reconciliation, subscription renewal) measured two ways in the same run:
// - before: the task done mailbox after mailbox inside one call, as the timers did (shared/sync/timers.ts pollTodo,
//   reconcile.ts reconcileAll, timers.ts renewSubscriptions, kept for this and the CLI); one instance only, since
//   Azure runs a timer on one instance;
// - after: the timer fired (one sweep message) and the fanned-out work (shared/sync/work.ts) run by the instances,
//   each serving host.json's maxConcurrentSessions; and, as the reference for that setting, one instance serving 8
//   (the value before 3 December 2026).
// Printed per row: the timer's own duration, the time until every mailbox's work is done, Graph and Dataverse calls
// per mailbox, 429s, and how many mailboxes the task keeps within its period per instance at that pace.
// Every mailbox is due at every firing (the stack's everyFireDoesAll), the worst case of the adaptive schedule.
// Before each renewal run the stored subscriptions are made to expire within the hour, so every renewal check
// really renews each of them (one Graph PATCH per subscription), as a renewal run that has work does.
// The extra instances are local hosts in this process: they add sessions (concurrency), not CPU.
// "before" at 50-100 ms with 1,000 mailboxes would take minutes per task; it is extrapolated from 100 (linear, as
// measured) and marked so, unless --full.
// Usage: node dev/with-dev-ca.mjs tsx dev/bench/scale.ts [--sizes 10,100,1000] [--full] [--routes (Graph requests of each row by route)]
//   [--tasks pollTodo,reconcile,renewSubscriptions] [--latencies 0,50-100] [--modes before,sessions8,after1,after4]
// The last three pick rows (all by default), for a size too large to run whole here (e.g. --sizes 10000 --tasks
// pollTodo --latencies 0 --modes before,after1: the timer's duration at 10,000 mailboxes beside the loop's).
import { parseArgs } from 'node:util';
import { functionTable } from '../../functions/table.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';
import { pollTodo, renewSubscriptions } from '../../shared/sync/timers.js';
import { startLocalHost, type LocalHost } from '../host/index.js';
import { hostServiceBusSettings } from '../host/settings.js';
import { startStack, type Stack } from '../stack/index.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,100,1000' },
    full: { type: 'boolean', default: false },
    routes: { type: 'boolean', default: false },
    tasks: { type: 'string', default: 'pollTodo,reconcile,renewSubscriptions' },
    latencies: { type: 'string', default: '0,50-100' },
    modes: { type: 'string', default: 'before,sessions8,after1,after4' },
  },
});
/** A comma-separated option's values, each one of `allowed` (a typo is refused, not silently measured as nothing). */
function listOption<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const list = text.split(',').map((v) => v.trim()).filter(Boolean);
  const wrong = list.filter((v) => !(allowed as readonly string[]).includes(v));
  if (wrong.length > 0 || list.length === 0) throw new Error(`--${name} takes ${allowed.join(', ')} (comma-separated), not '${text}'`);
  return list as T[];
}
const sizes = values.sizes.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes takes whole numbers of mailboxes, not '${values.sizes}'`);
/** Each instance's sessions (host.json), and the value before 3 December 2026 the reference rows run with. */
const host = hostServiceBusSettings();
const previousSessions = 8;

type Task = 'pollTodo' | 'reconcile' | 'renewSubscriptions';
const tasks: Task[] = listOption('tasks', values.tasks, ['pollTodo', 'reconcile', 'renewSubscriptions'] as const);
const modes = new Set(listOption('modes', values.modes, ['before', 'sessions8', 'after1', 'after4'] as const));
/** The period each task must finish in: the poll every minute, reconciliation its default 15 minutes, renewal 30. */
const periodMs: Record<Task, number> = { pollTodo: 60_000, reconcile: 15 * 60_000, renewSubscriptions: 30 * 60_000 };
const latencyChoices = {
  '0': { label: '0 ms', graph: undefined, dataverse: undefined },
  '50-100': { label: '50-100 ms', graph: { minMs: 50, maxMs: 100 }, dataverse: { min: 50, max: 100 } },
} as const;
const latencies = listOption('latencies', values.latencies, ['0', '50-100'] as const).map((l) => latencyChoices[l]);

interface Row {
  mailboxes: number;
  latency: string;
  mode: string;
  task: Task;
  timerMs: number;
  doneMs: number;
  graphPerMailbox: number;
  dataversePerMailbox: number;
  throttled: number;
  capacityPerInstance: number;
  extrapolated?: boolean;
}
const rows: Row[] = [];

async function counts(stack: Stack) {
  const g = await stack.graph.admin.requests();
  return { graph: g.total, throttled: g.throttled, dataverse: stack.dataverse.admin.requestCounts().total, byRoute: g.byRoute };
}

/** Every stored subscription expiring within the hour (Graph still has them with their real expiry). */
async function dueForRenewal(stack: Stack): Promise<void> {
  const soon = new Date(Date.now() + 3600_000).toISOString();
  for (const sub of await stack.runtime.subscriptions.list()) await stack.runtime.subscriptions.put({ ...sub, expirationDateTime: soon });
}

async function measure(stack: Stack, n: number, latency: string, mode: string, task: Task, instances: number, run: () => Promise<number>): Promise<void> {
  await stack.settled({ timeoutMs: 900_000 });
  if (task === 'renewSubscriptions') await dueForRenewal(stack);
  const before = await counts(stack);
  // --routes: how the work queue's messages went (a redelivery, an abandon or a lost lock doubles a mailbox's work).
  const bus: Record<string, number> = {};
  const listeners = (values.routes ? ['abandoned', 'lockExpired', 'sessionLockExpired', 'duplicateDropped', 'delivered'] : []).map((name) => {
    const listener = (e: { queue: string; deliveryCount?: number }) => {
      if (e.queue !== 'sync-mailbox-work') return;
      const key = name === 'delivered' && (e.deliveryCount ?? 1) > 1 ? 'redelivered' : name;
      bus[key] = (bus[key] ?? 0) + 1;
    };
    stack.serviceBus.events.on(name, listener);
    return [name, listener] as const;
  });
  const started = performance.now();
  const timerMs = await run();
  await stack.settled({ timeoutMs: 900_000 });
  const doneMs = performance.now() - started;
  const after = await counts(stack);
  rows.push({
    mailboxes: n,
    latency,
    mode,
    task,
    timerMs,
    doneMs,
    graphPerMailbox: (after.graph - before.graph) / n,
    dataversePerMailbox: (after.dataverse - before.dataverse) / n,
    throttled: after.throttled - before.throttled,
    capacityPerInstance: Math.floor((n * periodMs[task]) / doneMs / instances),
  });
  printRow(rows.at(-1)!);
  // --routes: the Graph requests of the row by route, to see where calls per mailbox above the task's own come from.
  if (values.routes) {
    const delta = Object.entries(after.byRoute).map(([route, total]) => [route, total - (before.byRoute[route] ?? 0)] as const).filter(([, d]) => d > 0);
    console.log(`        Graph by route: ${delta.map(([route, d]) => `${route} ${d}`).join(', ')}`);
    console.log(`        sync-mailbox-work: ${Object.entries(bus).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    for (const [name, listener] of listeners) stack.serviceBus.events.off(name, listener);
  }
}

const sequential: Record<Task, (stack: Stack) => Promise<unknown>> = {
  pollTodo: (stack) => pollTodo(stack.runtime),
  reconcile: (stack) => reconcileAll(stack.runtime),
  renewSubscriptions: (stack) => renewSubscriptions(stack.runtime),
};

/** The timer fired on the stack's host: its own duration (the fanned-out work is awaited by measure). */
async function timerRun(stack: Stack, task: Task): Promise<number> {
  const started = performance.now();
  await stack.host.fireTimer(task);
  return performance.now() - started;
}

function printRow(r: Row): void {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  console.log(
    `${String(r.mailboxes).padStart(5)} | ${r.latency.padEnd(9)} | ${r.mode.padEnd(13)} | ${r.task.padEnd(18)} | timer ${f(r.timerMs).padStart(7)} ms | all done ${f(r.doneMs / 1000).padStart(6)} s${r.extrapolated ? '*' : ' '} | Graph ${r.graphPerMailbox.toFixed(1)}/mbx | Dataverse ${r.dataversePerMailbox.toFixed(1)}/mbx | 429s ${r.throttled} | ~${r.capacityPerInstance} mbx/period/instance`,
  );
}

console.log('mailboxes | latency | mode | task | timer duration | every mailbox done | calls per mailbox | 429s | mailboxes kept within the period per instance');
for (const n of sizes) {
  const users = Array.from({ length: n }, (_, i) => ({ key: `u${i}`, userPrincipalName: `user${i}@contoso.example`, displayName: `User ${i}`, timeZone: 'UTC' }));
  const setup = performance.now();
  const stack = await startStack({ seed: 19, users, logSink: () => undefined, everyFireDoesAll: true });
  console.log(`-- ${n} mailboxes onboarded in ${((performance.now() - setup) / 1000).toFixed(1)} s`);
  try {
    for (const latency of latencies) {
      await stack.graph.admin.setFaultPlan(latency.graph ? { seed: 19, latency: latency.graph } : {});
      stack.dataverse.admin.setFaultPlan(latency.dataverse ? { requests: { latencyMs: latency.dataverse } } : {});
      // Before: one call does every mailbox; extrapolated linearly from 100 mailboxes where it would take minutes.
      for (const task of modes.has('before') ? tasks : []) {
        const measured = rows.find((r) => r.mailboxes === 100 && r.latency === latency.label && r.mode === 'before' && r.task === task);
        if (n > 100 && latency.graph && !values.full && measured) {
          const doneMs = (measured.doneMs / 100) * n;
          const row: Row = { ...measured, mailboxes: n, timerMs: doneMs, doneMs, capacityPerInstance: Math.floor((n * periodMs[task]) / doneMs), extrapolated: true };
          rows.push(row);
          printRow(row);
          continue;
        }
        await measure(stack, n, latency.label, 'before', task, 1, async () => {
          const started = performance.now();
          await sequential[task](stack);
          return performance.now() - started;
        });
      }
      // The reference: one instance serving 8 sessions at once, host.json's maxConcurrentSessions before 3 December
      // 2026, on the same stack and data (the "after x1" rows themselves while host.json still says 8).
      if (modes.has('sessions8') && host.maxConcurrentSessions !== previousSessions) {
        await stack.host.setMaxConcurrentSessions!(previousSessions);
        for (const task of tasks) await measure(stack, n, latency.label, `x1, ${previousSessions} sess.`, task, 1, () => timerRun(stack, task));
        await stack.host.setMaxConcurrentSessions!(host.maxConcurrentSessions);
      }
      for (const instances of [1, 4].filter((i) => modes.has(`after${i}` as 'after1' | 'after4'))) {
        const extra: LocalHost[] = [];
        for (let i = 1; i < instances; i += 1) {
          extra.push(await startLocalHost({ table: functionTable, functionKeys: [stack.functionKey], serviceBusConnectionString: stack.serviceBus.connectionString, runTimers: false, maxConcurrentSessions: host.maxConcurrentSessions, sessionIdleTimeoutMs: host.sessionIdleTimeoutMs, log: () => undefined }));
        }
        try {
          for (const task of tasks) {
            await measure(stack, n, latency.label, `after x${instances}`, task, instances, () => timerRun(stack, task));
          }
        } finally {
          for (const host of extra) await host.close();
        }
      }
    }
  } finally {
    await stack.close();
  }
}
console.log('* extrapolated linearly from the 100-mailbox measurement of the same run (--full measures it)');
