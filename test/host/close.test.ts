// Closing the local Functions host (dev/host): it drains as the Functions host does on shutdown (a message being
// handled finishes and is settled; nothing is lost) and does not wait for session loops parked in the SDK's
// acceptNextSession, whose wait (about 10 s) ends neither on close nor on the abort signal.
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalHost, type LocalHost, type SettledEvent } from '../../dev/host/index.js';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../../dev/sim/servicebus/index.js';
import type { FunctionDefinition } from '../../functions/table.js';

const queue = 'host-close';
const sessions = 3;
let sim: ServiceBusSimulator;
let sender: ServiceBusClient;

beforeAll(async () => {
  sim = await startServiceBusSimulator({ queues: [{ name: queue, requiresSession: true }] });
  sender = new ServiceBusClient(sim.connectionString);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await sender.close();
  await sim.close();
});

/** Starts a host whose every session loop is parked in acceptNextSession (the simulator saw each one wait). */
async function idleHost(handler: (body: unknown) => Promise<void>): Promise<LocalHost> {
  let waiting = 0;
  const parked = new Promise<void>((resolve) => {
    const count = () => {
      waiting += 1;
      if (waiting === sessions) {
        sim.events.off('sessionAcceptWaiting', count);
        resolve();
      }
    };
    sim.events.on('sessionAcceptWaiting', count);
  });
  const table: FunctionDefinition[] = [
    { kind: 'serviceBusQueue', name: 'worker', queueName: queue, connection: 'ServiceBusConnection', isSessionsEnabled: true, handler: (body) => handler(body) },
  ];
  const host = await startLocalHost({
    table,
    functionKeys: ['test-key'],
    serviceBusConnectionString: sim.connectionString,
    maxConcurrentSessions: sessions,
    sessionIdleTimeoutMs: 60_000,
    runTimers: false,
    log: () => undefined,
  });
  await parked;
  return host;
}

function settled(host: LocalHost, messageId: string): Promise<SettledEvent> {
  return new Promise((resolve) => {
    const on = (event: SettledEvent) => {
      if (event.messageId !== messageId) return;
      host.events.off('settled', on);
      resolve(event);
    };
    host.events.on('settled', on);
  });
}

describe('local host close', () => {
  it('resolves without any timer firing while loops are parked in acceptNextSession and a served session is idle', async () => {
    const host = await idleHost(() => Promise.resolve());
    // One session is served and then idle in its receive wait (60 s); the other loops stay parked in accept.
    const done = settled(host, 'idle-1');
    await sender.createSender(queue).sendMessages({ body: { n: 1 }, messageId: 'idle-1', sessionId: 'idle-session' });
    expect((await done).outcome).toBe('completed');
    // With time stopped, every wait that ends by a timeout (the SDK's accept and receive waits, the host's cap)
    // never ends: close can only resolve if it waits on none of them. Before the fix it waited for the parked loops
    // until its 5 s cap, and so never resolved here.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'], shouldClearNativeTimers: true });
    await host.close();
    vi.useRealTimers();
    expect(sim.counts(queue)).toMatchObject({ active: 0, locked: 0 });
  });

  it('lets a message being handled finish and be completed before close resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const handling = new Promise<void>((resolve) => (started = resolve));
    const order: string[] = [];
    const host = await idleHost(async () => {
      started();
      await gate;
      order.push('handler finished');
    });
    sim.events.on('completed', (e: { messageId: string }) => {
      if (e.messageId === 'busy-1') order.push('completed');
    });
    await sender.createSender(queue).sendMessages({ body: { n: 2 }, messageId: 'busy-1', sessionId: 'busy-session' });
    await handling;
    const closed = host.close().then(() => order.push('closed'));
    // The handler is still running when close begins; it finishes only now.
    await new Promise((resolve) => setImmediate(resolve));
    order.push('released');
    release();
    await closed;
    // Before the fix close closed the receivers first, so the message could not be completed and stayed locked.
    expect(order).toEqual(['released', 'handler finished', 'completed', 'closed']);
    expect(sim.counts(queue)).toMatchObject({ active: 0, locked: 0 });
  });
});
