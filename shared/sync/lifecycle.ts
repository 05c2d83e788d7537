// Graph lifecycle notifications (facts.md section 1): reauthorizationRequired -> reauthorize; subscriptionRemoved
// and missed -> the mailbox needs a catch-up by delta, which the reconciliation timer performs; the flag recorded
// here makes the next reconciliation of that mailbox run at once.
import type { Runtime } from '../runtime.js';
import type { LifecycleEvent } from '../servicebus/messages.js';
import type { Outcome } from './engine.js';

export async function applyLifecycleEvent(rt: Runtime, event: LifecycleEvent): Promise<Outcome[]> {
  const subscription = await rt.subscriptions.get(event.subscriptionId);
  if (!subscription) return [{ kind: 'ignored', detail: `unknown subscription ${event.subscriptionId}` }];
  if (event.lifecycleEvent === 'reauthorizationRequired') {
    await rt.graph.reauthorizeSubscription(event.subscriptionId);
    rt.log.info('subscription reauthorized', { subscriptionId: event.subscriptionId, mailboxId: subscription.mailboxId });
    return [{ kind: 'updated', mailboxId: subscription.mailboxId, detail: 'reauthorized' }];
  }
  await rt.cursors.set('catchup', subscription.mailboxId, { reason: event.lifecycleEvent, subscriptionId: event.subscriptionId, at: rt.now().toISOString() });
  rt.log.warn('subscription needs catch-up', { subscriptionId: event.subscriptionId, mailboxId: subscription.mailboxId, lifecycleEvent: event.lifecycleEvent });
  return [{ kind: 'ignored', mailboxId: subscription.mailboxId, detail: `catch-up requested (${event.lifecycleEvent})` }];
}
