// The Budget table: one lease row per mailbox (partition "graph", shared/budget/lease.ts) and one heartbeat row per
// running instance (partition "instances"), from which each instance takes its share of the Dataverse budget. The
// lease is one JSON column, so its times survive as numbers whatever the table's typing.
import { odata, type TableClient } from '@azure/data-tables';
import { parseLeaseRow, type LeaseRow } from '../budget/lease.js';
import type { LeasePort } from '../budget/mailboxBudget.js';
import { checkedKey, encodeKey, tableStatus, translateTableError } from './tables.js';

const leasePartition = 'graph';
const instancePartition = 'instances';
const mailboxKey = (mailbox: string) => checkedKey(encodeKey(mailbox.toLowerCase()), 'mailbox');
const instanceKey = (id: string) => checkedKey(encodeKey(id), 'instance id');

export class BudgetStore implements LeasePort {
  constructor(private readonly table: TableClient) {}

  async read(mailbox: string): Promise<{ row: LeaseRow; etag: string } | undefined> {
    try {
      const entity = await this.table.getEntity<{ lease?: string }>(leasePartition, mailboxKey(mailbox));
      let parsed: unknown;
      try {
        parsed = JSON.parse(entity.lease ?? '');
      } catch {
        parsed = undefined;
      }
      const row = parseLeaseRow(parsed);
      // A row that is not a lease (written by hand) is replaced by the next take, conditionally on its etag.
      return row ? { row, etag: entity.etag } : { row: { holder: '', expiresAt: 0, bucket: { tokens: 0, at: 0 }, pausedUntil: 0, wantedBy: '', wantedAt: 0 }, etag: entity.etag };
    } catch (error) {
      if (tableStatus(error) === 404) return undefined;
      throw translateTableError(error);
    }
  }

  async create(mailbox: string, row: LeaseRow): Promise<string | undefined> {
    try {
      return (await this.table.createEntity({ partitionKey: leasePartition, rowKey: mailboxKey(mailbox), lease: JSON.stringify(row) })).etag;
    } catch (error) {
      // Another instance created it first: the only expected failure.
      if (tableStatus(error) === 409) return undefined;
      throw translateTableError(error);
    }
  }

  async replace(mailbox: string, row: LeaseRow, etag: string): Promise<string | undefined> {
    try {
      return (await this.table.updateEntity({ partitionKey: leasePartition, rowKey: mailboxKey(mailbox), lease: JSON.stringify(row) }, 'Replace', { etag })).etag;
    } catch (error) {
      // The row changed since it was read (412) or is gone (404): the caller reads again.
      const status = tableStatus(error);
      if (status === 412 || status === 404) return undefined;
      throw translateTableError(error);
    }
  }

  /** This instance is alive at `now`. */
  async beat(instanceId: string, now: number): Promise<void> {
    try {
      await this.table.upsertEntity({ partitionKey: instancePartition, rowKey: instanceKey(instanceId), beat: JSON.stringify(now) }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** How many instances beat since `since` (ms since the epoch). */
  async liveInstances(since: number): Promise<number> {
    let live = 0;
    try {
      for await (const row of this.table.listEntities<{ beat?: string }>({ queryOptions: { filter: odata`PartitionKey eq ${instancePartition}`, select: ['beat'] } })) {
        if (Number(row.beat) >= since) live += 1;
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return live;
  }

  /** Removes this instance's heartbeat (it stops). */
  async leave(instanceId: string): Promise<void> {
    try {
      await this.table.deleteEntity(instancePartition, instanceKey(instanceId));
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }
}
