// The sync engine: one change in, the other side brought up to date. It decides from current state, never from the
// notification: load what the change meets (the pair, the items of both sides, the mailbox), plan the actions
// (shared/sync/plan.ts, pure), run them (shared/sync/execute.ts). Writes are conditional on the etag the sync last
// saw, so a concurrent edit is merged instead of overwritten, and every create is idempotent (derived Dataverse ids,
// Graph transactionId, the Dataverse id stamped on the item). Everything that differs by kind comes from the kind
// (shared/sync/kinds/); this file holds only the generic algorithm.
import type { DataverseRecord } from '../dataverse/client.js';
import { toSyncError } from '../errors.js';
import type { MappingContext } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import type { DataverseChange, DataverseEntity, ExchangeChange } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { EffectiveConfig } from '../settings/index.js';
import type { DecisionDirection } from '../storage/decisionStore.js';
import type { StoredPair } from '../storage/pairStore.js';
import { summarizeDecision } from './decisions.js';
import { forMailbox, gateFor, pausedOutcome } from './mailboxHealth.js';
import { claimedElsewhere } from './claim.js';
import { MailboxFailure, classifyFailure, mailboxFailure } from './errorPolicy.js';
import { Executor, type ExecutionState, type Outcome } from './execute.js';
import { kindOfResource, kindOfTable, type GraphItem, type SyncKind } from './kinds/index.js';
import {
  isNotificationEcho,
  isPlainDataverseEcho,
  isPlainEcho,
  planMerge,
  matchingFilter,
  planDataverseDelete,
  planToDataverse,
  planToExchange,
  planUpdateToDataverse,
  scopeColumns,
  scopeOf,
  type Action,
  type LinkCandidate,
  type PlanSettings,
} from './plan.js';

export type { Outcome, OutcomeKind } from './execute.js';

export function mappingContext(mailbox: Mailbox, now: Date): MappingContext {
  return { now, mailbox: { address: mailbox.address, systemUserId: mailbox.systemUserId }, timeZone: mailbox.timeZone };
}

/** The planner's settings for one mailbox: the app settings it reads and the mailbox's effective sync configuration. */
export async function planSettingsFor(rt: Runtime, mailboxId: string | undefined): Promise<PlanSettings> {
  const config = await rt.config.effective(mailboxId);
  return { SYNC_CONFLICT_POLICY: rt.settings.SYNC_CONFLICT_POLICY, SYNC_PROPAGATE_CANCELLATIONS: rt.settings.SYNC_PROPAGATE_CANCELLATIONS, config };
}

/**
 * Keeps what was decided for an item and why (explain). Best effort: the record explains the sync and must never
 * fail a change, so a failed write is logged and dropped.
 */
export async function recordDecision(
  rt: Runtime,
  mailboxId: string | undefined,
  direction: DecisionDirection,
  kind: SyncKind,
  summary: { decision: string; reason: string },
  facts: { outcome?: string | undefined; source?: string; config?: EffectiveConfig; dataverseId?: string | undefined; exchangeId?: string | undefined },
): Promise<void> {
  if (!facts.dataverseId && !facts.exchangeId) return;
  await rt.decisions
    .record(mailboxId, {
      at: rt.now().toISOString(),
      direction,
      decision: summary.decision,
      reason: summary.reason.slice(0, 500),
      kind: kind.name,
      ...(facts.outcome ? { outcome: facts.outcome } : {}),
      ...(facts.source ? { source: facts.source } : {}),
      ...(facts.config ? { configVersion: facts.config.version } : {}),
      ...(facts.dataverseId ? { dataverseId: facts.dataverseId } : {}),
      ...(facts.exchangeId ? { exchangeId: facts.exchangeId } : {}),
    })
    .catch((error: unknown) => rt.log.warn('decision not recorded', { kind: kind.name, mailboxId, error: (error as Error).message }));
}

/** The decision a kind's own flow took, named as the planner's are (the outcome says what happened). */
const flowDecisions: Readonly<Partial<Record<Outcome['kind'], string>>> = { created: 'Create', linked: 'Link', unlinked: 'Unlink', ignored: 'Ignore', sent: 'Send', 'send-failed': 'Send', deferred: 'Await' };

/** Records what a kind's own flow (KindFlow) decided per item, so explain answers for it as for the planned kinds. */
async function recordFlow(rt: Runtime, direction: DecisionDirection, kind: SyncKind, source: string, outcomes: Outcome[]): Promise<Outcome[]> {
  for (const o of outcomes) {
    const decision = flowDecisions[o.kind] ?? o.kind;
    await recordDecision(rt, o.mailboxId, direction, kind, { decision, reason: o.detail ?? o.kind }, { outcome: o.kind, source, dataverseId: o.dataverseId, exchangeId: o.exchangeId });
  }
  return outcomes;
}

/** A change a blocked mailbox does not take: recorded, so explain says why the item did not sync. */
async function skippedForBlock(rt: Runtime, mailbox: Mailbox, direction: DecisionDirection, kind: SyncKind, reason: string, source: string, ids: { dataverseId?: string | undefined; exchangeId?: string | undefined }): Promise<Outcome> {
  await recordDecision(rt, mailbox.id, direction, kind, { decision: 'MailboxBlocked', reason }, { outcome: 'ignored', source, ...ids });
  return { kind: 'ignored', mailboxId: mailbox.id, ...(ids.dataverseId ? { dataverseId: ids.dataverseId } : {}), ...(ids.exchangeId ? { exchangeId: ids.exchangeId } : {}), detail: reason };
}

/** Runs a plan and records its decision with how it ended. */
async function runAndRecord(run: Executor, rt: Runtime, direction: DecisionDirection, kind: SyncKind, mailboxId: string, actions: readonly Action[], facts: { source: string; config: EffectiveConfig; dataverseId?: string | undefined; exchangeId?: string | undefined }): Promise<Outcome | undefined> {
  // A change that throws is retried (and decides again) or dead-lettered, which the worker records.
  const outcome = await run.run(actions);
  // The sync's own write coming back decides nothing: recording it would cost a table write for every write the sync
  // makes, and explain would show the echo instead of the decision that wrote.
  if (outcome?.kind === 'echo') return outcome;
  await recordDecision(rt, mailboxId, direction, kind, summarizeDecision(actions, outcome), {
    ...facts,
    outcome: outcome?.kind ?? 'unchanged',
    dataverseId: outcome?.dataverseId ?? facts.dataverseId,
    exchangeId: outcome?.exchangeId ?? facts.exchangeId,
  });
  return outcome;
}

/**
 * The mailbox's registry row as it is now, or undefined when it is disabled or gone. Look-ups are cached
 * (shared/storage/mailboxStore.ts) and another process (the CLI) may have disabled the mailbox since: the state is
 * read again where a write to or from the mailbox is decided, so a disable takes effect for every later change.
 */
async function stillEnabled(rt: Runtime, cached: Mailbox): Promise<Mailbox | undefined> {
  const current = await rt.mailboxes.get(cached.id);
  return current && current.state !== 'disabled' ? current : undefined;
}

/** An executor for one change (also for an operator's action on a held write, shared/sync/quarantine.ts). */
export function executor(rt: Runtime, kind: SyncKind, mailbox: Mailbox, table: DataverseEntity, settings: PlanSettings, parts: Partial<ExecutionState>): Executor {
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
    settings,
    syncedSystemUsers: new Set(),
    ...parts,
  });
}

// ------------------------------------------------------------------------------------------------------------
// Dataverse -> Exchange
// ------------------------------------------------------------------------------------------------------------

/** Applies a Dataverse change to every mailbox in its scope. */
/** How a change is applied: `viaPart` for a series instance's change applied as its series', `bypassBreaker` for an operator's `breaker release` / `restore`, which judged it already. */
export interface ApplyOptions {
  bypassBreaker?: boolean;
  /** The change came as a part's change (an instance of a series) and is applied as its carrier's. */
  viaPart?: boolean;
  /** That part was deleted (its Delete named the carrier). */
  deletedPart?: boolean;
}

export async function applyDataverseChange(rt: Runtime, change: DataverseChange, options: ApplyOptions = {}): Promise<Outcome[]> {
  const kind = kindOfTable(change.entity);
  const source = change.message.toLowerCase();
  // A kind that is not merged field by field (email) decides its changes itself; the engine records its decisions.
  if (kind.flow) return recordFlow(rt, 'toExchange', kind, source, await kind.flow.applyDataverseChange(rt, change));
  const resync = change.origin === 'resync';
  // A deleted part (an instance of a series, named by the Delete's pre image) is a change of its carrier: the
  // series compares its occurrences again and finds the instance gone.
  const deletedPart = change.message === 'Delete' && change.image && !options.viaPart ? kind.recordCarrierOf?.(change.image) : undefined;
  if (deletedPart) {
    const { image: _image, version: _version, ownerId: _owner, ...rest } = change;
    return applyDataverseChange(rt, { ...rest, entity: deletedPart.table, recordId: deletedPart.id, message: 'Update' }, { ...options, viaPart: true, deletedPart: true });
  }
  // An instance's Create is its series' own expansion, which the series' change covers, and its image says it is one
  // (seriesid, instancetypecode 2-4: an instance never becomes a single appointment): nothing to read. A series
  // created or re-expanded in Dynamics 365 made one read per instance before.
  if (change.message === 'Create' && change.image && !options.viaPart && kind.recordCarrierOf?.(change.image)) {
    return [{ kind: 'ignored', dataverseId: change.recordId.toLowerCase(), detail: 'series instance: its series carries it' }];
  }
  // A Delete event (webhook or change tracking) is announced by Dataverse; a record missing on read is inferred.
  if (change.message === 'Delete') return applyDataverseDelete(rt, kind, change.entity, change.recordId, change.ownerId, source, { inferred: false, resync }, options);
  // The webhook's post image holds every mapped column as of that change; without one, read the record. Changes of
  // one record may run at once and in any order (shared/servicebus/queues.ts): for a paired record an older image is
  // dropped by the version check (shared/sync/versions.ts), but a record no mailbox pairs has no version to compare
  // with, and its image may be older than the record (a create image applied after a later change) or of a record
  // deleted since (its Delete already applied, which found no pair): a create is decided from a fresh read only.
  const paired = await rt.pairs.mailboxesOf(change.recordId);
  const image = paired.length > 0 ? change.image : undefined;
  let record = image ? ((await kind.dataverse.completeImage?.(rt, change.entity, image)) ?? image) : await kind.dataverse.get(rt, change.entity, change.recordId);
  if (!record) return applyDataverseDelete(rt, kind, change.entity, change.recordId, change.ownerId, source, { inferred: true, resync }, options);
  // A part's change (an instance of a series) is its carrier's (the series): applied as a change of that record. A
  // part's Create is its carrier's own expansion, which the carrier's change already covers.
  const carrier = options.viaPart || change.message === 'Create' ? undefined : kind.recordCarrierOf?.(record);
  if (carrier) {
    const { image: _image, version: _version, ...rest } = change;
    return applyDataverseChange(rt, { ...rest, entity: carrier.table, recordId: carrier.id, message: 'Update' }, { ...options, viaPart: true });
  }
  // Who the record reaches (owner, parties), then each mailbox's sync filters (union) decide whether it is in scope.
  // Only the record's own users are looked up (the registry's index), never the whole registry.
  const bySystemUser = await rt.mailboxes.enabledBySystemUsers(kind.scopeOf(change.entity, record));
  const reached = scopeOf(kind, change.entity, record, bySystemUser);
  const settingsOf = new Map<string, PlanSettings>();
  for (const m of reached) settingsOf.set(m.id.toLowerCase(), await planSettingsFor(rt, m.id));
  // A filter on a column the post image does not carry (a "Sync this record" flag): read the record whole.
  const columns = [...new Set([...settingsOf.values()].flatMap((p) => scopeColumns(p.config.scope[kind.name])))];
  if (image && columns.some((c) => !(c in record!))) record = (await kind.dataverse.get(rt, change.entity, change.recordId)) ?? record;
  const reach = kind.scopeOf(change.entity, record);
  const scope = reached.filter((m) => matchingFilter(settingsOf.get(m.id.toLowerCase())!.config.scope[kind.name], record, m.systemUserId, reach) !== undefined);
  const outcomes: Outcome[] = [];
  const id = String(record[kind.primaryKey]).toLowerCase();
  const filtersOf = (m: Mailbox) => settingsOf.get(m.id.toLowerCase())!.config.scope[kind.name].map((f) => f.name).join(', ');
  // A record that no longer reaches a mailbox is unlinked there, never deleted (docs/reference/platform-facts.md section 7, KB 4345686).
  for (const mailboxId of paired) {
    if (scope.some((m) => m.id.toLowerCase() === mailboxId)) continue;
    const mailbox = await rt.mailboxes.get(mailboxId);
    // A disabled mailbox keeps its pairs (docs/operations.md): the record left no scope, the mailbox only paused.
    if (!mailbox || mailbox.state === 'disabled') continue;
    const pair = await rt.pairs.get(mailbox.id, change.recordId);
    if (!pair) continue;
    const filtered = reached.find((m) => m.id.toLowerCase() === mailboxId);
    const reason = filtered ? `out of scope: no sync filter matches (${filtersOf(filtered)})` : 'out of scope: the user is no longer its owner or a party';
    const settings = settingsOf.get(mailboxId) ?? (await planSettingsFor(rt, mailbox.id));
    const leaving = await catchUpLeavingCopy(rt, kind, mailbox, change.entity, settings, pair, record, source, options);
    // The copy stays in the mailbox, remembered as left (with its version now): should the record be deleted later, a
    // listing of that copy finds its stamp naming no record, and it was created again in Dynamics 365 as a new one
    // (chaos seed 6 x 200, test/e2e/unlinkedCopy.test.ts). Changed since, it is synced as any unpaired copy.
    const actions: Action[] = [{ type: 'Unlink', reason, remains: 'exchange', cause: 'outOfScope' }];
    // The pair as the catch-up left it; none left: the catch-up's own write ended it (catchUpLeavingCopy).
    if (!leaving.pair) continue;
    const outcome = await runAndRecord(executor(rt, kind, mailbox, change.entity, settings, { pair: leaving.pair, item: leaving.item, dataverseId: change.recordId, bypassBreaker: options.bypassBreaker }), rt, 'toExchange', kind, mailbox.id, actions, { source, config: settings.config, dataverseId: id });
    if (outcome) outcomes.push(outcome);
  }
  // Reached but filtered out, never paired: say so, so explain can answer "why is it not in my calendar".
  for (const m of reached) {
    if (scope.includes(m) || (await rt.pairs.get(m.id, id))) continue;
    const settings = settingsOf.get(m.id.toLowerCase())!;
    await recordDecision(rt, m.id, 'toExchange', kind, { decision: 'OutOfScope', reason: `no sync filter matches (${filtersOf(m)})` }, { outcome: 'ignored', source, config: settings.config, dataverseId: id });
    outcomes.push({ kind: 'ignored', mailboxId: m.id, dataverseId: id, detail: 'out of scope' });
  }
  if (reached.length === 0) {
    await recordDecision(rt, undefined, 'toExchange', kind, { decision: 'OutOfScope', reason: 'its owner and parties are no enabled mailbox syncing this kind' }, { outcome: 'ignored', source, dataverseId: id });
  }
  // The plan asks whether the organizer syncs: the organizer is the record's organizer party or owner, looked up above.
  const syncedSystemUsers: ReadonlySet<string> = new Set(bySystemUser.keys());
  // A change put off for some mailboxes (they were paused) comes back for those only: the others have it.
  const only = change.mailboxes ? new Set(change.mailboxes.map((m) => m.toLowerCase())) : undefined;
  for (const cached of scope) {
    if (only && !only.has(cached.id.toLowerCase())) continue;
    // The change of the sync's own write (its version is the pair's) writes nothing whatever the mailbox's state now:
    // decided on the cached mailbox row without reading it again, as an Exchange echo is (applyExchangeChange).
    const pair = await rt.pairs.get(cached.id, id);
    if (isPlainDataverseEcho(kind, record, pair, { viaPart: options.viaPart ?? false, deletedPart: options.deletedPart ?? false })) {
      outcomes.push({ kind: 'echo', mailboxId: cached.id, dataverseId: pair.dataverseId, ...(pair.exchangeId ? { exchangeId: pair.exchangeId } : {}), detail: 'version already synced' });
      continue;
    }
    // Behind another change's create of the item (a pending pair it claimed): the claim alone decides the wait, so
    // it is asked before the mailbox's row is read again; the change reads the row when it comes back and goes
    // ahead (a disabled, paused or blocked mailbox is met then). A claim lives at most claimMs (shared/sync/claim.ts).
    const claimed = pair && claimedElsewhere(pair, change.correlationId, rt.now());
    if (claimed) throw mailboxFailure(cached.id, claimed);
    const mailbox = await stillEnabled(rt, cached);
    if (!mailbox) {
      outcomes.push({ kind: 'ignored', mailboxId: cached.id, dataverseId: change.recordId, detail: 'mailbox not enabled' });
      continue;
    }
    const gate = gateFor(rt, mailbox);
    if (gate.gate === 'wait') {
      outcomes.push(pausedOutcome(mailbox, gate.until, { dataverseId: id }));
      continue;
    }
    if (gate.gate === 'skip') {
      outcomes.push(await skippedForBlock(rt, mailbox, 'toExchange', kind, gate.reason, source, { dataverseId: id }));
      continue;
    }
    outcomes.push(await forMailbox(rt, mailbox, gate, () => applyToMailbox(rt, kind, change, record, mailbox, pair, settingsOf.get(cached.id.toLowerCase())!, syncedSystemUsers, id, source, options)));
  }
  return outcomes;
}

/** A Dataverse change brought to one mailbox of its scope (with the record's pair in the mailbox, as read for it). */
async function applyToMailbox(rt: Runtime, kind: SyncKind, change: DataverseChange, record: DataverseRecord, mailbox: Mailbox, pair: StoredPair | undefined, settings: PlanSettings, syncedSystemUsers: ReadonlySet<string>, id: string, source: string, options: ApplyOptions): Promise<Outcome> {
  const unlinked = pair ? undefined : await rt.pairs.unlinkedCopy(mailbox.id, 'dataverse', id);
  const ctx = mappingContext(mailbox, rt.now());
  const actions = planToExchange({ kind, table: change.entity, record, pair, mailbox, syncedSystemUsers, ctx, settings, viaPart: options.viaPart ?? false, deletedPart: options.deletedPart ?? false, unlinked });
  const run = executor(rt, kind, mailbox, change.entity, settings, { pair, record, dataverseId: id, ctx, syncedSystemUsers, bypassBreaker: options.bypassBreaker, claim: change.correlationId });
  const outcome = await runAndRecord(run, rt, 'toExchange', kind, mailbox.id, actions, { source, config: settings.config, dataverseId: id, exchangeId: pair?.exchangeId });
  return outcome ?? { kind: 'unchanged', mailboxId: mailbox.id, dataverseId: id };
}

/** Dataverse delete: server-side sync's rules per kind (docs/reference/platform-facts.md section 7). */
async function applyDataverseDelete(rt: Runtime, kind: SyncKind, table: DataverseEntity, recordId: string, ownerId: string | undefined, source: string, deleteOrigin: ExecutionState['deleteOrigin'], options: ApplyOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const mailboxId of await rt.pairs.mailboxesOf(recordId)) {
    const mailbox = await rt.mailboxes.get(mailboxId);
    const pair = await rt.pairs.get(mailbox?.id ?? mailboxId, recordId);
    if (!pair) continue;
    const gate = mailbox ? gateFor(rt, mailbox) : ({ gate: 'go', probing: false } as const);
    if (gate.gate === 'wait') {
      outcomes.push(pausedOutcome(mailbox!, gate.until, { dataverseId: recordId }));
      continue;
    }
    if (gate.gate === 'skip') {
      outcomes.push(await skippedForBlock(rt, mailbox!, 'toExchange', kind, gate.reason, source, { dataverseId: recordId, exchangeId: pair.exchangeId }));
      continue;
    }
    const outcome = await forMailbox(rt, mailbox ?? ({ id: mailboxId } as Mailbox), gate, () => deleteForMailbox(rt, kind, table, recordId, ownerId, source, deleteOrigin, options, mailboxId, mailbox, pair));
    if (outcome) outcomes.push({ ...outcome, mailboxId });
  }
  return outcomes;
}

/**
 * Before a copy is let go of as out of scope: a change of it the sync has not heard of yet (its etag is not the one
 * last synced: a notification dropped or still on its way) was made while the record still reached this mailbox, so
 * it is written to Dynamics 365 first, through the field merge (a Dynamics 365 edit since then, the reassignment's
 * own among them, keeps its fields by the conflict policy). Without it the edit was lost on both sides: the copy's
 * change, heard later, is ignored as the old owner's (chaos seed 9 x 200, test/e2e/reassignedCopy.test.ts). When the
 * mailbox's user may no longer write the record (its privileges reach only its own records), the copy is let go with
 * its change, as before, rather than blocking the mailbox for it. Returns the copy as it is now (undefined: gone)
 * and the pair to unlink: as it was read when nothing was caught up; else read again, since the catch-up rewrote it
 * (its etags and base), or undefined when the catch-up's own write ended it (its record found deleted, its delete
 * rule applied and the copy remembered as that rule left it: unlinking the pair as read before overwrote that memory
 * and failed, test/e2e/reassignedCopy.test.ts).
 */
async function catchUpLeavingCopy(rt: Runtime, kind: SyncKind, mailbox: Mailbox, table: DataverseEntity, settings: PlanSettings, pair: StoredPair, record: DataverseRecord, source: string, options: ApplyOptions): Promise<{ item: GraphItem | undefined; pair: StoredPair | undefined }> {
  if (pair.status !== 'linked' || !pair.exchangeId) return { item: undefined, pair };
  const item = await kind.exchange.get(rt, mailbox, pair.exchangeId, pair.exchangeListId);
  if (!item || !item['@odata.etag'] || item['@odata.etag'] === pair.exchangeEtag) return { item, pair };
  const ctx = mappingContext(mailbox, rt.now());
  const actions: Action[] = [planUpdateToDataverse(kind, pair, item, ctx, settings)];
  const run = executor(rt, kind, mailbox, table, settings, { pair, record, item, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, listId: pair.exchangeListId, ctx, bypassBreaker: options.bypassBreaker });
  try {
    await runAndRecord(run, rt, 'toDataverse', kind, mailbox.id, actions, { source, config: settings.config, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId });
  } catch (error) {
    const sync = error instanceof MailboxFailure ? error.error : toSyncError(error);
    if (classifyFailure(sync).class !== 'block') throw error;
    rt.log.warn("a change of the copy leaving the mailbox's scope could not be written: the copy goes with it", { kind: kind.name, mailboxId: mailbox.id, dataverseId: pair.dataverseId, code: sync.code, serviceCode: sync.serviceCode });
  }
  // The merge may have written the copy too (a Dynamics 365 change it had not had yet): remember it as it is now.
  // This read stays although the pair's etag, as the merge recorded it, is the copy's version after the merge's own
  // write: the version remembered for the unlink is what keeps the copy from being created again in Dynamics 365
  // once its record is deleted (chaos seed 6 x 200), and nothing checks it against the copy later. The unlink
  // writes only Table Storage, so no etag-conditional Graph call would find the copy changed since the merge; the
  // pair row's conditional remove catches only a concurrent change that recorded its write on the pair in time. A
  // concurrent change applying an older image of the record (its mailbox still in scope) may have written the copy
  // during this merge's Dataverse write; read here, its version is remembered, while the pair's etag would miss it.
  // Nor does the pair have the version after a merge that could not write (the catch above: its Exchange write may
  // have gone through, its version left unrecorded for the Dataverse write that failed).
  return { item: (await kind.exchange.get(rt, mailbox, pair.exchangeId, pair.exchangeListId)) ?? item, pair: await rt.pairs.get(mailbox.id, pair.dataverseId) };
}

/** A Dataverse delete brought to one mailbox that has the record's pair. */
async function deleteForMailbox(rt: Runtime, kind: SyncKind, table: DataverseEntity, recordId: string, ownerId: string | undefined, source: string, deleteOrigin: ExecutionState['deleteOrigin'], options: ApplyOptions, mailboxId: string, mailbox: Mailbox | undefined, pair: StoredPair): Promise<Outcome | undefined> {
  // A delete that is a conversion (AddRecurrence deletes the appointment it makes a series of): the pair moves to
  // the new record and both sides are merged, so the Exchange event becomes the series instead of being deleted.
  const successor = mailbox && mailbox.state !== 'disabled' && pair.exchangeId && pair.status === 'linked' ? await kind.dataverse.successorOf?.(rt, pair) : undefined;
  if (successor && mailbox) {
    const { rowEtag: _rowEtag, ...previous } = pair;
    const moved = await rt.pairs.repoint(pair, { ...previous, dataverseEntity: successor.table, dataverseId: successor.id, dataverseEtag: undefined });
    rt.log.info('pair moved to the record the deleted one became', { kind: kind.name, mailboxId, dataverseId: successor.id, previousDataverseId: recordId });
    return (await resyncPair(rt, kind, mailbox, moved)) ?? { kind: 'linked', mailboxId, dataverseId: successor.id, exchangeId: pair.exchangeId, detail: `moved to the ${successor.table} the record became` };
  }
  const readItem = kind.dataverseDeleteReads === 'exchangeItem' && mailbox && mailbox.state !== 'disabled' && pair.exchangeId;
  const exchangeItem = readItem ? await kind.exchange.get(rt, mailbox, pair.exchangeId!, pair.exchangeListId) : undefined;
  const actions = planDataverseDelete({ kind, pair, mailbox, ownerId, now: rt.now(), exchangeItem });
  const target = mailbox ?? ({ id: mailboxId } as Mailbox);
  const settings = await planSettingsFor(rt, mailboxId);
  const run = executor(rt, kind, target, table, settings, { pair, dataverseId: recordId, deleteOrigin, bypassBreaker: options.bypassBreaker, ctx: mailbox ? mappingContext(mailbox, rt.now()) : ({ now: rt.now() } as MappingContext) });
  return runAndRecord(run, rt, 'toExchange', kind, mailboxId, actions, { source, config: settings.config, dataverseId: recordId, exchangeId: pair.exchangeId });
}

// ------------------------------------------------------------------------------------------------------------
// Exchange -> Dataverse
// ------------------------------------------------------------------------------------------------------------

/** Applies an Exchange change of one mailbox. */
export async function applyExchangeChange(rt: Runtime, change: ExchangeChange, options: ApplyOptions = {}): Promise<Outcome[]> {
  const cached = await rt.mailboxes.findEnabled(change.mailboxId);
  if (!cached) return [{ kind: 'ignored', mailboxId: change.mailboxId, exchangeId: change.itemId, detail: 'mailbox not enabled' }];
  const kind = kindOfResource(change.resource);
  // The notification of the sync's own write (its etag is the pair's) writes nothing whatever the mailbox's state
  // now, so it is decided on the cached mailbox row without reading it again: every write the sync makes comes back
  // as one, and the re-read was a table operation each (issue 19 item 8).
  // The pointer row carries the pair's etag (shared/storage/pairStore.ts echoOf), so the echo costs that one read;
  // anything else reads the pair as well.
  const looked = kind.flow || change.changeType === 'deleted' || !cached.entities.includes(kind.name) ? undefined : await rt.pairs.echoOf(cached.id, change.itemId, change.etag);
  if (looked && 'echo' in looked && isPlainEcho(kind, looked.echo, change.etag)) return [{ kind: 'echo', mailboxId: cached.id, exchangeId: change.itemId, dataverseId: looked.echo.dataverseId, detail: 'etag of the notification already synced' }];
  const known = looked ? { pair: 'pair' in looked ? looked.pair : await rt.pairs.getByExchangeId(cached.id, change.itemId) } : undefined;
  if (known && isPlainEcho(kind, known.pair, change.etag)) return [{ kind: 'echo', mailboxId: cached.id, exchangeId: change.itemId, dataverseId: known.pair.dataverseId, detail: 'etag of the notification already synced' }];
  const mailbox = await stillEnabled(rt, cached);
  if (!mailbox) return [{ kind: 'ignored', mailboxId: change.mailboxId, exchangeId: change.itemId, detail: 'mailbox not enabled' }];
  if (!mailbox.entities.includes(kind.name)) return [{ kind: 'ignored', mailboxId: mailbox.id, exchangeId: change.itemId, detail: `${kind.name} not synced for this mailbox` }];
  // A paused mailbox's changes wait for the end of its pause; a blocked one's are skipped (its pairs stay).
  const gate = gateFor(rt, mailbox);
  if (gate.gate === 'wait') return [pausedOutcome(mailbox, gate.until, { exchangeId: change.itemId, ...(change.dataverseId ? { dataverseId: change.dataverseId } : {}) })];
  if (gate.gate === 'skip') return [await skippedForBlock(rt, mailbox, 'toDataverse', kind, gate.reason, change.changeType, { exchangeId: change.itemId, dataverseId: change.dataverseId })];
  return forMailbox(rt, mailbox, gate, () => applyExchangeChangeOf(rt, mailbox, kind, change, options, known));
}

/** An Exchange change of a mailbox its gate let through (with its pair when it was read already). */
async function applyExchangeChangeOf(rt: Runtime, mailbox: Mailbox, kind: SyncKind, change: ExchangeChange, options: ApplyOptions, known?: { pair: StoredPair | undefined }): Promise<Outcome[]> {
  if (kind.flow) return recordFlow(rt, 'toDataverse', kind, change.changeType, await kind.flow.applyExchangeChange(rt, mailbox, change));
  const pair = known ? known.pair : await rt.pairs.getByExchangeId(mailbox.id, change.itemId);
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
  // Only a tracked item could be created in Dataverse: an untracked one costs no read.
  const unlinked = unpaired && kind.isTracked(item) ? await rt.pairs.unlinkedCopy(mailbox.id, 'exchange', change.itemId) : undefined;
  const ctx = mappingContext(mailbox, rt.now());
  const settings = await planSettingsFor(rt, mailbox.id);
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
    settings,
    unlinked,
  });
  const run = executor(rt, kind, mailbox, (pair?.dataverseEntity as DataverseEntity | undefined) ?? link?.table ?? kind.tables[0]!, settings, {
    // A pair of the record that already holds this item is the one the plan updates.
    pair: pair ?? (link?.existingPair?.exchangeId === change.itemId ? link.existingPair : undefined),
    item,
    record: link?.record ?? record,
    exchangeId: change.itemId,
    dataverseId: pair?.dataverseId ?? link?.dataverseId,
    listId,
    ctx,
    // A delete notification is announced by Exchange; an item gone when read (a delta @removed, a reconciliation) is inferred.
    deleteOrigin: { inferred: change.changeType !== 'deleted', resync: change.origin === 'resync' },
    bypassBreaker: options.bypassBreaker,
  });
  const outcome = await runAndRecord(run, rt, 'toDataverse', kind, mailbox.id, actions, { source: change.changeType, config: settings.config, exchangeId: change.itemId, dataverseId: pair?.dataverseId ?? link?.dataverseId });
  return [outcome ?? { kind: 'unchanged', mailboxId: mailbox.id, exchangeId: change.itemId }];
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
  const existingPair = await rt.pairs.get(mailbox.id, dataverseId);
  if (existingPair) return { dataverseId, table: kind.tableFor?.(item) ?? (existingPair.dataverseEntity as DataverseEntity), viaMeeting, existingPair, record: undefined };
  // The stamp names the record, not its table: unless the item tells it (an event: appointment or series), a To Do
  // task's record may be a task, phone call, letter or fax (shared/sync/kinds/task.ts). Looked up as a task only,
  // the old copy of a reassigned phone call was not found and was taken for a new To Do task, so Dynamics 365 got
  // the record twice (chaos seeds 6 and 7 x 200, test/e2e/reassignedTask.test.ts). Each further table costs a read,
  // for stamped copies without a pair only.
  const tables = kind.tableFor ? [kind.tableFor(item)] : kind.tables;
  for (const table of tables) {
    const record: DataverseRecord | undefined = await kind.dataverse.get(rt, table, dataverseId);
    if (record) return { dataverseId, table, viaMeeting, existingPair, record };
  }
  return { dataverseId, table: tables[0]!, viaMeeting, existingPair, record: undefined };
}

// ------------------------------------------------------------------------------------------------------------
// Administrative passes (config set: a scope change, a direction resync)
// ------------------------------------------------------------------------------------------------------------

/**
 * Unlinks one pair (both items stay) and records why: an item that left the scope through a filter change. As when
 * the record leaves by its own change (applyDataverseChange), a change of the copy the sync has not heard yet (a
 * notification dropped or on its way, a To Do edit before the next poll) was made while the item was in scope, so it
 * is written to Dynamics 365 first (catchUpLeavingCopy); else it stayed in the mailbox only
 * (test/e2e/adminConfig.test.ts). The copy then stays in the mailbox, remembered as left out of scope with its
 * version: else, once its record is deleted, a listing of the copy found its stamp naming no record and created it
 * again in Dynamics 365. A catch-up that fails (a service's error after its own retries) does not stop the filter
 * change half-way: the copy is let go with its change, as before, and `catchUpFailed` says so.
 */
export async function unlinkPair(rt: Runtime, kind: SyncKind, mailbox: Mailbox, pair: StoredPair, reason: string, source: string): Promise<{ outcome: Outcome | undefined; catchUpFailed: boolean }> {
  const settings = await planSettingsFor(rt, mailbox.id);
  const table = pair.dataverseEntity as DataverseEntity;
  let leaving: { item: GraphItem | undefined; pair: StoredPair | undefined } = { item: undefined, pair };
  let catchUpFailed = false;
  if (pair.status === 'linked' && pair.exchangeId) {
    try {
      const record = await kind.dataverse.get(rt, table, pair.dataverseId);
      if (record) leaving = await catchUpLeavingCopy(rt, kind, mailbox, table, settings, pair, record, source, {});
    } catch (error) {
      const sync = error instanceof MailboxFailure ? error.error : toSyncError(error);
      rt.log.warn("a change of a copy leaving the mailbox's scope could not be caught up: the copy goes with it", { kind: kind.name, mailboxId: mailbox.id, dataverseId: pair.dataverseId, code: sync.code, serviceCode: sync.serviceCode });
      catchUpFailed = true;
      leaving = { item: undefined, pair: await rt.pairs.get(mailbox.id, pair.dataverseId) };
    }
  }
  const current = leaving.pair;
  if (!current) return { outcome: undefined, catchUpFailed };
  const run = executor(rt, kind, mailbox, table, settings, { pair: current, item: leaving.item, dataverseId: pair.dataverseId });
  const actions: Action[] = [current.exchangeId ? { type: 'Unlink', reason, remains: 'exchange', cause: 'outOfScope' } : { type: 'Unlink', reason }];
  return { outcome: await runAndRecord(run, rt, 'toExchange', kind, mailbox.id, actions, { source, config: settings.config, dataverseId: pair.dataverseId, exchangeId: current.exchangeId }), catchUpFailed };
}

/**
 * Re-applies the configured field directions to one pair: reads both sides and merges them field by field as a
 * change on both sides would (planMerge), so a field switched on flows now instead of at the item's next change.
 * An item gone on either side is left to the normal paths (its delete or the next reconciliation).
 */
export async function resyncPair(rt: Runtime, kind: SyncKind, mailbox: Mailbox, pair: StoredPair): Promise<Outcome | undefined> {
  if (pair.status !== 'linked' || !pair.exchangeId) return undefined;
  const table = pair.dataverseEntity as DataverseEntity;
  const record = await kind.dataverse.get(rt, table, pair.dataverseId);
  const item = await kind.exchange.get(rt, mailbox, pair.exchangeId, pair.exchangeListId);
  if (!record || !item) return undefined;
  const settings = await planSettingsFor(rt, mailbox.id);
  const ctx = mappingContext(mailbox, rt.now());
  const merged = planMerge({ kind, pair, record, item, ctx, policy: settings.SYNC_CONFLICT_POLICY, config: settings.config });
  // Both writes record the same base, so an empty one is dropped: the outcome is then the write that happened.
  const writes = merged.filter((a) => a.type === 'Update' && Object.keys(a.fields).length > 0);
  const actions = writes.length > 0 ? [...merged.filter((a) => a.type === 'ResolveConflict'), ...writes] : merged.slice(-1);
  const run = executor(rt, kind, mailbox, table, settings, { pair, record, item, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, listId: pair.exchangeListId, ctx });
  return runAndRecord(run, rt, 'toExchange', kind, mailbox.id, actions, { source: 'resync', config: settings.config, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId });
}
