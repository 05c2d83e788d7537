// The sync engine: one change in, the other side brought up to date. It decides from current state, never from the
// notification: load what the change meets (the pair, the items of both sides, the mailbox), plan the actions
// (shared/sync/plan.ts, pure), run them (shared/sync/execute.ts). Writes are conditional on the etag the sync last
// saw, so a concurrent edit is merged instead of overwritten, and every create is idempotent (derived Dataverse ids,
// Graph transactionId, the Dataverse id stamped on the item). Everything that differs by kind comes from the kind
// (shared/sync/kinds/); this file holds only the generic algorithm.
import type { DataverseRecord } from '../dataverse/client.js';
import type { MappingContext } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import type { DataverseChange, DataverseEntity, ExchangeChange } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { StoredPair } from '../storage/pairStore.js';
import { Executor, type ExecutionState, type Outcome } from './execute.js';
import { kindOfResource, kindOfTable, type GraphItem, type SyncKind } from './kinds/index.js';
import { isNotificationEcho, planDataverseDelete, planToDataverse, planToExchange, scopeOf, type LinkCandidate, type PlanSettings } from './plan.js';

export type { Outcome, OutcomeKind } from './execute.js';

export function mappingContext(mailbox: Mailbox, now: Date): MappingContext {
  return { now, mailbox: { address: mailbox.address, systemUserId: mailbox.systemUserId }, timeZone: mailbox.timeZone };
}

const planSettings = (rt: Runtime): PlanSettings => ({ SYNC_CONFLICT_POLICY: rt.settings.SYNC_CONFLICT_POLICY, SYNC_PROPAGATE_CANCELLATIONS: rt.settings.SYNC_PROPAGATE_CANCELLATIONS });

/**
 * The mailbox's registry row as it is now, or undefined when it is disabled or gone. The registry list is cached
 * (shared/storage/mailboxStore.ts) and another process (the CLI) may have disabled the mailbox since: the state is
 * read again where a write to or from the mailbox is decided, so a disable takes effect for every later change.
 */
async function stillEnabled(rt: Runtime, cached: Mailbox): Promise<Mailbox | undefined> {
  const current = await rt.mailboxes.get(cached.id);
  return current && current.state !== 'disabled' ? current : undefined;
}

function executor(rt: Runtime, kind: SyncKind, mailbox: Mailbox, table: DataverseEntity, parts: Partial<ExecutionState>): Executor {
  return new Executor(rt, {
    kind,
    mailbox,
    table,
    dataverseId: undefined,
    exchangeId: undefined,
    pair: undefined,
    record: undefined,
    item: undefined,
    listId: undefined,
    ctx: mappingContext(mailbox, rt.now()),
    settings: planSettings(rt),
    syncedSystemUsers: new Set(),
    ...parts,
  });
}

// ------------------------------------------------------------------------------------------------------------
// Dataverse -> Exchange
// ------------------------------------------------------------------------------------------------------------

/** Applies a Dataverse change to every mailbox in its scope. */
export async function applyDataverseChange(rt: Runtime, change: DataverseChange, viaPart = false): Promise<Outcome[]> {
  const kind = kindOfTable(change.entity);
  if (change.message === 'Delete') return applyDataverseDelete(rt, kind, change.entity, change.recordId, change.ownerId);
  // The webhook's post image holds every mapped column as of that change (a later change comes in its own message,
  // in this same session); without one, read the record.
  const record = change.image ?? (await kind.dataverse.get(rt, change.entity, change.recordId));
  if (!record) return applyDataverseDelete(rt, kind, change.entity, change.recordId, change.ownerId);
  // A part's change (an instance of a series) is its carrier's (the series): applied as a change of that record. A
  // part's Create is its carrier's own expansion, which the carrier's change already covers.
  const carrier = viaPart || change.message === 'Create' ? undefined : kind.recordCarrierOf?.(record);
  if (carrier) {
    const { image: _image, version: _version, ...rest } = change;
    return applyDataverseChange(rt, { ...rest, entity: carrier.table, recordId: carrier.id, message: 'Update' }, true);
  }
  const bySystemUser = await rt.mailboxes.enabledBySystemUser();
  const scope = scopeOf(kind, change.entity, record, bySystemUser);
  const outcomes: Outcome[] = [];
  // A record that no longer reaches a mailbox is unlinked there, never deleted (docs/reference/platform-facts.md section 7, KB 4345686).
  for (const mailboxId of await rt.pairs.mailboxesOf(change.recordId)) {
    if (scope.some((m) => m.id.toLowerCase() === mailboxId)) continue;
    const mailbox = await rt.mailboxes.get(mailboxId);
    // A disabled mailbox keeps its pairs (docs/operations.md): the record left no scope, the mailbox only paused.
    if (!mailbox || mailbox.state === 'disabled') continue;
    const pair = await rt.pairs.get(mailbox.id, change.recordId);
    if (!pair) continue;
    const outcome = await executor(rt, kind, mailbox, change.entity, { pair, dataverseId: change.recordId }).run([{ type: 'Unlink', reason: 'out of scope' }]);
    if (outcome) outcomes.push(outcome);
  }
  const syncedSystemUsers = new Set(bySystemUser.keys());
  for (const cached of scope) {
    const mailbox = await stillEnabled(rt, cached);
    if (!mailbox) {
      outcomes.push({ kind: 'ignored', mailboxId: cached.id, dataverseId: change.recordId, detail: 'mailbox not enabled' });
      continue;
    }
    const id = String(record[kind.primaryKey]).toLowerCase();
    const pair = await rt.pairs.get(mailbox.id, id);
    const ctx = mappingContext(mailbox, rt.now());
    const actions = planToExchange({ kind, table: change.entity, record, pair, mailbox, syncedSystemUsers, ctx, settings: planSettings(rt), viaPart });
    const run = executor(rt, kind, mailbox, change.entity, { pair, record, dataverseId: id, ctx, syncedSystemUsers });
    outcomes.push((await run.run(actions)) ?? { kind: 'unchanged', mailboxId: mailbox.id, dataverseId: id });
  }
  return outcomes;
}

/** Dataverse delete: server-side sync's rules per kind (docs/reference/platform-facts.md section 7). */
async function applyDataverseDelete(rt: Runtime, kind: SyncKind, table: DataverseEntity, recordId: string, ownerId: string | undefined): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const mailboxId of await rt.pairs.mailboxesOf(recordId)) {
    const mailbox = await rt.mailboxes.get(mailboxId);
    const pair = await rt.pairs.get(mailbox?.id ?? mailboxId, recordId);
    if (!pair) continue;
    const readItem = kind.dataverseDeleteReads === 'exchangeItem' && mailbox && mailbox.state !== 'disabled' && pair.exchangeId;
    const exchangeItem = readItem ? await kind.exchange.get(rt, mailbox, pair.exchangeId!, pair.exchangeListId) : undefined;
    const actions = planDataverseDelete({ kind, pair, mailbox, ownerId, now: rt.now(), exchangeItem });
    const target = mailbox ?? ({ id: mailboxId } as Mailbox);
    const run = executor(rt, kind, target, table, { pair, dataverseId: recordId, ctx: mailbox ? mappingContext(mailbox, rt.now()) : ({ now: rt.now() } as MappingContext) });
    const outcome = await run.run(actions);
    if (outcome) outcomes.push({ ...outcome, mailboxId });
  }
  return outcomes;
}

// ------------------------------------------------------------------------------------------------------------
// Exchange -> Dataverse
// ------------------------------------------------------------------------------------------------------------

/** Applies an Exchange change of one mailbox. */
export async function applyExchangeChange(rt: Runtime, change: ExchangeChange): Promise<Outcome[]> {
  const cached = await rt.mailboxes.findEnabled(change.mailboxId);
  const mailbox = cached && (await stillEnabled(rt, cached));
  if (!mailbox) return [{ kind: 'ignored', mailboxId: change.mailboxId, exchangeId: change.itemId, detail: 'mailbox not enabled' }];
  const kind = kindOfResource(change.resource);
  if (!mailbox.entities.includes(kind.name)) return [{ kind: 'ignored', mailboxId: mailbox.id, exchangeId: change.itemId, detail: `${kind.name} not synced for this mailbox` }];
  const pair = await rt.pairs.getByExchangeId(mailbox.id, change.itemId);
  const listId = change.listId ?? pair?.exchangeListId;
  const echo = isNotificationEcho(pair, change.etag);
  // Read only what the plan will look at: the item unless the change is a delete or an echo, the record when the
  // kind's delete rule reads it, and the record an unpaired item belongs to.
  const item = change.changeType === 'deleted' || echo ? undefined : await kind.exchange.get(rt, mailbox, change.itemId, listId);
  // An item whose changes another item carries (an occurrence of a series: its master) is applied as a change of that
  // item; the delta and a reconciliation list occurrences, a notification names the master.
  const carrier = item && !pair ? kind.carrierOf?.(item) : undefined;
  if (carrier && carrier !== change.itemId) {
    const { etag: _etag, dataverseId: _dataverseId, ...rest } = change;
    return applyExchangeChange(rt, { ...rest, itemId: carrier, changeType: 'updated' });
  }
  const gone = change.changeType === 'deleted' || (!echo && !item);
  const record = gone && pair && kind.exchangeDeleteReads === 'record' ? await kind.dataverse.get(rt, pair.dataverseEntity as DataverseEntity, pair.dataverseId) : undefined;
  const itemEcho = pair !== undefined && item?.['@odata.etag'] !== undefined && pair.exchangeEtag === item['@odata.etag'];
  const unpaired = !pair && item !== undefined && !itemEcho && kind.unsupportedItem(item) === undefined;
  const link = unpaired ? await loadLinkCandidate(rt, kind, mailbox, item) : undefined;
  const organizer = unpaired ? kind.itemFacts(item).organizerAddress : undefined;
  const organizerSynced = organizer !== undefined && (await rt.mailboxes.findEnabled(organizer)) !== undefined;
  const ctx = mappingContext(mailbox, rt.now());
  const actions = planToDataverse({
    kind,
    mailbox,
    change: { changeType: change.changeType, etag: change.etag, attempt: change.attempt, itemId: change.itemId },
    pair,
    item,
    link,
    organizerSynced,
    record,
    ctx,
    settings: planSettings(rt),
  });
  const run = executor(rt, kind, mailbox, (pair?.dataverseEntity as DataverseEntity | undefined) ?? link?.table ?? kind.tables[0]!, {
    // A pair of the record that already holds this item is the one the plan updates.
    pair: pair ?? (link?.existingPair?.exchangeId === change.itemId ? link.existingPair : undefined),
    item,
    record: link?.record ?? record,
    exchangeId: change.itemId,
    dataverseId: pair?.dataverseId ?? link?.dataverseId,
    listId,
    ctx,
  });
  return [(await run.run(actions)) ?? { kind: 'unchanged', mailboxId: mailbox.id, exchangeId: change.itemId }];
}

/**
 * The Dataverse record an unpaired Exchange item already belongs to: the id the sync stamped on it (a lost pair), or
 * what the kind finds it by (a meeting's iCalUId: another attendee's or the organizer's copy).
 */
async function loadLinkCandidate(rt: Runtime, kind: SyncKind, mailbox: Mailbox, item: GraphItem): Promise<(LinkCandidate & { existingPair: StoredPair | undefined }) | undefined> {
  let dataverseId = kind.exchange.stampOf(item);
  const viaMeeting = !dataverseId;
  dataverseId ??= await kind.dataverse.findLinkTarget(rt, item);
  if (!dataverseId) return undefined;
  const table = kind.tableFor?.(item) ?? kind.tables[0]!;
  const existingPair = await rt.pairs.get(mailbox.id, dataverseId);
  const record: DataverseRecord | undefined = existingPair ? undefined : await kind.dataverse.get(rt, table, dataverseId);
  return { dataverseId, table, viaMeeting, existingPair, record };
}
