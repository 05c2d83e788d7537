// Benchmark of the Dataverse simulator: seeds 100,000 records, then measures simple Web API requests per second over
// HTTPS on loopback with concurrent clients. Run with `npm run bench:dataverse-sim`; prints figures, asserts nothing.
import { startIdentityProvider } from '../identity/index.js';
import { startDataverseSimulator } from './index.js';

const RECORDS = Number(process.env.DV_BENCH_RECORDS ?? 100_000);
const DURATION_MS = Number(process.env.DV_BENCH_MS ?? 5_000);
const CONCURRENCY = Number(process.env.DV_BENCH_CONCURRENCY ?? 16);
const APP = 'be0c0000-0000-4000-8000-000000000001';

const idp = await startIdentityProvider({ apps: [{ clientId: APP, clientSecret: 'x' }] });
const sim = await startDataverseSimulator({
  identity: idp,
  seed: 1,
  limits: { requestsPerWindow: 100_000_000, concurrentRequests: 10_000, executionTimeMsPerWindow: 1e12 },
});
sim.admin.seedApplicationUser({ clientId: APP });
const owners = sim.admin.seedUsers(Array.from({ length: 100 }, (_, i) => ({ fullname: `User ${i}`, internalemailaddress: `u${i}@bench.test` }))).map((u) => u.systemuserid);
const headers = { authorization: `Bearer ${idp.issueToken(APP, sim.url)}`, accept: 'application/json', 'content-type': 'application/json' };

let t0 = performance.now();
const ids: string[] = [];
const BATCH = 1000;
for (let i = 0; i < RECORDS; i += BATCH) {
  const rows = Array.from({ length: Math.min(BATCH, RECORDS - i) }, (_, j) => {
    const n = i + j;
    return {
      subject: `Appointment ${n}`,
      scheduledstart: new Date(Date.UTC(2030, 0, 1) + n * 60_000).toISOString(),
      scheduledend: new Date(Date.UTC(2030, 0, 1) + n * 60_000 + 1_800_000).toISOString(),
      'ownerid@odata.bind': `/systemusers(${owners[n % owners.length]!})`,
    };
  });
  ids.push(...sim.admin.seedRecords('appointments', rows));
}
const seedMs = performance.now() - t0;
const rss = process.memoryUsage().rss / 1024 / 1024;
console.log(`seeded ${RECORDS} appointments (with organizer and owner parties) in ${(seedMs / 1000).toFixed(1)} s (${Math.round(RECORDS / (seedMs / 1000))}/s); RSS ${rss.toFixed(0)} MB`);

type Op = (i: number) => Promise<number>;
const get: Op = async (i) => (await fetch(`${sim.apiUrl}/appointments(${ids[(i * 7919) % ids.length]!})?$select=subject,scheduledstart`, { headers })).status;
const query: Op = async (i) => (await fetch(`${sim.apiUrl}/appointments?$select=subject&$filter=_ownerid_value eq ${owners[i % owners.length]!} and scheduledstart ge 2030-01-20T00:00:00Z&$top=10`, { headers })).status;
const patch: Op = async (i) => (await fetch(`${sim.apiUrl}/appointments(${ids[(i * 104729) % ids.length]!})`, { method: 'PATCH', headers, body: JSON.stringify({ subject: `Changed ${i}` }) })).status;
const party: Op = async (i) =>
  (await fetch(`${sim.apiUrl}/appointments?$select=subject&$top=5&$filter=appointment_activity_parties/any(p: p/_partyid_value eq ${owners[i % owners.length]!} and p/participationtypemask eq 7)`, { headers })).status;

async function measure(name: string, op: Op): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + DURATION_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        const status = await op(i++);
        latencies.push(performance.now() - s);
        if (status >= 400) errors++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
  console.log(`${name.padEnd(34)} ${Math.round(latencies.length / secs).toString().padStart(6)} req/s  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms  errors ${errors}  (${latencies.length} requests, ${CONCURRENCY} clients)`);
}

await measure('GET appointments(id) $select', get);
await measure('GET $filter owner+date $top=10', query);
await measure('GET $filter parties/any $top=5', party);
await measure('PATCH appointments(id)', patch);

t0 = performance.now();
const res = await fetch(`${sim.apiUrl}/appointments?$select=subject`, { headers: { ...headers, Prefer: 'odata.track-changes,odata.maxpagesize=5000' } });
const first = (await res.json()) as { value: unknown[]; '@odata.nextLink'?: string };
console.log(`change-tracking first page (5000 of ${RECORDS}) in ${(performance.now() - t0).toFixed(0)} ms`);
void first;

await sim.close();
await idp.close();
