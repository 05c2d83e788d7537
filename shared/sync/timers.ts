// Work the timers do: poll To Do by delta (application permissions cannot subscribe to To Do tasks, facts.md
// section 8), renew Graph subscriptions ahead of the expiry Graph returned, and feed the queue the same messages
// the webhooks would.
import { randomUUID } from 'node:crypto';
import { isSyncError } from '../errors.js';
import { isTrackedInExchange } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import type { ChangeMessageInput } from '../servicebus/messages.js';

export interface PollResult {
  mailboxes: number;
  enqueued: number;
  skipped: number;
  resynced: number;
}

/** Runs the To Do delta of each enabled mailbox's default list and enqueues what changed. */
export async function pollTodo(rt: Runtime): Promise<PollResult> {
  await rt.ready();
  const result: PollResult = { mailboxes: 0, enqueued: 0, skipped: 0, resynced: 0 };
  for (const mailbox of await rt.mailboxes.list({ fresh: true })) {
    if (mailbox.state === 'disabled' || !mailbox.entities.includes('task')) continue;
    result.mailboxes += 1;
    try {
      const listId = mailbox.defaultTodoListId ?? (await rt.graph.listTodoLists(mailbox.id)).find((l) => l.wellknownListName === 'defaultList')?.id;
      if (!listId) continue;
      const cursorName = `${mailbox.id}|${listId}`;
      const link = await rt.cursors.get<string>('todoDelta', cursorName);
      let page;
      try {
        page = await rt.graph.todoTasksDelta(mailbox.id, link ? { link } : { listId });
      } catch (error) {
        // An evicted token: start a new round from scratch; pairs make it create no duplicates.
        if (!link || !isSyncError(error, 'NotFound')) throw error;
        result.resynced += 1;
        page = await rt.graph.todoTasksDelta(mailbox.id, { listId });
      }
      const receivedAt = rt.now().toISOString();
      const messages: ChangeMessageInput[] = [];
      for (const item of page.items) {
        if (!item.id) continue;
        const pair = await rt.pairs.getByExchangeId(mailbox.id, item.id);
        const removed = item['@removed'] !== undefined;
        // Skip what cannot matter: an unpaired, untracked task, or the version the sync itself wrote.
        if (!removed && (pair ? pair.exchangeEtag === item['@odata.etag'] : !isTrackedInExchange(item, false))) {
          result.skipped += 1;
          continue;
        }
        messages.push({
          v: 1,
          source: 'exchange',
          correlationId: randomUUID(),
          receivedAt,
          mailboxId: mailbox.id,
          resource: 'todoTask',
          itemId: item.id,
          listId,
          changeType: removed ? 'deleted' : 'updated',
          ...(item['@odata.etag'] ? { etag: item['@odata.etag'] } : {}),
          ...(pair ? { dataverseId: pair.dataverseId } : {}),
        });
      }
      await rt.sender.send(messages);
      result.enqueued += messages.length;
      if (page.deltaLink) await rt.cursors.set('todoDelta', cursorName, page.deltaLink);
    } catch (error) {
      rt.log.error('To Do poll failed for a mailbox', { mailboxId: mailbox.id, code: isSyncError(error) ? error.code : 'Unknown', error: (error as Error).message });
    }
  }
  return result;
}

export interface RenewResult {
  renewed: number;
  failed: number;
}

/** Renews subscriptions that expire within `aheadMs`, asking for the documented maximum and storing what Graph returns. */
export async function renewSubscriptions(rt: Runtime, aheadMs = 24 * 3600_000, lifetimeMinutes = 10_080 - 60): Promise<RenewResult> {
  await rt.ready();
  const result: RenewResult = { renewed: 0, failed: 0 };
  const now = rt.now().getTime();
  for (const sub of await rt.subscriptions.list()) {
    if (Date.parse(sub.expirationDateTime) - now > aheadMs) continue;
    try {
      const renewed = await rt.graph.renewSubscription(sub.id, new Date(now + lifetimeMinutes * 60_000));
      await rt.subscriptions.put({ ...sub, expirationDateTime: renewed.expirationDateTime ?? new Date(now + lifetimeMinutes * 60_000).toISOString() });
      result.renewed += 1;
    } catch (error) {
      result.failed += 1;
      const mailbox = await rt.mailboxes.get(sub.mailboxId);
      if (mailbox && mailbox.state !== 'disabled') {
        await rt.mailboxes.patch(mailbox.id, { state: 'degraded', stateReason: `subscription ${sub.id} (${sub.resourceKind}) could not be renewed: ${(error as Error).message}`.slice(0, 500) });
      }
      rt.log.error('subscription renewal failed', { subscriptionId: sub.id, mailboxId: sub.mailboxId, code: isSyncError(error) ? error.code : 'Unknown' });
    }
  }
  return result;
}
