// Backfill of a newly enabled mailbox: what already exists on either side is found, planned and
// fed to the worker as the same messages the webhooks send. The engine matches before it creates (stamped id, then
// each kind's rule: a meeting's iCalUId, a contact's e-mail address), so enabling twice, or a mailbox whose items
// exist on both sides, creates no duplicates. What is listed and how a record matches an item are the kinds'
// (shared/sync/kinds/, their `backfill` adapter); this module is generic: I/O (fetch*) apart from the decision
// (decideBackfill), which is pure and takes the fetched lists.
import type { EntityKind } from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import { dataverseChange, exchangeChange, versionOfEtag, type ChangeMessageInput, type DataverseEntity } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import { kindNamed, kindOfResource, kindOfTable, type ExchangeResource, type ItemCandidate, type RecordCandidate } from '../sync/kinds/index.js';
import { syncWindow, type SyncWindow } from '../sync/window.js';

/** A Dataverse record in the mailbox's scope, reduced to what matching needs (no contents). */
export type DataverseCandidate = RecordCandidate;
/** An Exchange item of the mailbox, reduced to what matching needs. */
export type ExchangeCandidate = ItemCandidate;
export type { ExchangeResource };

/** A pair already recorded for the mailbox. */
export interface PairCandidate {
  dataverseId: string;
  exchangeId?: string | undefined;
  dataverseEtag?: string | undefined;
  exchangeEtag?: string | undefined;
  status: 'pending' | 'linked';
}

export interface BackfillInputs {
  records: DataverseCandidate[];
  items: ExchangeCandidate[];
  pairs: PairCandidate[];
}

/** One decision; its message field says which side's message carries it to the worker (none for `leave`). */
export interface PlanEntry {
  kind: EntityKind;
  dataverseEntity?: DataverseEntity;
  dataverseId?: string;
  exchangeResource?: ExchangeResource;
  exchangeId?: string;
  listId?: string;
  etag?: string;
  message?: 'dataverse' | 'exchange';
  reason: string;
}

export interface BackfillPlan {
  /** Both sides exist and belong together: the worker links them (no create). */
  link: PlanEntry[];
  createInExchange: PlanEntry[];
  createInDataverse: PlanEntry[];
  /** Already paired, but a side changed since the last sync: the worker merges. */
  update: PlanEntry[];
  /** Nothing to do (in sync, or not tracked). */
  leave: PlanEntry[];
}

/** Pure: decides, from the fetched lists, what backfill links, creates on either side, updates and leaves. */
export function decideBackfill(inputs: BackfillInputs): BackfillPlan {
  const plan: BackfillPlan = { link: [], createInExchange: [], createInDataverse: [], update: [], leave: [] };
  const pairByDv = new Map(inputs.pairs.map((p) => [p.dataverseId.toLowerCase(), p]));
  const pairByEx = new Map(inputs.pairs.filter((p) => p.exchangeId).map((p) => [p.exchangeId!, p]));
  const items = [...inputs.items].sort((a, b) => a.id.localeCompare(b.id));
  const records = [...inputs.records].sort((a, b) => `${a.entity}|${a.id}`.localeCompare(`${b.entity}|${b.id}`));
  const used = new Set<string>();
  const free = (item: ExchangeCandidate) => !used.has(item.id) && !pairByEx.has(item.id);
  const exEntry = (item: ExchangeCandidate, reason: string, extra: Partial<PlanEntry> = {}): PlanEntry => ({
    kind: kindOfResource(item.resource).name,
    exchangeResource: item.resource,
    exchangeId: item.id,
    ...(item.listId ? { listId: item.listId } : {}),
    ...(item.etag ? { etag: item.etag } : {}),
    reason,
    ...extra,
  });

  for (const record of records) {
    const id = record.id.toLowerCase();
    const kind = kindOfTable(record.entity);
    const dvEntry = (reason: string, extra: Partial<PlanEntry> = {}): PlanEntry => ({
      kind: kind.name,
      dataverseEntity: record.entity,
      dataverseId: id,
      ...(record.etag ? { etag: record.etag } : {}),
      reason,
      ...extra,
    });
    const pair = pairByDv.get(id);
    if (pair) {
      // Its Exchange item is not marked used: the item loop below compares the item with the pair on its own, so a
      // change made in Exchange while the mailbox was disabled is found even when the record did not change.
      if (pair.status === 'pending') plan.update.push(dvEntry('create in Exchange was interrupted; the retry finds what it wrote', { message: 'dataverse' }));
      else if (record.etag && pair.dataverseEtag === record.etag) plan.leave.push(dvEntry('already paired and in sync'));
      else plan.update.push(dvEntry('paired; changed in Dataverse since the last sync', { message: 'dataverse', ...(pair.exchangeId ? { exchangeId: pair.exchangeId } : {}) }));
      continue;
    }
    // Match before creating, in the engine's order: the stamp, then the kind's own rule.
    const candidates = items.filter((i) => free(i) && i.resource === kind.resource);
    const stamped = candidates.find((i) => i.stampedId?.toLowerCase() === id);
    if (stamped) {
      used.add(stamped.id);
      plan.link.push(exEntry(stamped, 'the Exchange item carries this Dataverse id', { dataverseEntity: record.entity, dataverseId: id, message: 'exchange' }));
      continue;
    }
    const match = kind.backfill.match(record, candidates);
    if (match) {
      used.add(match.item.id);
      plan.link.push(
        match.carriedBy === 'exchange'
          ? exEntry(match.item, match.reason, { dataverseEntity: record.entity, dataverseId: id, message: 'exchange' })
          : dvEntry(match.reason, { exchangeResource: match.item.resource, exchangeId: match.item.id, message: 'dataverse' }),
      );
      continue;
    }
    plan.createInExchange.push(dvEntry('in scope (owner or party) and not in the mailbox', { message: 'dataverse' }));
  }

  for (const item of items) {
    if (used.has(item.id)) continue;
    const pair = pairByEx.get(item.id);
    if (pair) {
      if (pair.status === 'linked' && item.etag && pair.exchangeEtag === item.etag) plan.leave.push(exEntry(item, 'already paired and in sync', { dataverseId: pair.dataverseId }));
      else plan.update.push(exEntry(item, 'paired; changed in Exchange since the last sync', { dataverseId: pair.dataverseId, message: 'exchange' }));
    } else if (item.stampedId) {
      // Its record is outside the window or scope (or gone): the engine links it if the record exists.
      plan.link.push(exEntry(item, 'carries a Dataverse id outside the backfill window', { dataverseId: item.stampedId.toLowerCase(), message: 'exchange' }));
    } else if (item.tracked) {
      plan.createInDataverse.push(exEntry(item, 'tracked to Dynamics 365 and not in Dataverse', { message: 'exchange' }));
    } else {
      plan.leave.push(exEntry(item, 'not tracked to Dynamics 365'));
    }
  }
  return plan;
}

// ------------------------------------------------------------------------------------------------------------
// Fetching
// ------------------------------------------------------------------------------------------------------------

/** Dataverse records in the mailbox's scope, per table of each kind it syncs (each kind's scope and window). */
export async function fetchDataverseCandidates(rt: Runtime, mailbox: Mailbox, window: SyncWindow): Promise<DataverseCandidate[]> {
  const out: DataverseCandidate[] = [];
  for (const name of mailbox.entities) {
    const kind = kindNamed(name);
    for (const table of kind.tables) out.push(...(await kind.backfill.listRecords(rt, mailbox, table, window)));
  }
  return out;
}

/** Exchange items of the mailbox, per kind it syncs (events in the window, contacts of the default folder, To Do tasks of every list). */
export async function fetchExchangeCandidates(rt: Runtime, mailbox: Mailbox, window: SyncWindow): Promise<ExchangeCandidate[]> {
  const out: ExchangeCandidate[] = [];
  for (const name of mailbox.entities) out.push(...(await kindNamed(name).backfill.listItems(rt, mailbox, window)));
  return out;
}

/** Everything the planner needs for one mailbox. */
export async function fetchBackfillInputs(rt: Runtime, mailbox: Mailbox, window: SyncWindow): Promise<BackfillInputs> {
  const [records, items] = await Promise.all([fetchDataverseCandidates(rt, mailbox, window), fetchExchangeCandidates(rt, mailbox, window)]);
  const pairs: PairCandidate[] = [];
  for await (const p of rt.pairs.listMailbox(mailbox.id)) {
    pairs.push({ dataverseId: p.dataverseId, exchangeId: p.exchangeId, dataverseEtag: p.dataverseEtag, exchangeEtag: p.exchangeEtag, status: p.status });
  }
  return { records, items, pairs };
}

/** What backfill would do for a mailbox (the dry run of `mailbox enable`); changes nothing. */
export async function planBackfill(rt: Runtime, mailbox: Mailbox, window: SyncWindow = syncWindow(rt)): Promise<BackfillPlan> {
  await rt.ready();
  return decideBackfill(await fetchBackfillInputs(rt, mailbox, window));
}

// ------------------------------------------------------------------------------------------------------------
// Running
// ------------------------------------------------------------------------------------------------------------

export interface BackfillProgress {
  mailboxId: string;
  /** Messages to enqueue in this run (after a resume: those left). */
  total: number;
  enqueued: number;
  /** Work items skipped because an interrupted run had enqueued them already. */
  resumed: number;
}

export interface BackfillOptions {
  window?: SyncWindow;
  /** Messages per Service Bus send (default 100) when the backfill is not paced. */
  batchSize?: number;
  /** Changes per second reaching the queue (default SYNC_BACKFILL_CHANGES_PER_SECOND; 0: all at once). */
  perSecond?: number;
  onProgress?: (progress: BackfillProgress) => void | Promise<void>;
  /** Told the plan the run performs, and the checkpoint it resumes after, before anything is enqueued. */
  onPlan?: (plan: BackfillPlan, resumeAfter: string | undefined) => void | Promise<void>;
}

export interface BackfillResult {
  mailboxId: string;
  counts: Record<keyof BackfillPlan, number>;
  enqueued: number;
  resumed: number;
}

/** The checkpoint in the cursors table: the last work key enqueued, so an interrupted run resumes after it. */
interface Checkpoint {
  lastKey?: string;
  enqueued: number;
  startedAt: string;
  completedAt?: string;
}

export const backfillScope = 'backfill';

/** Where an interrupted run stopped: the last work key it enqueued, or undefined when no run is unfinished. */
export async function backfillResumePoint(rt: Runtime, mailboxId: string): Promise<string | undefined> {
  const previous = await rt.cursors.get<Checkpoint>(backfillScope, mailboxId);
  return previous && !previous.completedAt ? previous.lastKey : undefined;
}

/**
 * Pure: the slices the work is enqueued in, each with when it is due. At `perSecond` changes per second, slice k is
 * scheduled k seconds after `now`, so a backfill reaches the workers at the pace its mailbox's Graph budget allows
 * (10,000 requests per 10 minutes per app and mailbox: https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits)
 * and mailboxes enabled one after another interleave on the queue instead of one mailbox's backlog taking every
 * session while the other mailboxes' budgets sit unused. 0 enqueues everything at once in slices of `batchSize`.
 */
export function backfillSlices(count: number, options: { perSecond: number; batchSize: number; now: number }): { start: number; end: number; dueAt?: number }[] {
  const size = options.perSecond > 0 ? Math.max(1, Math.floor(options.perSecond)) : Math.max(1, options.batchSize);
  const slices: { start: number; end: number; dueAt?: number }[] = [];
  for (let start = 0, k = 0; start < count; start += size, k += 1) {
    const end = Math.min(count, start + size);
    slices.push(options.perSecond > 0 && k > 0 ? { start, end, dueAt: options.now + k * 1_000 } : { start, end });
  }
  return slices;
}

/** Pure: the plan's messages in the order they are enqueued, and those left after a resume point. */
export function backfillWork(plan: BackfillPlan, resumeAfter: string | undefined): { work: PlanEntry[]; todo: PlanEntry[] } {
  const work = [...plan.link, ...plan.createInExchange, ...plan.createInDataverse, ...plan.update].filter((e) => e.message);
  work.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return { work, todo: resumeAfter ? work.filter((e) => keyOf(e) > resumeAfter) : work };
}

const keyOf = (entry: PlanEntry) => (entry.message === 'dataverse' ? `dv|${entry.dataverseEntity}|${entry.dataverseId}` : `ex|${entry.exchangeResource}|${entry.exchangeId}`);

function messageFor(mailbox: Mailbox, entry: PlanEntry, receivedAt: string): ChangeMessageInput {
  if (entry.message === 'dataverse') {
    return dataverseChange({ entity: entry.dataverseEntity!, recordId: entry.dataverseId!, message: 'Reconcile', version: versionOfEtag(entry.etag), origin: 'resync' }, { receivedAt });
  }
  return exchangeChange(
    { mailboxId: mailbox.id, resource: entry.exchangeResource!, itemId: entry.exchangeId!, changeType: 'updated', listId: entry.listId, etag: entry.etag, dataverseId: entry.dataverseId, origin: 'resync' },
    { receivedAt },
  );
}

/**
 * Backfills a mailbox: plans, then enqueues the plan's messages in batches, checkpointing after each batch, and
 * moves the mailbox backfilling -> active. An interrupted run leaves the mailbox degraded with the reason and resumes
 * after its checkpoint when run again.
 */
export async function runBackfill(rt: Runtime, mailbox: Mailbox, options: BackfillOptions = {}): Promise<BackfillResult> {
  await rt.ready();
  const batchSize = Math.max(1, options.batchSize ?? 100);
  // Only the state fields: the worker may write the same row meanwhile (e.g. the default To Do list).
  const setState = async (state: Mailbox['state'], reason: string | undefined) => {
    await rt.mailboxes.patch(mailbox.id, { state, stateReason: reason });
  };
  await setState('backfilling', 'backfill: planning');
  // What the worker will need of the mailbox, recorded before it runs (a kind's default To Do list).
  for (const name of mailbox.entities) await kindNamed(name).backfill.prepare?.(rt, mailbox);
  const previous = await rt.cursors.get<Checkpoint>(backfillScope, mailbox.id);
  const resumeAfter = previous && !previous.completedAt ? previous.lastKey : undefined;
  const checkpoint: Checkpoint = resumeAfter && previous ? { ...previous } : { enqueued: 0, startedAt: rt.now().toISOString() };
  try {
    const inputs = await fetchBackfillInputs(rt, mailbox, options.window ?? syncWindow(rt));
    await noteListings(rt, mailbox, inputs);
    const plan = decideBackfill(inputs);
    const { work, todo } = backfillWork(plan, resumeAfter);
    await options.onPlan?.(plan, resumeAfter);
    const progress: BackfillProgress = { mailboxId: mailbox.id, total: todo.length, enqueued: 0, resumed: work.length - todo.length };
    const receivedAt = rt.now().toISOString();
    for (const slice of backfillSlices(todo.length, { perSecond: options.perSecond ?? rt.settings.SYNC_BACKFILL_CHANGES_PER_SECOND, batchSize, now: rt.now().getTime() })) {
      const batch = todo.slice(slice.start, slice.end);
      await rt.sender.send(batch.map((e) => messageFor(mailbox, e, receivedAt)), slice.dueAt === undefined ? {} : { scheduledEnqueueTime: new Date(slice.dueAt) });
      progress.enqueued += batch.length;
      checkpoint.lastKey = keyOf(batch[batch.length - 1]!);
      checkpoint.enqueued += batch.length;
      await rt.cursors.set(backfillScope, mailbox.id, checkpoint);
      await setState('backfilling', `backfill: ${progress.enqueued}/${progress.total} changes enqueued`);
      await options.onProgress?.({ ...progress });
    }
    await rt.cursors.set(backfillScope, mailbox.id, { ...checkpoint, completedAt: rt.now().toISOString() });
    await setState('active', undefined);
    rt.log.info('backfill enqueued', { mailboxId: mailbox.id, enqueued: progress.enqueued, resumed: progress.resumed, link: plan.link.length, createInExchange: plan.createInExchange.length, createInDataverse: plan.createInDataverse.length, update: plan.update.length });
    return { mailboxId: mailbox.id, counts: summarizePlan(plan), enqueued: progress.enqueued, resumed: progress.resumed };
  } catch (error) {
    await setState('degraded', `backfill interrupted after ${checkpoint.enqueued} changes; run it again to resume: ${(error as Error).message}`.slice(0, 500)).catch(() => undefined);
    throw error;
  }
}

/**
 * Tells the breaker what the backfill's full listings returned, per kind and side: a side that lists nothing while
 * the mailbox holds pairs of the kind holds the deletes towards the other side (shared/sync/breaker.ts).
 */
async function noteListings(rt: Runtime, mailbox: Mailbox, inputs: BackfillInputs): Promise<void> {
  const now = rt.now();
  for (const name of mailbox.entities) {
    const kind = kindNamed(name);
    const scope = (direction: 'toExchange' | 'toDataverse') => ({ mailboxId: mailbox.id.toLowerCase(), kind: kind.name, direction });
    await rt.breaker.noteListing(scope('toDataverse'), inputs.items.filter((i) => i.resource === kind.resource).length, now);
    await rt.breaker.noteListing(scope('toExchange'), inputs.records.filter((r) => (kind.tables as readonly string[]).includes(r.entity)).length, now);
  }
}

/** How many entries each list of a plan holds. */
export function summarizePlan(plan: BackfillPlan): Record<keyof BackfillPlan, number> {
  return { link: plan.link.length, createInExchange: plan.createInExchange.length, createInDataverse: plan.createInDataverse.length, update: plan.update.length, leave: plan.leave.length };
}
