// Reconciliation: the repair path behind the webhooks. Per mailbox, one delta round per kind it syncs (each kind's
// delta adapter: calendarView delta over the sync window, the default contacts folder, every To Do list); per
// synced Dataverse table a change-tracking round. Everything found is enqueued as the same messages the webhooks
// send, except the sync's own versions and untracked unpaired items. An evicted token restarts the round from
// scratch, which creates no duplicates because the engine matches before creating
// (https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset).
import { createHash } from 'node:crypto';
import type { DataverseRecord } from '../dataverse/client.js';
import { isSyncError, toSyncError, type SyncError } from '../errors.js';
import { isGuid } from '../guid.js';
import type { Runtime } from '../runtime.js';
import { dataverseChange, dataverseChangeSchema, exchangeChange, versionOfEtag, type ChangeMessageInput, type DataverseEntity } from '../servicebus/messages.js';
import { mailboxStates, type Mailbox } from '../storage/mailboxStore.js';
import type { Outcome } from './engine.js';
import { kindNamed, kindOfTable, kinds, recurringReason, type DeltaItem, type DeltaRoundContext, type GraphItem, type SyncKind } from './kinds/index.js';
import { syncWindow, type SyncWindow } from './window.js';

export interface RoundResult {
  enqueued: number;
  skipped: number;
  /** Rounds that started over because the stored token was evicted or expired. */
  resynced: number;
}

export interface MailboxReconcileResult extends RoundResult {
  mailboxId: string;
  errors: string[];
  /** The first failure, for the mailbox error policy (shared/sync/work.ts). */
  failure?: SyncError;
}

/** Cursor scopes this module writes (status reads them); each kind's delta adapter keeps its own. */
export const reconcileScopes = { dataverse: 'dvChanges', last: 'lastReconcile', catchup: 'catchup', lastSync: 'lastSync', recurring: 'recurringIgnored' } as const;

const batchSize = 100;

async function send(rt: Runtime, messages: ChangeMessageInput[], result: RoundResult): Promise<void> {
  for (let i = 0; i < messages.length; i += batchSize) await rt.sender.send(messages.slice(i, i + batchSize));
  result.enqueued += messages.length;
}

/** What a kind's delta round is given: the token-restart rule, the queue and the breaker, counting into `result`. */
function roundContext(rt: Runtime, mailbox: Mailbox, kind: SyncKind, result: RoundResult): DeltaRoundContext {
  return {
    async fromLink(link, fetch) {
      if (!link) return { ...(await fetch(undefined)), full: true, resynced: false };
      try {
        return { ...(await fetch(link)), full: false, resynced: false };
      } catch (error) {
        // GraphApi answers an evicted token (410, syncStateNotFound) with TokenExpired.
        if (!isSyncError(error, 'TokenExpired')) throw error;
        result.resynced += 1;
        return { ...(await fetch(undefined)), full: true, resynced: true };
      }
    },
    async enqueue(items, listId, origin = 'listing') {
      await send(rt, await exchangeMessages(rt, mailbox, kind, items, listId, result, origin), result);
    },
    skip(count) {
      result.skipped += count;
    },
    async enqueueDeleted(pairs) {
      const receivedAt = rt.now().toISOString();
      const messages = pairs.flatMap((pair) =>
        pair.exchangeId ? [exchangeChange({ mailboxId: mailbox.id, resource: kind.resource, itemId: pair.exchangeId, listId: pair.exchangeListId, changeType: 'deleted', dataverseId: pair.dataverseId }, { receivedAt })] : [],
      );
      await send(rt, messages, result);
      return messages.length;
    },
    // After a full round of one collection: the breaker hears what it listed (none while pairs exist trips it,
    // shared/sync/breaker.ts), and each pair of the collection the round did not list is enqueued as a resync
    // change, so the worker reads it and a delete inferred from it waits for an operator.
    async afterFullRound(items, listId) {
      const listed = listedIds(items);
      // One To Do list is not the whole kind: an empty list beside others holding the pairs is normal.
      if (listId === undefined) await rt.breaker.noteListing({ mailboxId: mailbox.id.toLowerCase(), kind: kind.name, direction: 'toDataverse' }, listed.size, rt.now());
      const receivedAt = rt.now().toISOString();
      const messages: ChangeMessageInput[] = [];
      for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
        if (pair.kind !== kind.name || !pair.exchangeId || listed.has(pair.exchangeId) || pair.status !== 'linked') continue;
        if (listId !== undefined && pair.exchangeListId !== listId) continue;
        messages.push(exchangeChange({ mailboxId: mailbox.id, resource: kind.resource, itemId: pair.exchangeId, listId: pair.exchangeListId, changeType: 'updated', dataverseId: pair.dataverseId, origin: 'resync' }, { receivedAt }));
      }
      await send(rt, messages, result);
    },
  };
}

/** The item is the version the sync recorded; a pair that records no etag (a tracked email) recognizes none. */
const ownVersion = (recorded: string | undefined, listed: string | undefined) => recorded !== undefined && recorded === listed;

const listedIds = (items: readonly DeltaItem[]) => new Set(items.filter((i) => i.id && i['@removed'] === undefined).map((i) => i.id!));

/** Turns delta items into the webhook's messages, skipping the sync's own version and untracked unpaired items. */
async function exchangeMessages(rt: Runtime, mailbox: Mailbox, kind: SyncKind, items: readonly DeltaItem[], listId: string | undefined, result: RoundResult, origin: 'listing' | 'resync'): Promise<ChangeMessageInput[]> {
  const receivedAt = rt.now().toISOString();
  const messages: ChangeMessageInput[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const removed = item['@removed'] !== undefined;
    // An occurrence or exception is its master's change (the worker applies it so): a calendarView round lists a
    // series as every occurrence in the window, so one message per master, not one per occurrence (a daily series
    // is hundreds, each a full comparison of the series). Its etag is the occurrence's, never the master's.
    const carrier = removed ? undefined : kind.carrierOf?.(item as GraphItem);
    const id = carrier ?? item.id;
    // The same item may appear more than once in a round (https://learn.microsoft.com/graph/delta-query-overview): the worker reads current state anyway.
    if (!id || seen.has(id)) continue;
    seen.add(id);
    const pair = await rt.pairs.getByExchangeId(mailbox.id, id);
    if (removed ? !pair : pair ? carrier === undefined && ownVersion(pair.exchangeEtag, item['@odata.etag']) : !kind.isTracked(item as GraphItem)) {
      result.skipped += 1;
      continue;
    }
    // A calendarView @removed is also sent for events that only left the window, and a contact @removed for one
    // moved to another folder: 'updated' makes the worker read the item and delete only when it is really gone.
    const etag = carrier === undefined ? item['@odata.etag'] || undefined : undefined;
    messages.push(exchangeChange({ mailboxId: mailbox.id, resource: kind.resource, itemId: id, listId, changeType: 'updated', etag, dataverseId: pair?.dataverseId, origin }, { receivedAt }));
  }
  return messages;
}

/** One kind's delta round for a mailbox (the reconcile timer runs every kind; the To Do poll the polled ones). */
export async function reconcileKind(rt: Runtime, mailbox: Mailbox, kind: SyncKind, result: RoundResult, window: SyncWindow = syncWindow(rt)): Promise<void> {
  await kind.delta.round(rt, mailbox, window, roundContext(rt, mailbox, kind, result));
}

/**
 * The periodic comparison of every paired item with parts (a series): one change per pair, as its master's echo,
 * so the worker compares its pattern, exceptions and cancellations on both sides. A deleted occurrence changes
 * nothing a delta round lists (calendarView delta gives "no indication" of it, and its only notification is an
 * update of the master, which may be lost), so this is the only way to see one Graph never announced.
 */
export async function compareParts(rt: Runtime, mailbox: Mailbox, result: RoundResult): Promise<void> {
  const receivedAt = rt.now().toISOString();
  const messages: ChangeMessageInput[] = [];
  for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
    if (pair.status !== 'linked' || !pair.exchangeId || pair.mirror || !mailbox.entities.includes(pair.kind)) continue;
    const kind = kindNamed(pair.kind);
    if (!kind.parts?.appliesTo(pair.dataverseEntity as DataverseEntity)) continue;
    // No etag: with the recorded one the message id would be the echo's own, which duplicate detection drops. The
    // worker reads the master, finds it unchanged (an echo), and compares the parts.
    messages.push(exchangeChange({ mailboxId: mailbox.id, resource: kind.resource, itemId: pair.exchangeId, changeType: 'updated', dataverseId: pair.dataverseId }, { receivedAt }));
  }
  await send(rt, messages, result);
}

/** Catches one mailbox's Exchange side up by delta and enqueues what changed. */
export async function reconcileMailbox(rt: Runtime, mailbox: Mailbox, window: SyncWindow = syncWindow(rt)): Promise<MailboxReconcileResult> {
  await rt.ready();
  const result: MailboxReconcileResult = { mailboxId: mailbox.id, enqueued: 0, skipped: 0, resynced: 0, errors: [] };
  for (const kind of kinds) {
    if (!mailbox.entities.includes(kind.name)) continue;
    const name = kind.delta.collection;
    try {
      await reconcileKind(rt, mailbox, kind, result, window);
    } catch (error) {
      // One failing collection must not stop the others; the next period tries again from the same cursor.
      result.failure ??= toSyncError(error);
      result.errors.push(`${name}: ${isSyncError(error) ? error.code : 'Unknown'}: ${(error as Error).message}`.slice(0, 300));
      rt.log.error('reconciliation failed for a collection', { mailboxId: mailbox.id, collection: name, code: isSyncError(error) ? error.code : 'Unknown' });
    }
  }
  try {
    await compareParts(rt, mailbox, result);
  } catch (error) {
    result.errors.push(`series comparison: ${isSyncError(error) ? error.code : 'Unknown'}: ${(error as Error).message}`.slice(0, 300));
    rt.log.error('reconciliation failed to compare the series', { mailboxId: mailbox.id, code: isSyncError(error) ? error.code : 'Unknown' });
  }
  await rt.cursors.set(reconcileScopes.last, mailbox.id, { at: rt.now().toISOString(), enqueued: result.enqueued, skipped: result.skipped, resynced: result.resynced, errors: result.errors });
  if (result.errors.length === 0) await rt.cursors.remove(reconcileScopes.catchup, mailbox.id);
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// Dataverse change tracking
// ------------------------------------------------------------------------------------------------------------


export interface DataverseReconcileResult extends RoundResult {
  tables: string[];
  errors: string[];
}

/** The states of a mailbox that syncs (every one but disabled), as the registry's state query takes them. */
const syncingStates = mailboxStates.filter((state) => state !== 'disabled');

/** The enabled mailboxes a page at a time (one query per page, SYNC_SWEEP_PAGE_SIZE rows): never the registry in one call. */
async function* enabledMailboxPages(rt: Runtime): AsyncGenerator<Mailbox[]> {
  let continuation: string | undefined;
  do {
    const page = await rt.mailboxes.inStatesPage(syncingStates, { pageSize: rt.settings.SYNC_SWEEP_PAGE_SIZE, continuation });
    yield page.mailboxes;
    continuation = page.continuation;
  } while (continuation);
}

/**
 * The Dataverse tables some enabled mailbox syncs, read a page of the registry at a time and only until every table
 * of every kind is named (in a tenant that syncs every kind, the first page).
 */
async function syncedTables(rt: Runtime): Promise<DataverseEntity[]> {
  const all = new Set(kinds.flatMap((k) => k.tables));
  const tables = new Set<DataverseEntity>();
  for await (const page of enabledMailboxPages(rt)) {
    for (const m of page) for (const k of m.entities) for (const t of kindNamed(k).tables) tables.add(t);
    if (tables.size === all.size) break;
  }
  return [...tables].sort();
}

/** Activity ids per activityparty query: a filter of 25 ids stays far below the Web API's URL length limit. */
const partyBatch = 25;

/**
 * One change-tracking round per synced table. Change tracking cannot filter (docs/reference/platform-facts.md section 6), so rows are
 * kept only when they can matter, cheaply: already paired and not the version the sync wrote, owned by an enabled
 * mailbox's user, or with such a user as a party. Who is an enabled mailbox's user is asked of the registry's index
 * by system user (shared/storage/mailboxStore.ts enabledBySystemUsers), so a round costs look-ups of the users its
 * rows name, not a read of the registry; and the parties are read per changed activity, in batches, so a round
 * costs Dataverse queries by the rows that need them, not one per mailbox (issue 19 item 5).
 */
export async function reconcileDataverse(rt: Runtime): Promise<DataverseReconcileResult> {
  await rt.ready();
  const result: DataverseReconcileResult = { enqueued: 0, skipped: 0, resynced: 0, tables: [], errors: [] };
  const tables = await syncedTables(rt);
  const users = syncingUsers(rt);
  for (const entity of tables) {
    try {
      const link = await rt.cursors.get<string>(reconcileScopes.dataverse, entity);
      const primary = kindOfTable(entity).primaryKey;
      const fetch = (l: string | undefined) => rt.dataverse.trackChanges(entity, l ? { link: l } : { select: [primary, '_ownerid_value'] });
      let round;
      let full = !link;
      try {
        round = await fetch(link);
      } catch (error) {
        if (!link || !isSyncError(error, 'TokenExpired')) throw error;
        result.resynced += 1;
        full = true;
        round = await fetch(undefined);
      }
      const receivedAt = rt.now().toISOString();
      const messages: ChangeMessageInput[] = [];
      // A row the queue would not take is reported and skipped: it must not cost the other rows of the round.
      let unusable = 0;
      const usable = (message: ChangeMessageInput) => {
        if (dataverseChangeSchema.safeParse(message).success) return true;
        unusable += 1;
        return false;
      };
      const change = (id: string, row: DataverseRecord) => dataverseChange({ entity, recordId: id, message: 'Reconcile', version: versionOfEtag(row['@odata.etag']) }, { receivedAt });
      // Rows that matter only if one of their parties is an enabled mailbox's user: decided together below.
      const byParty = new Map<string, DataverseRecord>();
      for (const row of round.changed) {
        const id = String(row[primary]).toLowerCase();
        if (!isGuid(id)) {
          unusable += 1;
          continue;
        }
        const verdict = await matters(rt, entity, id, row, users);
        if (verdict === 'ifParty') {
          byParty.set(id, row);
          continue;
        }
        if (!verdict) {
          result.skipped += 1;
          continue;
        }
        const message = change(id, row);
        if (usable(message)) messages.push(message);
      }
      const reached = await activitiesWithSyncingParty(rt, [...byParty.keys()], users);
      for (const [id, row] of byParty) {
        if (!reached.has(id)) {
          result.skipped += 1;
          continue;
        }
        const message = change(id, row);
        if (usable(message)) messages.push(message);
      }
      for (const id of round.deleted) {
        if (!isGuid(id)) {
          unusable += 1;
          continue;
        }
        // Only a deleted record the sync paired can matter; the engine applies the delete rules per kind.
        if ((await rt.pairs.mailboxesOf(id)).length === 0) {
          result.skipped += 1;
          continue;
        }
        const message = dataverseChange({ entity, recordId: id, message: 'Delete' }, { receivedAt });
        if (usable(message)) messages.push(message);
      }
      // A full round (the first, or a new start after an expired token) lists the rows there are and reports no
      // deletes: a record deleted while its webhook was lost would keep its copies for good (the organizer's future
      // event of a deleted appointment: the chaos test's d365-delete-event-kept). As the Exchange side does for its
      // full rounds (afterFullRound above), each paired record of the table the round did not list is enqueued as a
      // resync change: the worker reads it, and a record gone is an inferred delete, under the breaker's rules.
      if (full) messages.push(...(await unlistedPairs(rt, entity, new Set(round.changed.map((row) => String(row[primary]).toLowerCase())), receivedAt)));
      await send(rt, messages, result);
      if (unusable > 0) {
        result.errors.push(`${entity}: InvalidInput: ${unusable} changed row(s) without a usable id were skipped`);
        rt.log.warn('Dataverse change tracking returned rows without a usable id', { entity, rows: unusable });
      }
      if (round.deltaLink) await rt.cursors.set(reconcileScopes.dataverse, entity, round.deltaLink);
      result.tables.push(entity);
    } catch (error) {
      result.errors.push(`${entity}: ${isSyncError(error) ? error.code : 'Unknown'}: ${(error as Error).message}`.slice(0, 300));
      rt.log.error('Dataverse change tracking failed for a table', { entity, code: isSyncError(error) ? error.code : 'Unknown' });
    }
  }
  await rt.cursors.set(reconcileScopes.last, 'dataverse', { at: rt.now().toISOString(), enqueued: result.enqueued, skipped: result.skipped, resynced: result.resynced, errors: result.errors });
  return result;
}

/** Whether system users are enabled mailboxes' users: the registry's index, each user asked once per round. */
type SyncingUsers = (systemUserIds: readonly string[]) => Promise<ReadonlySet<string>>;

function syncingUsers(rt: Runtime): SyncingUsers {
  const known = new Map<string, boolean>();
  return async (ids) => {
    const asked = [...new Set(ids.map((id) => id.toLowerCase()))].filter((id) => !known.has(id));
    if (asked.length > 0) {
      const found = await rt.mailboxes.enabledBySystemUsers(asked);
      for (const id of asked) known.set(id, found.has(id));
    }
    return new Set(ids.map((id) => id.toLowerCase()).filter((id) => known.get(id) === true));
  };
}

/** A resync change for each record of `entity` an enabled mailbox pairs that a full round did not list (once per record). */
async function unlistedPairs(rt: Runtime, entity: DataverseEntity, listed: ReadonlySet<string>, receivedAt: string): Promise<ChangeMessageInput[]> {
  const ids = new Set<string>();
  for await (const page of enabledMailboxPages(rt)) {
    for (const mailbox of page) {
      for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
        const id = pair.dataverseId.toLowerCase();
        if (pair.dataverseEntity === entity && pair.status === 'linked' && !listed.has(id)) ids.add(id);
      }
    }
  }
  return [...ids].map((recordId) => dataverseChange({ entity, recordId, message: 'Reconcile', origin: 'resync' }, { receivedAt }));
}

/** Whether a changed row can matter: true, false, or only if one of its parties is an enabled mailbox's user. */
async function matters(rt: Runtime, entity: DataverseEntity, id: string, row: DataverseRecord, users: SyncingUsers): Promise<boolean | 'ifParty'> {
  const paired = await rt.pairs.mailboxesOf(id);
  if (paired.length > 0) {
    // The sync's own write comes back with the etag it recorded in every pair of the record.
    for (const mailboxId of paired) {
      const pair = await rt.pairs.get(mailboxId, id);
      if (!pair || pair.status !== 'linked' || pair.dataverseEtag !== row['@odata.etag']) return true;
    }
    return false;
  }
  const owner = typeof row._ownerid_value === 'string' ? row._ownerid_value.toLowerCase() : undefined;
  if (owner && (await users([owner])).has(owner)) return true;
  return kindOfTable(entity).partyNavigation(entity) !== undefined ? 'ifParty' : false;
}

/** The activities of these ids with an enabled mailbox's user among their parties: one activityparty query per 25 activities. */
async function activitiesWithSyncingParty(rt: Runtime, activityIds: readonly string[], users: SyncingUsers): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < activityIds.length; i += partyBatch) {
    const batch = activityIds.slice(i, i + partyBatch);
    // The ids are GUIDs (checked by the caller): nothing else reaches the filter.
    const filter = batch.map((id) => `_activityid_value eq ${id}`).join(' or ');
    const partiesOf = new Map<string, string[]>();
    for (const row of await rt.dataverse.query('activityparty', { filter, select: ['_activityid_value', '_partyid_value'] })) {
      if (typeof row._activityid_value !== 'string' || typeof row._partyid_value !== 'string') continue;
      const activity = row._activityid_value.toLowerCase();
      partiesOf.set(activity, [...(partiesOf.get(activity) ?? []), row._partyid_value.toLowerCase()]);
    }
    const syncing = await users([...partiesOf.values()].flat());
    for (const [activity, parties] of partiesOf) if (parties.some((p) => syncing.has(p))) out.add(activity);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// The timer and the sync-health recorder
// ------------------------------------------------------------------------------------------------------------

export interface ReconcileAllResult {
  mailboxes: MailboxReconcileResult[];
  dataverse: DataverseReconcileResult;
}

/** The reconcile timer: every enabled mailbox's Exchange side, then Dataverse change tracking. */
export async function reconcileAll(rt: Runtime): Promise<ReconcileAllResult> {
  await rt.ready();
  const mailboxes: MailboxReconcileResult[] = [];
  for (const mailbox of await rt.mailboxes.list()) {
    if (mailbox.state === 'disabled') continue;
    mailboxes.push(await reconcileMailbox(rt, mailbox));
  }
  return { mailboxes, dataverse: await reconcileDataverse(rt) };
}

const recorded = new WeakMap<Runtime, Map<string, number>>();
const recordEveryMs = 30_000;

/**
 * Records the last successful sync per mailbox and direction for the status endpoint. Meant to be called by the
 * worker after a change applied (source 'dataverse' -> toExchange, 'exchange' -> toDataverse); writes at most
 * once per 30 s per mailbox and direction.
 */
export async function recordApplied(rt: Runtime, source: 'dataverse' | 'exchange' | 'lifecycle', outcomes: Outcome[]): Promise<void> {
  if (source === 'lifecycle') return;
  const direction = source === 'dataverse' ? 'toExchange' : 'toDataverse';
  const seen = recorded.get(rt) ?? new Map<string, number>();
  recorded.set(rt, seen);
  const now = rt.now();
  for (const outcome of outcomes) {
    if (outcome.mailboxId && outcome.kind === 'ignored' && outcome.detail?.startsWith(recurringReason) === true) await countRecurring(rt, outcome.mailboxId, outcome.dataverseId ?? outcome.exchangeId);
    if (!outcome.mailboxId || outcome.kind === 'ignored') continue;
    const key = `${outcome.mailboxId.toLowerCase()}|${direction}`;
    if (now.getTime() - (seen.get(key) ?? -Infinity) < recordEveryMs) continue;
    seen.set(key, now.getTime());
    await rt.cursors.set(reconcileScopes.lastSync, key, { at: now.toISOString(), outcome: outcome.kind });
  }
}

/** One item of a recurring series left out (a row per mailbox and item: concurrent changes never lose a count). */
export interface RecurringIgnored {
  at: string;
}

/** The cursor name of a recurring item left out in a mailbox: the mailbox and a short hash of the item's id. */
const recurringKey = (mailboxId: string, itemId: string) => `${mailboxId.toLowerCase()}|${createHash('sha256').update(itemId).digest('base64url').slice(0, 16)}`;

/** Records a recurring item the planner left out (for status); ids only, hashed, never contents. */
async function countRecurring(rt: Runtime, mailboxId: string, itemId: string | undefined): Promise<void> {
  if (!itemId) return;
  await rt.cursors.set(reconcileScopes.recurring, recurringKey(mailboxId, itemId), { at: rt.now().toISOString() } satisfies RecurringIgnored);
}
