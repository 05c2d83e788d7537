// Fault injection in the Service Bus simulator: the SDK must recover from dropped connections, and delayed
// settlements must still settle. Each test starts its own broker, since faults are per simulator.
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceBusSimulator, type ServiceBusSimulator, type ServiceBusSimulatorOptions } from '../../../dev/sim/servicebus/index.js';

const open: Array<{ close(): Promise<void> }> = [];

async function start(options: ServiceBusSimulatorOptions): Promise<ServiceBusSimulator> {
  const sim = await startServiceBusSimulator(options);
  open.push(sim);
  return sim;
}

/**
 * A client that retries quickly. An operation in flight when the TCP connection drops is only noticed by the SDK
 * when it times out (rhea-promise rejects pending sends on link errors, not on a lost socket), so the timeout is
 * what a dropped operation costs: keep it short here.
 */
function client(sim: ServiceBusSimulator): ServiceBusClient {
  const c = new ServiceBusClient(sim.connectionString, {
    retryOptions: { maxRetries: 5, retryDelayInMs: 20, maxRetryDelayInMs: 100, timeoutInMs: 1000 },
  });
  open.unshift(c); // clients close before their broker
  return c;
}

afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

describe('Service Bus simulator: faults', () => {
  it('drops connections on demand; the SDK reconnects for the next send and a streaming receiver resumes', async () => {
    const sim = await start({ queues: [{ name: 'work' }] });
    const c = client(sim);
    const sender = c.createSender('work');
    const receiver = c.createReceiver('work');
    const seen: string[] = [];
    let allSeen: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allSeen = resolve));
    receiver.subscribe({
      processMessage: (m: ServiceBusReceivedMessage) => {
        seen.push(String(m.messageId));
        if (seen.length === 6) allSeen();
        return Promise.resolve();
      },
      processError: () => Promise.resolve(),
    });
    const delivered = sim.waitFor('completed', (e) => e.messageId === 'before-3');
    await sender.sendMessages([1, 2, 3].map((n) => ({ body: n, messageId: `before-${n}` })));
    await delivered;
    expect(sim.dropConnections()).toBe(1);
    expect(sim.connectionCount()).toBe(0);
    const afterCompleted = sim.waitFor('completed', (e) => e.messageId === 'after-3');
    await sender.sendMessages([1, 2, 3].map((n) => ({ body: n, messageId: `after-${n}` })));
    await done;
    expect(seen).toEqual(['before-1', 'before-2', 'before-3', 'after-1', 'after-2', 'after-3']);
    await afterCompleted;
    expect(sim.counts('work')).toMatchObject({ active: 0 });
  }, 15_000);

  it('with a seeded connection-drop fault, every message still arrives and is completed (lost settlements come back after the lock)', async () => {
    const sim = await start({
      seed: 7,
      queues: [{ name: 'flaky', lockDuration: 300 }],
      faults: { dropConnection: { probability: 0.25, maxDrops: 3 } },
    });
    let drops = 0;
    sim.events.on('connectionDropped', () => drops++);
    const c = client(sim);
    const sender = c.createSender('flaky');
    for (let i = 0; i < 12; i++) await sender.sendMessages({ body: i, messageId: `m-${i}` });
    const completed = new Set<string>();
    const receiver = c.createReceiver('flaky', { maxAutoLockRenewalDurationInMs: 0 });
    while (completed.size < 12) {
      const batch = await receiver.receiveMessages(12, { maxWaitTimeInMs: 1000 });
      for (const m of batch) {
        try {
          await receiver.completeMessage(m);
          completed.add(String(m.messageId));
        } catch {
          // The connection went down with this settlement; the message is redelivered once its lock expires.
        }
      }
    }
    expect(drops).toBe(3);
    expect([...completed].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `m-${i}`).sort());
    expect(sim.counts('flaky')).toMatchObject({ active: 0, deadLettered: 0 });
  }, 20_000);

  it('delays settlement acknowledgements by a seeded time and still settles every message', async () => {
    const sim = await start({
      seed: 3,
      queues: [{ name: 'slow' }],
      faults: { delaySettlement: { probability: 1, minMs: 20, maxMs: 60 } },
    });
    const c = client(sim);
    await c.createSender('slow').sendMessages([1, 2, 3].map((n) => ({ body: n })));
    const receiver = c.createReceiver('slow');
    const messages = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2000 });
    expect(messages).toHaveLength(3);
    await Promise.all(messages.map((m) => receiver.completeMessage(m)));
    expect(sim.counts('slow')).toMatchObject({ active: 0, locked: 0 });
  }, 10_000);
});
