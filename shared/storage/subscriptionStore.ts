// Graph subscriptions the sync created: the clientState each notification must carry, and the expiry to renew by.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { constantTimeEquals } from '../constantTime.js';
import { subscriptionKindNames } from '../sync/kinds/index.js';
import { checkedKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

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

export class SubscriptionStore {
  constructor(private readonly table: TableClient) {}

  async get(id: string): Promise<SubscriptionRecord | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, partition, checkedKey(id, 'subscription id'));
    return entity ? subscriptionRecordSchema.parse(JSON.parse(entity.data)) : undefined;
  }

  async put(record: SubscriptionRecord): Promise<void> {
    const data = subscriptionRecordSchema.parse(record);
    try {
      await this.table.upsertEntity({ partitionKey: partition, rowKey: checkedKey(data.id, 'subscription id'), data: JSON.stringify(data), mailboxId: data.mailboxId }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.table.deleteEntity(partition, checkedKey(id, 'subscription id'));
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }

  async list(mailboxId?: string): Promise<SubscriptionRecord[]> {
    const out: SubscriptionRecord[] = [];
    const filter = mailboxId ? odata`PartitionKey eq ${partition} and mailboxId eq ${mailboxId}` : odata`PartitionKey eq ${partition}`;
    try {
      for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter } })) out.push(subscriptionRecordSchema.parse(JSON.parse(row.data)));
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }
}

/** Compares a notification's clientState with the stored one in constant time. */
export function clientStateMatches(expected: string, given: string | undefined | null): boolean {
  return constantTimeEquals(expected, given);
}
