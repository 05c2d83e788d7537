// Which Dataverse columns the sync reads, per table, from the kind's mapping field table and rules: the Update
// steps filter on the ones that flow to Exchange, and the post images carry all of them so the worker can skip
// reading the record.
import type { DataverseEntity } from '../servicebus/messages.js';
import { kindOfTable } from './kinds/index.js';

/**
 * Columns the mapping reads for `entity`; `flowingToExchange` keeps only those of rows that write to Exchange: by the
 * field table's own direction, or, given `flowing` (the kind's fields that flow to Exchange in the configuration in
 * force, shared/settings fieldsFlowingToExchange), by that.
 */
export function mappedColumns(entity: DataverseEntity, options: { flowingToExchange?: boolean; flowing?: ReadonlySet<string> | undefined } = {}): string[] {
  const kind = kindOfTable(entity);
  // The party-list columns decide scope (a party is in "My Activities", shared/sync/plan.ts scopeOf) even where no
  // field maps them, so a change of them must raise the Update step and the image must carry them; the kind's own
  // rules read a few more (the series type of an appointment).
  const partyColumns = Object.keys(kind.partyColumns(entity));
  const columns = new Set<string>(['statecode', 'statuscode', 'ownerid', ...partyColumns, ...kind.extraColumns.filter((c) => kind.hasColumn(entity, c))]);
  for (const row of kind.fields) {
    if (row.direction === 'None') continue;
    if (options.flowingToExchange && (options.flowing ? !options.flowing.has(row.name) : row.direction === 'ToDataverse')) continue;
    for (const column of row.dataverse) {
      const name = column.split(' ')[0]!;
      if (name.endsWith('_activity_parties')) continue;
      if (!/^[a-z0-9_]+$/.test(name)) continue;
      if (!kind.hasColumn(entity, name)) continue;
      columns.add(name);
    }
  }
  return [...columns].sort();
}

/** Columns of the post image: everything the mapping reads, plus the version the pair compares. */
export function imageColumns(entity: DataverseEntity): string[] {
  return [...new Set([...mappedColumns(entity), 'versionnumber', 'modifiedon'])].sort();
}

/**
 * Columns of the Delete step's pre image: the owner (the contact delete rule needs it once the record is gone) and
 * what the kind's carrier rule reads (an instance's series), so an instance's delete reaches its series.
 */
export function deleteImageColumns(entity: DataverseEntity): string[] {
  const kind = kindOfTable(entity);
  return ['ownerid', ...(kind.deleteImageColumns ?? []).filter((c) => kind.hasColumn(entity, c))];
}
