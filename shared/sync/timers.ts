// Work the timers do: poll To Do by delta (application permissions cannot subscribe to To Do tasks, docs/reference/platform-facts.md
// section 8), renew Graph subscriptions ahead of the expiry Graph returned, and feed the queue the same messages
// the webhooks would.
import { isSyncError, toSyncError, type SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { SubscriptionRecord } from '../storage/subscriptionStore.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import { replaceExpiredSubscription } from './lifecycle.js';
import { reconcileKind } from './reconcile.js';
import { kinds } from './kinds/index.js';
import { subscriptionLifetimeMinutes } from './subscriptions.js';

const subscriptionReasonPrefix = 'subscription ';

/** A mailbox degraded only because a subscription could not be renewed is active again once it has one. */
async function clearSubscriptionDegraded(rt: Runtime, mailboxId: string): Promise<void> {
  const mailbox = await rt.mailboxes.get(mailboxId);
  if (mailbox?.state === 'degraded' && mailbox.stateReason?.startsWith(subscriptionReasonPrefix)) await rt.mailboxes.patch(mailboxId, { state: 'active', stateReason: undefined });
}

export interface PollResult {
  mailboxes: number;
  enqueued: number;
  skipped: number;
  resynced: number;
}

/** Kinds without change notifications (To Do), which this timer polls. */
const polledKinds = kinds.filter((k) => k.subscription === undefined);

/** Whether a mailbox syncs a kind the To Do poll covers. */
export function isPolled(mailbox: Mailbox): boolean {
  return polledKinds.some((k) => mailbox.entities.includes(k.name));
}

/**
 * Runs the To Do delta of every enabled mailbox in this one call, one after another (reconcile.ts does the round).
 * The timer no longer does this (it fans out per mailbox, shared/sync/work.ts); kept for the CLI and the benchmark's
 * "before" figures.
 */
export async function pollTodo(rt: Runtime): Promise<PollResult> {
  await rt.ready();
  const result: PollResult = { mailboxes: 0, enqueued: 0, skipped: 0, resynced: 0 };
  for (const mailbox of await rt.mailboxes.list()) {
    if (mailbox.state === 'disabled' || !isPolled(mailbox)) continue;
    await pollMailboxTodo(rt, mailbox, result);
  }
  return result;
}

/** One mailbox's To Do poll: the delta rounds of its polled kinds; a failure is logged (the next poll starts from the same delta link), never thrown. */
export async function pollMailboxTodo(rt: Runtime, mailbox: Mailbox, result: PollResult = { mailboxes: 0, enqueued: 0, skipped: 0, resynced: 0 }): Promise<PollResult & { failed: boolean; failure?: SyncError }> {
  result.mailboxes += 1;
  let failed = false;
  let failure: SyncError | undefined;
  for (const kind of polledKinds.filter((k) => mailbox.entities.includes(k.name))) {
    try {
      await reconcileKind(rt, mailbox, kind, result);
    } catch (error) {
      failed = true;
      failure ??= toSyncError(error);
      rt.log.error('To Do poll failed for a mailbox', { mailboxId: mailbox.id, collection: kind.delta.collection, code: isSyncError(error) ? error.code : 'Unknown', error: (error as Error).message });
    }
  }
  return { ...result, failed, ...(failure ? { failure } : {}) };
}

export interface RenewResult {
  renewed: number;
  /** Subscriptions Graph no longer had (expired before renewal), recreated with a catch-up by delta. */
  recreated: number;
  failed: number;
}

/**
 * Renews subscriptions that expire within `aheadMs`, asking for the documented maximum and storing what Graph returns.
 * One Graph no longer has (404: it expired, e.g. while the app was stopped) is recreated and caught up by delta
 * (shared/sync/lifecycle.ts); only a subscription that can be neither renewed nor recreated marks the mailbox degraded.
 */
export async function renewSubscriptions(rt: Runtime, aheadMs = 24 * 3600_000, lifetimeMinutes = subscriptionLifetimeMinutes): Promise<RenewResult> {
  await rt.ready();
  return renewList(rt, await rt.subscriptions.list(), aheadMs, lifetimeMinutes);
}

/** The same for one mailbox's subscriptions (the per-mailbox work of the renewal sweep, shared/sync/work.ts). */
export async function renewMailboxSubscriptions(rt: Runtime, mailboxId: string, aheadMs = 24 * 3600_000, lifetimeMinutes = subscriptionLifetimeMinutes): Promise<RenewResult> {
  await rt.ready();
  return renewList(rt, await rt.subscriptions.list(mailboxId), aheadMs, lifetimeMinutes);
}

async function renewList(rt: Runtime, subscriptions: SubscriptionRecord[], aheadMs: number, lifetimeMinutes: number): Promise<RenewResult> {
  const result: RenewResult = { renewed: 0, recreated: 0, failed: 0 };
  const now = rt.now().getTime();
  for (const sub of subscriptions) {
    if (Date.parse(sub.expirationDateTime) - now > aheadMs) continue;
    try {
      const renewed = await rt.graph.renewSubscription(sub.id, new Date(now + lifetimeMinutes * 60_000));
      await rt.subscriptions.put({ ...sub, expirationDateTime: renewed.expirationDateTime ?? new Date(now + lifetimeMinutes * 60_000).toISOString() });
      result.renewed += 1;
    } catch (renewError) {
      let error = renewError;
      if (isSyncError(renewError, 'NotFound')) {
        try {
          await replaceExpiredSubscription(rt, sub);
          result.recreated += 1;
          await clearSubscriptionDegraded(rt, sub.mailboxId);
          continue;
        } catch (recreateError) {
          error = recreateError;
        }
      }
      result.failed += 1;
      const mailbox = await rt.mailboxes.get(sub.mailboxId);
      if (mailbox && mailbox.state !== 'disabled') {
        await rt.mailboxes.patch(mailbox.id, { state: 'degraded', stateReason: `${subscriptionReasonPrefix}${sub.id} (${sub.resourceKind}) could not be renewed: ${(error as Error).message}`.slice(0, 500) });
      }
      rt.log.error('subscription renewal failed', { subscriptionId: sub.id, mailboxId: sub.mailboxId, code: isSyncError(error) ? error.code : 'Unknown' });
    }
  }
  return result;
}
