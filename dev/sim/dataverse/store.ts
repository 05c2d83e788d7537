// In-memory tables: rows by id in a Map, equality indexes on the columns queries filter by, and an append-only change
// log per table that change tracking reads from (so a delta never scans the whole table).
import type { EntityDef } from './schema.js';

export interface LookupRef {
  id: string;
  logicalName: string;
}

export type Value = string | number | boolean | null | LookupRef;
export type Row = Record<string, Value>;

/** True for a lookup value. */
export function isLookup(v: unknown): v is LookupRef {
  return typeof v === 'object' && v !== null && 'id' in v && 'logicalName' in v;
}

/** The key an index files a value under: lookups by id, strings case-insensitively (Dataverse's collation is). */
export function indexKey(v: Value | undefined): string {
  if (v === null || v === undefined) return '\u0000null';
  if (isLookup(v)) return v.id.toLowerCase();
  if (typeof v === 'string') return v.toLowerCase();
  return String(v);
}

export class Table {
  readonly rows = new Map<string, Row>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  // Change log in three parallel arrays: version, id, deleted.
  private readonly logVersion: number[] = [];
  private readonly logId: string[] = [];
  private readonly logDeleted: boolean[] = [];

  constructor(readonly def: EntityDef) {
    for (const c of def.indexed) this.indexes.set(c, new Map());
  }

  get(id: string): Row | undefined {
    return this.rows.get(id.toLowerCase());
  }

  /** Inserts or replaces a row, keeping indexes current and logging the change at `version`. */
  put(row: Row, version: number): void {
    const id = text(row[this.def.primaryId]).toLowerCase();
    const old = this.rows.get(id);
    for (const [column, index] of this.indexes) {
      const before = old ? indexKey(old[column]) : undefined;
      const after = indexKey(row[column]);
      if (before === after) continue;
      if (before !== undefined) index.get(before)?.delete(id);
      let set = index.get(after);
      if (!set) index.set(after, (set = new Set()));
      set.add(id);
    }
    this.rows.set(id, row);
    this.log(id, version, false);
  }

  /** Removes a row and logs the deletion at `version`. */
  remove(id: string, version: number): Row | undefined {
    const key = id.toLowerCase();
    const old = this.rows.get(key);
    if (!old) return undefined;
    for (const [column, index] of this.indexes) index.get(indexKey(old[column]))?.delete(key);
    this.rows.delete(key);
    this.log(key, version, true);
    return old;
  }

  /** Ids whose indexed `column` equals `value`, or undefined when the column has no index. */
  idsWhere(column: string, value: Value): ReadonlySet<string> | undefined {
    const index = this.indexes.get(column);
    if (!index) return undefined;
    return index.get(indexKey(value)) ?? new Set();
  }

  hasIndex(column: string): boolean {
    return this.indexes.has(column);
  }

  /** Rows changed after `sinceVersion`: the last change per id, in version order. */
  changesSince(sinceVersion: number): Array<{ id: string; deleted: boolean; version: number }> {
    let lo = 0;
    let hi = this.logVersion.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.logVersion[mid]! <= sinceVersion) lo = mid + 1;
      else hi = mid;
    }
    const latest = new Map<string, { id: string; deleted: boolean; version: number }>();
    for (let i = lo; i < this.logVersion.length; i++) {
      const id = this.logId[i]!;
      latest.delete(id);
      latest.set(id, { id, deleted: this.logDeleted[i]!, version: this.logVersion[i]! });
    }
    return [...latest.values()];
  }

  clear(): void {
    this.rows.clear();
    for (const index of this.indexes.values()) index.clear();
    this.logVersion.length = 0;
    this.logId.length = 0;
    this.logDeleted.length = 0;
  }

  private log(id: string, version: number, deleted: boolean): void {
    if (!this.def.changeTracking) return;
    this.logVersion.push(version);
    this.logId.push(id);
    this.logDeleted.push(deleted);
  }
}

/** All tables plus the organisation-wide row version counter (Dataverse's versionnumber is a rowversion). */
export class Store {
  readonly tables = new Map<string, Table>();
  private version: number;

  constructor(defs: readonly EntityDef[], readonly firstVersion = 900000) {
    for (const d of defs) this.tables.set(d.logicalName, new Table(d));
    this.version = firstVersion;
  }

  table(logicalName: string): Table {
    const t = this.tables.get(logicalName);
    if (!t) throw new Error(`unknown table ${logicalName}`);
    return t;
  }

  /** The next row version; every write takes one. */
  nextVersion(): number {
    this.version += 1;
    return this.version;
  }

  currentVersion(): number {
    return this.version;
  }

  clear(): void {
    for (const t of this.tables.values()) t.clear();
    this.version = this.firstVersion;
  }
}

/** A stored value as text: a lookup's id, a scalar's string form, '' for null. */
export function text(v: Value | undefined): string {
  if (v === null || v === undefined) return '';
  if (isLookup(v)) return v.id;
  return String(v);
}
