// A record deleted in Dynamics 365 whose webhook was lost is deleted in Exchange by the next reconciliation also
// when that reconciliation's change-tracking round is a full one (the first round, or a new start after an expired
// token), which reports no deletes: each paired record the round did not list is looked at again (shrunk from the
// chaos test's d365-delete-event-kept: an appointment deleted in Dynamics 365 under webhook drops kept its
// organizer's future event). A delete inferred this way is a resync's, which the breaker holds for an operator by
// default (holdResyncInferredDeletes, test/e2e/breaker.test.ts); here it is let through, as the chaos test does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { reconcileAll } from '../../shared/sync/reconcile.js';
import { createAppointment, daysFromNow, events, outlookEvent } from '../support/e2e.js';

describe('a Dynamics 365 delete whose webhook was lost', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 23 });
    let stderr = '';
    const code = await main(['config', 'set', 'breaker.holdResyncInferredDeletes', 'false'], { stdout: () => undefined, stderr: (t) => void (stderr += t), env: { ...stack.env, USER: 'test' } });
    if (code !== 0) throw new Error(stderr);
  }, 60_000);
  afterAll(async () => stack?.close());

  const deletedUnheard = (id: string) => {
    stack.dataverse.admin.setFaultPlan({ webhooks: { dropProbability: 1 } });
    stack.dataverse.admin.as(stack.users.alice!.systemUserId).delete('appointments', id);
  };

  it("the first reconciliation (a full round) deletes the organizer's future event", async () => {
    const id = String(createAppointment(stack, 'alice', 'Unheard before any round', daysFromNow(6)).activityid);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Unheard before any round')).toHaveLength(1);
    deletedUnheard(id);
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Unheard before any round')).toHaveLength(1);
    await reconcileAll(stack.runtime);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Unheard before any round')).toEqual([]);
    expect(await stack.runtime.pairs.get(stack.users.alice!.graph.id, id)).toBeUndefined();
  });

  it('a reconciliation whose change-tracking token expired (a new full round) deletes the event of an appointment made from Outlook', async () => {
    await outlookEvent(stack, 'alice', 'Unheard after a token', daysFromNow(8), { track: true });
    await stack.settled();
    const id = String(stack.dataverse.admin.records('appointments').find((a) => a.subject === 'Unheard after a token')!.activityid);
    // A round now stores a change-tracking link; the token then expires, so the next round starts over.
    await reconcileAll(stack.runtime);
    await stack.settled();
    deletedUnheard(id);
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});
    stack.dataverse.admin.expireChangeTrackingTokens();
    const result = await reconcileAll(stack.runtime);
    expect(result.dataverse.resynced).toBeGreaterThan(0);
    await stack.settled();
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Unheard after a token')).toEqual([]);
  });

  it('a full round writes nothing for the paired records it listed', async () => {
    createAppointment(stack, 'alice', 'Still there', daysFromNow(9));
    await stack.settled();
    stack.dataverse.admin.expireChangeTrackingTokens();
    const before = stack.runtime.calls.graphWrite;
    const result = await reconcileAll(stack.runtime);
    await stack.settled();
    expect(result.dataverse.errors).toEqual([]);
    expect(stack.runtime.calls.graphWrite).toBe(before);
    expect((await events(stack, 'alice')).filter((e) => e.item.subject === 'Still there')).toHaveLength(1);
  });
});
