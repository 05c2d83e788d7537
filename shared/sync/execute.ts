// The executor: runs a plan's actions through the kind's adapters and records the pair. A failed precondition on
// a write (the other side of that write changed since the sync last saw it) is not thrown up: the executor reads
// both sides again and runs the planner's merge, a bounded number of times.
import { SyncError, isSyncError } from '../errors.js';
import { isClosedActivity, separateStateChange, type MappingContext } from '../mapping/index.js';
import type { DataverseRecord } from '../dataverse/client.js';
import type { Runtime } from '../runtime.js';
import type { DataverseEntity } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { Pair, StoredPair, UnlinkCause } from '../storage/pairStore.js';
import { claimAge, claimIsLive, claimWaitMs, claimedElsewhere } from './claim.js';
import { transactionIdFor } from './ids.js';
import { syncWindow } from './window.js';
import type { GraphItem, PartDelete, SyncKind } from './kinds/index.js';
import type { Snapshot } from './merge.js';
import { resolveParties } from './parties.js';
import { baseAfterWrite, directionsOf, driftToExchange, matchingFilter, planDataverseDelete, planExchangeDelete, planLink, planMerge, planToExchange, planUpdateToDataverse, withoutTurnedOffFields, type Action, type PlanSettings } from './plan.js';

export type OutcomeKind = 'created' | 'updated' | 'unchanged' | 'echo' | 'ignored' | 'linked' | 'unlinked' | 'deleted' | 'awaiting-invitation' | 'held' | 'sent' | 'send-failed' | 'deferred' | 'paused';

export interface Outcome {
  kind: OutcomeKind;
  mailboxId?: string;
  dataverseId?: string;
  exchangeId?: string;
  detail?: string;
  /** For `paused`: when the mailbox's pause ends, and so when the worker brings the change back. */
  until?: string;
}

/** How often one change may meet a failed precondition and be merged again before it is retried later. */
const maxMerges = 3;

export interface ExecutionState {
  kind: SyncKind;
  mailbox: Mailbox;
  table: DataverseEntity;
  dataverseId: string | undefined;
  exchangeId: string | undefined;
  pair: StoredPair | undefined;
  /** The record as the sync knows it now (the change's own, or read). */
  record: DataverseRecord | undefined;
  /** The item as the sync knows it now. */
  item: GraphItem | undefined;
  listId: string | undefined;
  ctx: MappingContext;
  settings: PlanSettings;
  syncedSystemUsers: ReadonlySet<string>;
  /**
   * How a delete of this change was found, for the breaker: announced by the other side, or inferred (an item
   * missing on read); and whether a listing that started over found it. Absent: announced, not a resync.
   */
  deleteOrigin?: { inferred: boolean; resync: boolean } | undefined;
  /** An operator's `breaker release`: the write was judged and held already. */
  bypassBreaker?: boolean | undefined;
  /** The correlation id of the change, which claims the creates it makes (Pair.claimedBy). */
  claim?: string | undefined;
}

/** What a delete destroys, as the breaker counts it once per window: the side and that side's id. */
function deleteTarget(side: 'exchange' | 'dataverse', ids: { dataverseId?: string | undefined; exchangeId?: string | undefined }, fallback: string): string {
  return `${side}:${(side === 'dataverse' ? ids.dataverseId : ids.exchangeId) ?? fallback}`;
}

/**
 * Cursor scope of the creates from Exchange in flight: (mailbox, record id) -> when it began. Such a create writes
 * the record before it can record the pair (the pair names the record), and a Dataverse change of the new record in
 * between (a reconciliation's change tracking lists the sync's own create; only the webhook carries its tag) found
 * no pair and created a second item for it in the same mailbox (found by the chaos test,
 * test/e2e/exchangeCreateRace.test.ts). Kept apart from the pair store, whose pending pairs are Exchange creates.
 */
const creatingInDataverseScope = 'creatingInDataverse';
const creatingKey = (mailboxId: string, dataverseId: string) => `${mailboxId}|${dataverseId.toLowerCase()}`;

/** Runs the actions of one plan; the outcome is the last step's. */
export class Executor {
  private merges = 0;
  private merged: number | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly s: ExecutionState,
  ) {}

  /** The kind's field directions as configured for this mailbox. */
  private get directions() {
    return directionsOf(this.s.kind, this.s.settings.config);
  }

  private get ids() {
    const s = this.s;
    const dataverseId = s.pair?.dataverseId ?? s.dataverseId;
    const exchangeId = s.pair?.exchangeId ?? s.exchangeId;
    return { mailboxId: s.mailbox.id, ...(dataverseId ? { dataverseId } : {}), ...(exchangeId ? { exchangeId } : {}) };
  }

  async run(actions: readonly Action[]): Promise<Outcome | undefined> {
    let outcome: Outcome | undefined;
    for (const action of actions) outcome = (await this.step(action)) ?? outcome;
    return outcome;
  }

  private async step(action: Action): Promise<Outcome | undefined> {
    const { rt, s } = this;
    switch (action.type) {
      case 'Ignore':
        return { kind: 'ignored', ...this.ids, detail: action.reason };
      case 'Echo':
        return { kind: 'echo', ...this.ids, detail: action.reason };
      case 'Await':
        if (action.retry) throw new SyncError(action.claim ? 'Busy' : 'Transient', action.reason, action.retryAfterMs === undefined ? {} : { retryAfterMs: action.retryAfterMs });
        rt.log.info('waits for another change', { kind: s.kind.name, ...this.ids, reason: action.reason });
        return { kind: 'awaiting-invitation', ...this.ids, detail: action.reason };
      case 'ResolveConflict':
        for (const conflict of action.conflicts) {
          rt.log.warn('conflict: the same field changed on both sides', {
            kind: s.kind.name,
            ...this.ids,
            field: conflict.field,
            winner: conflict.winner,
            dataverseModifiedOn: conflict.dataverseModifiedOn,
            exchangeModifiedOn: conflict.exchangeModifiedOn,
            policy: s.settings.SYNC_CONFLICT_POLICY,
          });
        }
        this.merged = action.conflicts.length;
        return undefined;
      case 'Unlink': {
        const ids = this.ids;
        // Remembered before the pair goes: a crash in between leaves the pair, and the retry unlinks again.
        if (s.pair && action.remains) await this.rememberUnlinked(s.pair, action.remains, action.cause, action.reason);
        if (s.pair) await rt.pairs.remove(s.pair);
        s.pair = undefined;
        rt.log.info('unlinked', { kind: s.kind.name, ...ids, reason: action.reason });
        return { kind: 'unlinked', ...ids, detail: action.reason };
      }
      case 'Delete':
        return (await this.holdDelete(action)) ?? this.delete(action);
      case 'Link':
        await this.link(action);
        return { kind: 'linked', ...this.ids };
      case 'Create':
        return action.side === 'exchange' ? this.createInExchange() : this.createInDataverse();
      case 'Update':
        return action.side === 'exchange' ? this.updateExchange(action) : this.updateDataverse(action);
      case 'SyncParts':
        return this.syncParts();
      case 'Convert':
        return this.convert(action);
    }
  }

  /**
   * Converts the pair's record into the item's new table (a single appointment into a series: AddRecurrence), then
   * merges the change again against the new record. The pair moves first: AddRecurrence deletes the appointment,
   * and that delete's step must find no pair by which it would delete the Exchange item. A failed conversion moves
   * the pair back (a retry converts again; the adapter takes an earlier attempt's lost answer as done).
   */
  private async convert(action: Extract<Action, { type: 'Convert' }>): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    const item = s.item!;
    const adapter = s.kind.dataverse;
    if (!adapter.convert || !adapter.convertedId) throw new SyncError('Internal', `the ${s.kind.name} kind cannot convert a record`);
    const from = { table: pair.dataverseEntity as DataverseEntity, id: pair.dataverseId };
    const to = { table: action.table, id: adapter.convertedId(from) };
    const body = await resolveParties(rt, s.mailbox, withoutTurnedOffFields(s.kind.dataverseCreate(item, s.ctx), s.kind, s.settings.config, 'dataverse'));
    const { fields } = separateStateChange(body as { statecode?: number; statuscode?: number });
    const { rowEtag: _rowEtag, ...previous } = pair;
    const moved = await rt.pairs.repoint(pair, { ...previous, dataverseEntity: to.table, dataverseId: to.id, dataverseEtag: undefined });
    try {
      await adapter.convert(rt, s.mailbox, from, to, fields);
    } catch (error) {
      await rt.pairs.repoint(moved, previous).catch((e: unknown) => rt.log.warn('pair not moved back after a failed conversion', { kind: s.kind.name, ...this.ids, error: (e as Error).message }));
      throw error;
    }
    s.pair = moved;
    s.table = to.table;
    s.dataverseId = to.id;
    s.record = undefined;
    rt.log.info('converted in Dataverse', { kind: s.kind.name, mailboxId: s.mailbox.id, dataverseId: to.id, previousDataverseId: from.id, reason: action.reason });
    return this.replanToDataverse();
  }

  /**
   * The copy a delete rule's unlink leaves on `remains`, with its version now: as this change read it, else read now
   * for a Dataverse record, else as last synced. The version last synced is not enough: a change of the record the
   * sync never heard of (its webhook lost) made before the delete would later look like a change after the unlink,
   * and the deleted copy would be created again (chaos seed 10 x 200, test/e2e/unlinkedCopy.test.ts). An Exchange
   * delete carries no record, so the record's version costs one read, on deletes only (likewise the copy's for a
   * Dynamics 365 delete that leaves it).
   */
  private async rememberUnlinked(pair: StoredPair, remains: 'dataverse' | 'exchange', cause: UnlinkCause, reason: string): Promise<void> {
    const { rt, s } = this;
    const id = remains === 'dataverse' ? pair.dataverseId : pair.exchangeId;
    if (!id) return;
    if (remains === 'dataverse') {
      const current = s.record ?? (await rt.dataverse.get(s.table, pair.dataverseId, { select: [s.kind.primaryKey] }));
      const version = current?.['@odata.etag'] ?? pair.dataverseEtag;
      await rt.pairs.rememberUnlinked({ mailboxId: pair.mailboxId, remains, id, version, reason, cause, at: rt.now().toISOString() });
      return;
    }
    // The same on the other side: an edit of the copy the sync never heard of (its notification lost) made before a
    // Dynamics 365 delete (chaos seed 6 x 200: the contact was created again in Dynamics 365).
    const current = s.item ?? (await s.kind.exchange.get(rt, s.mailbox, id, pair.exchangeListId));
    const version = current?.['@odata.etag'] ?? pair.exchangeEtag;
    await rt.pairs.rememberUnlinked({ mailboxId: pair.mailboxId, remains, id, version, reason, cause, at: rt.now().toISOString() });
  }

  /**
   * The parts of the pair's item (a series' exceptions and cancellations): read both sides, decide with the kind's
   * pure table, write, and record what was synced in the pair's base. Nothing when the pair is not linked (yet).
   */
  private async syncParts(): Promise<Outcome | undefined> {
    const { rt, s } = this;
    const parts = s.kind.parts;
    const pair = s.pair;
    if (!parts || pair?.status !== 'linked' || !pair.exchangeId || pair.mirror || !parts.appliesTo(pair.dataverseEntity as DataverseEntity)) return undefined;
    let facts: Awaited<ReturnType<typeof parts.read>>;
    try {
      facts = await parts.read(rt, s.mailbox, pair, s.ctx.now, syncWindow(rt));
    } catch (error) {
      // The series master is gone in Exchange (its delete notification lost or still on its way): its delete rule
      // applies, as for an update that finds the item gone. The pass runs also when the series itself is an echo, so
      // a change of one of its Dynamics 365 instances met the deleted master here first and was dead-lettered as
      // NotFound (chaos seed 5 x 1000, test/e2e/seriesGoneInExchange.test.ts).
      if (!isSyncError(error, 'NotFound')) throw error;
      rt.log.warn('Exchange item is gone; its delete rule applies', { kind: s.kind.name, direction: 'toExchange', ...this.ids });
      return this.otherSideDeleted('exchange');
    }
    const { steps, state } = parts.decide(facts);
    // A part's delete meets the breaker as the item's own would; a held one keeps what the pair recorded for the
    // part, so the quarantine's release, discard (shared/sync/quarantine.ts) or a later pass decides it.
    const recorded = parts.recordedOf(pair.base);
    let written = 0;
    let held = 0;
    for (const step of steps) {
      const destroys = parts.deletes(step);
      if (destroys && (await this.holdPartDelete(pair, step.key, destroys))) {
        held += 1;
        if (recorded[step.key] === undefined) delete state[step.key];
        else state[step.key] = recorded[step.key]!;
        continue;
      }
      try {
        await parts.apply(rt, s.mailbox, pair, step, s.ctx);
      } catch (error) {
        // What the pass read is gone by its write (the series deleted, or the occurrence cancelled, in between): the
        // item changed, so the change is applied again from a new read, which then applies the delete rule or writes
        // what is left; a permanent NotFound dead-lettered it (chaos seed 18 x 1000, test/e2e/seriesGoneInExchange.test.ts).
        if (isSyncError(error, 'NotFound')) throw new SyncError('PreconditionFailed', `a part of the item was gone by the time it was written (${error.message}); read again`);
        throw error;
      }
      if (step.type !== 'Keep') written += 1;
    }
    const base = parts.baseWith(pair.base, state);
    if (JSON.stringify(base) !== JSON.stringify(pair.base)) s.pair = await rt.pairs.update(pair, { ...pair, base });
    if (held > 0) return { kind: 'held', ...this.ids, detail: `parts: ${written} written, ${held} held by the breaker` };
    return written > 0 ? { kind: 'updated', ...this.ids, detail: `parts: ${written}` } : undefined;
  }

  /** Asks the breaker before a part's delete; true when it was held (quarantined with the part's ids). */
  private async holdPartDelete(pair: StoredPair, key: string, destroys: PartDelete): Promise<boolean> {
    const { rt, s } = this;
    if (s.bypassBreaker) return false;
    const now = rt.now();
    const origin = { inferred: false, resync: s.deleteOrigin?.resync ?? false };
    const admission = await rt.breaker.admitDelete(this.scope(destroys.side), { ...origin, now, target: deleteTarget(destroys.side, destroys, key) });
    if (admission.allow) return false;
    await rt.breaker.hold({
      ...this.scope(destroys.side),
      op: 'delete',
      side: destroys.side,
      how: 'delete',
      dataverseEntity: destroys.dataverseEntity,
      dataverseId: destroys.dataverseId,
      exchangeId: destroys.exchangeId,
      inferred: origin.inferred,
      trigger: admission.trigger,
      reason: destroys.reason,
      part: { carrier: pair.dataverseId, key, onDiscard: destroys.onDiscard },
      firstSeen: now.toISOString(),
      lastSeen: now.toISOString(),
    });
    return true;
  }

  /** The breaker's scope of a write to `side`. */
  private scope(side: 'exchange' | 'dataverse') {
    return { mailboxId: this.s.mailbox.id.toLowerCase(), kind: this.s.kind.name, direction: side === 'exchange' ? ('toExchange' as const) : ('toDataverse' as const) };
  }

  /**
   * Asks the breaker before a destructive write; a held one goes to the quarantine with the pair kept, so release
   * still finds what to delete and restore what to copy back. Creates and updates of the scope go on.
   */
  private async holdDelete(action: Extract<Action, { type: 'Delete' }>): Promise<Outcome | undefined> {
    const { rt, s } = this;
    if (s.bypassBreaker || !s.pair) return undefined;
    const origin = s.deleteOrigin ?? { inferred: false, resync: false };
    const now = rt.now();
    const admission = await rt.breaker.admitDelete(this.scope(action.side), { ...origin, now, target: deleteTarget(action.side, s.pair, s.pair.dataverseId) });
    if (admission.allow) return undefined;
    const pair = s.pair;
    await rt.breaker.hold({
      ...this.scope(action.side),
      op: 'delete',
      side: action.side,
      how: action.how,
      dataverseEntity: pair.dataverseEntity,
      dataverseId: pair.dataverseId,
      exchangeId: pair.exchangeId,
      exchangeListId: pair.exchangeListId,
      inferred: origin.inferred,
      trigger: admission.trigger,
      reason: action.reason,
      firstSeen: now.toISOString(),
      lastSeen: now.toISOString(),
    });
    return { kind: 'held', ...this.ids, detail: `held by the breaker (${admission.trigger}): ${action.reason}` };
  }

  /** Asks the breaker before a create; past the create cap the create is quarantined instead. */
  private async holdCreate(side: 'exchange' | 'dataverse'): Promise<Outcome | undefined> {
    const { rt, s } = this;
    if (s.bypassBreaker) return undefined;
    const now = rt.now();
    const admission = await rt.breaker.admitCreate(this.scope(side), now);
    if (admission.allow) return undefined;
    const dataverseId = side === 'exchange' ? s.dataverseId : undefined;
    const exchangeId = side === 'dataverse' ? (s.item?.id ?? s.exchangeId) : undefined;
    await rt.breaker.hold({
      ...this.scope(side),
      op: 'create',
      side,
      dataverseEntity: s.table,
      dataverseId,
      exchangeId: exchangeId ?? undefined,
      exchangeListId: s.listId,
      inferred: false,
      trigger: admission.trigger,
      reason: 'create',
      firstSeen: now.toISOString(),
      lastSeen: now.toISOString(),
    });
    return { kind: 'held', ...this.ids, detail: `held by the breaker (${admission.trigger})` };
  }

  private async delete(action: Extract<Action, { type: 'Delete' }>): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    const ids = this.ids;
    if (action.side === 'exchange') {
      await s.kind.exchange.remove(rt, s.mailbox, pair, action.how);
      await rt.pairs.remove(pair);
    } else {
      await rt.dataverse.delete(pair.dataverseEntity as DataverseEntity, pair.dataverseId, { callerObjectId: s.mailbox.id });
      await rt.pairs.remove(pair);
      // Other attendees' copies are cancelled by Exchange itself; their pairs only need unlinking.
      for (const other of await rt.pairs.mailboxesOf(pair.dataverseId)) {
        const otherPair = await rt.pairs.get(other, pair.dataverseId);
        if (otherPair) await rt.pairs.remove(otherPair);
      }
    }
    s.pair = undefined;
    rt.log.info(action.side === 'exchange' ? 'deleted in Exchange' : 'deleted in Dataverse', { kind: s.kind.name, ...ids, reason: action.reason });
    return { kind: 'deleted', ...ids, detail: action.reason };
  }

  private async link(action: Extract<Action, { type: 'Link' }>): Promise<void> {
    const { rt, s } = this;
    // Another change of the same item may link it at the same time (a notification and a reconciliation, a
    // redelivered change): the second decides again from the pair the first recorded, instead of being
    // dead-lettered with AlreadyExists (found by the chaos test's dead letters, test/chaos).
    s.pair = await this.createPairOnce({
      mailboxId: s.mailbox.id,
      kind: s.kind.name,
      dataverseEntity: action.table,
      dataverseId: action.dataverseId,
      exchangeId: s.item?.id,
      exchangeListId: s.listId,
      iCalUId: action.iCalUId,
      isOrganizer: action.isOrganizer,
      mirror: action.mirror,
      dataverseEtag: s.record?.['@odata.etag'],
      exchangeEtag: undefined,
      base: action.base,
      status: 'linked',
    });
    s.dataverseId = action.dataverseId;
    rt.log.info('linked an existing Exchange item to its Dataverse record', { kind: s.kind.name, ...this.ids });
  }

  /** Records the pair with each side's version as the sync knows it now (`unsynced`: that side's version stays as recorded). */
  private async record(base: Snapshot, unsynced?: 'exchange'): Promise<void> {
    const { rt, s } = this;
    const pair = s.pair!;
    s.pair = await rt.pairs.update(pair, {
      ...pair,
      exchangeEtag: unsynced === 'exchange' ? pair.exchangeEtag : ((s.item?.['@odata.etag']) ?? pair.exchangeEtag),
      dataverseEtag: (s.record?.['@odata.etag']) ?? pair.dataverseEtag,
      base,
    });
  }

  private async updateExchange(action: Extract<Action, { type: 'Update' }>): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    const fields = Object.keys(action.fields);
    const unsynced = action.unsyncedVersion ? 'exchange' : undefined;
    if (fields.length === 0) {
      await this.record(action.base, unsynced);
      return this.updatedOutcome(false, fields);
    }
    try {
      const written = await this.writeExchange(pair, action.fields);
      s.item = written;
      await this.record(action.base, unsynced);
      rt.log.info('updated in Exchange', { kind: s.kind.name, ...this.ids, fields });
      return this.updatedOutcome(true, fields);
    } catch (error) {
      if (isSyncError(error, 'PreconditionFailed')) {
        // The user changed the copy meanwhile: their change stands; the next change in Dynamics 365 writes again.
        if (action.keepOnConflict) return { kind: 'linked', ...this.ids };
        return this.merge('exchange');
      }
      if (isSyncError(error, 'NotFound')) {
        rt.log.warn('Exchange item is gone; its delete rule applies', { kind: s.kind.name, direction: 'toExchange', ...this.ids });
        return this.otherSideDeleted('exchange');
      }
      throw error;
    }
  }

  /**
   * An update found the other side's copy gone: that side deleted it, and its delete notification was lost or is
   * still on its way. Its delete rule decides, as the delete itself would have (README "Dynamics 365 deletes",
   * "Exchange deletes"); only unlinking left, e.g., the organizer's future event of a deleted appointment in the
   * calendar for good (found by the chaos test, test/chaos). The owner of a gone record is not known here, so a
   * contact's copy is kept (the owner's rule). The delete counts as inferred for the breaker.
   */
  private async otherSideDeleted(gone: 'exchange' | 'dataverse'): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    const ids = this.ids;
    if (gone === 'dataverse') s.record = undefined;
    else s.item = undefined;
    const actions =
      gone === 'dataverse'
        ? planDataverseDelete({ kind: s.kind, pair, mailbox: s.mailbox, ownerId: undefined, now: rt.now(), exchangeItem: s.item })
        : planExchangeDelete({ kind: s.kind, pair, record: s.record, ctx: s.ctx });
    s.deleteOrigin = { inferred: true, resync: s.deleteOrigin?.resync ?? false };
    const outcome = await this.run(actions);
    return outcome ?? { kind: 'unlinked', ...ids, detail: gone === 'dataverse' ? 'Dataverse record missing' : 'Exchange item missing' };
  }

  private async writeExchange(pair: Pair, fields: Snapshot): Promise<GraphItem> {
    const { rt, s } = this;
    const body = s.kind.exchangeBody(fields, s.ctx, s.item);
    const patch = s.kind.shapeExchangePatch(body, pair, s.ctx.now);
    return s.kind.exchange.update(rt, s.mailbox, pair, patch, (s.item?.['@odata.etag']) ?? pair.exchangeEtag);
  }

  private async updateDataverse(action: Extract<Action, { type: 'Update' }>): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    const fields = Object.keys(action.fields);
    if (fields.length === 0) {
      await this.record(action.base);
      return this.updatedOutcome(false, fields);
    }
    try {
      // Some writes depend on the record as it is now (the kind says which: a party list replaced as a whole, a
      // closed activity's read-only state, a table's own status codes). Read it for those only; a record that
      // changed since the last sync is a concurrent edit, merged field by field.
      if (!s.record && s.kind.writeNeedsRecord(pair.dataverseEntity as DataverseEntity, fields)) {
        const current = await s.kind.dataverse.get(rt, pair.dataverseEntity as DataverseEntity, pair.dataverseId);
        if (!current) throw new SyncError('NotFound', 'the Dataverse record is gone');
        s.record = current;
        if (pair.dataverseEtag && current['@odata.etag'] !== pair.dataverseEtag) return this.merge('none');
      }
      const written = await this.writeDataverse(pair, action.fields);
      s.record = written.record;
      if (written.refused.length > 0) {
        // The activity is closed in Dynamics 365 and read-only there: what it did not take stays unsynced in the
        // base (the pair keeps the values Dataverse holds), so it is written once the activity is reopened, and the
        // change ends here instead of failing on every delivery (a To Do title edit of a task completed there was
        // dead-lettered: test/e2e/closedTaskEdit.test.ts).
        const base: Snapshot = { ...action.base };
        for (const field of written.refused) {
          if (field in pair.base) base[field] = pair.base[field];
          else delete base[field];
        }
        await this.record(base);
        rt.log.info('not written to Dataverse: the activity is closed (read-only)', { kind: s.kind.name, ...this.ids, fields: written.refused });
        return { kind: 'unchanged', ...this.ids, detail: `closed in Dataverse; not written: ${written.refused.join(',')}` };
      }
      await this.record(action.base);
      rt.log.info('updated in Dataverse', { kind: s.kind.name, ...this.ids, fields });
      return this.updatedOutcome(true, fields);
    } catch (error) {
      if (isSyncError(error, 'PreconditionFailed')) return this.merge('dataverse');
      if (isSyncError(error, 'NotFound')) return this.otherSideDeleted('dataverse');
      throw error;
    }
  }

  /**
   * Writes changed fields to Dataverse. A closed activity is read-only, so a reopening state change goes first
   * (shared/mapping/state.ts); a closing one goes in the same PATCH as the other fields. Each PATCH is conditional on
   * the etag the previous one returned. A closed activity that stays closed takes no other columns: those fields come
   * back as `refused` (the snapshot fields whose body is not a state change alone), unwritten.
   */
  private async writeDataverse(pair: Pair, fields: Snapshot): Promise<{ record: DataverseRecord; refused: string[] }> {
    const { rt, s } = this;
    const table = pair.dataverseEntity as DataverseEntity;
    const current = s.record;
    const body = await resolveParties(rt, s.mailbox, s.kind.dataverseBody(fields, s.ctx, current, table));
    const { fields: plain, state } = separateStateChange(body as { statecode?: number; statuscode?: number });
    const closed = current ? isClosedActivity(current as { statecode?: number }) : false;
    const hasFields = Object.keys(plain).length > 0;
    let etag = (current?.['@odata.etag']) ?? pair.dataverseEtag;
    let record: DataverseRecord | undefined;
    let refused: string[] = [];
    const patch = async (b: Record<string, unknown>) => {
      record = await rt.dataverse.update(table, pair.dataverseId, b, { callerObjectId: s.mailbox.id, ...(etag ? { ifMatch: etag } : {}) });
      etag = record['@odata.etag'];
    };
    const refuse = (closedRecord: DataverseRecord) => {
      record = closedRecord;
      refused = Object.keys(fields).filter((f) => Object.keys(separateStateChange(s.kind.dataverseBody({ [f]: fields[f] }, s.ctx, closedRecord, table) as { statecode?: number }).fields).length > 0);
    };
    // The columns other than the state, unless the activity is (still) closed. Without the record at hand (a task
    // table's write does not read it first), Dataverse's refusal is how the sync learns it is closed: the record is
    // read then, and one changed since the version the write was conditional on is a concurrent edit to merge.
    const patchPlain = async (known: DataverseRecord | undefined) => {
      if (known && isClosedActivity(known as { statecode?: number })) return refuse(known);
      try {
        await patch(plain);
      } catch (error) {
        if (known || !isSyncError(error, 'InvalidInput')) throw error;
        const now = await s.kind.dataverse.get(rt, table, pair.dataverseId);
        if (!now || !isClosedActivity(now as { statecode?: number })) throw error;
        if (etag && now['@odata.etag'] !== etag) throw new SyncError('PreconditionFailed', 'the closed activity changed since the version the write was conditional on');
        refuse(now);
      }
    };
    if (state && (closed || state.statecode === 0 || state.statecode === 3)) {
      await patch(state);
      if (hasFields) await patchPlain(record);
    } else if (state && hasFields) {
      // Closing an open activity: one PATCH, which the platform applies as the update of the other columns followed
      // by the state change (https://learn.microsoft.com/power-apps/developer/data-platform/special-update-operation-behavior:
      // state is set by Update, no longer by a separate SetState). Written as two PATCHes, a completion whose second
      // one failed (throttled past the retries, or a 5xx after the first took effect) left the task open with its
      // past actualend, which already reads "completed" (shared/mapping/task.ts, rule 2): the retry found nothing
      // left to write and the task stayed open (the chaos test's todo-completion-lost,
      // test/e2e/halfWrittenCompletion.test.ts).
      await patch({ ...plain, ...state });
    } else {
      if (hasFields) await patchPlain(current);
      if (state) await patch(state);
    }
    if (!record) {
      // Nothing to write: the only change was one the record does not take (free/busy of a closed appointment).
      if (current) return { record: current, refused };
      throw new SyncError('Internal', 'nothing was written to Dataverse');
    }
    return { record, refused };
  }

  private updatedOutcome(written: boolean, fields: readonly string[]): Outcome {
    if (this.merged !== undefined) return { kind: 'updated', ...this.ids, detail: `merged; conflicts: ${this.merged}` };
    return written ? { kind: 'updated', ...this.ids, detail: fields.join(',') } : { kind: 'unchanged', ...this.ids };
  }

  /**
   * Both sides changed since the last sync: read what is stale (the side whose precondition failed, and a side
   * not read yet), plan the merge and run it. Bounded; past the bound the change is retried later.
   */
  private async merge(stale: 'exchange' | 'dataverse' | 'none'): Promise<Outcome> {
    const { rt, s } = this;
    const pair = s.pair!;
    this.merges += 1;
    if (this.merges > maxMerges) throw new SyncError('PreconditionFailed', 'both sides kept changing during the merge; retrying decides again');
    if (stale === 'dataverse' || !s.record) s.record = await s.kind.dataverse.get(rt, pair.dataverseEntity as DataverseEntity, pair.dataverseId);
    if (stale === 'exchange' || !s.item) s.item = await s.kind.exchange.get(rt, s.mailbox, pair.exchangeId!, pair.exchangeListId);
    if (!s.record || !s.item) throw new SyncError('PreconditionFailed', 'an item vanished during the merge; retrying decides again');
    this.merged = 0;
    const outcome = await this.run(planMerge({ kind: s.kind, pair, record: s.record, item: s.item, ctx: s.ctx, policy: s.settings.SYNC_CONFLICT_POLICY, config: s.settings.config }));
    return outcome ?? { kind: 'updated', ...this.ids, detail: `merged; conflicts: ${this.merged}` };
  }

  // ----------------------------------------------------------------------------------------------------------
  // Creates
  // ----------------------------------------------------------------------------------------------------------

  private async createInExchange(): Promise<Outcome> {
    const { rt, s } = this;
    const record = s.record!;
    const id = s.dataverseId!;
    const existing = s.pair;
    const transactionId = existing?.transactionId ?? transactionIdFor(s.mailbox.id, id);
    // Record the intent first: a crash after the Graph write leaves a pending pair whose retry finds the item
    // again (transactionId, the stamped id, the linked resource).
    const contended = existing && claimedElsewhere(existing, s.claim, rt.now());
    if (contended) throw contended;
    if (!existing) {
      // An item of this mailbox is being created as this record right now: its pair comes in a moment (claim.ts).
      const creating = await rt.cursors.get<{ at: string }>(creatingInDataverseScope, creatingKey(s.mailbox.id, id));
      const age = creating ? rt.now().getTime() - Date.parse(creating.at) : NaN;
      if (claimIsLive(age)) throw new SyncError('Busy', 'an item of this mailbox is being created as this record; deciding again once its pair is recorded', { retryAfterMs: claimWaitMs(age) });
    }
    let pending: StoredPair =
      existing ??
      (await rt.pairs.create({ mailboxId: s.mailbox.id, kind: s.kind.name, dataverseEntity: s.table, dataverseId: id, base: {}, status: 'pending', transactionId, claimedBy: s.claim }).catch(async (error: unknown) => {
        if (isSyncError(error, 'AlreadyExists')) {
          const again = await rt.pairs.get(s.mailbox.id, id);
          // Another change claimed the create between our read and our claim: it creates; this one decides again.
          if (again && again.status === 'pending' && s.claim !== undefined && again.claimedBy !== s.claim) throw new SyncError('Busy', 'another change of this record claimed its create; deciding again after it', { retryAfterMs: claimWaitMs(claimAge(again, rt.now())) });
          if (again) return again;
        }
        throw error;
      }));
    s.pair = pending;
    if (pending.status === 'linked') return this.replanToExchange();
    // The create body comes from the kind's mapping create function, which applies every rule of a new item, the
    // tracked category included; the adapter only adds what identifies the record (stamp, linked resource,
    // transactionId). A pending pair that already existed is an earlier attempt whose answer may have been lost:
    // what it wrote is looked for before anything is created again.
    const mapped = s.kind.exchangeCreate(record, s.ctx);
    const create = { ...mapped, body: withoutTurnedOffFields(mapped.body, s.kind, s.settings.config, 'exchange') };
    // A record that left this mailbox's scope and comes back (a filter change, a new owner) finds the copy it was
    // unlinked from by the stamp it still carries, instead of a duplicate: the admins' "duplicated after a scope
    // change" (docs/operations.md, "Sync configuration").
    const lookAgain = existing !== undefined || (await rt.decisions.wasUnlinked(s.mailbox.id, id).catch(() => false));
    const found = await s.kind.exchange.findExisting(rt, s.mailbox, record, id, s.ctx, lookAgain);
    if (found?.how === 'link') {
      await rt.pairs.remove(pending);
      s.pair = undefined;
      const linked = await this.linkFound(found.item);
      if (!linked) throw new SyncError('Transient', 'an existing item of this record could not be linked yet');
      // Linked with the record as base: Exchange holds what differs from it as the item's own change.
      return { kind: 'linked', ...this.ids };
    }
    if (!found) {
      const held = await this.holdCreate('exchange');
      if (held) {
        // Only this attempt's own intent is taken back; an earlier attempt's pending pair stays for its retry.
        if (!existing) await rt.pairs.remove(pending);
        s.pair = undefined;
        return held;
      }
    }
    const made = found ? { item: found.item, ...(found.listId ? { listId: found.listId } : {}) } : await s.kind.exchange.create(rt, s.mailbox, create, record, id, transactionId);
    let created = made.item;
    const exchangeId = created.id;
    if (!exchangeId) throw new SyncError('Internal', 'Graph returned no id for the created item');
    const dvSnap = s.kind.snapshotFromDataverse(record, s.ctx);
    let exSnap = s.kind.snapshotFromExchange(created, s.ctx);
    // Graph may hand back an item made earlier (the transactionId of a create whose pair was lost, an item found by
    // its stamp): bring what it holds up to the record. A fresh create holds it already, and costs nothing more.
    const drift = driftToExchange(this.directions, dvSnap, exSnap, create.unsyncedFields);
    const facts = { exchangeId, exchangeListId: made.listId, ...(create.isOrganizer === undefined ? {} : { isOrganizer: create.isOrganizer }) };
    if (Object.keys(drift).length > 0) {
      s.item = created;
      created = await this.writeExchange({ ...pending, ...facts }, drift);
      exSnap = s.kind.snapshotFromExchange(created, s.ctx);
    }
    const iCalUId = s.kind.itemFacts(created).iCalUId;
    pending = await rt.pairs.update(pending, {
      ...pending,
      ...facts,
      status: 'linked',
      exchangeEtag: created['@odata.etag'],
      dataverseEtag: record['@odata.etag'],
      iCalUId,
      transactionId: undefined,
      base: baseAfterWrite(this.directions, dvSnap, exSnap, create.unsyncedFields),
    });
    s.pair = pending;
    s.item = created;
    if (iCalUId) await rt.cursors.set('meeting', iCalUId, { dataverseId: id });
    rt.log.info('created in Exchange', { kind: s.kind.name, ...this.ids });
    return { kind: 'created', mailboxId: s.mailbox.id, dataverseId: id, exchangeId };
  }

  /** Plans again for Exchange with the pair as it is now. */
  private replanToExchange(): Promise<Outcome> {
    const { s } = this;
    if (this.merges++ > maxMerges) throw new SyncError('PreconditionFailed', 'the pair kept changing; retrying decides again');
    const actions = planToExchange({ kind: s.kind, table: s.table, record: s.record!, pair: s.pair, mailbox: s.mailbox, syncedSystemUsers: s.syncedSystemUsers, ctx: s.ctx, settings: s.settings });
    return this.run(actions).then((o) => o ?? { kind: 'unchanged', ...this.ids });
  }

  /** Links an unpaired item found before a create to this record (the link path of an Exchange change). */
  private async linkFound(item: GraphItem): Promise<boolean> {
    const { rt, s } = this;
    const record = s.record!;
    const existing = await rt.pairs.get(s.mailbox.id, s.dataverseId!);
    if (existing) return false;
    const organizer = s.kind.itemFacts(item).organizerAddress;
    const organizerSynced = organizer !== undefined && (await rt.mailboxes.findEnabled(organizer)) !== undefined;
    const viaMeeting = s.kind.exchange.stampOf(item) === undefined;
    const linker = new Executor(rt, { ...s, pair: undefined, item, exchangeId: item.id ?? undefined });
    await linker.run(planLink({ kind: s.kind, organizerSynced, ctx: s.ctx, settings: s.settings }, { dataverseId: s.dataverseId!, table: s.table, viaMeeting }, record, item));
    s.pair = linker.s.pair;
    return s.pair !== undefined;
  }

  private async createInDataverse(): Promise<Outcome> {
    const { rt, s } = this;
    const item = s.item!;
    const table = s.kind.tableFor?.(item) ?? s.kind.tables[0]!;
    const exSnap = s.kind.snapshotFromExchange(item, s.ctx);
    // Match before creating: a record of this user the item matches (a contact's address) with no pair here.
    for (const candidate of await s.kind.dataverse.findExisting(rt, s.mailbox, exSnap)) {
      if (await rt.pairs.get(s.mailbox.id, candidate)) continue;
      const record = await s.kind.dataverse.get(rt, table, candidate);
      if (!record) continue;
      s.record = record;
      s.dataverseId = candidate;
      await this.link({ type: 'Link', dataverseId: candidate, table, mirror: false, base: baseAfterWrite(this.directions, s.kind.snapshotFromDataverse(record, s.ctx), exSnap) });
      s.item = item;
      s.record = undefined;
      return this.replanToDataverse();
    }
    const held = await this.holdCreate('dataverse');
    if (held) return held;
    const id = s.kind.recordIdFor(s.mailbox.id, item);
    // The mapping's create function builds the body (owner, globalobjectid, parties as addresses to resolve).
    const createBody = withoutTurnedOffFields(s.kind.dataverseCreate(item, s.ctx), s.kind, s.settings.config, 'dataverse');
    const fullBody = (await resolveParties(rt, s.mailbox, createBody)) as { statecode?: number; statuscode?: number };
    const { fields, state } = separateStateChange(fullBody);
    let record: DataverseRecord;
    let existed = false;
    const creating = creatingKey(s.mailbox.id, id);
    await rt.cursors.set(creatingInDataverseScope, creating, { at: rt.now().toISOString() });
    try {
      // Create-only upsert on a derived id: a retry, or a second attendee's copy of the same meeting, finds the record.
      record = await rt.dataverse.update(table, id, fields, { createOnly: true, callerObjectId: s.mailbox.id });
      if (state) record = await rt.dataverse.update(table, id, state, { callerObjectId: s.mailbox.id });
    } catch (error) {
      if (!isSyncError(error, 'AlreadyExists')) throw error;
      const found = await s.kind.dataverse.get(rt, table, id);
      if (!found) throw error;
      record = found;
      existed = true;
      // The record this item's derived id names no longer reaches this mailbox (reassigned, or out of its filters):
      // the item is a copy the sync let go of as out of scope, and it stays unlinked; pairing it again wrote its old
      // values over the new owner's (the chaos test's reassign-lost-update, test/e2e/reassignedCopy.test.ts).
      if (matchingFilter(s.settings.config.scope[s.kind.name], found, s.mailbox.systemUserId, s.kind.scopeOf(table, found)) === undefined) {
        // Nothing of this mailbox is being created as it: a change of the record here (it may come back in scope) need not wait.
        await rt.cursors.remove(creatingInDataverseScope, creating);
        rt.log.info('not linked: the record the item belongs to is out of scope', { kind: s.kind.name, ...this.ids, dataverseId: id });
        return { kind: 'ignored', ...this.ids, dataverseId: id, detail: 'out of scope: the record it belongs to does not reach this user (owner, party or sync filter); the copy stays unlinked' };
      }
      // A retry of this create whose answer was lost: the record was made, its separate state change (a completed
      // To Do task closes the task after creating it) never ran. Nothing else would write it: a past actualend
      // already reads as completed, so the item and the record look alike (found by the chaos test). Only a record
      // untouched since its create is finished here; one changed since keeps what Dynamics 365 did to it.
      const untouched = typeof found.createdon === 'string' && found.modifiedon === found.createdon;
      if (state && untouched && found.statecode !== (state as { statecode?: number }).statecode) record = await rt.dataverse.update(table, id, state, { callerObjectId: s.mailbox.id });
    }
    let dvSnap = s.kind.snapshotFromDataverse(record, s.ctx);
    // A write's representation carries the record's columns, not its party list (a collection-valued navigation
    // property, which only a read's $expand returns), so a field the new record seems not to hold as written is read
    // back before it becomes the base. Taken from the representation, an attendee invited before the sync saw the
    // meeting was in the base as no attendee: removing them in Outlook was then no change, and the next Dynamics 365
    // edit invited them again (chaos seed 40 x 1000, test/e2e/attendeeRemoved.test.ts). A record changed since the
    // write (another etag) keeps the representation's values, so that change is not taken for synced.
    if (!existed && Object.keys(driftToExchange(this.directions, dvSnap, exSnap)).length > 0) {
      const read = await s.kind.dataverse.get(rt, table, id);
      if (read && read['@odata.etag'] === record['@odata.etag']) {
        record = read;
        dvSnap = s.kind.snapshotFromDataverse(read, s.ctx);
      }
    }
    const facts = s.kind.itemFacts(item);
    s.dataverseId = id;
    const other = await rt.pairs.get(s.mailbox.id, id);
    if (other && other.exchangeId !== undefined && other.exchangeId !== item.id) {
      // The record is paired with another item of this mailbox (the marker above went stale before a Dataverse change
      // of the record created one): deciding again would meet that pair on every retry. This copy stays unlinked.
      await rt.cursors.remove(creatingInDataverseScope, creating);
      rt.log.warn('not linked: the record this item was created as is paired with another item of the mailbox', { kind: s.kind.name, ...this.ids, dataverseId: id });
      return { kind: 'ignored', ...this.ids, dataverseId: id, detail: 'the record it was created as is paired with another item of this mailbox; the copy stays unlinked' };
    }
    s.pair = await this.createPairOnce({
      mailboxId: s.mailbox.id,
      kind: s.kind.name,
      dataverseEntity: table,
      dataverseId: id,
      exchangeId: item.id,
      exchangeListId: s.listId,
      iCalUId: facts.iCalUId,
      isOrganizer: facts.isOrganizer,
      dataverseEtag: record['@odata.etag'],
      exchangeEtag: existed ? undefined : item['@odata.etag'],
      // The record existed (a retry after a lost pair, another copy of the meeting): take its values as the base,
      // so what the item changed since flows to Dataverse now.
      base: existed ? baseAfterWrite(this.directions, dvSnap, dvSnap) : baseAfterWrite(this.directions, dvSnap, exSnap),
      status: 'linked',
    });
    await rt.cursors.remove(creatingInDataverseScope, creating);
    if (facts.iCalUId) await rt.cursors.set('meeting', facts.iCalUId, { dataverseId: id });
    if (existed) {
      rt.log.info('linked an Exchange item to the Dataverse record its id names', { kind: s.kind.name, ...this.ids });
      return this.replanToDataverse();
    }
    rt.log.info('created in Dataverse', { kind: s.kind.name, ...this.ids });
    return { kind: 'created', ...this.ids };
  }

  /**
   * Records the pair of a record just created (or found by its derived id). Two changes of one new item may run at
   * once: both upsert the same derived id, and the one that records the pair second finds it there; it decides again
   * from that pair instead of failing.
   */
  private async createPairOnce(pair: Pair): Promise<StoredPair> {
    try {
      return await this.rt.pairs.create(pair);
    } catch (error) {
      if (isSyncError(error, 'AlreadyExists')) throw new SyncError('Transient', 'another change of this item recorded its pair first; deciding again from it', { retryAfterMs: 500 });
      throw error;
    }
  }

  /** Plans the Dataverse update again with the pair as it is now. */
  private replanToDataverse(): Promise<Outcome> {
    const { s } = this;
    if (this.merges++ > maxMerges) throw new SyncError('PreconditionFailed', 'the pair kept changing; retrying decides again');
    return this.run([planUpdateToDataverse(s.kind, s.pair!, s.item!, s.ctx, s.settings)]).then((o) => o ?? { kind: 'unchanged', ...this.ids });
  }
}
