// The decision record behind `explain <item>`: for each item (by its Dataverse id and by its Exchange id) and
// mailbox, the last decisions the sync took for it with their reasons, and the last sync per direction. The
// engine appends what the planner decided and how it ended; the worker appends a dead-lettering; the breaker
// appends the deletes it holds. `explain` is then a lookup, not a guess.
//
// Append-only: PartitionKey "dv-<id>" or "ex-<base64url id>", RowKey "<mailbox id>~<inverted time>~<random>" (the
// mailbox id "-" for a decision that concerns no mailbox, such as a record no enabled mailbox's scope reaches), so
// recording a decision is one insert per id (no read, no etag race), and a mailbox's rows come newest first. An
// unlink also writes "<mailbox id>~unlinked", which creates look for later and retention never removes. The table is
// bounded by `trimItem` (run by the daily retention pass, shared/sync/decisionRetention.ts): the last decisions per
// item and mailbox, and nothing older than some days once the item is no longer paired there. Rows of the release
// before (RowKey the mailbox id, its last decisions as one JSON list) are still read.
import { randomBytes } from 'node:crypto';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { checkedKey, decodeKey, encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

/** What a decision was about: the direction the change flowed, or neither (a dead letter of a lifecycle event). */
export type DecisionDirection = 'toExchange' | 'toDataverse';

export const decisionSchema = z.object({
  at: z.string(),
  direction: z.enum(['toExchange', 'toDataverse']),
  /**
   * What was decided: the planner's action (Create, Update, Link, Unlink, Delete, Ignore, Echo, Await), or a
   * decision taken around it: OutOfScope, Held (by the mass-delete breaker), DeadLettered, Released, Discarded.
   */
  decision: z.string().min(1).max(40),
  /** Why, in words an operator reads (never item content: no subject, body or address). */
  reason: z.string().max(500),
  /** How it ended (the executor's outcome kind: created, updated, unlinked, ...), when it ran. */
  outcome: z.string().max(40).optional(),
  /** Where the change came from: webhook, notification, reconcile, backfill, replay, cli. */
  source: z.string().max(40).optional(),
  /** The configuration version the decision was taken under (shared/settings/). */
  configVersion: z.number().int().min(0).optional(),
  kind: z.string().max(40).optional(),
  dataverseId: z.string().optional(),
  exchangeId: z.string().optional(),
});
export type Decision = z.infer<typeof decisionSchema>;

/** One item's record in one mailbox. */
export interface ItemDecisions {
  mailboxId: string | undefined;
  itemKey: string;
  decisions: Decision[];
  /** The last write per direction (a decision whose outcome changed the other side). */
  lastSync: { toExchange?: string; toDataverse?: string; /** Kept beyond the last decisions: create looks for the old copy. */ unlinkedAt?: string };
}

/** Outcomes that wrote to the target side: they count as a sync in that direction (an unlink writes neither side). */
const writingOutcomes = new Set(['created', 'updated', 'linked', 'deleted', 'sent']);
const noMailbox = '-';
const separator = '~';
const unlinkedSuffix = 'unlinked';
/** 13 digits hold every millisecond time until the year 2286; inverted, a later decision sorts first. */
const maxTime = 9_999_999_999_999;

const dvKey = (id: string) => checkedKey(`dv-${id.toLowerCase()}`, 'Dataverse id');
const exKey = (id: string) => checkedKey(`ex-${encodeKey(id)}`, 'Exchange item id');

/** The item an item key names. */
export type ItemId = { dataverseId: string } | { exchangeId: string };

/** The item a decision table partition is about, or undefined for a partition of something else. */
export function itemOfKey(partitionKey: string): ItemId | undefined {
  if (partitionKey.startsWith('dv-')) return { dataverseId: partitionKey.slice(3) };
  if (partitionKey.startsWith('ex-')) return { exchangeId: decodeKey(partitionKey.slice(3)) };
  return undefined;
}

const invertedTime = (at: string) => String(maxTime - (Date.parse(at) || 0)).padStart(13, '0');

/** A decision row's key: newest first within the mailbox, a random tail so two decisions of one millisecond both stay. */
const decisionRowKey = (mailbox: string, at: string) => `${mailbox}${separator}${invertedTime(at)}${separator}${randomBytes(4).toString('hex')}`;

/** What a row of the decisions table is, from its RowKey and columns. */
export type StoredDecisionRow =
  | { type: 'decision'; rowKey: string; mailbox: string; decision: Decision }
  | { type: 'unlinked'; rowKey: string; mailbox: string; at: string }
  | { type: 'legacy'; rowKey: string; mailbox: string; decisions: Decision[]; lastSync: ItemDecisions['lastSync'] };

type RawRow = { rowKey?: string; decision?: string; decisions?: string; lastSync?: string; at?: string };

/** Reads one row; undefined for one this release does not understand (written by hand, by a newer release). */
export function parseDecisionRow(row: RawRow): StoredDecisionRow | undefined {
  const rowKey = row.rowKey ?? '';
  const cut = rowKey.indexOf(separator);
  if (cut < 0) {
    if (typeof row.decisions !== 'string') return undefined;
    const decisions = z.array(decisionSchema).safeParse(JSON.parse(row.decisions));
    if (!decisions.success) return undefined;
    return { type: 'legacy', rowKey, mailbox: rowKey, decisions: decisions.data, lastSync: typeof row.lastSync === 'string' ? (JSON.parse(row.lastSync) as ItemDecisions['lastSync']) : {} };
  }
  const mailbox = rowKey.slice(0, cut);
  if (rowKey.slice(cut + 1) === unlinkedSuffix) return typeof row.at === 'string' ? { type: 'unlinked', rowKey, mailbox, at: row.at } : undefined;
  if (typeof row.decision !== 'string') return undefined;
  const decision = decisionSchema.safeParse(JSON.parse(row.decision));
  return decision.success ? { type: 'decision', rowKey, mailbox, decision: decision.data } : undefined;
}

/** The last write per direction and the last unlink, from an item's rows in one mailbox. */
function lastSyncOf(rows: readonly StoredDecisionRow[]): ItemDecisions['lastSync'] {
  const lastSync: ItemDecisions['lastSync'] = {};
  const later = (a: string | undefined, b: string) => (a === undefined || b > a ? b : a);
  for (const row of rows) {
    if (row.type === 'unlinked') lastSync.unlinkedAt = later(lastSync.unlinkedAt, row.at);
    const decisions = row.type === 'decision' ? [row.decision] : row.type === 'legacy' ? row.decisions : [];
    if (row.type === 'legacy') {
      for (const dir of ['toExchange', 'toDataverse', 'unlinkedAt'] as const) {
        const at = row.lastSync[dir];
        if (at) lastSync[dir] = later(lastSync[dir], at);
      }
    }
    for (const d of decisions) {
      if (d.outcome && writingOutcomes.has(d.outcome)) lastSync[d.direction] = later(lastSync[d.direction], d.at);
      if (d.outcome === 'unlinked') lastSync.unlinkedAt = later(lastSync.unlinkedAt, d.at);
    }
  }
  return lastSync;
}

/** How long decisions are kept (docs/operations.md, "Decision retention"). */
export interface DecisionRetention {
  /** Decisions kept per item and mailbox (the newest; the newest write per direction is kept beside them). */
  keep: number;
  /** An item no longer paired in a mailbox: its decisions there older than this are dropped. */
  dropAfterMs: number;
}

/**
 * The rows of one item in one mailbox that retention deletes (pure): beyond the newest `keep` decisions, except the
 * newest decision that wrote in each direction (explain's "last sync"); and, once the item is not paired there,
 * every decision older than `dropAfterMs`. The unlink record is never deleted (a later create looks for the copy it
 * left); a row of the release before is deleted only with the unpaired item's old decisions, its unlink kept.
 */
export function rowsToTrim(rows: readonly StoredDecisionRow[], paired: boolean, now: number, retention: DecisionRetention): { delete: string[]; unlinkedAt?: string } {
  const decisions = rows.filter((r): r is Extract<StoredDecisionRow, { type: 'decision' }> => r.type === 'decision').sort((a, b) => b.decision.at.localeCompare(a.decision.at));
  const keep = new Set(decisions.slice(0, retention.keep).map((r) => r.rowKey));
  for (const direction of ['toExchange', 'toDataverse'] as const) {
    const lastWrite = decisions.find((r) => r.decision.direction === direction && r.decision.outcome !== undefined && writingOutcomes.has(r.decision.outcome));
    if (lastWrite) keep.add(lastWrite.rowKey);
  }
  const old = (at: string) => now - Date.parse(at) > retention.dropAfterMs;
  const out = decisions.filter((r) => !keep.has(r.rowKey) || (!paired && old(r.decision.at))).map((r) => r.rowKey);
  let unlinkedAt: string | undefined;
  for (const legacy of rows) {
    if (legacy.type !== 'legacy' || paired || !legacy.decisions.every((d) => old(d.at))) continue;
    out.push(legacy.rowKey);
    if (legacy.lastSync.unlinkedAt && !rows.some((r) => r.type === 'unlinked')) unlinkedAt = legacy.lastSync.unlinkedAt;
  }
  return unlinkedAt ? { delete: out, unlinkedAt } : { delete: out };
}

export class DecisionStore {
  constructor(
    private readonly table: TableClient,
    /** Decisions explain shows per item and mailbox. */
    private readonly keep = 10,
  ) {}

  /**
   * Appends a decision under each id it names (Dataverse and Exchange): one insert each. Best effort by design: the
   * record explains the sync, it must never fail it (the caller may `.catch` and log).
   */
  async record(mailboxId: string | undefined, decision: Decision): Promise<void> {
    const parsed = decisionSchema.parse(decision);
    const keys: string[] = [];
    if (parsed.dataverseId) keys.push(dvKey(parsed.dataverseId));
    if (parsed.exchangeId) keys.push(exKey(parsed.exchangeId));
    if (keys.length === 0) throw new SyncError('InvalidInput', 'a decision needs a Dataverse id or an Exchange id', { field: 'decision' });
    const mailbox = checkedKey(mailboxId?.toLowerCase() ?? noMailbox, 'mailbox id');
    const json = JSON.stringify(parsed);
    const writes = keys.map((partitionKey) => this.insert({ partitionKey, rowKey: decisionRowKey(mailbox, parsed.at), decision: json }));
    // Only an unlink of a Dataverse record is looked for later (wasUnlinked); an upsert, so a repeat costs nothing new.
    if (parsed.outcome === 'unlinked' && parsed.dataverseId) writes.push(this.markUnlinked(dvKey(parsed.dataverseId), mailbox, parsed.at));
    await Promise.all(writes);
  }

  private async insert(entity: { partitionKey: string; rowKey: string; decision: string }): Promise<void> {
    try {
      await this.table.createEntity(entity);
    } catch (error) {
      // A key of the same millisecond and the same 32 random bits: keep the other row's decision, record this one anew.
      if (tableStatus(error) !== 409) throw translateTableError(error);
      const at = (JSON.parse(entity.decision) as Decision).at;
      await this.table.createEntity({ ...entity, rowKey: decisionRowKey(entity.rowKey.split(separator)[0]!, at) }).catch((again: unknown) => {
        throw translateTableError(again);
      });
    }
  }

  private async markUnlinked(partitionKey: string, mailbox: string, at: string): Promise<void> {
    try {
      await this.table.upsertEntity({ partitionKey, rowKey: `${mailbox}${separator}${unlinkedSuffix}`, at }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** Whether the sync once unlinked this record in this mailbox (its Exchange copy may still carry the stamp). */
  async wasUnlinked(mailboxId: string, dataverseId: string): Promise<boolean> {
    const mailbox = checkedKey(mailboxId.toLowerCase(), 'mailbox id');
    if (await getEntityOrUndefined(this.table, dvKey(dataverseId), `${mailbox}${separator}${unlinkedSuffix}`)) return true;
    // A record unlinked before this release: its row kept the unlink in lastSync.
    const legacy = await getEntityOrUndefined<{ lastSync: string }>(this.table, dvKey(dataverseId), mailbox);
    return legacy !== undefined && (JSON.parse(legacy.lastSync) as ItemDecisions['lastSync']).unlinkedAt !== undefined;
  }

  /** Every mailbox's record of an item, by its Dataverse id or its Exchange id. */
  async lookup(id: ItemId): Promise<ItemDecisions[]> {
    const partitionKey = 'dataverseId' in id ? dvKey(id.dataverseId) : exKey(id.exchangeId);
    const byMailbox = new Map<string, StoredDecisionRow[]>();
    for (const row of await this.rowsOf(partitionKey)) byMailbox.set(row.mailbox, [...(byMailbox.get(row.mailbox) ?? []), row]);
    return [...byMailbox].map(([mailbox, rows]) => ({
      mailboxId: mailbox === noMailbox ? undefined : mailbox,
      itemKey: partitionKey,
      decisions: rows
        .flatMap((r) => (r.type === 'decision' ? [r.decision] : r.type === 'legacy' ? r.decisions : []))
        .sort((a, b) => b.at.localeCompare(a.at))
        .slice(0, this.keep),
      lastSync: lastSyncOf(rows),
    }));
  }

  private async rowsOf(partitionKey: string): Promise<StoredDecisionRow[]> {
    const rows: StoredDecisionRow[] = [];
    try {
      for await (const row of this.table.listEntities<RawRow>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } })) {
        const parsed = parseDecisionRow(row);
        if (parsed) rows.push(parsed);
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return rows;
  }

  /**
   * One page of the decisions table for the retention pass: its item partitions with their rows by mailbox, and the
   * continuation. An item cut by the page's end is seen in part here and the rest on the next page; each part is
   * trimmed on its own, which can keep a few more rows than `keep` (never fewer).
   */
  async page(options: { pageSize: number; continuation?: string | undefined }): Promise<{ items: { partitionKey: string; item: ItemId; mailboxes: Map<string, StoredDecisionRow[]> }[]; continuation?: string | undefined }> {
    try {
      const pages = this.table.listEntities<RawRow & { partitionKey?: string }>().byPage({ maxPageSize: options.pageSize, ...(options.continuation ? { continuationToken: options.continuation } : {}) });
      const first = await pages.next();
      if (first.done) return { items: [] };
      const items = new Map<string, { partitionKey: string; item: ItemId; mailboxes: Map<string, StoredDecisionRow[]> }>();
      for (const raw of first.value) {
        const partitionKey = raw.partitionKey ?? '';
        const item = itemOfKey(partitionKey);
        const row = parseDecisionRow(raw);
        if (!item || !row) continue;
        const entry = items.get(partitionKey) ?? { partitionKey, item, mailboxes: new Map<string, StoredDecisionRow[]>() };
        entry.mailboxes.set(row.mailbox, [...(entry.mailboxes.get(row.mailbox) ?? []), row]);
        items.set(partitionKey, entry);
      }
      return { items: [...items.values()], continuation: first.value.continuationToken };
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** Deletes these rows of one item (entity-group transactions of at most 100) and keeps an unlink a legacy row held. */
  async trim(partitionKey: string, mailbox: string, rowKeys: readonly string[], unlinkedAt?: string): Promise<void> {
    if (unlinkedAt) await this.markUnlinked(partitionKey, mailbox, unlinkedAt);
    for (let i = 0; i < rowKeys.length; i += 100) {
      const actions: TransactionAction[] = rowKeys.slice(i, i + 100).map((rowKey) => ['delete', { partitionKey, rowKey }]);
      try {
        await this.table.submitTransaction(actions);
      } catch (error) {
        // A row another pass deleted first fails the whole group (404): delete one by one, 404 being the expected answer.
        if (tableStatus(error) !== 404 && !(error instanceof Error && /ResourceNotFound|404/.test(error.message))) throw translateTableError(error);
        for (const rowKey of rowKeys.slice(i, i + 100)) {
          await this.table.deleteEntity(partitionKey, rowKey).catch((one: unknown) => {
            if (tableStatus(one) !== 404) throw translateTableError(one);
          });
        }
      }
    }
  }
}
