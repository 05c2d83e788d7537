// The local host's session concurrency (dev/host): at most maxConcurrentSessions sessions are served at once, and
// setMaxConcurrentSessions changes that on a running host (the scale benchmark measures the previous host.json value
// on the same stack with it): raised, more sessions are served at once; lowered, the loops past the new number end
// after the session they serve and the promise resolves when they have.
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type LocalHost } from '../../dev/host/index.js';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../../dev/sim/servicebus/index.js';
import type { FunctionDefinition } from '../../functions/table.js';

const queue = 'host-sessions';
let sim: ServiceBusSimulator;
let sender: ServiceBusClient;

beforeAll(async () => {
  sim = await startServiceBusSimulator({ queues: [{ name: queue, requiresSession: true }] });
  sender = new ServiceBusClient(sim.connectionString);
});

afterAll(async () => {
  await sender.close();
  await sim.close();
});

/** A handler that holds every message until released, and tells how many it holds at once. */
function gatedHandler() {
  let held = 0;
  let most = 0;
  let started = 0;
  const waiting: (() => void)[] = [];
  const reached: { n: number; resolve: () => void }[] = [];
  const startedReached: { n: number; resolve: () => void }[] = [];
  return {
    handler: async () => {
      held += 1;
      started += 1;
      most = Math.max(most, held);
      for (const r of reached.filter((x) => held >= x.n)) r.resolve();
      for (const r of startedReached.filter((x) => started >= x.n)) r.resolve();
      await new Promise<void>((resolve) => waiting.push(resolve));
      held -= 1;
    },
    /** Resolves once this many messages are held at once. */
    holding: (n: number) => (held >= n ? Promise.resolve() : new Promise<void>((resolve) => reached.push({ n, resolve }))),
    /** Resolves once this many messages have started in all. */
    started: (n: number) => (started >= n ? Promise.resolve() : new Promise<void>((resolve) => startedReached.push({ n, resolve }))),
    releaseAll: () => waiting.splice(0).forEach((r) => r()),
    get most() {
      return most;
    },
    resetMost: () => void (most = held),
  };
}

async function send(prefix: string, count: number): Promise<void> {
  await sender.createSender(queue).sendMessages(Array.from({ length: count }, (_, i) => ({ body: { i }, messageId: `${prefix}-${i}`, sessionId: `${prefix}-session-${i}` })));
}

function settledCount(host: LocalHost, count: number): Promise<void> {
  let n = 0;
  return new Promise((resolve) => {
    const on = () => {
      n += 1;
      if (n === count) {
        host.events.off('settled', on);
        resolve();
      }
    };
    host.events.on('settled', on);
  });
}

describe('local host sessions', () => {
  it('serves at most maxConcurrentSessions sessions at once, more once raised and fewer once lowered', async () => {
    const gate = gatedHandler();
    const table: FunctionDefinition[] = [{ kind: 'serviceBusQueue', name: 'worker', queueName: queue, connection: 'ServiceBusConnection', isSessionsEnabled: true, handler: () => gate.handler() }];
    const host = await startLocalHost({ table, functionKeys: ['k'], serviceBusConnectionString: sim.connectionString, maxConcurrentSessions: 2, sessionIdleTimeoutMs: 50, runTimers: false, log: () => undefined });
    try {
      // Six sessions waiting, two loops: two are served at once.
      const first = settledCount(host, 6);
      await send('a', 6);
      await gate.holding(2);
      // Raised to five while both are held: three more loops take the sessions still waiting.
      await host.setMaxConcurrentSessions!(5);
      await gate.holding(5);
      expect(gate.most).toBe(5);
      // Lowered to one while five are held: the promise resolves only once four loops have ended, which they do
      // after the session they serve (released here); the sixth session waits for the one loop left.
      const lowered = host.setMaxConcurrentSessions!(1);
      gate.releaseAll();
      await lowered;
      await gate.holding(1);
      gate.resetMost();
      gate.releaseAll();
      await first;
      // From now on one session at a time.
      const second = settledCount(host, 3);
      await send('b', 3);
      for (let i = 1; i <= 3; i += 1) {
        await gate.started(6 + i);
        gate.releaseAll();
      }
      await second;
      expect(gate.most).toBe(1);
    } finally {
      gate.releaseAll();
      await host.close();
    }
  }, 60_000);
});
