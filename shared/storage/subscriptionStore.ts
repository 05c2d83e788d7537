// Graph subscriptions the sync created: the clientState each notification must carry, and the expiry to renew by.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { constantTimeEquals } from '../constantTime.js';
import { subscriptionKindNames } from '../sync/kinds/index.js';
import { buildOnce, checkedKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

/** The kinds of subscription this version creates and syncs (shared/sync/subscriptions.ts). */
export const subscriptionKinds = subscriptionKindNames;
export type SubscriptionKind = (typeof subscriptionKinds)[number];

export const subscriptionRecordSchema = z.object({
  id: z.string().min(1),
  mailboxId: z.string().min(1),
  /**
   * events or contacts. Any other name is read as it is, not refused: a row another version wrote (a newer one
   * before a rollback) must still authenticate its notifications, which are then accepted and dropped.
   */
  resourceKind: z.string().min(1).max(64),
  resource: z.string().min(1),
  clientState: z.string().min(16).max(128),
  expirationDateTime: z.string(),
  createdOn: z.string(),
  /** The notification URL it was created with (without it, a rotated function key goes unnoticed). */
  notificationUrl: z.string().optional(),
});
export type SubscriptionRecord = z.infer<typeof subscriptionRecordSchema>;

const partition = 'subscription';
/**
 * Each mailbox's subscriptions are also kept in a partition of their own (the same JSON), so listing one mailbox's
 * reads only its rows: the records' own partition holds every subscription of the tenant (two or three per mailbox),
 * and a filter on a column that is not a key makes Table Storage scan all of them, once per mailbox per renewal and
 * per enable: work growing with the square of the mailboxes (issue 19 item 5). The records stay keyed by id alone,
 * since a notification names only its subscription.
 */
const mailboxPartition = (mailboxId: string) => checkedKey(`mailbox~${mailboxId.toLowerCase()}`, 'mailbox id');
/** Its row says every record has its mailbox row (a table from before the index has none: see ensureIndex). */
const indexMarker = { partitionKey: 'index', rowKey: 'byMailbox-v1' } as const;
/** A record's row in one of its two partitions (the same columns in both). */
const rowOf = (partitionKey: string, r: SubscriptionRecord) => ({ partitionKey, rowKey: checkedKey(r.id, 'subscription id'), data: JSON.stringify(r), mailboxId: r.mailboxId });

export class SubscriptionStore {
  constructor(private readonly table: TableClient) {}

  async get(id: string): Promise<SubscriptionRecord | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, partition, checkedKey(id, 'subscription id'));
    return entity ? subscriptionRecordSchema.parse(JSON.parse(entity.data)) : undefined;
  }

  /**
   * Creates or replaces a record, then its mailbox's row: a crash between the two leaves a record its mailbox's
   * listing does not show, so the renewal creates another subscription for that kind and no notification is refused
   * (the other order left a row the renewal kept renewing whose notifications no record authenticated).
   */
  async put(record: SubscriptionRecord): Promise<void> {
    const data = subscriptionRecordSchema.parse(record);
    await this.ensureIndex();
    try {
      await this.table.upsertEntity(rowOf(partition, data), 'Replace');
      await this.table.upsertEntity(rowOf(mailboxPartition(data.mailboxId), data), 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** Deletes a record: its mailbox's row first, so a crash between the two leaves no row that names a gone record. */
  async remove(record: Pick<SubscriptionRecord, 'id' | 'mailboxId'>): Promise<void> {
    const rowKey = checkedKey(record.id, 'subscription id');
    for (const partitionKey of [mailboxPartition(record.mailboxId), partition]) {
      try {
        await this.table.deleteEntity(partitionKey, rowKey);
      } catch (error) {
        if (tableStatus(error) !== 404) throw translateTableError(error);
      }
    }
  }

  /** Every record, or one mailbox's (from its own partition: no scan of the tenant's). */
  async list(mailboxId?: string): Promise<SubscriptionRecord[]> {
    if (mailboxId !== undefined) await this.ensureIndex();
    const filter = mailboxId === undefined ? odata`PartitionKey eq ${partition}` : odata`PartitionKey eq ${mailboxPartition(mailboxId)}`;
    const out: SubscriptionRecord[] = [];
    try {
      for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter } })) out.push(subscriptionRecordSchema.parse(JSON.parse(row.data)));
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }

  /**
   * A table written before the mailbox rows existed has none: the first listing by mailbox or put of the process
   * writes them from one scan and marks the index built, so such a deployment scans once (every later put and remove
   * keeps the rows itself); a table that starts empty is marked by its first put. Left open: a record an instance of
   * the release before writes after the marker (while a deployment rolls over) has no mailbox row; its mailbox's
   * renewal then creates another subscription for that kind, and the record's own subscription lapses at its expiry.
   */
  private readonly ensureIndex = buildOnce(() => this.table, indexMarker, async () => {
    const all = await this.list();
    try {
      for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map((r) => this.table.upsertEntity(rowOf(mailboxPartition(r.mailboxId), r), 'Replace')));
    } catch (error) {
      throw translateTableError(error);
    }
  });
}

/** Compares a notification's clientState with the stored one in constant time. */
export function clientStateMatches(expected: string, given: string | undefined | null): boolean {
  return constantTimeEquals(expected, given);
}
