// Nothing is lost or duplicated when deliveries repeat, arrive out of order or not at all, when either API
// throttles or fails, or when the worker loses the answer to a write it made.
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { deadLetterScope, type DeadLetterRecord } from '../../shared/sync/worker.js';
import { appointments, createAppointment, daysFromNow, events, outlookEvent } from '../support/e2e.js';

describe('faults converge', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 42, graphNotifications: { retryInitialDelayMs: 50, retryMaxDelayMs: 200 } });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('duplicated, delayed and reordered Graph notifications converge to one appointment per event with the last values', async () => {
    await stack.graph.admin.setFaultPlan({ seed: 42, notifications: { duplicate: 0.5, delay: 0.5, delayMs: { min: 5, max: 150 }, reorder: 0.5 } });
    const alice = stack.users.alice!.graph.id;
    const created = [];
    for (let i = 0; i < 4; i += 1) created.push(await outlookEvent(stack, 'alice', `Storm ${i}`, daysFromNow(10 + i), { track: true }));
    for (const [i, e] of created.entries()) await stack.graph.admin.updateEvent(alice, String(e.id), { subject: `Storm ${i} (final)` });
    await stack.settled();
    const history = await stack.graph.admin.faultHistory();
    await stack.graph.admin.setFaultPlan({});
    const records = appointments(stack).filter((a) => String(a.subject).startsWith('Storm'));
    expect(records.map((r) => r.subject).sort()).toEqual(['Storm 0 (final)', 'Storm 1 (final)', 'Storm 2 (final)', 'Storm 3 (final)']);
    // The plan really did something to the deliveries (the history is the simulator's record of injected faults).
    expect(history.filter((h) => h.startsWith('notification')).length).toBeGreaterThan(0);
  });

  it('a Graph 429 burst with Retry-After is waited out: the event is created exactly once', async () => {
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 429, retryAfterSeconds: 1, times: 2 });
    createAppointment(stack, 'bob', 'Throttled meeting', daysFromNow(4));
    await stack.settled();
    expect((await events(stack, 'bob')).filter((e) => e.item.subject === 'Throttled meeting')).toHaveLength(1);
  });

  it('a long Retry-After is not slept through: the change is rescheduled on Service Bus and still applied once', async () => {
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 429, retryAfterSeconds: 3, times: 1 });
    const scheduled = stack.serviceBus.waitFor('scheduled', (e) => e.queue === changesQueue.name, 10_000);
    createAppointment(stack, 'bob', 'Rescheduled meeting', daysFromNow(4, 14));
    await scheduled;
    await stack.settled();
    expect((await events(stack, 'bob')).filter((e) => e.item.subject === 'Rescheduled meeting')).toHaveLength(1);
  });

  it('a write whose answer is lost (5xx after it took effect), again and again across retries, does not duplicate', async () => {
    // Graph creates the event each time but the worker never hears back: the retries (in-process, then rescheduled)
    // reuse the pending pair's transactionId, so Graph returns the first event instead of creating another.
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 503, afterExecution: true, times: 4 });
    const appointment = createAppointment(stack, 'alice', 'Lost answer', daysFromNow(6));
    await stack.settled({ timeoutMs: 30_000 });
    const copies = (await events(stack, 'alice')).filter((e) => e.item.subject === 'Lost answer');
    expect(copies).toHaveLength(1);
    const pair = await stack.runtime.pairs.get(stack.users.alice!.graph.id, String(appointment.activityid));
    expect(pair).toMatchObject({ status: 'linked', exchangeId: copies[0]!.id });
  });

  it('Dataverse service-protection 429s and 5xx are retried until the change is applied once', async () => {
    stack.dataverse.admin.setFaultPlan({ requests: { match: '^(PATCH|POST) /api/data/v9.2/appointments', throttle: { probability: 0.5, burst: 2, retryAfterSeconds: 1 }, serverError: { probability: 0.2, status: 503 } } });
    await outlookEvent(stack, 'bob', 'Throttled in Dataverse', daysFromNow(7), { track: true });
    await stack.settled({ timeoutMs: 30_000 });
    stack.dataverse.admin.setFaultPlan({});
    expect(appointments(stack).filter((a) => a.subject === 'Throttled in Dataverse')).toHaveLength(1);
  });

  it('a malformed message is dead-lettered with its reason and does not hold up other changes', async () => {
    const client = new ServiceBusClient(stack.serviceBus.connectionString);
    const sender = client.createSender(changesQueue.name);
    const deadLettered = stack.serviceBus.waitFor('deadLettered', (e) => e.queue === changesQueue.name, 20_000);
    await sender.sendMessages({ body: { v: 1, source: 'exchange', mailboxId: 'x' }, messageId: 'poison-1', contentType: 'application/json' });
    createAppointment(stack, 'alice', 'After the poison', daysFromNow(3, 15));
    await deadLettered;
    await stack.settled();
    await sender.close();
    await client.close();
    const dlq = stack.serviceBus.messages(changesQueue.name, 'deadLetter');
    expect(dlq.map((m) => m.messageId)).toContain('poison-1');
    const record = await stack.runtime.cursors.get<DeadLetterRecord>(deadLetterScope, 'poison-1');
    expect(record?.reason).toBe('InvalidMessage');
    expect(record?.description).toMatch(/correlationId/);
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'After the poison')).toHaveLength(1);
  });

  it('a lost correlation row (a crash before the pair was recorded) is rebuilt from the item, not duplicated, in either direction', async () => {
    const alice = stack.users.alice!;
    // Dynamics 365 -> Exchange: the event carries the Dataverse id it was created for.
    const appointment = createAppointment(stack, 'alice', 'Rebuilt from the stamp', daysFromNow(11));
    // Exchange -> Dynamics 365: the record's id is derived from the item.
    const event = await outlookEvent(stack, 'alice', 'Rebuilt from the derived id', daysFromNow(12), { track: true });
    await stack.settled();
    for (const subject of ['Rebuilt from the stamp', 'Rebuilt from the derived id']) {
      const record = appointments(stack).find((a) => a.subject === subject)!;
      const pair = await stack.runtime.pairs.get(alice.graph.id, String(record.activityid));
      await stack.runtime.pairs.remove(pair!);
    }
    stack.dataverse.admin.as(alice.systemUserId).update('appointments', String(appointment.activityid), { location: 'Room 9' });
    await stack.graph.admin.updateEvent(alice.graph.id, String(event.id), { location: { displayName: 'Room 10' } });
    await stack.settled();
    const mine = await events(stack, 'alice');
    expect(mine.filter((e) => e.item.subject === 'Rebuilt from the stamp')).toHaveLength(1);
    expect(mine.filter((e) => e.item.subject === 'Rebuilt from the derived id')).toHaveLength(1);
    expect(appointments(stack).filter((a) => String(a.subject).startsWith('Rebuilt from'))).toHaveLength(2);
    const stamped = appointments(stack).find((a) => a.subject === 'Rebuilt from the stamp')!;
    expect((mine.find((e) => e.item.subject === 'Rebuilt from the stamp')!.item.location as { displayName: string }).displayName).toBe('Room 9');
    expect(await stack.runtime.pairs.get(alice.graph.id, String(stamped.activityid))).toMatchObject({ status: 'linked' });
    expect(appointments(stack).find((a) => a.subject === 'Rebuilt from the derived id')?.location).toBe('Room 10');
  });
});
