// POST /api/graph/notifications: Graph change and lifecycle notifications (docs/reference/platform-facts.md section 1).
// Answers the validation handshake; authenticates every notification by its subscription's clientState (constant
// time); drops what is not authentic without enqueueing it; enqueues one small message per authentic
// notification; answers 202 quickly, and 5xx only when it could not enqueue (so Graph retries).
import { z } from 'zod';
import { isSyncError } from '../errors.js';
import { exchangeChange, lifecycleChange, type ChangeMessageInput } from '../servicebus/messages.js';
import { clientStateMatches, type SubscriptionRecord } from '../storage/subscriptionStore.js';
import { isSubscriptionProbeState } from '../doctor/index.js';
import { kindOfSubscription } from '../sync/kinds/index.js';
import { jsonError, parseBody, type WebhookRequest, type WebhookResponse } from './http.js';

const changeNotificationSchema = z.object({
  subscriptionId: z.string().min(1),
  clientState: z.string().nullish(),
  changeType: z.enum(['created', 'updated', 'deleted']),
  resource: z.string().min(1),
  tenantId: z.string().optional(),
  subscriptionExpirationDateTime: z.string().optional(),
  resourceData: z
    .object({ id: z.string().min(1), '@odata.etag': z.string().optional(), '@odata.type': z.string().optional(), '@odata.id': z.string().optional() })
    .passthrough(),
});

const lifecycleNotificationSchema = z.object({
  subscriptionId: z.string().min(1),
  clientState: z.string().nullish(),
  lifecycleEvent: z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']),
  tenantId: z.string().optional(),
  subscriptionExpirationDateTime: z.string().optional(),
});

export const notificationBatchSchema = z.object({
  value: z.array(z.union([lifecycleNotificationSchema, changeNotificationSchema])).min(1).max(1000),
});

export interface GraphNotificationDeps {
  getSubscription(id: string): Promise<SubscriptionRecord | undefined>;
  /** Dataverse id paired with an Exchange item, a hint for logs and explain (undefined when unpaired). */
  pairedDataverseId(mailboxId: string, exchangeId: string): Promise<string | undefined>;
  enqueue(messages: ChangeMessageInput[]): Promise<void>;
  log: (level: 'info' | 'warn' | 'error', message: string, props?: Record<string, unknown>) => void;
  /** The doctor's probe subscriptions (shared/doctor): true when the notification was an authentic one's, now recorded. */
  onSubscriptionProbe?: (subscriptionId: string, clientState: string, notification: { changeType: string; itemId: string }) => Promise<boolean>;
  now?: () => Date;
}

/** The Graph resource of a subscription's notifications, from the kind registry (a Map there: no stored name can hit a
 * prototype key; mail has no kind yet). */
const resourceOf = (resourceKind: SubscriptionRecord['resourceKind']) => kindOfSubscription(resourceKind)?.resource;

/** Handles one POST from Graph. */
export async function handleGraphNotifications(req: WebhookRequest, deps: GraphNotificationDeps): Promise<WebhookResponse> {
  const validationToken = req.query.get('validationToken');
  if (validationToken !== null) {
    // The handshake: echo the decoded token as plain text within 10 s (URLSearchParams has decoded it).
    return { status: 200, body: validationToken, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
  }
  const parsed = parseBody(req, notificationBatchSchema, 'InvalidNotification', 'notification batch');
  if (!parsed.ok) return parsed.response;
  try {
    return await handleBatch(parsed.value, deps);
  } catch (error) {
    // A subscription or item id that cannot even be a table key (the stores check every key before a lookup) is
    // not from Graph: 400 naming the field, never a 5xx.
    if (isSyncError(error, 'InvalidInput')) return jsonError(400, 'InvalidNotification', `notification batch rejected: ${error.message}`);
    throw error;
  }
}

async function handleBatch(batch: z.output<typeof notificationBatchSchema>, deps: GraphNotificationDeps): Promise<WebhookResponse> {
  const receivedAt = (deps.now?.() ?? new Date()).toISOString();
  const subscriptions = new Map<string, SubscriptionRecord | undefined>();
  const messages: ChangeMessageInput[] = [];
  let rejected = 0;
  let unhandled = 0;
  let probes = 0;
  for (const notification of batch.value) {
    let sub = subscriptions.get(notification.subscriptionId);
    if (!subscriptions.has(notification.subscriptionId)) {
      sub = await deps.getSubscription(notification.subscriptionId);
      subscriptions.set(notification.subscriptionId, sub);
    }
    // The doctor's probe subscription is in no store of the sync: only a clientState that claims to be a probe's is
    // looked up, and what it notifies is recorded for the doctor, never queued.
    if (!sub && 'resourceData' in notification && isSubscriptionProbeState(notification.clientState) && deps.onSubscriptionProbe) {
      if (await deps.onSubscriptionProbe(notification.subscriptionId, notification.clientState!, { changeType: notification.changeType, itemId: notification.resourceData.id })) {
        probes += 1;
        deps.log('info', 'graph notification of a doctor probe recorded', { subscriptionId: notification.subscriptionId, changeType: notification.changeType });
        continue;
      }
    }
    if (!sub || !clientStateMatches(sub.clientState, notification.clientState)) {
      rejected += 1;
      deps.log('warn', 'graph notification dropped: unknown subscription or wrong clientState', { subscriptionId: notification.subscriptionId, known: Boolean(sub) });
      continue;
    }
    if ('lifecycleEvent' in notification) {
      messages.push(lifecycleChange({ subscriptionId: sub.id, lifecycleEvent: notification.lifecycleEvent }, { receivedAt }));
      continue;
    }
    const resource = resourceOf(sub.resourceKind);
    if (!resource) {
      // Authentic, but for a kind of subscription this version does not sync (a row another version wrote): accepted
      // (or Graph retries and, in the end, drops the subscription) and dropped. Ids only, never the resource.
      unhandled += 1;
      deps.log('info', 'graph notification dropped: a resource the sync does not handle', { subscriptionId: sub.id, resourceKind: sub.resourceKind, changeType: notification.changeType });
      continue;
    }
    const itemId = notification.resourceData.id;
    const dataverseId = notification.changeType === 'created' ? undefined : await deps.pairedDataverseId(sub.mailboxId, itemId);
    messages.push(exchangeChange({ mailboxId: sub.mailboxId, resource, itemId, changeType: notification.changeType, etag: notification.resourceData['@odata.etag'] || undefined, dataverseId }, { receivedAt }));
  }
  if (messages.length === 0 && unhandled + probes > 0) return { status: 202 };
  if (messages.length === 0) {
    return jsonError(401, 'NotAuthentic', `none of the ${rejected} notification(s) matched a known subscription and its clientState`);
  }
  try {
    await deps.enqueue(messages);
  } catch (error) {
    deps.log('error', 'graph notifications could not be enqueued; Graph will retry', { count: messages.length, code: isSyncError(error) ? error.code : 'Unknown' });
    return jsonError(503, 'EnqueueFailed', 'the change queue is unavailable; retry later');
  }
  deps.log('info', 'graph notifications enqueued', { enqueued: messages.length, rejected, unhandled, correlationIds: messages.map((m) => m.correlationId) });
  return { status: 202 };
}
