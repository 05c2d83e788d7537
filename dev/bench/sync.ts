// Benchmark of the live pipeline: API calls per synced change in each direction and for the echo, and
// the time from webhook received to write acknowledged, with the simulators at zero latency. Prints figures; it
// asserts nothing (speed is measured, never tested).
// Run: npm run bench:sync [-- --changes 200] [--telemetry] [--untagged]
// --telemetry switches OpenTelemetry on, exporting to the local ingestion endpoint (dev/sim/appinsights) with the
// distribution's default intervals, to measure what it costs.
// --untagged: the Dataverse webhooks do not carry the sync's tag (undocumented for webhooks: test/e2e/echo.test.ts),
// so the Dataverse-side echoes of the Exchange -> Dataverse burst reach the worker instead of being dropped.
// Table operations per change are counted where they leave the process (Node's HTTP client diagnostics channel, by
// method and table), as dev/bench/burstWorker.ts does: the webhooks, the worker and their echoes all run here.
import type { ClientRequest } from 'node:http';
import { subscribe } from 'node:diagnostics_channel';
import { parseArgs } from 'node:util';
import { startAppInsightsSimulator } from '../sim/appinsights/index.js';
import { startStack } from '../stack/index.js';
import { flushTelemetry } from '../../shared/telemetry/index.js';
import type { LogSink } from '../../shared/log.js';
import type { CallCounts } from '../../shared/runtime.js';

const { values } = parseArgs({ options: { changes: { type: 'string', default: '100' }, telemetry: { type: 'boolean', default: false }, untagged: { type: 'boolean', default: false } } });
const n = Number(values.changes);

const applied: { latencyMs: number; queuedMs: number; outcomes: string[] }[] = [];
let waiter: { kind: string; resolve: () => void } | undefined;
const sink: LogSink = (_level, message, props) => {
  if (message !== 'change applied') return;
  const row = { latencyMs: Number(props.latencyMs), queuedMs: Number(props.queuedMs), outcomes: (props.outcomes as string[]) ?? [] };
  applied.push(row);
  if (waiter && row.outcomes.some((o) => o.startsWith(waiter!.kind))) {
    const w = waiter;
    waiter = undefined;
    w.resolve();
  }
};
/** Resolves when the next change with this outcome has been applied. */
const next = (kind: string) => new Promise<void>((resolve) => (waiter = { kind, resolve }));

const ai = values.telemetry ? await startAppInsightsSimulator() : undefined;
const stack = await startStack({ seed: 99, logSink: sink, ...(values.untagged ? { webhookCarriesTag: false } : {}), ...(ai ? { env: { APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString } } : {}) });
console.log(`Telemetry: ${ai ? `on, exporting to ${ai.origin}` : 'off'}; Dataverse webhooks ${values.untagged ? 'without' : 'with'} the sync's tag`);
const tableHost = /TableEndpoint=https?:\/\/([^/;]+)/.exec(stack.env.SYNC_TABLES_CONNECTION_STRING ?? '')?.[1];
let tableOps: Record<string, number> = {};
subscribe('http.client.request.start', (message) => {
  const request = (message as { request: ClientRequest }).request;
  if (!tableHost || request.getHeader('host') !== tableHost) return;
  const table = /^\/[^/]+\/([A-Za-z0-9]+|\$batch)/.exec(request.path)?.[1] ?? '?';
  const key = `${request.method} ${table}`;
  tableOps[key] = (tableOps[key] ?? 0) + 1;
});
/** Table operations per change since the last call, in total and by method and table. */
const tableOpsPerChange = (changes: number) => {
  const by = Object.entries(tableOps).sort((a, b) => b[1] - a[1]);
  const total = by.reduce((sum, [, c]) => sum + c, 0);
  tableOps = {};
  return `${(total / changes).toFixed(2)} (${by.map(([k, c]) => `${k} ${(c / changes).toFixed(2)}`).join(', ')})`;
};
const alice = stack.users.alice!;
const as = stack.dataverse.admin.as(alice.systemUserId);

const diff = (a: CallCounts, b: CallCounts) => ({
  graphRead: b.graphRead - a.graphRead,
  graphWrite: b.graphWrite - a.graphWrite,
  dataverseRead: b.dataverseRead - a.dataverseRead,
  dataverseWrite: b.dataverseWrite - a.dataverseWrite,
});
const perChange = (c: CallCounts) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const summary = (label: string, rows: typeof applied, kind: string) => {
  const matching = rows.filter((r) => r.outcomes.some((o) => o.startsWith(kind)));
  const lat = matching.map((r) => r.latencyMs);
  const queued = matching.map((r) => r.queuedMs);
  console.log(`${label}: ${lat.length} '${kind}' outcomes; webhook received -> write acknowledged: p50 ${pct(lat, 50)} ms, p95 ${pct(lat, 95)} ms, p99 ${pct(lat, 99)} ms, max ${Math.max(...lat)} ms`);
  console.log(`${' '.repeat(label.length)}  of which in the queue (webhook received -> worker started): p50 ${pct(queued, 50)} ms, p99 ${pct(queued, 99)} ms`);
};

// Setup (not measured): n appointments in Dataverse, synced to Alice's calendar.
const start = Date.now() + 5 * 86400_000;
const ids: string[] = [];
for (let i = 0; i < n; i += 1) {
  const s = new Date(start + i * 3600_000);
  s.setUTCMinutes(0, 0, 0);
  const rec = as.create('appointments', {
    subject: `Bench ${i}`,
    scheduledstart: s.toISOString(),
    scheduledend: new Date(s.getTime() + 1800_000).toISOString(),
    'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
  });
  ids.push(String(rec.activityid));
}
await stack.settled({ timeoutMs: 120_000 });

// 0. Latency, one change at a time (no queueing behind other changes): webhook received -> write acknowledged.
applied.length = 0;
for (const [i, id] of ids.entries()) {
  const done = next('updated');
  as.update('appointments', id, { description: `latency probe ${i}` });
  await done;
}
await stack.settled({ timeoutMs: 120_000 });
console.log(`\nLatency, one change at a time, simulators at zero latency (Dataverse -> Exchange):`);
summary('  one change at a time', applied, 'updated');
const items0 = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => String(e.item.subject).startsWith('Bench'));
applied.length = 0;
for (const [i, e] of items0.entries()) {
  const done = next('updated');
  await stack.graph.admin.updateEvent(alice.graph.id, e.id, { subject: `Bench ${i} (probe)` });
  await done;
}
await stack.settled({ timeoutMs: 120_000 });
console.log(`Latency, one change at a time (Exchange -> Dataverse):`);
summary('  one change at a time', applied, 'updated');

// 1. Dataverse -> Exchange: n updates by a person in Dynamics 365, all at once.
applied.length = 0;
let before = { ...stack.runtime.calls };
tableOps = {};
const t1 = performance.now();
for (const [i, id] of ids.entries()) as.update('appointments', id, { subject: `Bench ${i} (edited in D365)` });
await stack.settled({ timeoutMs: 120_000 });
const d2e = diff(before, stack.runtime.calls);
const d2eRows = [...applied];
console.log(`\nBurst: Dataverse -> Exchange, ${n} changes at once, in ${Math.round(performance.now() - t1)} ms`);
console.log(`  API calls per change (incl. the echo that comes back): ${JSON.stringify(perChange(d2e))}`);
console.log(`  table operations per change (incl. the echo): ${tableOpsPerChange(n)}`);
console.log(`  floor: 1 Graph write, and no Dataverse read when the webhook's entity image carries the mapped columns`);
summary('  Dataverse changes', d2eRows, 'updated');
console.log(`  echoes (Graph notifications of the sync's own writes): ${d2eRows.filter((r) => r.outcomes.every((o) => o.startsWith('echo'))).length}, calls they cost: ${d2e.graphRead} Graph reads in total (0 = recognised by etag)`);

// 2. Exchange -> Dataverse: n edits by the person in Outlook.
const items = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => String(e.item.subject).startsWith('Bench'));
const taggedBefore = stack.dataverse.admin.deliveries().filter((d) => d.tag === 'dataverse-exchange-sync').length;
applied.length = 0;
before = { ...stack.runtime.calls };
tableOps = {};
const t2 = performance.now();
for (const [i, e] of items.entries()) await stack.graph.admin.updateEvent(alice.graph.id, e.id, { location: { displayName: `Room ${i}` } });
await stack.settled({ timeoutMs: 120_000 });
const e2d = diff(before, stack.runtime.calls);
console.log(`\nBurst: Exchange -> Dataverse, ${items.length} changes at once, in ${Math.round(performance.now() - t2)} ms`);
console.log(`  API calls per change: ${JSON.stringify(perChange(e2d))}`);
console.log(`  table operations per change (incl. the echoes that reach the worker): ${tableOpsPerChange(items.length)}`);
console.log(`  floor: 1 Graph read and 1 Dataverse write`);
summary('  Exchange changes', applied, 'updated');
const dvDrops = stack.dataverse.admin.deliveries().filter((d) => d.tag === 'dataverse-exchange-sync').length - taggedBefore;
console.log(`  echoes: Dataverse webhooks carrying the sync's tag, dropped at the endpoint before the queue: ${dvDrops} (0 API calls each)`);

if (ai) {
  await flushTelemetry();
  const byType = new Map<string, number>();
  for (const e of ai.envelopes()) byType.set(e.data.baseType, (byType.get(e.data.baseType) ?? 0) + 1);
  console.log(`\nTelemetry exported: ${ai.envelopes().length} envelopes in ${ai.requests().length} requests ${JSON.stringify(Object.fromEntries(byType))}`);
}
await stack.close();
await ai?.close();
