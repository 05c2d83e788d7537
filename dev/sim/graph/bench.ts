// Benchmark of the Graph simulator (npm run bench:graph-sim): seeds 100,000 items, then measures GET and POST
// throughput over HTTPS keep-alive with a load generator in a child process, and prints the figures.
// Throttling limits are lifted for the measurement (the simulator's own capacity is measured, not Outlook's limits).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRAPH_AUDIENCE, startGraphSimulator } from './index.js';

const USERS = Number(process.env.BENCH_USERS ?? 100);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 100_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const here = dirname(fileURLToPath(import.meta.url));

const sim = await startGraphSimulator({ seed: 1, limits: { requestsPerWindow: 1e9, concurrentRequests: 1e6 } });
try {
  sim.identity.registerApp({ clientId: 'bench', clientSecret: 'bench', roles: ['Calendars.ReadWrite', 'Contacts.ReadWrite', 'Tasks.ReadWrite.All'] });
  const token = sim.identity.issueToken('bench', GRAPH_AUDIENCE);
  const users = await sim.admin.seedUsers(Array.from({ length: USERS }, (_, i) => ({ userPrincipalName: `user${i}@bench.test`, timeZone: i % 2 ? 'W. Europe Standard Time' : 'UTC' })));

  const seedStart = performance.now();
  const events: { user: string; id: string; iCalUId: string }[] = [];
  for (let n = 0; n < ITEMS; n += 1) {
    const user = users[n % USERS]!;
    const day = String((n % 28) + 1).padStart(2, '0');
    const kind = n % 10;
    if (kind < 6) {
      const e = await sim.admin.createEvent(user.id, {
        subject: `Event ${n}`,
        start: { dateTime: `2030-02-${day}T09:00:00`, timeZone: 'UTC' },
        end: { dateTime: `2030-02-${day}T10:00:00`, timeZone: 'UTC' },
        categories: n % 3 ? [] : ['Tracked to Dynamics 365'],
        singleValueExtendedProperties: [{ id: 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name DataverseId', value: `dv-${n}` }],
      });
      events.push({ user: user.id, id: e.id as string, iCalUId: e.iCalUId as string });
    } else if (kind < 9) {
      await sim.admin.createContact(user.id, { givenName: 'Contact', surname: String(n), emailAddresses: [{ address: `c${n}@fabrikam.test` }] });
    } else {
      await sim.admin.createTask(user.id, { title: `Task ${n}`, status: 'notStarted' });
    }
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;
  globalThis.gc?.();
  const heapMb = process.memoryUsage().heapUsed / 1024 / 1024;
  console.log(`seeded ${ITEMS} items (${events.length} events) across ${USERS} mailboxes in ${seedSeconds.toFixed(1)} s; heap ${heapMb.toFixed(0)} MB`);

  const pick = (n: number) => Array.from({ length: n }, (_, i) => events[(i * 7919) % events.length]!);
  const scenarios = [
    { name: 'GET event by id', method: 'GET', paths: pick(2000).map((e) => `/v1.0/users/${e.user}/events/${e.id}`) },
    {
      name: 'GET events $filter iCalUId (index) + $select',
      method: 'GET',
      paths: pick(2000).map((e) => `/v1.0/users/${e.user}/events?$filter=${encodeURIComponent(`iCalUId eq '${e.iCalUId}'`)}&$select=subject,start`),
    },
    {
      name: 'POST event',
      method: 'POST',
      paths: users.map((u) => `/v1.0/users/${u.id}/events`),
      bodies: [JSON.stringify({ subject: 'bench', start: { dateTime: '2030-03-01T09:00:00', timeZone: 'W. Europe Standard Time' }, end: { dateTime: '2030-03-01T10:00:00', timeZone: 'W. Europe Standard Time' } })],
    },
  ];
  console.log(`load: ${CONCURRENCY} concurrent HTTPS keep-alive connections from a child process, ${DURATION_MS / 1000} s per scenario`);
  for (const scenario of scenarios) {
    const line = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'benchClient.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
      child.stdin.end(JSON.stringify({ origin: sim.baseUrl, token, concurrency: CONCURRENCY, durationMs: DURATION_MS, scenario }));
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`load generator exited with ${code}`))));
    });
    const r = JSON.parse(line) as { scenario: string; requests: number; perSecond: number; p50: number; p99: number; statuses: Record<string, number> };
    console.log(`${r.scenario.padEnd(46)} ${r.perSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  statuses ${JSON.stringify(r.statuses)}`);
  }
} finally {
  await sim.close();
}
