// Cursors: delta links (Graph calendarView/contacts/To Do, Dataverse change tracking), backfill checkpoints, and the
// last successful sync per mailbox and direction. Small JSON values keyed by (scope, name).
import { odata, type TableClient } from '@azure/data-tables';
import { checkedKey, encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

const scopeKey = (scope: string) => checkedKey(encodeKey(scope), 'cursor scope');
const nameKey = (name: string) => checkedKey(encodeKey(name), 'cursor name');

export class CursorStore {
  constructor(private readonly table: TableClient) {}

  async get<T>(scope: string, name: string): Promise<T | undefined> {
    const entity = await getEntityOrUndefined<{ value: string }>(this.table, scopeKey(scope), nameKey(name));
    return entity ? (JSON.parse(entity.value) as T) : undefined;
  }

  async set(scope: string, name: string, value: unknown): Promise<void> {
    try {
      await this.table.upsertEntity({ partitionKey: scopeKey(scope), rowKey: nameKey(name), value: JSON.stringify(value), updatedOn: new Date().toISOString() }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  async remove(scope: string, name: string): Promise<void> {
    try {
      await this.table.deleteEntity(scopeKey(scope), nameKey(name));
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }

  async list<T>(scope: string): Promise<{ name: string; value: T }[]> {
    const out: { name: string; value: T }[] = [];
    try {
      for await (const row of this.table.listEntities<{ rowKey: string; value: string }>({ queryOptions: { filter: odata`PartitionKey eq ${scopeKey(scope)}` } })) {
        out.push({ name: Buffer.from(row.rowKey, 'base64url').toString('utf8'), value: JSON.parse(row.value) as T });
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }
}
