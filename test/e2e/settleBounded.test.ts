// The stack's settle must end by its timeout with a reason even when Graph is still retrying a notification batch
// the host refused. The host answers 401 to a notification of a subscription it no longer knows, and Graph retries
// a batch not answered 2xx for about four hours (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks);
// settle's wait for Graph's notifications was unbounded, so a 200-operation chaos run whose fault removed a
// subscription waited those four hours out with no word (issue 17). This test timed out before the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { daysFromNow, tracked } from '../support/e2e.js';

describe("the stack's settle while Graph retries a refused notification", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 44 });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('ends at its timeout naming the Graph notifications it waited for', async () => {
    const alice = stack.users.alice!;
    await stack.settled();
    // The sync forgets alice's events subscription (as after replacing one Graph removed); Graph still notifies it.
    for (const sub of await stack.runtime.subscriptions.list(alice.graph.id)) {
      if (sub.resourceKind === 'events') await stack.runtime.subscriptions.remove(sub);
    }
    const start = daysFromNow(3, 9);
    const graphTime = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });
    await stack.graph.admin.createEvent(alice.graph.id, { subject: 'Notified to a forgotten subscription', start: graphTime(start), end: graphTime(new Date(start.getTime() + 3600_000)), categories: [tracked] });
    await expect(stack.settled({ timeoutMs: 3_000 })).rejects.toThrow(/did not settle within 3000 ms: Graph notifications still queued, in flight or waiting for a retry/);
  }, 60_000);
});
