// Load generator for bench.ts, run in a child process so client and simulator each get a core: concurrent HTTPS
// keep-alive requests for a fixed time, reporting throughput and latency percentiles as one JSON line.
// The configuration (paths, token) arrives on stdin: it is too large for argv.
import { Agent, request } from 'node:https';

interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  /** Paths (after the origin) picked round-robin; bodies likewise for POST. */
  paths: string[];
  bodies?: string[];
}

interface Config {
  origin: string;
  token: string;
  concurrency: number;
  durationMs: number;
  scenario: Scenario;
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Config;
const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency });
const latencies: number[] = [];
const statuses = new Map<number, number>();
let next = 0;

function once(): Promise<void> {
  const i = next;
  next += 1;
  const path = config.scenario.paths[i % config.scenario.paths.length] as string;
  const body = config.scenario.bodies?.[i % config.scenario.bodies.length];
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      `${config.origin}${path}`,
      {
        method: config.scenario.method,
        agent,
        headers: { Authorization: `Bearer ${config.token}`, ...(body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function worker(deadline: number): Promise<void> {
  while (Date.now() < deadline) await once();
}

const started = Date.now();
const deadline = started + config.durationMs;
await Promise.all(Array.from({ length: config.concurrency }, () => worker(deadline)));
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ scenario: config.scenario.name, requests: latencies.length, seconds: elapsed, perSecond: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), statuses: Object.fromEntries(statuses) })}\n`,
);
