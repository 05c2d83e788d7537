// Burst benchmark (`npm run bench -- burst`): a bulk edit in Dynamics 365, 1,000 appointment changes over 100
// mailboxes (10 each) at once, with the simulators at 50-100 ms per call, applied by a worker in its own process
// (dev/bench/burstWorker.ts), so its CPU time and peak memory are the worker's alone (the simulators, Azurite and
// the webhook host run in this process). Two designs in the same run, on the same data:
// - before: changes on the session queue, one session per item pair, 8 sessions, 250 ms session idle timeout (the
//   previous release);
// - after: sync-item-changes without sessions, maxConcurrentCalls from host.json (this release).
// Each design runs two bulk edits on one worker process: a new worker's first (cold) and the next (warm).
// Printed per design and burst: changes/s (1,000 / time from the first edit to every change applied and the queue idle),
// latency p50/p99 (webhook received -> Exchange write acknowledged, from the worker's 'change applied' lines), Graph
// 429s, the worker's CPU time per change (user + system) and its peak RSS, the Graph and Dataverse requests per change
// beside the fastest the services' limits allow at those counts, and this process's own CPU per change (the
// simulators, Azurite, the broker and the webhooks share it). Asserts nothing: speed is measured.
// Usage: node dev/with-dev-ca.mjs tsx dev/bench/burst.ts [--mailboxes 100] [--per-mailbox 10] [--modes sessions,items]
//        [--latency 50-100] [--cpu-prof DIR] (the worker process writes V8 CPU profiles, one per thread, into DIR/<design>)
//        [--worker compiled|source]: the worker runs compiled to plain JavaScript (dev/bench/tsconfig.burst.json, built
//        into .local/burst-dist first), as the deployed app runs `dist/`; `source` runs it through the tsx loader,
//        whose transforms and source maps add their own CPU time and memory to the worker's.
//        [--worker-flags="--max-old-space-size=64"]: Node options for the worker process, to see what of its peak RSS
//        is garbage V8 had not collected yet (a cap on the old space makes it collect sooner, at some CPU).
// BURST_DEBUG=1 prints the worker's log lines and its host's.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createChangeSender } from '../../shared/servicebus/sender.js';
import { startStack } from '../stack/index.js';
import { sessionSender, type BurstMode, type WorkerStats } from './burstWorker.js';

const { values } = parseArgs({
  options: {
    mailboxes: { type: 'string', default: '100' },
    'per-mailbox': { type: 'string', default: '10' },
    modes: { type: 'string', default: 'sessions,items' },
    latency: { type: 'string', default: '50-100' },
    'cpu-prof': { type: 'string' },
    worker: { type: 'string', default: 'compiled' },
    'worker-flags': { type: 'string', default: '' },
  },
});
if (values.worker !== 'compiled' && values.worker !== 'source') throw new Error(`--worker must be compiled or source, not '${values.worker}'`);
const mailboxes = Number(values.mailboxes);
const perMailbox = Number(values['per-mailbox']);
const modes = values.modes.split(',') as BurstMode[];
const [minMs, maxMs] = values.latency.split('-').map(Number) as [number, number];
const total = mailboxes * perMailbox;

/** Builds the compiled worker (about 10 s) and returns its entry; host.json goes beside it, where the host reads it. */
function buildWorker(): string {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}dev/bench/tsconfig.burst.json`], { stdio: 'inherit' });
  copyFileSync(`${root}host.json`, `${root}.local/burst-dist/host.json`);
  return `${root}.local/burst-dist/dev/bench/burstWorker.js`;
}
const workerEntry = values.worker === 'compiled' ? buildWorker() : fileURLToPath(new URL('./burstWorker.ts', import.meta.url));

function startWorker(env: Record<string, string>, mode: BurstMode): Promise<ChildProcess> {
  const execArgv = ['--expose-gc', ...values['worker-flags'].split(' ').filter(Boolean), ...(values.worker === 'source' ? ['--import', 'tsx'] : []), ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}/${mode}`] : [])];
  const child = fork(workerEntry, [], { execArgv, env: { ...process.env, BURST_ENV: JSON.stringify(env), BURST_MODE: mode }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => (m === 'ready' ? resolve(child) : reject(new Error(`worker said ${JSON.stringify(m)}`))));
    child.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${String(code)}`)));
  });
}

/** Stops the worker process and waits for it to exit. */
function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.send('close');
  });
}

function ask<T>(child: ChildProcess, request: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(request);
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/**
 * The fastest the services' documented limits let this burst go at the requests it made, and which limit binds:
 * Graph, 4 concurrent requests per app and mailbox and 10,000 per 10 minutes
 * (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), the requests spread evenly over the
 * mailboxes, each taking the mean simulated latency; Dataverse, one application user's 6,000 requests per 5 minutes
 * and 52 concurrent (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
 */
function limitFloor(graphRequests: number, dvRequests: number): { changesPerSecond: number; bound: string } {
  // At 0 ms a request still takes about a millisecond on loopback.
  const latencyS = Math.max((minMs + maxMs) / 2, 1) / 1000;
  const perMailbox = graphRequests / mailboxes;
  // A budget per window lets its first `budget` requests through at once; each further `budget` waits a window more.
  const windows = (requests: number, budget: number, windowS: number) => Math.max(0, Math.ceil(requests / budget) - 1) * windowS;
  const seconds: [string, number][] = [
    ['Graph: 4 requests at once per mailbox', (perMailbox * latencyS) / 4],
    ['Graph: 10,000 requests per 10 minutes per mailbox', windows(perMailbox, 10_000, 600)],
    ['Dataverse: 6,000 requests per 5 minutes', windows(dvRequests, 6_000, 300)],
    ['Dataverse: 52 requests at once', (dvRequests * latencyS) / 52],
  ];
  const [bound, floorS] = seconds.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { changesPerSecond: total / floorS, bound };
}

const users = Array.from({ length: mailboxes }, (_, i) => ({ key: `u${i}`, userPrincipalName: `user${i}@contoso.example`, displayName: `User ${i}`, timeZone: 'W. Europe Standard Time' }));
const setup = performance.now();
const stack = await startStack({ seed: 7, users, logSink: () => undefined, runQueueTriggers: false, entities: ['appointment'] });
// Setup (not measured): the worker of this release syncs perMailbox appointments per mailbox to Exchange.
let worker = await startWorker(stack.env, 'items');
const ids: { user: string; id: string }[] = [];
const start = Date.now() + 3 * 86400_000;
for (const [u, user] of Object.values(stack.users).entries()) {
  const as = stack.dataverse.admin.as(user.systemUserId);
  for (let i = 0; i < perMailbox; i += 1) {
    const s = new Date(start + (u * perMailbox + i) * 3600_000);
    s.setUTCMinutes(0, 0, 0);
    const rec = as.create('appointments', { subject: `Burst ${u}-${i}`, scheduledstart: s.toISOString(), scheduledend: new Date(s.getTime() + 1800_000).toISOString(), 'ownerid@odata.bind': `/systemusers(${user.systemUserId})` });
    ids.push({ user: user.systemUserId, id: String(rec.activityid) });
  }
}
await stack.settled({ timeoutMs: 900_000 });
await stopWorker(worker);
console.log(`${mailboxes} mailboxes, ${total} appointments synced in ${((performance.now() - setup) / 1000).toFixed(1)} s (setup, not measured)`);
await stack.graph.admin.setFaultPlan({ seed: 7, latency: { minMs, maxMs } });
stack.dataverse.admin.setFaultPlan({ requests: { latencyMs: { min: minMs, max: maxMs } } });
console.log(`Simulators at ${minMs}-${maxMs} ms per call. ${total} changes over ${mailboxes} mailboxes, all at once (a bulk edit in Dynamics 365); the worker runs ${values.worker === 'compiled' ? 'compiled to JavaScript, as deployed' : 'its TypeScript source through tsx'}:`);

const rows: string[] = [];
for (const [round, mode] of modes.entries()) {
  // The webhooks (this process) send where the design under test reads.
  stack.runtime.sender = mode === 'sessions' ? sessionSender(stack.runtime.serviceBus) : createChangeSender(stack.runtime.serviceBus);
  worker = await startWorker(stack.env, mode);
  // Two bulk edits in a row on the same worker: the first is a new worker's (its modules compiled and its code
  // optimized as it goes, as after a deployment or a scale-out), the second the steady state of a running one.
  for (const phase of ['cold', 'warm'] as const) {
    await ask(worker, 'reset');
    const before = await ask<WorkerStats>(worker, 'stats');
    const graphBefore = await stack.graph.admin.requests();
    const dvBefore = stack.dataverse.admin.requestCounts().total;
    const stackCpuBefore = process.cpuUsage();
    const t0 = performance.now();
    for (const { user, id } of ids) stack.dataverse.admin.as(user).update('appointments', id, { subject: `Burst edit ${round} ${phase} ${id.slice(0, 8)}` });
    await stack.settled({ timeoutMs: 1_800_000 });
    const seconds = (performance.now() - t0) / 1000;
    const after = await ask<WorkerStats>(worker, 'stats');
    const graphAfter = await stack.graph.admin.requests();
    const stackCpu = process.cpuUsage(stackCpuBefore);
    const dvRequests = stack.dataverse.admin.requestCounts().total - dvBefore;
    const graphRequests = graphAfter.total - graphBefore.total;
    const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
    const label = `${mode === 'sessions' ? 'before (sessions per item pair, 8 sessions, 250 ms idle)' : 'after (sync-item-changes, no sessions)'}, ${phase === 'cold' ? 'first burst of a new worker' : 'next burst (warm)'}`;
    const row = `${label}: ${(total / seconds).toFixed(1)} changes/s (${seconds.toFixed(1)} s); latency p50 ${(pct(after.latencies, 50) / 1000).toFixed(1)} s, p99 ${(pct(after.latencies, 99) / 1000).toFixed(1)} s over ${after.latencies.length} writes; worker CPU ${(cpuMs / total).toFixed(1)} ms/change, peak RSS ${after.peak.rssMb.toFixed(0)} MB in this burst, ${after.maxRssMb.toFixed(0)} MB in the process's life (${before.rssMb.toFixed(0)} MB before the burst; at most ${after.peak.heapUsedMb.toFixed(0)} MB of JavaScript heap in use of ${after.peak.heapTotalMb.toFixed(0)} MB reserved, ${after.peak.externalMb.toFixed(0)} MB outside it; ${after.heapKeptMb.toFixed(0)} MB of heap kept after it, ${before.heapKeptMb.toFixed(0)} MB before); table operations ${(after.tableOps / total).toFixed(1)} per change (with its echo); Graph 429s ${graphAfter.throttled - graphBefore.throttled} of ${graphAfter.total - graphBefore.total} requests`;
    rows.push(row);
    console.log(`  ${row}`);
    const by = Object.entries(after.tableOpsBy).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${(n / total).toFixed(2)}`);
    console.log(`    table operations per change by method and table: ${by.join(', ')}`);
    const floor = limitFloor(graphRequests, dvRequests);
    console.log(
      `    requests per change: Graph ${(graphRequests / total).toFixed(2)}, Dataverse ${(dvRequests / total).toFixed(2)}; the services' limits allow at most ${floor.changesPerSecond.toFixed(0)} changes/s at these counts (${floor.bound}), so this burst ran at ${((100 * total) / seconds / floor.changesPerSecond).toFixed(1)} % of that; ` +
        `this process (simulators, Azurite, broker, webhooks) used ${((stackCpu.user + stackCpu.system) / 1000 / total).toFixed(1)} ms of CPU per change`,
    );
  }
  await stopWorker(worker);
}
await stack.close();
console.log('Targets (issue 19): >= 100 changes/s, < 5 ms CPU per change, < 200 MB peak RSS.');
