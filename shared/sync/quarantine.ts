// What an operator does with the writes the breaker held (the `breaker` CLI): release them (do them after all),
// discard them (do not do them; a held delete's pair is unlinked and both items stay), or restore (the loss on the
// source side was the accident: copy the item back from the target side and pair it again). Every action is
// logged and written to the breaker's audit log with the operator's name; a scope whose quarantine is empty again
// is cleared, so its deletes flow again.
import { SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { dataverseChange, dataverseChangeSchema, exchangeChange, exchangeChangeSchema, type DataverseEntity } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { Pair, StoredPair } from '../storage/pairStore.js';
import { scopeName, type BreakerScope, type HeldEntry } from '../storage/breakerStore.js';
import { applyDataverseChange, applyExchangeChange, executor, mappingContext, planSettingsFor, recordDecision, type Outcome } from './engine.js';
import { kindNamed, kindOfResource } from './kinds/index.js';

export type QuarantineAction = 'release' | 'discard' | 'restore';

/** The decision words explain shows for an operator's action (shared/sync/decisions.ts). */
const decisionWords: Record<QuarantineAction, string> = { release: 'Released', discard: 'Discarded', restore: 'Restored' };

export interface QuarantineResult {
  entry: HeldEntry;
  /** What happened to it, in the words of the sync's outcomes ('deleted', 'created', 'unlinked', ...). */
  outcome: string;
}

/** The held entries of a scope an action applies to: all, or those whose Dataverse or Exchange id is listed. */
async function selected(rt: Runtime, scope: BreakerScope, ids: readonly string[] | undefined): Promise<HeldEntry[]> {
  const held = await rt.breaker.store.held(scope);
  if (!ids || ids.length === 0) return held;
  const wanted = new Set(ids.map((i) => i.toLowerCase()));
  const chosen = held.filter((e) => wanted.has(e.dataverseId?.toLowerCase() ?? '') || wanted.has(e.exchangeId?.toLowerCase() ?? ''));
  const unknown = [...wanted].filter((id) => !chosen.some((e) => e.dataverseId?.toLowerCase() === id || e.exchangeId?.toLowerCase() === id));
  if (unknown.length > 0) throw new SyncError('InvalidInput', `${unknown.length} of the ids given are not held in ${scopeName(scope)}`, { field: 'ids' });
  return chosen;
}

async function mailboxOf(rt: Runtime, scope: BreakerScope): Promise<Mailbox> {
  const mailbox = await rt.mailboxes.get(scope.mailboxId);
  if (!mailbox) throw new SyncError('NotFound', `mailbox ${scope.mailboxId} is not registered`);
  return mailbox;
}

/** The pair a held delete was about, as stored now, or as the entry recorded it (a later change may have unlinked it). */
async function pairOf(rt: Runtime, entry: HeldEntry): Promise<StoredPair | (Pair & { rowEtag?: undefined })> {
  const stored = entry.dataverseId ? await rt.pairs.get(entry.mailboxId, entry.dataverseId) : undefined;
  if (stored) return stored;
  return { mailboxId: entry.mailboxId, kind: entry.kind as Pair['kind'], dataverseEntity: entry.dataverseEntity, dataverseId: entry.dataverseId ?? '', exchangeId: entry.exchangeId, exchangeListId: entry.exchangeListId, base: {}, status: 'linked' };
}

/** The outcome's first word ('deleted', 'created', 'unlinked'), as the decision record keeps it. */
const outcomeWord = (text: string) => text.split(/[ (,]/)[0]!.slice(0, 40);

const outcomeText = (outcomes: Outcome[]) => outcomes.map((o) => (o.detail ? `${o.kind} (${o.detail})` : o.kind)).join(', ') || 'nothing to do';

/**
 * A held delete of a part (an occurrence of a series): the instance or the occurrence is deleted by its own id; the
 * carrying pair stays, and its next pass records the part as both sides then hold it.
 */
async function releasePart(rt: Runtime, mailbox: Mailbox, entry: HeldEntry): Promise<string> {
  if (entry.side === 'exchange') {
    if (!entry.exchangeId) return 'nothing to delete (no Exchange occurrence)';
    await rt.graph.deleteEvent(mailbox.id, entry.exchangeId);
  } else {
    if (!entry.dataverseId) return 'nothing to delete (no Dataverse instance)';
    await rt.dataverse.delete(entry.dataverseEntity as DataverseEntity, entry.dataverseId, { callerObjectId: mailbox.id }).catch((error: unknown) => {
      if (!(error instanceof SyncError && error.code === 'NotFound')) throw error;
    });
  }
  return 'deleted';
}

/** Does the held writes after all. */
async function release(rt: Runtime, mailbox: Mailbox, entry: HeldEntry): Promise<string> {
  const kind = kindNamed(entry.kind);
  if (entry.op === 'create') return outcomeText(await replay(rt, mailbox, entry));
  if (entry.part) return releasePart(rt, mailbox, entry);
  const pair = await pairOf(rt, entry);
  if (entry.side === 'exchange' && !pair.exchangeId) return 'nothing to delete (no Exchange item)';
  if (!pair.rowEtag) {
    // Unlinked meanwhile (the surviving copy was edited and its write found the other side gone): delete by id.
    if (entry.side === 'exchange') await kind.exchange.remove(rt, mailbox, pair, entry.how ?? 'delete');
    else await rt.dataverse.delete(entry.dataverseEntity as DataverseEntity, entry.dataverseId!, { callerObjectId: mailbox.id }).catch((error: unknown) => {
      if (!(error instanceof SyncError && error.code === 'NotFound')) throw error;
    });
    return 'deleted';
  }
  const run = executor(rt, kind, mailbox, entry.dataverseEntity as DataverseEntity, await planSettingsFor(rt, mailbox.id), { pair, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, ctx: mappingContext(mailbox, rt.now()), bypassBreaker: true });
  const outcome = await run.run([{ type: 'Delete', side: entry.side, how: entry.how ?? 'delete', reason: `released by an operator: ${entry.reason}` }]);
  return outcome ? outcomeText([outcome]) : 'nothing to do';
}

/** A held create done after all: the source change applied again, past the breaker. */
function replay(rt: Runtime, mailbox: Mailbox, entry: HeldEntry): Promise<Outcome[]> {
  const receivedAt = rt.now().toISOString();
  if (entry.side === 'exchange') {
    const change = dataverseChangeSchema.parse(dataverseChange({ entity: entry.dataverseEntity as DataverseEntity, recordId: entry.dataverseId!, message: 'Reconcile' }, { receivedAt }));
    return applyDataverseChange(rt, change, { bypassBreaker: true });
  }
  const resource = kindNamed(entry.kind).resource;
  const change = exchangeChangeSchema.parse(exchangeChange({ mailboxId: mailbox.id, resource, itemId: entry.exchangeId!, listId: entry.exchangeListId, changeType: 'updated' }, { receivedAt }));
  return applyExchangeChange(rt, change, { bypassBreaker: true });
}

/** Does not do the held write: a held delete's pair is unlinked (both items stay); a held create is dropped. */
async function discard(rt: Runtime, entry: HeldEntry): Promise<string> {
  if (entry.op === 'create') return 'dropped (the item stays unpaired; its next change is judged again)';
  if (entry.part) {
    // The occurrence stays on both sides as it is: the carrying pair records it so, and no later pass deletes it.
    const parts = kindNamed(entry.kind).parts;
    const carrier = await rt.pairs.get(entry.mailboxId, entry.part.carrier);
    if (!parts || !carrier) return 'nothing to record (the series is no longer paired)';
    const base = parts.baseWith(carrier.base, { ...parts.recordedOf(carrier.base), [entry.part.key]: entry.part.onDiscard });
    await rt.pairs.update(carrier, { ...carrier, base });
    return 'kept (recorded as synced)';
  }
  const pair = entry.dataverseId ? await rt.pairs.get(entry.mailboxId, entry.dataverseId) : undefined;
  if (!pair) return 'already unlinked';
  await rt.pairs.remove(pair);
  return 'unlinked';
}

/**
 * The source side's loss was the accident: the target side's copy is written back to the source and paired again.
 * A delete held towards Exchange (the Dataverse record went) recreates the record from the Exchange item; one held
 * towards Dataverse (the Exchange item went) recreates the item from the record. Creates have nothing to restore.
 */
async function restore(rt: Runtime, mailbox: Mailbox, entry: HeldEntry): Promise<string> {
  if (entry.op === 'create') throw new SyncError('InvalidInput', 'a held create has nothing to restore: release or discard it', { field: 'scope' });
  // Graph v1.0 cannot bring a cancelled occurrence back, and Dataverse re-creates no deleted instance by request: the
  // surviving occurrence is kept, as a discard keeps it.
  if (entry.part) return `${await discard(rt, entry)}; the deleted occurrence cannot be brought back`;
  const pair = entry.dataverseId ? await rt.pairs.get(entry.mailboxId, entry.dataverseId) : undefined;
  // The pair named what is gone; without it, the surviving copy is unpaired and comes through the create path.
  if (pair) await rt.pairs.remove(pair);
  const receivedAt = rt.now().toISOString();
  if (entry.side === 'exchange') {
    if (!entry.exchangeId) return 'nothing to restore from (no Exchange item)';
    const resource = kindOfResource(kindNamed(entry.kind).resource).resource;
    const change = exchangeChangeSchema.parse(exchangeChange({ mailboxId: mailbox.id, resource, itemId: entry.exchangeId, listId: entry.exchangeListId, changeType: 'updated' }, { receivedAt }));
    return outcomeText(await applyExchangeChange(rt, change, { bypassBreaker: true }));
  }
  if (!entry.dataverseId) return 'nothing to restore from (no Dataverse record)';
  const change = dataverseChangeSchema.parse(dataverseChange({ entity: entry.dataverseEntity as DataverseEntity, recordId: entry.dataverseId, message: 'Reconcile' }, { receivedAt }));
  const outcomes = await applyDataverseChange(rt, change, { bypassBreaker: true });
  return outcomeText(outcomes.filter((o) => o.mailboxId?.toLowerCase() === mailbox.id.toLowerCase()));
}

/** Runs an operator's action on the held writes of a scope (all, or those named by `ids`), and logs it. */
export async function actOnHeld(rt: Runtime, action: QuarantineAction, scope: BreakerScope, options: { ids?: readonly string[]; operator: string }): Promise<{ results: QuarantineResult[]; cleared: boolean }> {
  await rt.ready();
  const entries = await selected(rt, scope, options.ids);
  const mailbox = await mailboxOf(rt, scope);
  const results: QuarantineResult[] = [];
  for (const entry of entries) {
    const outcome = action === 'release' ? await release(rt, mailbox, entry) : action === 'discard' ? await discard(rt, entry) : await restore(rt, mailbox, entry);
    await rt.breaker.store.drop(entry);
    results.push({ entry, outcome });
    await recordDecision(rt, mailbox.id, entry.direction, kindNamed(entry.kind), { decision: decisionWords[action], reason: `breaker ${action} by ${options.operator} (held for ${entry.trigger}: ${entry.reason})` }, { outcome: outcomeWord(outcome), source: 'cli', dataverseId: entry.dataverseId, exchangeId: entry.exchangeId });
  }
  const at = rt.now().toISOString();
  await rt.breaker.store.audit({ at, action, scope: scopeName(scope), items: results.length, operator: options.operator });
  rt.log.info(`breaker ${action}`, { scope: scopeName(scope), items: results.length, operator: options.operator });
  const cleared = await rt.breaker.clearIfEmpty(scope);
  return { results, cleared };
}
