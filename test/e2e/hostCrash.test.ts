// The host killed (SIGKILL) at the worst moment: the service took the write and the host died before it stored the
// pair. Service Bus gives the change to the restarted host, which must find the copy it made instead of making a
// second one (the simulators' 'handled' event is where the test pulls the plug).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { HandledRequest } from '../../dev/sim/graph/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { appointments, createAppointment, daysFromNow, events } from '../support/e2e.js';

const users = [{ key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' }];

describe('host crash', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 17, users, hostInChild: true });
  }, 90_000);
  afterAll(async () => stack?.close());

  it('a host killed right after Graph created the event, before the pair was stored, leaves one event after the restart', async () => {
    const alice = stack.users.alice!;
    const child = stack.child!;
    const writes: HandledRequest[] = [];
    const killed = new Promise<void>((resolve) => {
      const onHandled = (r: HandledRequest) => {
        if (r.method !== 'POST' || !/\/events$/i.test(r.path) || !r.write) return;
        writes.push(r);
        stack.graph.requests.off('handled', onHandled);
        // Synchronously, before the answer's body is written: the host never reads it.
        void child.kill().then(resolve);
      };
      stack.graph.requests.on('handled', onHandled);
    });
    const pid = child.pid;
    const record = createAppointment(stack, 'alice', 'Board review', daysFromNow(3, 10));
    await killed;
    expect(writes).toHaveLength(1);
    expect((await events(stack, 'alice')).length, 'Graph took the write before the crash').toBe(1);
    await child.restart();
    expect(child.pid).not.toBe(pid);
    // The killed host's change comes back when its lock expires (the queue's lock duration is a minute), and the
    // notification of the event Graph made meanwhile backs off while that change's claim stands: allow both.
    await stack.settled({ timeoutMs: 180_000 });
    await stack.host.fireTimer('reconcile');
    await stack.settled({ timeoutMs: 60_000 });
    const calendar = await events(stack, 'alice');
    expect(calendar.map((e) => e.item.subject)).toEqual(['Board review']);
    const pair = await stack.runtime.pairs.get(alice.graph.id, String(record.activityid));
    expect(pair?.status).toBe('linked');
    expect(pair?.exchangeId).toBe(calendar[0]!.id);
    expect(appointments(stack)).toHaveLength(1);
    expect(stack.serviceBus.counts(changesQueue.name).deadLettered).toBe(0);
  }, 300_000);
});
