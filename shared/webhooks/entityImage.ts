// Converts a webhook's post image (an Entity in WCF JSON: [{key, value}] attributes, "/Date(ms)/" dates,
// OptionSetValue, EntityReference, EntityCollection party lists; docs/reference/platform-facts.md section 5) into the Web API JSON the
// mapping reads, so the worker need not read the record again (no Dataverse read per change when the image
// carries the mapped columns). Only images registered with every column the mapping reads are used
// (shared/onboarding/webhooks.ts); an attribute missing from such an image is null, as Dataverse leaves nulls out.
import type { DataverseEntity } from '../servicebus/messages.js';
import { kindOfTable } from '../sync/kinds/index.js';

export const postImageAlias = 'PostImage';

const dateOnlyColumns = new Set(['birthdate']);

type Attribute = { key: string; value: unknown };
type WcfEntity = { Attributes?: Attribute[]; Id?: string; RowVersion?: string | null };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A WCF attribute value in Web API form (the lookup's id for an EntityReference). */
function plainValue(key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    const date = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value);
    if (date) {
      const iso = new Date(Number(date[1])).toISOString();
      return dateOnlyColumns.has(key) ? iso.slice(0, 10) : iso.replace(/\.000Z$/, 'Z');
    }
    return value;
  }
  if (isObject(value)) {
    if (typeof value.Value === 'number' || typeof value.Value === 'string') return value.Value;
    if (typeof value.Id === 'string') return value.Id.toLowerCase();
  }
  return value;
}

/**
 * The record the image describes, with `@odata.type`, the etag (from versionnumber) and every column in `columns`
 * (null when absent); undefined when the image lacks the id or the version, so the caller reads the record.
 * `versionless`: a Delete's pre image, which carries no version (the record is gone; nothing compares it).
 */
export function imageToRecord(entity: DataverseEntity, image: WcfEntity, columns: readonly string[], options: { versionless?: boolean } = {}): Record<string, unknown> | undefined {
  const attributes = new Map((image.Attributes ?? []).map((a) => [a.key, a.value]));
  const version = attributes.get('versionnumber') ?? image.RowVersion;
  const versioned = typeof version === 'string' || typeof version === 'number';
  if (!image.Id || (!versioned && !options.versionless)) return undefined;
  const kind = kindOfTable(entity);
  const record: Record<string, unknown> = {
    '@odata.type': `#Microsoft.Dynamics.CRM.${entity}`,
    ...(versioned ? { '@odata.etag': `W/"${String(version)}"` } : {}),
    [kind.primaryKey]: image.Id.toLowerCase(),
  };
  const parties: Record<string, unknown>[] = [];
  // Party-list columns of the table and the participation type each holds (activityparty-entity.md).
  const partyMasks = kind.partyColumns(entity);
  const navigation = kind.partyNavigation(entity);
  for (const column of columns) {
    const value = attributes.get(column);
    const mask = partyMasks[column];
    if (mask !== undefined) {
      const list = isObject(value) && Array.isArray(value.Entities) ? (value.Entities as WcfEntity[]) : [];
      for (const party of list) {
        const attrs = new Map((party.Attributes ?? []).map((a) => [a.key, a.value]));
        const partyId = plainValue('partyid', attrs.get('partyid'));
        parties.push({
          participationtypemask: mask,
          _partyid_value: typeof partyId === 'string' ? partyId : null,
          addressused: typeof attrs.get('addressused') === 'string' ? attrs.get('addressused') : null,
        });
      }
      continue;
    }
    const lookup = isObject(value) && typeof value.LogicalName === 'string' && typeof value.Id === 'string';
    if (lookup || column === 'ownerid' || column === 'regardingobjectid' || column === 'parentcustomerid') {
      record[`_${column}_value`] = value === undefined || value === null ? null : plainValue(column, value);
    } else {
      record[column] = value === undefined ? null : plainValue(column, value);
    }
  }
  if (navigation && Object.keys(partyMasks).length > 0) record[navigation] = parties;
  return record;
}
