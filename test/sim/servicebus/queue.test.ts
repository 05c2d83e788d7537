// The Service Bus simulator's queue semantics, exercised only through the real @azure/service-bus SDK.
import { isServiceBusError, ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../../../dev/sim/servicebus/index.js';

let sim: ServiceBusSimulator;
const clients: ServiceBusClient[] = [];

/** A client that fails fast: a broker bug must surface as an error, not as a minute of retries. */
function client(connectionString = sim.connectionString): ServiceBusClient {
  const c = new ServiceBusClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sim = await startServiceBusSimulator({
    queues: [
      { name: 'props' },
      { name: 'settle' },
      { name: 'expiry', lockDuration: 700, maxDeliveryCount: 10 },
      { name: 'maxdelivery', maxDeliveryCount: 2 },
      { name: 'dedupe', duplicateDetectionHistoryTimeWindow: 'PT1H' },
      { name: 'scheduled' },
      { name: 'renew', lockDuration: 1000 },
      { name: 'clock' },
      { name: 'peek' },
      { name: 'defer' },
      { name: 'rad' },
      { name: 'ttl', defaultMessageTimeToLive: 'PT1H', deadLetteringOnMessageExpiration: true },
      { name: 'ttl-drop', defaultMessageTimeToLive: 'PT0.2S', deadLetteringOnMessageExpiration: false },
      { name: 'errors', lockDuration: 'PT0.7S' },
      { name: 'mgmt' },
      { name: 'credit' },
    ],
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sim.close();
});

async function receiveOne(receiver: { receiveMessages(n: number, o: { maxWaitTimeInMs: number }): Promise<ServiceBusReceivedMessage[]> }) {
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
  if (!message) throw new Error('no message received');
  return message;
}

describe('Service Bus simulator: sending and receiving', () => {
  it('preserves system and application properties of single and batched sends, and assigns message ids to batch items', async () => {
    const c = client();
    const sender = c.createSender('props');
    const scheduled = new Date(Date.now() - 1000); // in the past: enqueued at once
    await sender.sendMessages({
      body: { change: 'update', id: 42 },
      messageId: 'm-1',
      correlationId: 'corr-1',
      subject: 'appointment',
      contentType: 'application/json',
      timeToLive: 3_600_000,
      replyTo: 'reply-q',
      to: 'dest',
      applicationProperties: { attempt: 3, source: 'graph', flag: true, at: new Date('2026-01-02T03:04:05Z') },
      scheduledEnqueueTimeUtc: scheduled,
    });
    await sender.sendMessages([{ body: 'text body' }, { body: Buffer.from([1, 2, 3]) }, { body: [1, 'two', { three: 3 }] }]);
    const batch = await sender.createMessageBatch();
    expect(batch.tryAddMessage({ body: 'in a batch', messageId: 'b-1' })).toBe(true);
    expect(batch.tryAddMessage({ body: 'also in a batch' })).toBe(true);
    await sender.sendMessages(batch);
    expect(sim.counts('props')).toMatchObject({ active: 6, locked: 0 });

    const receiver = c.createReceiver('props', { receiveMode: 'receiveAndDelete' });
    const received: ServiceBusReceivedMessage[] = [];
    while (received.length < 6) received.push(...(await receiver.receiveMessages(6 - received.length, { maxWaitTimeInMs: 2000 })));
    const [first, ...rest] = received;
    expect(first).toMatchObject({
      body: { change: 'update', id: 42 },
      messageId: 'm-1',
      correlationId: 'corr-1',
      subject: 'appointment',
      contentType: 'application/json',
      timeToLive: 3_600_000,
      replyTo: 'reply-q',
      to: 'dest',
      applicationProperties: { attempt: 3, source: 'graph', flag: true, at: new Date('2026-01-02T03:04:05Z').getTime() },
      deliveryCount: 0,
    });
    expect(first!.scheduledEnqueueTimeUtc?.getTime()).toBe(scheduled.getTime());
    expect(first!.enqueuedTimeUtc).toBeInstanceOf(Date);
    expect(rest.map((m) => m.body as unknown)).toEqual(['text body', Buffer.from([1, 2, 3]), [1, 'two', { three: 3 }], 'in a batch', 'also in a batch']);
    expect(rest[3]!.messageId).toBe('b-1');
    for (const m of received) expect(typeof m.messageId).toBe('string');
    // Sequence numbers increase in send order.
    const seqs = received.map((m) => m.sequenceNumber!.toNumber());
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(sim.counts('props').active).toBe(0);
  });

  it('locks with peek-lock, completes on the link, and abandon makes the message available again with deliveryCount + 1', async () => {
    const c = client();
    await c.createSender('settle').sendMessages({ body: 'work', messageId: 'w-1' });
    const receiver = c.createReceiver('settle');
    const first = await receiveOne(receiver);
    expect(first.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
    expect(sim.counts('settle')).toMatchObject({ active: 1, locked: 1 });

    const abandoned = sim.waitFor('abandoned', (e) => e.messageId === 'w-1');
    await receiver.abandonMessage(first);
    expect((await abandoned).deliveryCount).toBe(1);
    const again = await receiveOne(receiver);
    expect(again.messageId).toBe('w-1');
    expect(again.deliveryCount).toBe(1);
    expect(again.lockToken).not.toBe(first.lockToken);
    await receiver.completeMessage(again);
    expect(sim.counts('settle')).toMatchObject({ active: 0, locked: 0 });
  });

  it('lets the lock expire and redelivers the message with deliveryCount + 1; settling the old lock is MessageLockLost', async () => {
    const c = client();
    await c.createSender('expiry').sendMessages({ body: 'slow', messageId: 'e-1' });
    const receiver = c.createReceiver('expiry', { maxAutoLockRenewalDurationInMs: 0 });
    const first = await receiveOne(receiver);
    expect(first.deliveryCount).toBe(0);
    await sim.waitFor('lockExpired', (e) => e.messageId === 'e-1');
    const second = await receiveOne(receiver);
    expect(second.messageId).toBe('e-1');
    expect(second.deliveryCount).toBe(1);
    const err = await receiver.completeMessage(first).catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('MessageLockLost');
    await receiver.completeMessage(second);
    expect(sim.counts('expiry').active).toBe(0);
  });

  it('moves a message to the dead-letter queue with reason MaxDeliveryCountExceeded after maxDeliveryCount deliveries', async () => {
    const c = client();
    await c.createSender('maxdelivery').sendMessages({ body: 'poison', messageId: 'p-1' });
    const receiver = c.createReceiver('maxdelivery');
    await receiver.abandonMessage(await receiveOne(receiver));
    const deadLettered = sim.waitFor('deadLettered', (e) => e.messageId === 'p-1');
    await receiver.abandonMessage(await receiveOne(receiver));
    expect(await deadLettered).toMatchObject({ reason: 'MaxDeliveryCountExceeded', deliveryCount: 2 });
    expect(sim.counts('maxdelivery')).toMatchObject({ active: 0, deadLettered: 1 });

    const dlq = c.createReceiver('maxdelivery', { subQueueType: 'deadLetter' });
    const [peeked] = await dlq.peekMessages(1);
    expect(peeked).toMatchObject({ messageId: 'p-1', deadLetterReason: 'MaxDeliveryCountExceeded' });
    const dead = await receiveOne(dlq);
    expect(dead).toMatchObject({
      messageId: 'p-1',
      body: 'poison',
      deadLetterReason: 'MaxDeliveryCountExceeded',
      deadLetterErrorDescription: 'Message could not be consumed after 2 delivery attempts.',
    });
    await dlq.completeMessage(dead);
    expect(sim.counts('maxdelivery').deadLettered).toBe(0);
  });

  it('dead-letters explicitly with reason and description, readable on <queue>/$deadletterqueue', async () => {
    const c = client();
    await c.createSender('settle').sendMessages({ body: 'unappliable', messageId: 'd-1', applicationProperties: { kind: 'contact' } });
    const receiver = c.createReceiver('settle');
    await receiver.deadLetterMessage(await receiveOne(receiver), { deadLetterReason: 'MappingFailed', deadLetterErrorDescription: 'no email' });
    const dlq = c.createReceiver('settle', { subQueueType: 'deadLetter' });
    const dead = await receiveOne(dlq);
    expect(dead).toMatchObject({ messageId: 'd-1', deadLetterReason: 'MappingFailed', deadLetterErrorDescription: 'no email' });
    expect(dead.applicationProperties).toMatchObject({ kind: 'contact' });
    await dlq.completeMessage(dead);
    expect(sim.counts('settle')).toMatchObject({ active: 0, deadLettered: 0 });
  });

  it('drops a duplicate messageId inside the detection window and keeps distinct ids', async () => {
    const c = client();
    const sender = c.createSender('dedupe');
    const dropped = sim.waitFor('duplicateDropped', (e) => e.messageId === 'dup-1');
    await sender.sendMessages({ body: 'first', messageId: 'dup-1' });
    await sender.sendMessages({ body: 'second', messageId: 'dup-1' });
    await sender.sendMessages([{ body: 'third', messageId: 'dup-1' }, { body: 'other', messageId: 'dup-2' }]);
    await dropped;
    expect(sim.messages('dedupe').map((m) => m.messageId)).toEqual(['dup-1', 'dup-2']);
    const receiver = c.createReceiver('dedupe', { receiveMode: 'receiveAndDelete' });
    const bodies = (await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 })).map((m) => m.body as unknown);
    expect(bodies).toEqual(['first', 'other']);
  });

  it('holds a scheduled message until its time, then makes it available (timer-driven); cancel removes one', async () => {
    const c = client();
    const sender = c.createSender('scheduled');
    const at = new Date(Date.now() + 300);
    const heldBack = sim.waitFor('scheduled', (e) => e.messageId === 's-1');
    const activated = sim.waitFor('scheduledActivated', (e) => e.messageId === 's-1');
    await sender.sendMessages({ body: 'later', messageId: 's-1', scheduledEnqueueTimeUtc: at });
    await heldBack; // stored as scheduled, not enqueued at once
    const [cancelSeq] = await sender.scheduleMessages({ body: 'never', messageId: 's-2' }, new Date(Date.now() + 60_000));
    const receiver = c.createReceiver('scheduled');
    const peeked = await receiver.peekMessages(5);
    expect(peeked.find((m) => m.messageId === 's-2')?.state).toBe('scheduled');
    await sender.cancelScheduledMessages(cancelSeq!);
    expect(sim.messages('scheduled').map((m) => m.messageId)).not.toContain('s-2');

    await activated;
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    const message = await receiveOne(receiver);
    expect(message).toMatchObject({ messageId: 's-1', body: 'later' });
    expect(message.enqueuedTimeUtc!.getTime()).toBeGreaterThanOrEqual(at.getTime() - 5);
    await receiver.completeMessage(message);
    expect(sim.counts('scheduled')).toMatchObject({ active: 0, scheduled: 0 });
  });

  it('renew-lock keeps a message locked past its lock duration', async () => {
    const c = client();
    await c.createSender('renew').sendMessages({ body: 'long job', messageId: 'r-1' });
    const receiver = c.createReceiver('renew', { maxAutoLockRenewalDurationInMs: 0 });
    const message = await receiveOne(receiver);
    const originalUntil = message.lockedUntilUtc!.getTime();
    const renewedUntil = await receiver.renewMessageLock(message);
    expect(renewedUntil.getTime()).toBeGreaterThan(originalUntil);
    // The broker's own clock tells when the original lock would have run out: a message scheduled just after it.
    const pastOriginalLock = sim.waitFor('scheduledActivated', (e) => e.messageId === 'clock-r-1');
    await c.createSender('clock').scheduleMessages({ body: 'tick', messageId: 'clock-r-1' }, new Date(originalUntil + 50));
    await pastOriginalLock;
    expect(sim.counts('renew')).toMatchObject({ active: 1, locked: 1 });
    expect(sim.messages('renew')[0]).toMatchObject({ messageId: 'r-1', state: 'locked', deliveryCount: 0 });
    await receiver.renewMessageLock(message);
    await receiver.completeMessage(message);
    expect(sim.counts('renew').active).toBe(0);
  });

  it('peek neither locks nor raises the delivery count, and pages by sequence number', async () => {
    const c = client();
    const sender = c.createSender('peek');
    await sender.sendMessages([1, 2, 3].map((n) => ({ body: n, messageId: `k-${n}` })));
    const receiver = c.createReceiver('peek');
    const firstPage = await receiver.peekMessages(2);
    const secondPage = await receiver.peekMessages(2);
    expect(firstPage.map((m) => m.body as unknown)).toEqual([1, 2]);
    expect(secondPage.map((m) => m.body as unknown)).toEqual([3]);
    expect(firstPage[0]!.lockToken).toBeUndefined();
    expect(sim.counts('peek')).toMatchObject({ active: 3, locked: 0 });
    const fromStart = await receiver.peekMessages(10, { fromSequenceNumber: firstPage[0]!.sequenceNumber! });
    expect(fromStart).toHaveLength(3);
    const received = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2000 });
    expect(received.map((m) => m.deliveryCount)).toEqual([0, 0, 0]);
    for (const m of received) await receiver.completeMessage(m);
    expect(await receiver.peekMessages(1, { fromSequenceNumber: firstPage[0]!.sequenceNumber! })).toEqual([]);
  });

  it('defers a message and receives it by sequence number, then completes it through $management', async () => {
    const c = client();
    await c.createSender('defer').sendMessages({ body: 'later please', messageId: 'f-1' });
    const receiver = c.createReceiver('defer');
    const message = await receiveOne(receiver);
    await receiver.deferMessage(message, { reason: 'waiting' });
    expect(sim.counts('defer')).toMatchObject({ active: 0, deferred: 1 });
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 })).toEqual([]);
    const [deferred] = await receiver.receiveDeferredMessages(message.sequenceNumber!);
    expect(deferred).toMatchObject({ messageId: 'f-1', state: 'deferred', applicationProperties: { reason: 'waiting' } });
    await receiver.completeMessage(deferred!);
    expect(sim.counts('defer')).toMatchObject({ active: 0, deferred: 0 });
    const missing = await receiver.receiveDeferredMessages(message.sequenceNumber!).catch((e: unknown) => e);
    expect(isServiceBusError(missing) && missing.code).toBe('MessageNotFound');
  });

  it('removes messages on delivery in receive-and-delete mode', async () => {
    const c = client();
    await c.createSender('rad').sendMessages([{ body: 'a' }, { body: 'b' }]);
    const receiver = c.createReceiver('rad', { receiveMode: 'receiveAndDelete' });
    const received = await receiver.receiveMessages(2, { maxWaitTimeInMs: 2000 });
    expect(received.map((m) => m.body as unknown)).toEqual(['a', 'b']);
    expect(received[0]!.lockToken).toBeUndefined();
    expect(sim.counts('rad')).toMatchObject({ active: 0, locked: 0 });
  });

  it('dead-letters an expired message with TTLExpiredException when deadLetteringOnMessageExpiration is set', async () => {
    const c = client();
    const dead = sim.waitFor('deadLettered', (e) => e.messageId === 't-1');
    await c.createSender('ttl').sendMessages({ body: 'stale', messageId: 't-1', timeToLive: 150 });
    expect(await dead).toMatchObject({ reason: 'TTLExpiredException' });
    const message = await receiveOne(c.createReceiver('ttl', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' }));
    expect(message).toMatchObject({ messageId: 't-1', deadLetterReason: 'TTLExpiredException' });
  });

  it("drops an expired message when dead-lettering on expiration is off (the queue's default TTL caps the message's)", async () => {
    const c = client();
    const expired = sim.waitFor('expired', (e) => e.messageId === 'x-1');
    await c.createSender('ttl-drop').sendMessages({ body: 'gone', messageId: 'x-1', timeToLive: 3_600_000 });
    await expired;
    expect(sim.counts('ttl-drop')).toMatchObject({ active: 0, deadLettered: 0 });
  });

  it('settles through $management update-disposition once the receive link is closed', async () => {
    const c = client();
    await c.createSender('mgmt').sendMessages({ body: 'x', messageId: 'g-1' });
    const receiver = c.createReceiver('mgmt');
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.close();
    const completed = sim.waitFor('completed', (e) => e.messageId === 'g-1');
    await c.createReceiver('mgmt').completeMessage(message!);
    await completed;
    expect(sim.counts('mgmt').active).toBe(0);
  });
  it('locks no more messages for a receiver than the credit it gave: 4 credits lock 4 of 10, the rest stays available', async () => {
    const c = client();
    await c.createSender('credit').sendMessages(Array.from({ length: 10 }, (_, i) => ({ body: i, messageId: `credit-${i}` })));
    const receiver = c.createReceiver('credit');
    const got = await receiver.receiveMessages(4, { maxWaitTimeInMs: 2000 });
    expect(got).toHaveLength(4);
    // AMQP flow control: a sender may transfer only as many messages as the receiver granted credit for
    // (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-protocol-guide#transfers), so a
    // competing receiver (another instance) finds the other 6.
    expect(sim.counts('credit')).toMatchObject({ active: 10, locked: 4 });
    const other = c.createReceiver('credit');
    const rest = await other.receiveMessages(10, { maxWaitTimeInMs: 2000 });
    expect(rest.map((m) => m.body as number)).toEqual([4, 5, 6, 7, 8, 9]);
    for (const m of [...got]) await receiver.completeMessage(m);
    for (const m of rest) await other.completeMessage(m);
  });
});

describe('Service Bus simulator: errors in the SDK terms', () => {
  it('reports an unknown queue as MessagingEntityNotFound, for senders and receivers', async () => {
    const c = client();
    const sendErr = await c.createSender('no-such-queue').sendMessages({ body: 1 }).catch((e: unknown) => e);
    expect(isServiceBusError(sendErr) && sendErr.code).toBe('MessagingEntityNotFound');
    const receiveErr = await c.createReceiver('no-such-queue').receiveMessages(1, { maxWaitTimeInMs: 500 }).catch((e: unknown) => e);
    expect(isServiceBusError(receiveErr) && receiveErr.code).toBe('MessagingEntityNotFound');
  });

  it('reports renewing an expired lock as MessageLockLost', async () => {
    const c = client();
    await c.createSender('errors').sendMessages({ body: 1, messageId: 'l-1' });
    const receiver = c.createReceiver('errors', { maxAutoLockRenewalDurationInMs: 0 });
    const message = await receiveOne(receiver);
    await sim.waitFor('lockExpired', (e) => e.messageId === 'l-1');
    const err = await receiver.renewMessageLock(message).catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('MessageLockLost');
    await receiver.completeMessage(await receiveOne(receiver));
  });

  it('refuses a client whose shared access key is wrong (UnauthorizedAccess)', async () => {
    const wrongKey = sim.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=not-the-key');
    const err = await client(wrongKey).createSender('errors').sendMessages({ body: 1 }).catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('UnauthorizedAccess');
  });
});
