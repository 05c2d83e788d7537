// The shape of a field table row: server-side synchronization's "synchronization field mappings", one row per
// Dataverse column(s) <-> Graph property path(s) with a sync direction (docs/reference/platform-facts.md section 7, field-level direction;
// power-platform/admin/control-field-synchronization-outlook.md), plus the conversion each way.
//
// Every synced row reads a canonical value from either side (`fromDataverse`, `fromExchange`) and writes one to
// either side (`toExchange`, `toDataverse`). Canonical values are JSON: strings, booleans, numbers, null, sorted
// arrays and plain objects; instants are ISO UTC to the second and calendar dates are `YYYY-MM-DD`. A Both row
// read from a Dataverse record and from the Exchange item the mapping made of it gives equal values.
import { SyncError } from '../errors.js';
import type { MappingContext } from './context.js';

/** Sync direction of a field, as in server-side sync's synchronized fields. */
export type Direction = 'ToExchange' | 'ToDataverse' | 'Both' | 'None';

/** A canonical snapshot value: JSON that `canonicalEqual` compares. */
export type CanonicalValue = string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

/** Human-readable description of a row's conversion each way (rendered into the README). */
export interface Conversion {
  toExchange: string;
  toDataverse: string;
}

/** A row that does not sync: documents a column or property the sync deliberately leaves alone. */
export interface UnsyncedRow {
  name: string;
  dataverse: readonly string[];
  graph: readonly string[];
  direction: 'None';
  conversion: Conversion;
}

/**
 * A synced row. `Dv` is the parsed Dataverse record, `Ex` the parsed Graph item, `V` the canonical value.
 * `current` (optional) is the item as it is now on the side being written, for the few properties whose write
 * must keep what this row does not own (Graph arrays such as businessPhones, the whole activity-party list).
 */
export interface SyncedRow<Name extends string, V extends CanonicalValue, Dv, Ex> {
  name: Name;
  dataverse: readonly string[];
  graph: readonly string[];
  direction: Exclude<Direction, 'None'>;
  conversion: Conversion;
  // Method syntax on purpose: rows of different value types share one table type (bivariant parameters).
  fromDataverse(record: Dv, ctx: MappingContext): V;
  fromExchange(item: Ex, ctx: MappingContext): V;
  /** `fields` holds every field written in the same request, for rows whose property they share. */
  toExchange(value: V, ctx: MappingContext, current: Ex | undefined, fields: Readonly<Record<string, unknown>>): Record<string, unknown>;
  toDataverse(value: V, ctx: MappingContext, current: Dv | undefined, fields: Readonly<Record<string, unknown>>): Record<string, unknown>;
}

/** One synced row per snapshot key, typed by that key's value. */
export type RowsOf<S extends Record<string, CanonicalValue>, Dv, Ex> = {
  [K in keyof S & string]: SyncedRow<K, S[K], Dv, Ex>;
}[keyof S & string];

/** A field table: synced rows plus the documented unsynced ones. */
export type FieldTable<S extends Record<string, CanonicalValue>, Dv, Ex> = readonly (RowsOf<S, Dv, Ex> | UnsyncedRow)[];

/** True when a row writes to Exchange (ToExchange or Both). */
export function writesToExchange(direction: Direction): boolean {
  return direction === 'Both' || direction === 'ToExchange';
}

/** True when a row writes to Dataverse (ToDataverse or Both). */
export function writesToDataverse(direction: Direction): boolean {
  return direction === 'Both' || direction === 'ToDataverse';
}

/** Deep equality of canonical values (key order of objects does not matter). */
export function canonicalEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => canonicalEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && canonicalEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** True for rows that sync in some direction. */
export function isSyncedRow<S extends Record<string, CanonicalValue>, Dv, Ex>(row: RowsOf<S, Dv, Ex> | UnsyncedRow): row is RowsOf<S, Dv, Ex> {
  return row.direction !== 'None';
}

/** Reads every synced row of a table from one side into a snapshot. */
export function readSnapshot<S extends Record<string, CanonicalValue>, Dv, Ex>(
  table: FieldTable<S, Dv, Ex>,
  side: 'dataverse' | 'exchange',
  source: Dv | Ex,
  ctx: MappingContext,
): S {
  const snapshot: Record<string, CanonicalValue> = {};
  for (const row of table) {
    if (!isSyncedRow(row)) continue;
    snapshot[row.name] = side === 'dataverse' ? row.fromDataverse(source as Dv, ctx) : row.fromExchange(source as Ex, ctx);
  }
  return snapshot as S;
}

/**
 * Builds an API body for the given fields only. Fields whose direction does not write to `side` are ignored; a
 * field that is not in the table is a programming error. With `current`, a field whose value `current` already
 * holds is not written, so an update carries only real changes.
 */
export function writeBody<S extends Record<string, CanonicalValue>, Dv, Ex>(
  table: FieldTable<S, Dv, Ex>,
  side: 'dataverse' | 'exchange',
  fields: Partial<S>,
  ctx: MappingContext,
  current: Dv | Ex | undefined,
  tableName: string,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const rows = new Map(table.filter(isSyncedRow).map((row) => [row.name, row]));
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const row = rows.get(name);
    if (row === undefined) {
      if (table.some((r) => r.name === name)) continue;
      throw new SyncError('Internal', `${tableName} has no field "${name}"`, { field: name });
    }
    if (side === 'exchange' ? !writesToExchange(row.direction) : !writesToDataverse(row.direction)) continue;
    if (current !== undefined) {
      const now = side === 'exchange' ? row.fromExchange(current as Ex, ctx) : row.fromDataverse(current as Dv, ctx);
      if (canonicalEqual(now, value)) continue;
    }
    Object.assign(
      body,
      side === 'exchange'
        ? row.toExchange(value as never, ctx, current as Ex | undefined, fields)
        : row.toDataverse(value as never, ctx, current as Dv | undefined, fields),
    );
  }
  return body;
}

/** The body without null-valued properties: a create has nothing to clear. */
export function withoutNulls<T extends object>(body: T): T {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null)) as T;
}
