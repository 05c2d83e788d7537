// The decision record behind `explain <item>`: for each item (by its Dataverse id and by its Exchange id) and
// mailbox, the last decisions the sync took for it with their reasons, and the last sync per direction. The
// engine appends what the planner decided and how it ended; the worker appends a dead-lettering; the breaker
// appends the deletes it holds. `explain` is then a lookup, not a guess.
//
// One row per (item key, mailbox): PartitionKey "dv-<id>" or "ex-<base64url id>", RowKey the mailbox id (or "-"
// for a decision that concerns no mailbox, such as a record no enabled mailbox's scope reaches). The row keeps
// the latest `keep` decisions, so the table grows with the items, not with the changes.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { checkedKey, encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

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
const writingOutcomes = new Set(['created', 'updated', 'linked', 'deleted']);
const noMailbox = '-';

const dvKey = (id: string) => checkedKey(`dv-${id.toLowerCase()}`, 'Dataverse id');
const exKey = (id: string) => checkedKey(`ex-${encodeKey(id)}`, 'Exchange item id');

type Row = { decisions: string; lastSync: string };

export class DecisionStore {
  constructor(
    private readonly table: TableClient,
    /** Decisions kept per item and mailbox. */
    private readonly keep = 10,
  ) {}

  /**
   * Appends a decision under each id it names (Dataverse and Exchange). Best effort by design: the record explains
   * the sync, it must never fail it, so a write that keeps meeting concurrent writers gives up after a few tries
   * (the caller may `.catch` and log).
   */
  async record(mailboxId: string | undefined, decision: Decision): Promise<void> {
    const parsed = decisionSchema.parse(decision);
    const keys: string[] = [];
    if (parsed.dataverseId) keys.push(dvKey(parsed.dataverseId));
    if (parsed.exchangeId) keys.push(exKey(parsed.exchangeId));
    if (keys.length === 0) throw new SyncError('InvalidInput', 'a decision needs a Dataverse id or an Exchange id', { field: 'decision' });
    await Promise.all(keys.map((key) => this.append(key, mailboxId?.toLowerCase() ?? noMailbox, parsed)));
  }

  private async append(partitionKey: string, rowKey: string, decision: Decision): Promise<void> {
    checkedKey(rowKey, 'mailbox id');
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const row = await getEntityOrUndefined<Row>(this.table, partitionKey, rowKey);
      const decisions = row ? (JSON.parse(row.decisions) as Decision[]) : [];
      const lastSync = row ? (JSON.parse(row.lastSync) as ItemDecisions['lastSync']) : {};
      decisions.unshift(decision);
      if (decision.outcome && writingOutcomes.has(decision.outcome)) lastSync[decision.direction] = decision.at;
      if (decision.outcome === 'unlinked') lastSync.unlinkedAt = decision.at;
      const entity = { partitionKey, rowKey, decisions: JSON.stringify(decisions.slice(0, this.keep)), lastSync: JSON.stringify(lastSync) };
      try {
        if (row) await this.table.updateEntity(entity, 'Replace', { etag: row.etag });
        else await this.table.createEntity(entity);
        return;
      } catch (error) {
        const status = tableStatus(error);
        if (status !== 412 && status !== 409) throw translateTableError(error);
      }
    }
    throw new SyncError('PreconditionFailed', 'decision record kept changing; decision not recorded');
  }

  /** Whether the sync once unlinked this record in this mailbox (its Exchange copy may still carry the stamp). */
  async wasUnlinked(mailboxId: string, dataverseId: string): Promise<boolean> {
    const row = await getEntityOrUndefined<Row>(this.table, dvKey(dataverseId), checkedKey(mailboxId.toLowerCase(), 'mailbox id'));
    return row !== undefined && (JSON.parse(row.lastSync) as ItemDecisions['lastSync']).unlinkedAt !== undefined;
  }

  /** Every mailbox's record of an item, by its Dataverse id or its Exchange id. */
  async lookup(id: { dataverseId: string } | { exchangeId: string }): Promise<ItemDecisions[]> {
    const partitionKey = 'dataverseId' in id ? dvKey(id.dataverseId) : exKey(id.exchangeId);
    const out: ItemDecisions[] = [];
    try {
      for await (const row of this.table.listEntities<Row & { rowKey: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } })) {
        out.push({
          mailboxId: row.rowKey === noMailbox ? undefined : row.rowKey,
          itemKey: partitionKey,
          decisions: z.array(decisionSchema).parse(JSON.parse(row.decisions)),
          lastSync: JSON.parse(row.lastSync) as ItemDecisions['lastSync'],
        });
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }
}
