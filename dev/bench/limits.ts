// Graph's per-mailbox limits and the Dataverse budget, measured with the budget off and on in the same run
// (issue 19 items 3-4). Each scenario starts its own stack with two worker instances on one mailbox:
// - burst: appointments created in Dynamics 365 at once (Dataverse -> Exchange), Graph at 50-100 ms per call (a
//   realistic latency) and at 800-1200 ms (where, on this CPU-bound machine, the sessions outrun the mailbox's 4
//   concurrent requests);
// - backfill: a mailbox enabled with records already in Dynamics 365, enqueued at once (pace 0), same latencies;
// - app users: events tracked in Outlook at once (Exchange -> Dataverse) against a Dataverse whose concurrency limit
//   is lowered to 2 per user (the budget at 2, so 1 per instance), Dataverse at 200-400 ms per call, with 1 and with
//   2 application users;
// - dv batch: the same tracked events against a Dataverse request budget that binds
//   (SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES=600, so about 2 requests/s after a burst of 60), Dataverse at 50-100 ms per
//   request and per part of a batch, with $batch off (SYNC_DATAVERSE_BATCH_MAX=1) and on (20): calls that wait for the
//   budget share one request (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits: a batch is
//   one request for the request count).
// Prints per run the 429s (Graph and Dataverse, from the simulators' own accounting), the peak of Graph requests in
// flight for the mailbox, items per second until the sync settled, and the Dataverse requests the simulator counted
// (a $batch is one) beside the operations it answered (a batch's parts each).
// Usage: node dev/with-dev-ca.mjs npx tsx dev/bench/limits.ts [burst=60] [backfill=40] [events=40]
// LIMITS_SCENARIOS=burst,backfill,app users,dv batch (default all) runs only the scenarios named.
import { startStack, type Stack } from '../stack/index.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { runBackfill } from '../../shared/onboarding/backfill.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';

const burstItems = Number(process.argv[2] ?? 60);
const backfillItems = Number(process.argv[3] ?? 40);
const trackedEvents = Number(process.argv[4] ?? 40);
const users = [{ key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Limits', timeZone: 'UTC' }];
const latencies = [{ label: '50-100 ms', minMs: 50, maxMs: 100 }, { label: '800-1200 ms', minMs: 800, maxMs: 1200 }];

interface Figures {
  scenario: string;
  setting: string;
  items: number;
  seconds: number;
  graph429: number;
  dataverse429: number;
  peak: number;
  dead: number;
  dvRequests: number;
  dvOperations: number;
}
const rows: Figures[] = [];

const scenarios = (process.env.LIMITS_SCENARIOS ?? 'burst,backfill,app users,dv batch').split(',').map((x) => x.trim());

/** Dataverse requests as service protection counts them (a $batch is one) and the operations answered (each part). */
function dataverseCounts(stack: Stack): { requests: number; operations: number } {
  const c = stack.dataverse.admin.requestCounts();
  return { requests: c.total, operations: Object.entries(c.byRoute).filter(([route]) => route !== 'POST $batch').reduce((n, [, v]) => n + v, 0) };
}

async function measure(scenario: string, setting: string, options: Parameters<typeof startStack>[0], run: (stack: Stack) => Promise<number>): Promise<void> {
  if (!scenarios.includes(scenario)) return;
  const stack = await startStack({ seed: 19, users, instances: 2, logSink: () => undefined, ...options });
  try {
    await stack.settled({ timeoutMs: 120_000 });
    const graphBefore = await stack.graph.admin.requests();
    const dvBefore = stack.dataverse.admin.requestCounts().byStatus['429'] ?? 0;
    const countsBefore = dataverseCounts(stack);
    const started = performance.now();
    const items = await run(stack);
    await stack.settled({ timeoutMs: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    const graph = await stack.graph.admin.requests();
    const alice = stack.users.alice!;
    const dead = stack.serviceBus.counts(changesQueue.name).deadLettered;
    const countsAfter = dataverseCounts(stack);
    rows.push({
      scenario, setting, items, seconds, graph429: graph.throttled - graphBefore.throttled, dataverse429: (stack.dataverse.admin.requestCounts().byStatus['429'] ?? 0) - dvBefore, peak: graph.peakConcurrentByMailbox[alice.graph.id] ?? 0, dead,
      dvRequests: countsAfter.requests - countsBefore.requests, dvOperations: countsAfter.operations - countsBefore.operations,
    });
    const r = rows[rows.length - 1]!;
    console.log(`${scenario.padEnd(9)} ${setting.padEnd(44)} ${String(items).padStart(4)} items in ${seconds.toFixed(1).padStart(5)} s = ${(items / seconds).toFixed(1).padStart(5)} items/s; Graph 429s ${String(r.graph429).padStart(4)}, peak in flight ${r.peak}; Dataverse 429s ${String(r.dataverse429).padStart(4)}, requests ${String(r.dvRequests).padStart(4)} for ${String(r.dvOperations).padStart(4)} operations; dead-lettered ${dead}`);
  } finally {
    await stack.close();
  }
}

const burst = (label: string, graphLatency: { minMs: number; maxMs: number }) => async (stack: Stack) => {
  const alice = stack.users.alice!;
  await stack.graph.admin.setFaultPlan({ seed: 19, latency: graphLatency });
  const start = Date.now() + 2 * 86400_000;
  for (let i = 0; i < burstItems; i += 1) {
    const at = new Date(start + i * 3600_000);
    stack.dataverse.admin.as(alice.systemUserId).create('appointments', { subject: `${label} ${i}`, scheduledstart: at.toISOString(), scheduledend: new Date(at.getTime() + 1800_000).toISOString() });
  }
  return burstItems;
};

const backfill = (graphLatency: { minMs: number; maxMs: number }) => async (stack: Stack) => {
  const alice = stack.users.alice!;
  const dv = stack.dataverse.admin.as(alice.systemUserId);
  const base = Date.now() + 86400_000;
  for (let i = 0; i < backfillItems; i += 1) {
    const at = new Date(base + i * 3600_000);
    if (i % 2 === 0) dv.create('tasks', { subject: `Task ${i}`, scheduledend: at.toISOString() });
    else dv.create('appointments', { subject: `Appt ${i}`, scheduledstart: at.toISOString(), scheduledend: new Date(at.getTime() + 1800_000).toISOString() });
  }
  const { mailbox } = await enableMailbox(stack.runtime, alice.userPrincipalName);
  await stack.graph.admin.setFaultPlan({ seed: 19, latency: graphLatency });
  const result = await runBackfill(stack.runtime, mailbox, { perSecond: 0 });
  return result.enqueued;
};

const tracked = (dataverse: { concurrentRequests?: number; latencyMs: { min: number; max: number } }) => async (stack: Stack) => {
  const alice = stack.users.alice!;
  if (dataverse.concurrentRequests !== undefined) stack.dataverse.admin.setLimits({ concurrentRequests: dataverse.concurrentRequests });
  stack.dataverse.admin.setFaultPlan({ requests: { latencyMs: dataverse.latencyMs } });
  const base = Date.now() + 86400_000;
  const t = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });
  for (let i = 0; i < trackedEvents; i += 1) {
    const start = new Date(base + i * 3600_000);
    await stack.graph.admin.createEvent(alice.graph.id, { subject: `Outlook ${i}`, start: t(start), end: t(new Date(start.getTime() + 1800_000)), categories: [trackedCategory] });
  }
  return trackedEvents;
};

console.log(`burst ${burstItems} appointments, backfill ${backfillItems} records, ${trackedEvents} tracked events; one mailbox, two worker instances`);
for (const latency of latencies) {
  for (const mode of ['off', 'shared'] as const) await measure('burst', `Graph ${latency.label}, SYNC_GRAPH_BUDGET=${mode}`, { env: { SYNC_GRAPH_BUDGET: mode, SYNC_DATAVERSE_BUDGET: mode } }, burst(`Burst ${mode}`, latency));
}
for (const latency of latencies) {
  for (const mode of ['off', 'shared'] as const) await measure('backfill', `Graph ${latency.label}, SYNC_GRAPH_BUDGET=${mode}`, { onboard: false, env: { SYNC_GRAPH_BUDGET: mode, SYNC_DATAVERSE_BUDGET: mode } }, backfill(latency));
}
for (const [mode, extra] of [['off', 0], ['shared', 0], ['shared', 1]] as const) {
  await measure('app users', `budget ${mode}, ${extra + 1} application user(s)`, { extraApplicationUsers: extra, env: { SYNC_GRAPH_BUDGET: mode, SYNC_DATAVERSE_BUDGET: mode, SYNC_DATAVERSE_CONCURRENT_REQUESTS: '2' } }, tracked({ concurrentRequests: 2, latencyMs: { min: 200, max: 400 } }));
}
for (const batchMax of ['1', '20']) {
  await measure('dv batch', `request budget 600/5 min, SYNC_DATAVERSE_BATCH_MAX=${batchMax}`, { env: { SYNC_DATAVERSE_BUDGET: 'shared', SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES: '600', SYNC_DATAVERSE_BATCH_MAX: batchMax } }, tracked({ latencyMs: { min: 50, max: 100 } }));
}
// Where only the concurrency binds (the app users scenario's Dataverse), for comparison: a batch holds one slot for
// the time of all its parts.
for (const batchMax of ['1', '20']) {
  await measure('dv batch', `concurrency 2, SYNC_DATAVERSE_BATCH_MAX=${batchMax}`, { env: { SYNC_DATAVERSE_BUDGET: 'shared', SYNC_DATAVERSE_CONCURRENT_REQUESTS: '2', SYNC_DATAVERSE_BATCH_MAX: batchMax } }, tracked({ concurrentRequests: 2, latencyMs: { min: 200, max: 400 } }));
}
