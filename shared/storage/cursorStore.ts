// Cursors: delta links (Graph calendarView/contacts/To Do, Dataverse change tracking), backfill checkpoints, and the
// last successful sync per mailbox and direction. Small JSON values keyed by (scope, name).
import type { TableClient } from '@azure/data-tables';
import { encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

export class CursorStore {
  constructor(private readonly table: TableClient) {}

  async get<T>(scope: string, name: string): Promise<T | undefined> {
    const entity = await getEntityOrUndefined<{ value: string }>(this.table, encodeKey(scope), encodeKey(name));
    return entity ? (JSON.parse(entity.value) as T) : undefined;
  }

  async set(scope: string, name: string, value: unknown): Promise<void> {
    try {
      await this.table.upsertEntity({ partitionKey: encodeKey(scope), rowKey: encodeKey(name), value: JSON.stringify(value), updatedOn: new Date().toISOString() }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  async remove(scope: string, name: string): Promise<void> {
    try {
      await this.table.deleteEntity(encodeKey(scope), encodeKey(name));
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }

  async list<T>(scope: string): Promise<{ name: string; value: T }[]> {
    const out: { name: string; value: T }[] = [];
    try {
      for await (const row of this.table.listEntities<{ rowKey: string; value: string }>({ queryOptions: { filter: `PartitionKey eq '${encodeKey(scope)}'` } })) {
        out.push({ name: Buffer.from(row.rowKey, 'base64url').toString('utf8'), value: JSON.parse(row.value) as T });
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }
}
