// Pieces several kinds share: reading an activity with its parties, the owner-and-parties scope, the id stamped on
// an item, and the direction table of a mapping.
import type { DataverseRecord } from '../../dataverse/client.js';
import { isSyncError } from '../../errors.js';
import { dataverseIdOfTodoTask, dataverseIdProperty } from '../../graph/client.js';
import type { Direction, FieldDescription } from '../../mapping/index.js';
import type { Runtime } from '../../runtime.js';
import type { DataverseEntity } from '../../servicebus/messages.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import type { ExchangeResource, GraphItem, ItemCandidate } from './types.js';

/** A read that found nothing: the adapters treat it as "gone". */
export const notFound = (error: unknown) => isSyncError(error, 'NotFound');

/** Navigation property of an activity's parties (e.g. appointment_activity_parties). */
export const activityPartiesOf = (table: DataverseEntity) => `${table}_activity_parties`;

/**
 * "My Activities" as server-side sync reads it: activities the user owns or is a party to
 * (https://learn.microsoft.com/power-platform/admin/sync-logic), as a $filter on the table.
 */
export const myActivitiesFilter = (table: DataverseEntity, systemUserId: string) =>
  `(_ownerid_value eq ${systemUserId.toLowerCase()} or ${activityPartiesOf(table)}/any(p: p/_partyid_value eq ${systemUserId.toLowerCase()}))`;

/** An item as backfill matches it: ids, the stamp, the tracking category and the kind's match keys. */
export function itemCandidate(
  kind: { resource: ExchangeResource; isTracked(item: GraphItem): boolean },
  item: GraphItem & { id: string },
  matchKeys: string[],
  listId?: string,
): ItemCandidate {
  return { resource: kind.resource, id: item.id, etag: item['@odata.etag'], ...(listId ? { listId } : {}), stampedId: stampOf(item), matchKeys, tracked: kind.isTracked(item) };
}

/** Reads an activity with its parties expanded, as the mapping and the scope rule read it. */
export function readActivity(rt: Runtime, table: DataverseEntity, id: string): Promise<DataverseRecord | undefined> {
  return rt.dataverse.get(table, id, { expand: `${activityPartiesOf(table)}($select=_partyid_value,participationtypemask,addressused)` });
}

/** The owner and, for an activity, every party that is a system user (or any party id; the caller keeps the known ones). */
export function ownerAndParties(record: DataverseRecord, navigation: string | undefined): string[] {
  const ids = new Set<string>();
  const owner = record._ownerid_value;
  if (typeof owner === 'string') ids.add(owner.toLowerCase());
  if (navigation) {
    const parties = record[navigation];
    if (Array.isArray(parties)) {
      for (const p of parties as { _partyid_value?: string | null }[]) if (p._partyid_value) ids.add(p._partyid_value.toLowerCase());
    }
  }
  return [...ids];
}

/** The Dataverse id stamped on an item (a single-value extended property, or a To Do task's linked resource). */
export function stampOf(item: GraphItem): string | undefined {
  const props = (item as { singleValueExtendedProperties?: { id?: string; value?: string }[] }).singleValueExtendedProperties ?? [];
  return props.find((p) => p.id?.toLowerCase() === dataverseIdProperty.toLowerCase())?.value ?? dataverseIdOfTodoTask(item as never);
}

/** The stamp to put on a new item. */
export const stampFor = (dataverseId: string) => [{ id: dataverseIdProperty, value: dataverseId }];

/** The merge direction of each field of a mapping's field table. */
export function directionsOfTable(table: readonly FieldDescription[]): Record<string, Direction> {
  const out: Record<string, Direction> = {};
  for (const row of table) out[row.name] = row.direction;
  return out;
}

/** The first candidate that no pair of the mailbox claims yet. */
export async function firstUnpaired<T extends { id?: string | null }>(rt: Runtime, mailbox: Mailbox, candidates: readonly T[]): Promise<T | undefined> {
  for (const candidate of candidates) {
    if (candidate.id && !(await rt.pairs.getByExchangeId(mailbox.id, candidate.id))) return candidate;
  }
  return undefined;
}

/** A past item (its start, as the pair's base last saw it, is before now): delete and invitation rules spare it. */
export function isPastFromBase(base: Record<string, unknown>, now: Date): boolean {
  const time = base.time as { start?: string } | undefined;
  if (!time?.start) return false;
  return Date.parse(time.start) < now.getTime();
}

/** Not-found as undefined: a read of an item that may be gone. */
export async function orUndefined<T>(read: () => Promise<T>, isNotFound: (error: unknown) => boolean): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
