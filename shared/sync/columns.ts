// Which Dataverse columns the sync reads, per table, from the mapping's field tables: the Update steps filter on
// the ones that flow to Exchange, and the post images carry all of them so the worker can skip reading the record.
import { fieldTables, type EntityKind } from '../mapping/index.js';
import type { DataverseEntity } from '../servicebus/messages.js';

const kindOf = (entity: DataverseEntity): EntityKind => (entity === 'appointment' ? 'appointment' : entity === 'contact' ? 'contact' : 'task');
/** Columns only the task table has (the To Do mapping reads them where they exist). */
const taskOnlyColumns = new Set(['percentcomplete']);
/** The party-list columns of an appointment (the mapping reads them as appointment_activity_parties). */
const appointmentPartyColumns = ['requiredattendees', 'optionalattendees', 'organizer'];
/**
 * The party-list columns of the other activities synced as To Do tasks: no field maps them, but scope does (a party
 * is in "My Activities", shared/sync/engine.ts scopeOf), so a change of them must raise the Update step and the image
 * must carry them; without them a webhook's scope was the owner alone.
 */
const scopePartyColumns: Partial<Record<DataverseEntity, string[]>> = { phonecall: ['from', 'to'], letter: ['from', 'to', 'cc', 'bcc'], fax: ['from', 'to'] };

/** Columns the mapping reads for `entity`; `flowingToExchange` keeps only those of rows that write to Exchange. */
export function mappedColumns(entity: DataverseEntity, options: { flowingToExchange?: boolean } = {}): string[] {
  const columns = new Set<string>(['statecode', 'statuscode', 'ownerid', ...(scopePartyColumns[entity] ?? [])]);
  for (const row of fieldTables[kindOf(entity)]) {
    if (row.direction === 'None') continue;
    if (options.flowingToExchange && row.direction === 'ToDataverse') continue;
    for (const column of row.dataverse) {
      const name = column.split(' ')[0]!;
      if (name.endsWith('_activity_parties')) {
        if (entity === 'appointment') appointmentPartyColumns.forEach((c) => columns.add(c));
        continue;
      }
      if (!/^[a-z0-9_]+$/.test(name)) continue;
      if (taskOnlyColumns.has(name) && entity !== 'task') continue;
      columns.add(name);
    }
  }
  return [...columns].sort();
}

/** Columns of the post image: everything the mapping reads, plus the version the pair compares. */
export function imageColumns(entity: DataverseEntity): string[] {
  return [...new Set([...mappedColumns(entity), 'versionnumber', 'modifiedon'])].sort();
}
