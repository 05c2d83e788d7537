// `npm run bench`: every benchmark, one after another (they would compete for the 2 cores otherwise), each in its
// own process. Each prints its own figures; this only runs them and says which failed.
import { spawnSync } from 'node:child_process';

// optIn: run only when named (`npm run bench -- scale`, `npm run bench -- burst`): they take minutes.
const benches: { name: string; file: string; args?: string[]; optIn?: boolean }[] = [
  { name: 'Graph simulator', file: 'dev/sim/graph/bench.ts' },
  { name: 'Dataverse simulator', file: 'dev/sim/dataverse/bench.ts' },
  { name: 'Service Bus simulator', file: 'dev/sim/servicebus/bench.ts' },
  { name: 'Sync pipeline (calls per change, latency)', file: 'dev/bench/sync.ts' },
  { name: 'Backfill rate', file: 'dev/bench/backfill.ts' },
  { name: 'Tracked and sent email (calls per item)', file: 'dev/bench/email.ts' },
  { name: 'Recurring series (calls per series change, series comparison)', file: 'dev/bench/series.ts' },
  { name: 'Token acquisition per call (msal cache hit vs the provider memo)', file: 'dev/bench/tokens.ts' },
  { name: 'Scale of the periodic work (fan-out)', file: 'dev/bench/scale.ts', optIn: true },
  { name: 'Per-mailbox Graph limits and the Dataverse budget, off vs on (two instances)', file: 'dev/bench/limits.ts', optIn: true },
  { name: 'Burst of 1,000 changes over 100 mailboxes (worker throughput, CPU, memory)', file: 'dev/bench/burst.ts', optIn: true },
];

const only = process.argv.slice(2);
let failed = 0;
for (const bench of benches) {
  if (only.length ? !only.some((o) => bench.file.includes(o)) : bench.optIn) continue;
  console.log(`\n=== ${bench.name} (${bench.file}) ===`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', bench.file, ...(bench.args ?? [])], { stdio: 'inherit', env: process.env });
  console.log(`=== ${bench.name}: ${result.status === 0 ? 'done' : `FAILED (exit ${String(result.status)})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (result.status !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
