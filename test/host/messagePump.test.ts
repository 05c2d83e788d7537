// The local host's trigger for a queue without sessions, against the Service Bus simulator through the real SDK: it
// runs at most maxConcurrentCalls handlers at once, takes the next message as one ends, completes on success and
// abandons on a throw (delivery count + 1), as the Functions trigger's processor does
// (https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus#hostjson-settings).
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../functions/table.js';
import { startLocalHost, type LocalHost, type SettledEvent } from '../../dev/host/index.js';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../../dev/sim/servicebus/index.js';

describe('local host: a queue without sessions', () => {
  let sim: ServiceBusSimulator;
  let host: LocalHost;
  let client: ServiceBusClient;
  let inFlight = 0;
  let peak = 0;
  const release: (() => void)[] = [];
  const started: string[] = [];
  let hold = true;
  /** Resolves once `n` handlers have started (checked as each starts: an event, not a timer). */
  let startWaiter: { n: number; resolve: () => void } | undefined;
  const whenStarted = (n: number) => new Promise<void>((resolve) => (startWaiter = { n, resolve }));

  beforeAll(async () => {
    sim = await startServiceBusSimulator({ queues: [{ name: 'plain', maxDeliveryCount: 5 }] });
    const handler = async (body: unknown) => {
      const text = String(body);
      started.push(text);
      if (text === 'fails') throw new Error('handler failed');
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      if (startWaiter && started.length >= startWaiter.n) startWaiter.resolve();
      // Held until the test lets it go, so how many run at once is observed, not timed.
      if (hold) await new Promise<void>((resolve) => release.push(resolve));
      inFlight -= 1;
    };
    const table: FunctionDefinition[] = [{ kind: 'serviceBusQueue', name: 'plainWorker', queueName: 'plain', connection: 'unused', isSessionsEnabled: false, handler }];
    host = await startLocalHost({ table, functionKeys: ['k'], serviceBusConnectionString: sim.connectionString, runTimers: false, maxConcurrentCalls: 4, log: () => undefined });
    client = new ServiceBusClient(sim.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
  });
  afterAll(async () => {
    release.splice(0).forEach((r) => r());
    await client?.close();
    await host?.close();
    await sim?.close();
  });

  it('runs at most maxConcurrentCalls handlers at once, locks no more than that, and completes each as it ends', async () => {
    const settled: SettledEvent[] = [];
    const allSettled = new Promise<void>((resolve) =>
      host.events.on('settled', (e: SettledEvent) => {
        settled.push(e);
        if (settled.length === 10) resolve();
      }),
    );
    const fourRunning = whenStarted(4);
    await client.createSender('plain').sendMessages(Array.from({ length: 10 }, (_, i) => ({ body: `m${i}`, messageId: `m${i}` })));
    await fourRunning;
    // Four handlers hold four locks; the other six wait unlocked, available to another instance.
    expect(sim.counts('plain')).toMatchObject({ active: 10, locked: 4 });
    hold = false;
    release.splice(0).forEach((r) => r());
    await allSettled;
    expect(peak).toBe(4);
    expect(new Set(settled.map((e) => e.messageId)).size).toBe(10);
    expect(settled.every((e) => e.outcome === 'completed' && e.deliveryCount === 1)).toBe(true);
    expect(sim.counts('plain')).toMatchObject({ active: 0, locked: 0 });
  });

  it('abandons a message whose handler throws: it comes back with delivery count + 1 until it is dead-lettered', async () => {
    const dead = sim.waitFor('deadLettered', (e) => e.messageId === 'fails', 20_000);
    await client.createSender('plain').sendMessages({ body: 'fails', messageId: 'fails' });
    const event = await dead;
    expect(event.reason).toBe('MaxDeliveryCountExceeded');
    expect(started.filter((s) => s === 'fails')).toHaveLength(5);
  });
});
