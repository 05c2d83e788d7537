// The correlation store: per mailbox, the pairing of a Dataverse record and an Exchange item, each side's
// last-written version, and the last-synced field values (the base of the three-way merge).
// Both lookup directions live in the mailbox's partition and are written in one entity-group transaction; every
// update is conditional on the row's etag, so two workers can never both believe they own the latest state.
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { SyncError, isSyncError } from '../errors.js';
import { compactSnapshot, type BaseSnapshot } from '../sync/base.js';
import type { KindName } from '../sync/kinds/index.js';
import { checkedKey, encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

export { baseValueEquals, compactSnapshot, type BaseSnapshot } from '../sync/base.js';

/** The kind of a pair: one of shared/sync/kinds/. */
export type ItemKind = KindName;

export interface Pair {
  mailboxId: string;
  kind: ItemKind;
  /** Dataverse table logical name: appointment, task, phonecall, letter, fax, contact. */
  dataverseEntity: string;
  dataverseId: string;
  /** Graph id (immutable id) of the Exchange item; absent while a create is in flight. */
  exchangeId?: string | undefined;
  /** To Do list of a todoTask. */
  exchangeListId?: string | undefined;
  /** iCalUId of a meeting (one Dataverse appointment links every attendee's copy). */
  iCalUId?: string | undefined;
  /** @odata.etag of the Dataverse record as last written or read by the sync. */
  dataverseEtag?: string | undefined;
  /** @odata.etag (changeKey) of the Exchange item as last written or read by the sync. */
  exchangeEtag?: string | undefined;
  /** Last-synced canonical field values. */
  base: BaseSnapshot;
  /** 'pending': the Exchange create is in flight (transactionId set); 'linked': both sides exist. */
  status: 'pending' | 'linked';
  /** Graph transactionId of an in-flight create, so a retry returns the same event instead of a duplicate. */
  transactionId?: string | undefined;
  /**
   * Who claimed the create of a pending pair: the correlation id of the change doing it. Another change of the same
   * record meeting a fresh claim that is not its own waits and decides again (shared/sync/execute.ts), since
   * changes of one item may run at once (shared/servicebus/queues.ts); a retry of the same change carries the same
   * correlation id and takes up its own claim.
   */
  claimedBy?: string | undefined;
  /** Whether the syncing user organizes the meeting (delete and invitation rules). */
  isOrganizer?: boolean | undefined;
  /**
   * An attendee's copy of a meeting that another synced mailbox organizes: that mailbox's pair carries the meeting,
   * so this copy is a mirror (only personal fields are written to it, nothing flows back from it).
   */
  mirror?: boolean | undefined;
  updatedOn?: string | undefined;
}

/**
 * What a delete that only unlinks leaves behind (server-side sync's rules: a task or contact deleted in Exchange, a
 * task deleted in Dynamics 365 while completed in To Do, ...): the copy that remains, and its version when the pair
 * was forgotten. That copy is not synced back to the side that deleted it unless it changes again
 * (https://learn.microsoft.com/power-platform/admin/sync-logic), so the create path reads this before creating.
 * Kept in the mailbox's partition under its own row prefixes, outside the pair rows (`dv-`) and the pointers (`ex-`),
 * so no reader of pairs ever sees one.
 */
export interface UnlinkedCopy {
  mailboxId: string;
  /** The side whose copy remains. */
  remains: 'dataverse' | 'exchange';
  /** The remaining copy's id: a Dataverse id, or an Exchange id. */
  id: string;
  /** Its @odata.etag when it was unlinked (Dataverse: W/"<versionnumber>"; Exchange: the changeKey etag). */
  version: string | undefined;
  /** Why it was unlinked (the delete rule's reason), in words for people: decisions go by `cause`. */
  reason: string;
  /** What unlinked it: a delete rule (the other side's copy was deleted), or the record leaving the mailbox's scope. */
  cause: UnlinkCause;
  at: string;
}

/** What let go of a copy that stays behind (UnlinkedCopy.cause). */
export type UnlinkCause = 'deleted' | 'outOfScope';

const isUnlinkCause = (value: string | undefined): value is UnlinkCause => value === 'deleted' || value === 'outOfScope';

/**
 * The cause of a stored unlinked copy. Rows written before the cause was stored have none: for them it is read from
 * the reason's text as it was decided before (an out-of-scope unlink's reason starts with "out of scope", a delete
 * rule's never does), so the rows of a deployed table keep the meaning they were written with.
 */
function causeOf(row: { cause?: string; reason: string }): UnlinkCause {
  if (isUnlinkCause(row.cause)) return row.cause;
  return row.reason.startsWith('out of scope') ? 'outOfScope' : 'deleted';
}

export interface StoredPair extends Pair {
  /** Table etag of the pair row: pass it back to update or remove. */
  rowEtag: string;
}

type PairEntity = {
  partitionKey: string;
  rowKey: string;
  kind: string;
  dataverseEntity: string;
  dataverseId: string;
  exchangeId?: string;
  exchangeListId?: string;
  iCalUId?: string;
  dataverseEtag?: string;
  exchangeEtag?: string;
  base: string;
  status: string;
  transactionId?: string;
  claimedBy?: string;
  isOrganizer?: boolean;
  mirror?: boolean;
  updatedOn: string;
};

type PointerEntity = {
  partitionKey: string;
  rowKey: string;
  dataverseId: string;
  kind: string;
  /**
   * The pair's exchangeEtag and table, written in the same entity-group transaction as the pair row every time the
   * pair changes, so a notification of the sync's own write is told from the pointer alone (echoOf). Cleared before
   * a remove; a pointer from before they were kept has neither, and then the pair is read.
   */
  exchangeEtag?: string;
  dataverseEntity?: string;
};

/** What a pointer row tells of its pair when it is known to be the pair's (PairStore.echoOf). */
export type PointerFacts = Pick<Pair, 'dataverseId' | 'dataverseEntity' | 'exchangeEtag'>;

// Every key is checked before use (checkedKey): an id from a message or a notification never reaches Table Storage
// as a key it cannot take.
const pairRow = (dataverseId: string) => checkedKey(`dv-${dataverseId.toLowerCase()}`, 'Dataverse id');
const pointerRow = (exchangeId: string) => checkedKey(`ex-${encodeKey(exchangeId)}`, 'Exchange item id');
const unlinkedRow = (copy: Pick<UnlinkedCopy, 'remains' | 'id'>) =>
  copy.remains === 'dataverse' ? checkedKey(`ud-${copy.id.toLowerCase()}`, 'Dataverse id') : checkedKey(`ue-${encodeKey(copy.id)}`, 'Exchange item id');
const recordIndexPartition = (dataverseId: string) => checkedKey(`rec-${dataverseId.toLowerCase()}`, 'Dataverse id');
const mailboxPartition = (mailboxId: string) => checkedKey(`mbx-${mailboxId.toLowerCase()}`, 'mailbox id');
const mailboxRow = (mailboxId: string) => checkedKey(mailboxId.toLowerCase(), 'mailbox id');

export class PairStore {
  constructor(private readonly table: TableClient) {}

  /** The pair of a Dataverse record in a mailbox. */
  async get(mailboxId: string, dataverseId: string): Promise<StoredPair | undefined> {
    const entity = await getEntityOrUndefined<PairEntity>(this.table, mailboxPartition(mailboxId), pairRow(dataverseId));
    return entity ? fromEntity(mailboxId, entity) : undefined;
  }

  /** The pair of an Exchange item in a mailbox (through the pointer row). */
  async getByExchangeId(mailboxId: string, exchangeId: string): Promise<StoredPair | undefined> {
    const pointer = await getEntityOrUndefined<PointerEntity>(this.table, mailboxPartition(mailboxId), pointerRow(exchangeId));
    if (!pointer) return undefined;
    const pair = await this.get(mailboxId, pointer.dataverseId);
    // A pointer whose pair has moved on to another Exchange item is stale: treat as unpaired.
    return pair && pair.exchangeId === exchangeId ? pair : undefined;
  }

  /**
   * The pair of an Exchange item in a mailbox when the notification's etag is the one the sync recorded, told from
   * the pointer row alone (one read instead of two): `echo` with the pair's facts. Otherwise `pair`, read as
   * getByExchangeId does (the pointer read is not repeated). Every write of a pair rewrites its pointer in the same
   * transaction and a remove clears the pointer's etag first, so a pointer with the notification's etag is the
   * pair's as it is now: never a removed pair's or an older version's.
   */
  async echoOf(mailboxId: string, exchangeId: string, etag: string | undefined): Promise<{ echo: PointerFacts } | { pair: StoredPair | undefined }> {
    const pointer = await getEntityOrUndefined<PointerEntity>(this.table, mailboxPartition(mailboxId), pointerRow(exchangeId));
    if (!pointer) return { pair: undefined };
    if (etag !== undefined && pointer.exchangeEtag === etag && pointer.dataverseEntity !== undefined) {
      return { echo: { dataverseId: pointer.dataverseId, dataverseEntity: pointer.dataverseEntity, exchangeEtag: pointer.exchangeEtag } };
    }
    const pair = await this.get(mailboxId, pointer.dataverseId);
    return { pair: pair && pair.exchangeId === exchangeId ? pair : undefined };
  }

  /** The Dataverse id an Exchange item's pointer names (a hint: one read, not checked against the pair). */
  async pointedDataverseId(mailboxId: string, exchangeId: string): Promise<string | undefined> {
    return (await getEntityOrUndefined<PointerEntity>(this.table, mailboxPartition(mailboxId), pointerRow(exchangeId)))?.dataverseId;
  }

  /** Mailboxes that hold a pair for this Dataverse record (from the record index; verify with get()). */
  async mailboxesOf(dataverseId: string): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const row of this.table.listEntities<{ rowKey: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${recordIndexPartition(dataverseId)}`, select: ['RowKey'] },
      })) {
        out.push(row.rowKey);
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }

  /** Creates a pair; AlreadyExists when the mailbox already pairs this record (another worker won the race). */
  async create(pair: Pair): Promise<StoredPair> {
    await this.indexRecord(pair.mailboxId, pair.dataverseId);
    const entity = toEntity(pair);
    const actions: TransactionAction[] = [['create', entity]];
    if (pair.exchangeId) actions.push(['upsert', pointer(pair, pair.exchangeId), 'Replace']);
    const rowEtag = await this.submit(actions, 0);
    return { ...pair, rowEtag, updatedOn: entity.updatedOn };
  }

  /** Replaces a pair if nobody changed it since `current` was read; moves the pointer when the Exchange id changed. */
  async update(current: StoredPair, next: Pair): Promise<StoredPair> {
    const entity = toEntity(next);
    const actions: TransactionAction[] = [['update', entity, 'Replace', { etag: current.rowEtag }]];
    // The pointer goes with every update (it carries the pair's exchangeEtag: echoOf); the same transaction, so no
    // extra request.
    if (next.exchangeId) actions.push(['upsert', pointer(next, next.exchangeId), 'Replace']);
    if (current.exchangeId && current.exchangeId !== next.exchangeId) actions.push(['delete', { partitionKey: mailboxPartition(current.mailboxId), rowKey: pointerRow(current.exchangeId) }]);
    try {
      const rowEtag = await this.submit(actions, 0);
      return { ...next, rowEtag, updatedOn: entity.updatedOn };
    } catch (error) {
      if (!isSyncError(error, 'NotFound')) throw error;
      // A 404 fails the whole transaction: the pair row is gone (another change unlinked it since it was read: a
      // concurrent write, so PreconditionFailed, re-read and decide again; not "the item is gone", which callers
      // read NotFound as), or only the old pointer row is (a crash between the two rows of a remove): then the
      // update goes through without deleting it.
      const row = await getEntityOrUndefined<PairEntity>(this.table, entity.partitionKey, entity.rowKey);
      if (!row || row.etag !== current.rowEtag || actions.length < 2 || actions.at(-1)![0] !== 'delete') throw goneSinceRead(error);
      const rowEtag = await this.submit(actions.slice(0, -1), 0);
      return { ...next, rowEtag, updatedOn: entity.updatedOn };
    }
  }

  /**
   * Points a pair at another record of the same item (a single appointment made a series: AddRecurrence deletes the
   * appointment and creates the series). The new pair row, the Exchange pointer and the old row's delete go in one
   * entity-group transaction, so no reader sees the item paired twice or not at all; AlreadyExists when the new
   * record is paired already.
   */
  async repoint(current: StoredPair, next: Pair): Promise<StoredPair> {
    await this.indexRecord(next.mailboxId, next.dataverseId);
    const entity = toEntity(next);
    const actions: TransactionAction[] = [
      ['create', entity],
      ['delete', { partitionKey: mailboxPartition(current.mailboxId), rowKey: pairRow(current.dataverseId) }],
    ];
    if (next.exchangeId) actions.push(['upsert', pointer(next, next.exchangeId), 'Replace']);
    const rowEtag = await this.submit(actions, 0);
    await this.deleteIgnoringMissing(recordIndexPartition(current.dataverseId), mailboxRow(current.mailboxId));
    return { ...next, rowEtag, updatedOn: entity.updatedOn };
  }

  /**
   * Unlinks: removes the pair if nobody changed it since it was read, then its pointer and index rows. Table
   * transactions cannot make a delete conditional, so the pair row goes first on its own; a pointer left behind by a
   * crash is harmless (getByExchangeId checks it against the pair).
   */
  async remove(current: StoredPair): Promise<void> {
    const partition = mailboxPartition(current.mailboxId);
    // First the pointer loses the pair's etag: a remove that stops half-way (the pair row gone, its pointer not)
    // must not leave a pointer that echoOf would take for the pair's. A merge of that column only: whatever pair the
    // pointer names now keeps its pointer, and a pointer without the etag only costs a pair read.
    if (current.exchangeId) {
      try {
        await this.table.updateEntity({ partitionKey: partition, rowKey: pointerRow(current.exchangeId), exchangeEtag: '' }, 'Merge');
      } catch (error) {
        if (tableStatus(error) !== 404) throw translateTableError(error);
      }
    }
    try {
      await this.table.deleteEntity(partition, pairRow(current.dataverseId), { etag: current.rowEtag });
    } catch (error) {
      // Gone since it was read: another change unlinked it first (a concurrent write, not a missing item).
      if (tableStatus(error) === 404) throw goneSinceRead(error);
      throw translateTableError(error);
    }
    if (current.exchangeId) await this.deleteIgnoringMissing(partition, pointerRow(current.exchangeId));
    await this.deleteIgnoringMissing(recordIndexPartition(current.dataverseId), mailboxRow(current.mailboxId));
  }

  /** Records the copy an unlinking delete left behind (replacing an older record of the same copy). */
  async rememberUnlinked(copy: UnlinkedCopy): Promise<void> {
    const entity = { partitionKey: mailboxPartition(copy.mailboxId), rowKey: unlinkedRow(copy), reason: copy.reason.slice(0, 500), cause: copy.cause, at: copy.at, ...(copy.version ? { version: copy.version } : {}) };
    try {
      await this.table.upsertEntity(entity, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** The record of a copy an unlinking delete left behind in this mailbox, if any. */
  async unlinkedCopy(mailboxId: string, remains: UnlinkedCopy['remains'], id: string): Promise<UnlinkedCopy | undefined> {
    const row = await getEntityOrUndefined<{ reason: string; cause?: string; at: string; version?: string }>(this.table, mailboxPartition(mailboxId), unlinkedRow({ remains, id }));
    return row ? { mailboxId, remains, id, version: row.version, reason: row.reason, cause: causeOf(row), at: row.at } : undefined;
  }

  private async deleteIgnoringMissing(partitionKey: string, rowKey: string): Promise<void> {
    try {
      await this.table.deleteEntity(partitionKey, rowKey);
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }

  /** Every pair of a mailbox (for status and reconciliation). */
  async *listMailbox(mailboxId: string): AsyncGenerator<StoredPair> {
    const iter = this.table.listEntities<PairEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${mailboxPartition(mailboxId)} and RowKey ge ${'dv-'} and RowKey lt ${'dv.'}` },
    });
    for await (const entity of iter) yield fromEntity(mailboxId, entity);
  }

  private async indexRecord(mailboxId: string, dataverseId: string): Promise<void> {
    try {
      await this.table.upsertEntity({ partitionKey: recordIndexPartition(dataverseId), rowKey: mailboxRow(mailboxId) }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** Submits one entity-group transaction; returns the etag of the action at `etagIndex`. */
  private async submit(actions: TransactionAction[], etagIndex: number): Promise<string> {
    try {
      const result = await this.table.submitTransaction(actions);
      const etag = result.getResponseForEntity(rowKeyOf(actions[etagIndex]!))?.etag ?? result.subResponses[etagIndex]?.etag;
      if (!etag) throw new SyncError('Internal', 'table storage returned no etag for the pair row');
      return etag;
    } catch (error) {
      if (error instanceof SyncError) throw error;
      throw translateTableError(error);
    }
  }
}

/**
 * A pair row removed since the caller read it. PreconditionFailed (retryable), like a changed etag: the change
 * decides again from the pair store as it is now. As NotFound it was dead-lettered (not retryable), and an update
 * took it for the other side's item being gone (found by the chaos test's dead letters, test/chaos).
 */
function goneSinceRead(cause: unknown): SyncError {
  return new SyncError('PreconditionFailed', 'table storage: the pair was removed since it was read (concurrent unlink)', { status: 404, cause });
}

function rowKeyOf(action: TransactionAction): string {
  const entity = action[1] as { rowKey?: string };
  return entity.rowKey ?? '';
}

function pointer(pair: Pair, exchangeId: string): PointerEntity {
  return {
    partitionKey: mailboxPartition(pair.mailboxId),
    rowKey: pointerRow(exchangeId),
    dataverseId: pair.dataverseId.toLowerCase(),
    kind: pair.kind,
    dataverseEntity: pair.dataverseEntity,
    ...(pair.exchangeEtag ? { exchangeEtag: pair.exchangeEtag } : {}),
  };
}

function toEntity(pair: Pair): PairEntity {
  const entity: PairEntity = {
    partitionKey: mailboxPartition(pair.mailboxId),
    rowKey: pairRow(pair.dataverseId),
    kind: pair.kind,
    dataverseEntity: pair.dataverseEntity,
    dataverseId: pair.dataverseId.toLowerCase(),
    base: JSON.stringify(compactSnapshot(pair.base)),
    status: pair.status,
    updatedOn: new Date().toISOString(),
  };
  if (pair.exchangeId) entity.exchangeId = pair.exchangeId;
  if (pair.exchangeListId) entity.exchangeListId = pair.exchangeListId;
  if (pair.iCalUId) entity.iCalUId = pair.iCalUId;
  if (pair.dataverseEtag) entity.dataverseEtag = pair.dataverseEtag;
  if (pair.exchangeEtag) entity.exchangeEtag = pair.exchangeEtag;
  if (pair.transactionId) entity.transactionId = pair.transactionId;
  if (pair.claimedBy && pair.status === 'pending') entity.claimedBy = pair.claimedBy;
  if (pair.isOrganizer !== undefined) entity.isOrganizer = pair.isOrganizer;
  if (pair.mirror) entity.mirror = true;
  return entity;
}

function fromEntity(mailboxId: string, e: PairEntity & { etag: string }): StoredPair {
  return {
    mailboxId,
    kind: e.kind as ItemKind,
    dataverseEntity: e.dataverseEntity,
    dataverseId: e.dataverseId,
    exchangeId: e.exchangeId,
    exchangeListId: e.exchangeListId,
    iCalUId: e.iCalUId,
    dataverseEtag: e.dataverseEtag,
    exchangeEtag: e.exchangeEtag,
    base: JSON.parse(e.base) as BaseSnapshot,
    status: e.status === 'pending' ? 'pending' : 'linked',
    transactionId: e.transactionId,
    claimedBy: e.claimedBy,
    isOrganizer: e.isOrganizer,
    mirror: e.mirror,
    updatedOn: e.updatedOn,
    rowEtag: e.etag,
  };
}
