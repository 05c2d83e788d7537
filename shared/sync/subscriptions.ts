// The Graph subscriptions of a mailbox: which resources the sync subscribes to, where Graph posts, and how one is
// created and recorded. Onboarding creates them, the lifecycle handler and the renewal timer replace them.
import { randomBytes } from 'node:crypto';
import { SyncError } from '../errors.js';
import { subscribedKinds } from './kinds/index.js';
import type { EntityKind } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import type { SubscriptionKind, SubscriptionRecord } from '../storage/subscriptionStore.js';

/**
 * Asked-for lifetime: just under the 10,080 minutes Graph allows for Outlook resources (docs/reference/platform-facts.md
 * section 8; https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime).
 */
export const subscriptionLifetimeMinutes = 10_080 - 60;

/** The resources a mailbox is subscribed to (To Do tasks have no app-only notifications and are polled). */
export const mailboxSubscriptions: readonly { kind: SubscriptionKind; path: (userId: string) => string; entity: EntityKind }[] = subscribedKinds.map((k) => ({ ...k.subscription!, entity: k.name }));

/** The URL Graph posts to: the function route with the function key (Graph cannot send headers). */
export function notificationUrl(rt: Pick<Runtime, 'settings'>): string {
  const key = rt.settings.GRAPH_NOTIFICATION_FUNCTION_KEY;
  return `${rt.settings.WEBHOOK_BASE_URL}/graph/notifications${key ? `?code=${encodeURIComponent(key)}` : ''}`;
}

/** A notification URL with its function key masked, for output a person reads. */
export function maskFunctionKey(url: string): string {
  return url.replace(/([?&]code=)[^&]*/, '$1***');
}

/** Creates a Graph subscription for a mailbox resource with a fresh clientState, and records it. */
export async function createSubscription(
  rt: Runtime,
  mailboxId: string,
  resourceKind: SubscriptionRecord['resourceKind'],
  resource: string,
  lifetimeMinutes = subscriptionLifetimeMinutes,
): Promise<SubscriptionRecord> {
  const clientState = randomBytes(32).toString('base64url');
  const url = notificationUrl(rt);
  const created = await rt.graph.createSubscription({
    changeType: 'created,updated,deleted',
    notificationUrl: url,
    lifecycleNotificationUrl: url,
    resource,
    expirationDateTime: new Date(rt.now().getTime() + lifetimeMinutes * 60_000).toISOString(),
    clientState,
  });
  if (!created.id || !created.expirationDateTime) throw new SyncError('Transient', 'Graph returned a subscription without id or expiry');
  const record: SubscriptionRecord = {
    id: created.id,
    mailboxId,
    resourceKind,
    resource,
    clientState,
    expirationDateTime: created.expirationDateTime,
    createdOn: rt.now().toISOString(),
    notificationUrl: url,
  };
  await rt.subscriptions.put(record);
  return record;
}
