// What a configuration change does to items already synced: a scope-filter change moves items into and out of a
// mailbox's scope, a direction change can be re-applied to the items in scope (--resync). Both are previewed
// first (config set --dry-run) and applied after the new version is written. Leaving the scope unlinks, never
// deletes (KB 4345686: https://learn.microsoft.com/troubleshoot/power-platform/dataverse/email-exchange-synchronization/an-appointment-is-canceled-deleted);
// entering it enqueues the record as a change, so the worker creates it through the same path (and limits) as
// any other create.
import type { Runtime } from '../runtime.js';
import { dataverseChange } from '../servicebus/messages.js';
import { effectiveConfig, type ConfigPlan, type EffectiveConfig } from '../settings/index.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { StoredPair } from '../storage/pairStore.js';
import { fetchDataverseCandidates } from './backfill.js';
import { resyncPair, unlinkPair } from '../sync/engine.js';
import { kindNamed, type SyncKind } from '../sync/kinds/index.js';
import { matchingFilter } from '../sync/plan.js';
import { syncWindow } from '../sync/window.js';
import type { EntityKind } from '../mapping/index.js';
import type { DataverseEntity } from '../servicebus/messages.js';

/** One item a scope change moves (ids only: no contents reach the output). */
export interface ScopeEntry {
  kind: EntityKind;
  table: DataverseEntity;
  dataverseId: string;
  exchangeId?: string | undefined;
  /** The filter that brings it in (enter). */
  filter?: string | undefined;
}

export interface ScopeDelta {
  mailbox: Pick<Mailbox, 'id' | 'userPrincipalName'>;
  kind: EntityKind;
  enter: ScopeEntry[];
  leave: (ScopeEntry & { pair: StoredPair })[];
}

export interface ResyncCount {
  mailbox: Pick<Mailbox, 'id' | 'userPrincipalName'>;
  kind: EntityKind;
  fields: string[];
  pairs: StoredPair[];
}

/** The configuration a mailbox would have after the plan. */
function afterPlan(plan: ConfigPlan, mailboxId: string): EffectiveConfig {
  return effectiveConfig(plan.baseVersion + 1, plan.next.global, plan.next.mailboxes[mailboxId.toLowerCase()]);
}

/** The mailboxes and kinds a plan's changes of `prefix` keys concern (a global key concerns every mailbox). */
async function concerned(rt: Runtime, plan: ConfigPlan, prefix: 'scope.' | 'fields.'): Promise<{ mailbox: Mailbox; kind: SyncKind }[]> {
  const mailboxes = (await rt.mailboxes.list()).filter((m) => m.state !== 'disabled');
  const out: { mailbox: Mailbox; kind: SyncKind }[] = [];
  for (const change of plan.changes.filter((c) => c.key.startsWith(prefix))) {
    const kind = kindNamed(change.key.split('.')[1]!);
    for (const mailbox of mailboxes) {
      if (!mailbox.entities.includes(kind.name)) continue;
      if (change.scope !== 'global' && change.scope !== `mailbox:${mailbox.id.toLowerCase()}`) continue;
      if (!out.some((o) => o.mailbox.id === mailbox.id && o.kind === kind)) out.push({ mailbox, kind });
    }
  }
  return out;
}

/**
 * Per mailbox and kind, what a plan's scope change moves: paired records no filter of the new configuration
 * matches (leave), and records the user owns or is a party to, in the sync window, that only the new filters match
 * and that are not paired yet (enter). Reads only; each record is read once to evaluate the filters on it.
 */
export async function previewScopeChange(rt: Runtime, plan: ConfigPlan): Promise<ScopeDelta[]> {
  const out: ScopeDelta[] = [];
  const window = syncWindow(rt);
  for (const { mailbox, kind } of await concerned(rt, plan, 'scope.')) {
    const before = (await rt.config.effective(mailbox.id, { fresh: true })).scope[kind.name];
    const after = afterPlan(plan, mailbox.id).scope[kind.name];
    const delta: ScopeDelta = { mailbox: { id: mailbox.id, userPrincipalName: mailbox.userPrincipalName }, kind: kind.name, enter: [], leave: [] };
    const paired = new Set<string>();
    for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
      if (pair.kind !== kind.name) continue;
      paired.add(pair.dataverseId.toLowerCase());
      const table = pair.dataverseEntity as DataverseEntity;
      const record = await kind.dataverse.get(rt, table, pair.dataverseId);
      if (!record) continue;
      if (!matchingFilter(after, record, mailbox.systemUserId, kind.scopeOf(table, record))) delta.leave.push({ kind: kind.name, table, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, pair });
    }
    for (const candidate of await fetchDataverseCandidates(rt, { ...mailbox, entities: [kind.name] }, window)) {
      if (paired.has(candidate.id)) continue;
      const record = await kind.dataverse.get(rt, candidate.entity, candidate.id);
      if (!record) continue;
      const reach = kind.scopeOf(candidate.entity, record);
      const filter = matchingFilter(after, record, mailbox.systemUserId, reach);
      if (filter && !matchingFilter(before, record, mailbox.systemUserId, reach)) delta.enter.push({ kind: kind.name, table: candidate.entity, dataverseId: candidate.id, filter: filter.name });
    }
    if (delta.enter.length || delta.leave.length) out.push(delta);
  }
  return out;
}

/** Applies a previewed scope change (after the version is written): unlinks what leaves, enqueues what enters. */
export async function applyScopeChange(rt: Runtime, deltas: readonly ScopeDelta[], version: number): Promise<{ unlinked: number; enqueued: number; notCaughtUp: number }> {
  let unlinked = 0;
  let enqueued = 0;
  let notCaughtUp = 0;
  const receivedAt = rt.now().toISOString();
  for (const delta of deltas) {
    const kind = kindNamed(delta.kind);
    const mailbox = await rt.mailboxes.get(delta.mailbox.id);
    if (!mailbox || mailbox.state === 'disabled') continue;
    for (const entry of delta.leave) {
      const done = await unlinkPair(rt, kind, mailbox, entry.pair, `out of scope: the sync filters changed (configuration version ${version})`, 'config');
      if (done.outcome?.kind === 'unlinked') unlinked += 1;
      if (done.catchUpFailed) notCaughtUp += 1;
    }
    const messages = delta.enter.map((e) => dataverseChange({ entity: e.table, recordId: e.dataverseId, message: 'Reconcile' }, { receivedAt }));
    for (let i = 0; i < messages.length; i += 100) await rt.sender.send(messages.slice(i, i + 100));
    enqueued += messages.length;
  }
  return { unlinked, enqueued, notCaughtUp };
}

/** Per mailbox and kind, the pairs a direction change would be re-applied to (--resync), with the fields changed. */
export async function previewResync(rt: Runtime, plan: ConfigPlan): Promise<ResyncCount[]> {
  const out: ResyncCount[] = [];
  for (const { mailbox, kind } of await concerned(rt, plan, 'fields.')) {
    const before = (await rt.config.effective(mailbox.id, { fresh: true })).fields[kind.name];
    const after = afterPlan(plan, mailbox.id).fields[kind.name];
    const fields = Object.keys(after).filter((f) => after[f] !== before[f]);
    if (fields.length === 0) continue;
    const pairs: StoredPair[] = [];
    for await (const pair of rt.pairs.listMailbox(mailbox.id)) if (pair.kind === kind.name && pair.status === 'linked' && pair.exchangeId && !pair.mirror) pairs.push(pair);
    out.push({ mailbox: { id: mailbox.id, userPrincipalName: mailbox.userPrincipalName }, kind: kind.name, fields, pairs });
  }
  return out;
}

/** Re-applies the directions to every counted pair (after the version is written); returns how many were written. */
export async function applyResync(rt: Runtime, counts: readonly ResyncCount[]): Promise<{ resynced: number; updated: number }> {
  let resynced = 0;
  let updated = 0;
  for (const count of counts) {
    const kind = kindNamed(count.kind);
    const mailbox = await rt.mailboxes.get(count.mailbox.id);
    if (!mailbox || mailbox.state === 'disabled') continue;
    for (const stale of count.pairs) {
      // The pair may have moved on since the preview: resync what it is now.
      const pair = await rt.pairs.get(mailbox.id, stale.dataverseId);
      if (!pair) continue;
      const outcome = await resyncPair(rt, kind, mailbox, pair);
      resynced += 1;
      if (outcome?.kind === 'updated') updated += 1;
    }
  }
  return { resynced, updated };
}
