// Conversion of Web API JSON values to stored values, with the validation Dataverse applies per column type.
import { badValue, DataverseError, ErrorCodes } from './errors.js';
import type { Column, EntityDef } from './schema.js';
import type { Value } from './store.js';

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True for a GUID in the 8-4-4-4-12 form. */
export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

/** Dataverse returns date-times in UTC to the second: 2016-04-11T15:00:00Z. */
export function formatDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Converts one JSON value for a column, or throws a 400 naming the column. */
export function toStoredValue(def: EntityDef, column: Column, raw: unknown): Value {
  const name = column.name;
  const where = `attribute '${name}' of the '${def.logicalName}' entity`;
  if (raw === null) {
    if (column.type === 'state' || column.type === 'status') throw badValue(`The ${where} cannot be set to null.`);
    return null;
  }
  switch (column.type) {
    case 'guid':
      if (typeof raw !== 'string' || !isGuid(raw)) throw badValue(`The ${where} must be a GUID; got ${JSON.stringify(raw)}.`);
      return raw.toLowerCase();
    case 'string':
    case 'memo':
    case 'entityname':
      if (typeof raw !== 'string') throw badValue(`The ${where} must be a string; got ${JSON.stringify(raw)}.`);
      if (column.maxLength !== undefined && raw.length > column.maxLength) {
        // Dataverse's own wording for this validation error.
        throw new DataverseError(
          400,
          '0x80044331',
          `A validation error occurred. The length of the '${name}' attribute of the '${def.logicalName}' entity exceeded the maximum allowed length of '${column.maxLength}'.`,
        );
      }
      return raw;
    case 'int':
    case 'bigint':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw badValue(`The ${where} must be an integer; got ${JSON.stringify(raw)}.`);
      if ((column.min !== undefined && raw < column.min) || (column.max !== undefined && raw > column.max)) {
        throw badValue(`The value ${raw} of the ${where} is outside the valid range ${column.min ?? '-inf'}..${column.max ?? 'inf'}.`);
      }
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') throw badValue(`The ${where} must be a boolean; got ${JSON.stringify(raw)}.`);
      return raw;
    case 'datetime': {
      if (typeof raw !== 'string') throw badValue(`The ${where} must be an ISO 8601 date-time string; got ${JSON.stringify(raw)}.`);
      const withZone = /([zZ]|[+-]\d{2}:\d{2})$/.test(raw) ? raw : /T/.test(raw) ? `${raw}Z` : `${raw}T00:00:00Z`;
      const ms = Date.parse(withZone);
      if (Number.isNaN(ms)) throw badValue(`Cannot convert the literal '${raw}' to the expected type 'Edm.DateTimeOffset' (${where}).`);
      return formatDateTime(ms);
    }
    case 'date': {
      if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) {
        throw badValue(`Cannot convert the literal '${JSON.stringify(raw)}' to the expected type 'Edm.Date' (${where}); use YYYY-MM-DD.`);
      }
      return raw;
    }
    case 'picklist':
    case 'state':
    case 'status':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw badValue(`The ${where} must be an integer option value; got ${JSON.stringify(raw)}.`);
      if (column.options && !column.options.includes(raw)) {
        throw new DataverseError(400, ErrorCodes.InvalidArgument, `${raw} is not a valid value for the ${where}; valid values: ${column.options.join(', ')}.`);
      }
      return raw;
    case 'lookup':
      throw badValue(`The ${where} is a lookup: set it with '${name}@odata.bind'.`);
  }
}
