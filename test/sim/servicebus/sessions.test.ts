// Sessions in the Service Bus simulator, through the real SDK's session receivers.
import { isServiceBusError, ServiceBusClient, type ServiceBusReceivedMessage, type ServiceBusSessionReceiver } from '@azure/service-bus';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { durationToMs, startServiceBusSimulator, type ServiceBusSimulator } from '../../../dev/sim/servicebus/index.js';
import { changesQueue, queues as productQueues, workQueue } from '../../../shared/servicebus/queues.js';

let sim: ServiceBusSimulator;
const clients: ServiceBusClient[] = [];

function client(timeoutInMs = 5000): ServiceBusClient {
  const c = new ServiceBusClient(sim.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs } });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sim = await startServiceBusSimulator({
    queues: [
      { name: 'fifo', requiresSession: true },
      { name: 'exclusive', requiresSession: true },
      { name: 'next', requiresSession: true },
      { name: 'expire', requiresSession: true, lockDuration: 800 },
      { name: 'renew', requiresSession: true, lockDuration: 1000 },
      { name: 'state', requiresSession: true },
      { name: 'rules', requiresSession: true },
      { name: 'clock' },
    ],
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sim.close();
});

/** Receives until `count` messages arrived (a session receiver hands out what is there, in order). */
async function receiveAll(receiver: ServiceBusSessionReceiver, count: number): Promise<ServiceBusReceivedMessage[]> {
  const got: ServiceBusReceivedMessage[] = [];
  while (got.length < count) {
    const batch = await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: 2000 });
    if (batch.length === 0) throw new Error(`only ${got.length} of ${count} messages arrived`);
    for (const m of batch) await receiver.completeMessage(m);
    got.push(...batch);
  }
  return got;
}

describe('Service Bus simulator: sessions', () => {
  it('delivers FIFO within each session while different sessions are processed in parallel', async () => {
    // Seeded interleavings of three sessions' messages, sent in batches and singly.
    const sessions = ['pair-a', 'pair-b', 'pair-c'];
    const interleaving = fc.sample(fc.array(fc.constantFrom(...sessions), { minLength: 30, maxLength: 30 }), { seed: 5, numRuns: 1 })[0]!;
    const c = client();
    const sender = c.createSender('fifo');
    const sent = new Map<string, number[]>(sessions.map((s) => [s, []]));
    const messages = interleaving.map((sessionId, i) => {
      sent.get(sessionId)!.push(i);
      return { body: i, sessionId, messageId: `f-${i}` };
    });
    await sender.sendMessages(messages.slice(0, 10));
    for (const m of messages.slice(10, 20)) await sender.sendMessages(m);
    await sender.sendMessages(messages.slice(20));

    // Three receivers hold three different sessions at the same time.
    const receivers = await Promise.all(sessions.map(() => c.acceptNextSession('fifo')));
    expect(new Set(receivers.map((r) => r.sessionId))).toEqual(new Set(sessions));
    const results = await Promise.all(receivers.map((r) => receiveAll(r, sent.get(r.sessionId)!.length)));
    receivers.forEach((r, i) => {
      expect(results[i]!.every((m) => m.sessionId === r.sessionId)).toBe(true);
      expect(results[i]!.map((m) => m.body as unknown)).toEqual(sent.get(r.sessionId));
    });
    expect(sim.counts('fifo')).toMatchObject({ active: 0, locked: 0 });
  }, 10_000);

  it('allows one receiver per session: a second accept is SessionCannotBeLocked, and closing releases the session', async () => {
    const c = client();
    await c.createSender('exclusive').sendMessages({ body: 1, sessionId: 'item-1' });
    const first = await c.acceptSession('exclusive', 'item-1');
    const err = await c.acceptSession('exclusive', 'item-1').catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('SessionCannotBeLocked');
    const [message] = await first.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await first.close();
    // The unsettled message went back with the session; the next holder receives it again.
    const second = await c.acceptSession('exclusive', 'item-1');
    const [again] = await second.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    expect(again).toMatchObject({ messageId: message!.messageId, deliveryCount: 1 });
    await second.completeMessage(again!);
  });

  it('acceptNextSession waits for a session with messages, and times out with the SDK timeout error when none comes', async () => {
    const c = client(500);
    // Several idle receivers polling on one connection, twice over, as a session processor does between bursts.
    for (let round = 0; round < 2; round++) {
      const outcomes = await Promise.all([1, 2, 3].map(() => c.acceptNextSession('next').catch((e: unknown) => e)));
      for (const none of outcomes) expect(isServiceBusError(none) && none.code).toBe('ServiceTimeout');
    }

    const held = sim.waitFor('sessionAcceptWaiting', (e) => e.queue === 'next');
    const waiting = client().acceptNextSession('next');
    await held;
    await c.createSender('next').sendMessages({ body: 'wake up', sessionId: 'late' });
    const receiver = await waiting;
    expect(receiver.sessionId).toBe('late');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.completeMessage(m!);
  }, 10_000);

  it('expires an unrenewed session lock: the receiver is told SessionLockLost and the message returns with deliveryCount + 1', async () => {
    const c = client();
    await c.createSender('expire').sendMessages({ body: 'x', sessionId: 's-exp', messageId: 'sx-1' });
    const receiver = await c.acceptSession('expire', 's-exp', { maxAutoLockRenewalDurationInMs: 0 });
    // Hold the message without settling it until the broker detaches the session link.
    let held: ServiceBusReceivedMessage | undefined;
    const lost = new Promise<unknown>((resolve) => {
      receiver.subscribe(
        {
          processMessage: (m) => {
            held = m;
            return Promise.resolve();
          },
          processError: (args) => {
            if (isServiceBusError(args.error) && args.error.code === 'SessionLockLost') resolve(args.error);
            return Promise.resolve();
          },
        },
        { autoCompleteMessages: false },
      );
    });
    await lost;
    expect(held?.messageId).toBe('sx-1');
    const err = await receiver.completeMessage(held!).catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('SessionLockLost');
    const next = await c.acceptSession('expire', 's-exp', { maxAutoLockRenewalDurationInMs: 0 });
    const [again] = await next.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    expect(again).toMatchObject({ messageId: 'sx-1', deliveryCount: 1 });
    await next.completeMessage(again!);
  }, 10_000);

  it('renewing the session lock keeps the session past its lock duration', async () => {
    const c = client();
    await c.createSender('renew').sendMessages({ body: 'x', sessionId: 's-ren', messageId: 'sr-1' });
    const receiver = await c.acceptSession('renew', 's-ren', { maxAutoLockRenewalDurationInMs: 0 });
    const originalUntil = receiver.sessionLockedUntilUtc.getTime();
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.renewSessionLock();
    expect(receiver.sessionLockedUntilUtc.getTime()).toBeGreaterThan(originalUntil);
    const pastOriginalLock = sim.waitFor('scheduledActivated', (e) => e.messageId === 'clock-sr-1');
    await c.createSender('clock').scheduleMessages({ body: 'tick', messageId: 'clock-sr-1' }, new Date(originalUntil + 50));
    await pastOriginalLock;
    await receiver.completeMessage(message!);
    expect(sim.counts('renew').active).toBe(0);
  });

  it('keeps session state across receivers', async () => {
    const c = client();
    await c.createSender('state').sendMessages({ body: 1, sessionId: 's-state' });
    const first = await c.acceptSession('state', 's-state');
    expect(await first.getSessionState()).toBeNull();
    await first.setSessionState({ lastApplied: 7 });
    await first.close();
    expect(JSON.parse(sim.sessionState('state', 's-state')!.toString())).toEqual({ lastApplied: 7 });
    const second = await c.acceptSession('state', 's-state');
    expect(await second.getSessionState()).toEqual({ lastApplied: 7 });
    await second.setSessionState(null);
    expect(await second.getSessionState()).toBeNull();
    const [m] = await second.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await second.completeMessage(m!);
  });

  it('enforces the session rules: no plain receivers, no messages without a session id; peek and defer stay in the session', async () => {
    const c = client();
    const receiveErr = await c.createReceiver('rules').receiveMessages(1, { maxWaitTimeInMs: 500 }).catch((e: unknown) => e);
    expect(isServiceBusError(receiveErr)).toBe(true);
    expect(String((receiveErr as Error).message)).toMatch(/requires sessions/);
    const sendErr = await c.createSender('rules').sendMessages({ body: 'no session' }).catch((e: unknown) => e);
    expect(String((sendErr as Error).message)).toMatch(/SessionId was not set/);

    await c.createSender('rules').sendMessages([
      { body: 'a1', sessionId: 'A' },
      { body: 'b1', sessionId: 'B' },
      { body: 'a2', sessionId: 'A' },
    ]);
    const a = await c.acceptSession('rules', 'A');
    expect((await a.peekMessages(10)).map((m) => m.body as unknown)).toEqual(['a1', 'a2']);
    const [a1] = await a.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await a.deferMessage(a1!);
    const [a2] = await a.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    expect(a2!.body).toBe('a2');
    await a.completeMessage(a2!);
    const [deferred] = await a.receiveDeferredMessages(a1!.sequenceNumber!);
    expect(deferred).toMatchObject({ body: 'a1', sessionId: 'A' });
    await a.completeMessage(deferred!);
    const b = await c.acceptNextSession('rules');
    expect(b.sessionId).toBe('B');
    const [b1] = await b.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await b.completeMessage(b1!);
    expect(sim.counts('rules')).toMatchObject({ active: 0, deferred: 0 });
  });
});

describe('Service Bus simulator: the product queue table', () => {
  it('accepts the queue definitions of shared/servicebus/queues.ts as they are, with their session and duplicate rules', async () => {
    const product = await startServiceBusSimulator({ queues: [...productQueues] });
    const c = new ServiceBusClient(product.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
    try {
      const sender = c.createSender(changesQueue.name);
      await sender.sendMessages({ body: { change: 1 }, messageId: 'c-1' });
      await sender.sendMessages({ body: { change: 1 }, messageId: 'c-1' });
      expect(product.counts(changesQueue.name).active).toBe(1);
      // The changes queue has no sessions (queues.ts says why); the work queue keeps one per mailbox.
      await expect(c.acceptNextSession(changesQueue.name, { maxAutoLockRenewalDurationInMs: 0 })).rejects.toThrow();
      const work = c.createSender(workQueue.name);
      await work.sendMessages({ body: { w: 1 }, sessionId: 'mbx-1', messageId: 'w-1' });
      const session = await c.acceptNextSession(workQueue.name);
      expect(session.sessionId).toBe('mbx-1');
      await session.completeMessage((await session.receiveMessages(1, { maxWaitTimeInMs: 2000 }))[0]!);
      const receiver = c.createReceiver(changesQueue.name);
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      expect(m!.expiresAtUtc!.getTime() - m!.enqueuedTimeUtc!.getTime()).toBe(durationToMs(changesQueue.defaultMessageTimeToLive));
      expect(m!.lockedUntilUtc!.getTime() - Date.now()).toBeLessThanOrEqual(durationToMs(changesQueue.lockDuration));
      await receiver.completeMessage(m!);
    } finally {
      await c.close();
      await product.close();
    }
  }, 10_000);
});
