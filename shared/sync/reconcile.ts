// Reconciliation: the repair path behind the webhooks. Per mailbox a delta round over the
// calendar (calendarView delta over the sync window), the default contacts folder and the default To Do list; per
// synced Dataverse table a change-tracking round. Everything found is enqueued as the same messages the webhooks
// send, except the sync's own versions and untracked unpaired items. An evicted token restarts the round from
// scratch, which creates no duplicates because the engine matches before creating (docs/reference/platform-facts.md section 2 and 6).
import { createHash } from 'node:crypto';
import type { DataverseRecord } from '../dataverse/client.js';
import { isSyncError } from '../errors.js';
import { isGuid } from '../guid.js';
import type { DeltaPage } from '../graph/client.js';
import { isTrackedInExchange } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import { dataverseChange, dataverseChangeSchema, exchangeChange, versionOfEtag, type ChangeMessageInput, type DataverseEntity } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { Outcome } from './engine.js';
import { kindNamed, kindOfResource, kindOfTable, kinds, recurringReason, type ExchangeResource } from './kinds/index.js';
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
}

/** Cursor scopes this module writes (status reads them). */
export const reconcileScopes = { events: 'eventsDelta', contacts: 'contactsDelta', todo: 'todoDelta', todoLists: 'todoLists', dataverse: 'dvChanges', last: 'lastReconcile', catchup: 'catchup', lastSync: 'lastSync', recurring: 'recurringIgnored' } as const;

const batchSize = 100;
/** The stored calendar round is restarted once the window has slid this far (a calendarView delta is window-bound). */
const windowSlideMs = 86400_000;

type ExItem = { id?: string | null; '@odata.etag'?: string; '@removed'?: { reason: string }; categories?: string[] | null };

interface EventsCursor {
  link: string;
  windowStart: string;
}

/** Runs a delta round from the stored link, starting over (resynced) when the token was evicted. */
async function deltaRound<T>(link: string | undefined, fetch: (link: string | undefined) => Promise<DeltaPage<T>>, result: RoundResult): Promise<DeltaPage<T>> {
  if (!link) return fetch(undefined);
  try {
    return await fetch(link);
  } catch (error) {
    // GraphApi answers an evicted token (410, syncStateNotFound) with TokenExpired.
    if (!isSyncError(error, 'TokenExpired')) throw error;
    result.resynced += 1;
    return fetch(undefined);
  }
}

/** Turns delta items into the webhook's messages, skipping the sync's own version and untracked unpaired items. */
async function exchangeMessages(rt: Runtime, mailbox: Mailbox, resource: 'event' | 'contact' | 'todoTask', items: ExItem[], listId: string | undefined, result: RoundResult): Promise<ChangeMessageInput[]> {
  const receivedAt = rt.now().toISOString();
  const messages: ChangeMessageInput[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    // The same item may appear more than once in a round (docs/reference/platform-facts.md section 2): the worker reads current state anyway.
    if (!item.id || seen.has(item.id)) continue;
    seen.add(item.id);
    const pair = await rt.pairs.getByExchangeId(mailbox.id, item.id);
    const removed = item['@removed'] !== undefined;
    if (removed ? !pair : pair ? pair.exchangeEtag === item['@odata.etag'] : !isTrackedInExchange(item, false)) {
      result.skipped += 1;
      continue;
    }
    // A calendarView @removed is also sent for events that only left the window, and a contact @removed for one
    // moved to another folder: 'updated' makes the worker read the item and delete only when it is really gone.
    messages.push(exchangeChange({ mailboxId: mailbox.id, resource, itemId: item.id, listId, changeType: 'updated', etag: item['@odata.etag'] || undefined, dataverseId: pair?.dataverseId }, { receivedAt }));
  }
  return messages;
}

async function send(rt: Runtime, messages: ChangeMessageInput[], result: RoundResult): Promise<void> {
  for (let i = 0; i < messages.length; i += batchSize) await rt.sender.send(messages.slice(i, i + batchSize));
  result.enqueued += messages.length;
}

/** Calendar: calendarView delta over the sync window; the stored round restarts when the window has slid a day. */
async function reconcileEvents(rt: Runtime, mailbox: Mailbox, window: SyncWindow, result: RoundResult): Promise<void> {
  const stored = await rt.cursors.get<EventsCursor>(reconcileScopes.events, mailbox.id);
  const fresh = !stored || Math.abs(Date.parse(stored.windowStart) - window.start.getTime()) > windowSlideMs;
  let windowStart = fresh ? window.start.toISOString() : stored.windowStart;
  const page = await deltaRound(fresh ? undefined : stored.link, (link) => {
    if (!link) windowStart = window.start.toISOString();
    return rt.graph.calendarViewDelta(mailbox.id, link ? { link } : { window });
  }, result);
  await send(rt, await exchangeMessages(rt, mailbox, 'event', page.items, undefined, result), result);
  if (page.deltaLink) await rt.cursors.set(reconcileScopes.events, mailbox.id, { link: page.deltaLink, windowStart } satisfies EventsCursor);
}

/** Contacts: delta of the default folder (contacts delta is per folder; docs/reference/platform-facts.md section 2). */
async function reconcileContacts(rt: Runtime, mailbox: Mailbox, result: RoundResult): Promise<void> {
  const link = await rt.cursors.get<string>(reconcileScopes.contacts, mailbox.id);
  const page = await deltaRound(link, (l) => rt.graph.contactsDelta(mailbox.id, l ? { link: l } : { folderId: 'contacts' }), result);
  await send(rt, await exchangeMessages(rt, mailbox, 'contact', page.items, undefined, result), result);
  if (page.deltaLink) await rt.cursors.set(reconcileScopes.contacts, mailbox.id, page.deltaLink);
}

/**
 * To Do: the delta of every list of the mailbox (To Do has no app-only notifications, and delta is per list;
 * docs/reference/platform-facts.md sections 2 and 8); the pollTodo timer runs exactly this every minute. A new list is picked up by the next
 * round (its first round is a full one); a removed list's paired tasks are reported deleted, which unlinks them.
 */
export async function reconcileTodo(rt: Runtime, mailbox: Mailbox, result: RoundResult): Promise<void> {
  const todoKind = kindOfResource('todoTask').name;
  const lists = (await rt.graph.listTodoLists(mailbox.id)).filter((l): l is typeof l & { id: string } => typeof l.id === 'string');
  const known = (await rt.cursors.get<string[]>(reconcileScopes.todoLists, mailbox.id)) ?? [];
  const current = lists.map((l) => l.id);
  for (const listId of current) {
    const name = `${mailbox.id}|${listId}`;
    const link = await rt.cursors.get<string>(reconcileScopes.todo, name);
    const page = await deltaRound(link, (l) => rt.graph.todoTasksDelta(mailbox.id, l ? { link: l } : { listId }), result);
    await send(rt, await exchangeMessages(rt, mailbox, 'todoTask', page.items, listId, result), result);
    if (page.deltaLink) await rt.cursors.set(reconcileScopes.todo, name, page.deltaLink);
  }
  const removed = known.filter((id) => !current.includes(id));
  if (removed.length > 0) {
    const receivedAt = rt.now().toISOString();
    const messages: ChangeMessageInput[] = [];
    for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
      if (pair.kind !== todoKind || !pair.exchangeId || !pair.exchangeListId || !removed.includes(pair.exchangeListId)) continue;
      messages.push(exchangeChange({ mailboxId: mailbox.id, resource: 'todoTask', itemId: pair.exchangeId, listId: pair.exchangeListId, changeType: 'deleted', dataverseId: pair.dataverseId }, { receivedAt }));
    }
    await send(rt, messages, result);
    for (const listId of removed) await rt.cursors.remove(reconcileScopes.todo, `${mailbox.id}|${listId}`);
    rt.log.info('To Do lists removed; their paired tasks are unlinked', { mailboxId: mailbox.id, lists: removed.length, tasks: messages.length });
  }
  if (removed.length > 0 || current.some((id) => !known.includes(id))) await rt.cursors.set(reconcileScopes.todoLists, mailbox.id, current);
}

/** Catches one mailbox's Exchange side up by delta and enqueues what changed. */
export async function reconcileMailbox(rt: Runtime, mailbox: Mailbox, window: SyncWindow = syncWindow(rt)): Promise<MailboxReconcileResult> {
  await rt.ready();
  const result: MailboxReconcileResult = { mailboxId: mailbox.id, enqueued: 0, skipped: 0, resynced: 0, errors: [] };
  // One delta round per Graph resource of the kinds the mailbox syncs.
  const rounds: Record<ExchangeResource, [string, () => Promise<void>]> = {
    event: ['events', () => reconcileEvents(rt, mailbox, window, result)],
    contact: ['contacts', () => reconcileContacts(rt, mailbox, result)],
    todoTask: ['todo', () => reconcileTodo(rt, mailbox, result)],
  };
  for (const kind of kinds) {
    if (!mailbox.entities.includes(kind.name)) continue;
    const [name, run] = rounds[kind.resource];
    try {
      await run();
    } catch (error) {
      // One failing collection must not stop the others; the next period tries again from the same cursor.
      result.errors.push(`${name}: ${isSyncError(error) ? error.code : 'Unknown'}: ${(error as Error).message}`.slice(0, 300));
      rt.log.error('reconciliation failed for a collection', { mailboxId: mailbox.id, collection: name, code: isSyncError(error) ? error.code : 'Unknown' });
    }
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

/**
 * One change-tracking round per synced table. Change tracking cannot filter (docs/reference/platform-facts.md section 6), so rows are
 * kept only when they can matter, cheaply: owned by an enabled mailbox's user, with such a user as a party (one
 * activityparty query per user, made only when needed), or already paired; and not the version the sync wrote.
 */
export async function reconcileDataverse(rt: Runtime): Promise<DataverseReconcileResult> {
  await rt.ready();
  const result: DataverseReconcileResult = { enqueued: 0, skipped: 0, resynced: 0, tables: [], errors: [] };
  const mailboxes = (await rt.mailboxes.list({ fresh: true })).filter((m) => m.state !== 'disabled');
  const owners = new Set(mailboxes.map((m) => m.systemUserId.toLowerCase()));
  const tables = [...new Set(mailboxes.flatMap((m) => m.entities.flatMap((k) => kindNamed(k).tables)))].sort();
  let partyOf: Set<string> | undefined;
  const isParty = async (activityId: string) => {
    partyOf ??= await activitiesWithParties(rt, [...owners]);
    return partyOf.has(activityId);
  };
  for (const entity of tables) {
    try {
      const link = await rt.cursors.get<string>(reconcileScopes.dataverse, entity);
      const primary = kindOfTable(entity).primaryKey;
      const fetch = (l: string | undefined) => rt.dataverse.trackChanges(entity, l ? { link: l } : { select: [primary, '_ownerid_value'] });
      let round;
      try {
        round = await fetch(link);
      } catch (error) {
        if (!link || !isSyncError(error, 'TokenExpired')) throw error;
        result.resynced += 1;
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
      for (const row of round.changed) {
        const id = String(row[primary]).toLowerCase();
        if (!isGuid(id)) {
          unusable += 1;
          continue;
        }
        if (!(await matters(rt, entity, id, row, owners, isParty))) {
          result.skipped += 1;
          continue;
        }
        const message = dataverseChange({ entity, recordId: id, message: 'Reconcile', version: versionOfEtag(row['@odata.etag']) }, { receivedAt });
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

async function matters(rt: Runtime, entity: DataverseEntity, id: string, row: DataverseRecord, owners: Set<string>, isParty: (id: string) => Promise<boolean>): Promise<boolean> {
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
  if (owner && owners.has(owner)) return true;
  return kindOfTable(entity).partyNavigation(entity) !== undefined && (await isParty(id));
}

async function activitiesWithParties(rt: Runtime, systemUserIds: string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const user of systemUserIds) {
    for (const row of await rt.dataverse.query('activityparty', { filter: `_partyid_value eq ${user}`, select: ['_activityid_value'] })) {
      if (typeof row._activityid_value === 'string') ids.add(row._activityid_value.toLowerCase());
    }
  }
  return ids;
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
  for (const mailbox of await rt.mailboxes.list({ fresh: true })) {
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
