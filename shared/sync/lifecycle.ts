// Graph lifecycle notifications (docs/reference/platform-facts.md section 1; GDC concepts/change-notifications-lifecycle-events.md):
// reauthorizationRequired -> reauthorize; subscriptionRemoved -> recreate the subscription (new clientState) and
// catch up by delta; missed -> catch up by delta. The catch-up runs at once; the 'catchup' flag recorded first
// makes the reconcile timer do it if this attempt fails.
import { isSyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { LifecycleEvent } from '../servicebus/messages.js';
import type { SubscriptionRecord } from '../storage/subscriptionStore.js';
import type { Outcome } from './engine.js';
import { reconcileMailbox, reconcileScopes } from './reconcile.js';
import { createSubscription } from './subscriptions.js';

/** Handles one lifecycle notification. */
export async function applyLifecycleEvent(rt: Runtime, event: LifecycleEvent): Promise<Outcome[]> {
  const subscription = await rt.subscriptions.get(event.subscriptionId);
  if (!subscription) return [{ kind: 'ignored', detail: `unknown subscription ${event.subscriptionId}` }];
  const mailboxId = subscription.mailboxId;
  if (event.lifecycleEvent === 'reauthorizationRequired') {
    try {
      await rt.graph.reauthorizeSubscription(event.subscriptionId);
      rt.log.info('subscription reauthorized', { subscriptionId: event.subscriptionId, mailboxId });
      return [{ kind: 'updated', mailboxId, detail: 'reauthorized' }];
    } catch (error) {
      // Too late to reauthorize: the subscription is gone, which is subscriptionRemoved by another name.
      if (!isSyncError(error, 'NotFound')) throw error;
    }
  }
  await rt.cursors.set(reconcileScopes.catchup, mailboxId, { reason: event.lifecycleEvent, subscriptionId: event.subscriptionId, at: rt.now().toISOString() });
  const outcomes: Outcome[] = [];
  if (event.lifecycleEvent !== 'missed') {
    const created = await recreateSubscription(rt, subscription);
    outcomes.push({ kind: 'created', mailboxId, detail: created ? `subscription ${subscription.resourceKind} recreated` : 'mailbox disabled; subscription dropped' });
  }
  const mailbox = await rt.mailboxes.get(mailboxId);
  if (mailbox && mailbox.state !== 'disabled') {
    const result = await reconcileMailbox(rt, mailbox);
    rt.log.warn('caught up after a lifecycle notification', { mailboxId, lifecycleEvent: event.lifecycleEvent, enqueued: result.enqueued, errors: result.errors.length });
    outcomes.push({ kind: 'updated', mailboxId, detail: `caught up by delta (${event.lifecycleEvent}): ${result.enqueued} change(s) enqueued` });
  }
  return outcomes;
}

/**
 * Replaces a subscription Graph no longer has (it expired before it was renewed, e.g. while the app was stopped),
 * as for subscriptionRemoved: a new subscription, then a catch-up by delta of what changed while nothing notified.
 * The 'catchup' flag is recorded first, so the reconcile timer does the catch-up if this attempt fails.
 */
export async function replaceExpiredSubscription(rt: Runtime, subscription: SubscriptionRecord): Promise<SubscriptionRecord | undefined> {
  await rt.cursors.set(reconcileScopes.catchup, subscription.mailboxId, { reason: 'expired', subscriptionId: subscription.id, at: rt.now().toISOString() });
  const replacement = await recreateSubscription(rt, subscription);
  const mailbox = await rt.mailboxes.get(subscription.mailboxId);
  if (replacement && mailbox && mailbox.state !== 'disabled') {
    const result = await reconcileMailbox(rt, mailbox);
    rt.log.warn('caught up after an expired subscription was recreated', { mailboxId: mailbox.id, subscriptionId: replacement.id, enqueued: result.enqueued, errors: result.errors.length });
  }
  return replacement;
}

/**
 * Replaces a removed subscription: a new one on the same resource with a new clientState, stored before the old
 * record is deleted, so a notification is always checked against a known secret. Idempotent: a live replacement
 * made by an earlier attempt is reused. Returns the new record, or undefined for a disabled mailbox.
 */
export async function recreateSubscription(rt: Runtime, old: SubscriptionRecord): Promise<SubscriptionRecord | undefined> {
  const mailbox = await rt.mailboxes.get(old.mailboxId);
  const now = rt.now().getTime();
  let replacement: SubscriptionRecord | undefined;
  if (mailbox && mailbox.state !== 'disabled') {
    replacement = (await rt.subscriptions.list(old.mailboxId)).find((s) => s.id !== old.id && s.resourceKind === old.resourceKind && Date.parse(s.expirationDateTime) > now);
    if (!replacement) {
      replacement = await createSubscription(rt, old.mailboxId, old.resourceKind, old.resource);
      rt.log.warn('subscription recreated', { mailboxId: old.mailboxId, oldSubscriptionId: old.id, subscriptionId: replacement.id, resourceKind: old.resourceKind });
    }
  }
  // The old one may still exist at Graph (a reauthorization that came too late): delete it so it cannot notify twice.
  await rt.graph.deleteSubscription(old.id);
  await rt.subscriptions.remove(old);
  return replacement;
}
