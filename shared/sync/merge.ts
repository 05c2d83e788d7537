// The three-way merge of one item pair: each side's current canonical fields against the last-synced base.
// Pure: state in, decisions out. A field changed on one side flows to the other (as its direction allows); a field
// changed on both sides to different values is a conflict, settled by the configured policy and reported, never
// silently.
import type { ConflictPolicy } from '../config.js';
import { baseValueEquals, type BaseSnapshot } from './base.js';

export type Direction = 'ToExchange' | 'ToDataverse' | 'Both' | 'None';
export type Snapshot = Record<string, unknown>;

export interface Conflict {
  field: string;
  dataverseValue: unknown;
  exchangeValue: unknown;
  dataverseModifiedOn: string | undefined;
  exchangeModifiedOn: string | undefined;
  winner: 'dataverse' | 'exchange';
}

export interface MergeInput {
  /** Field name -> sync direction, from the mapping's field table. */
  directions: Record<string, Direction>;
  base: BaseSnapshot;
  dataverse: Snapshot;
  exchange: Snapshot;
  policy: ConflictPolicy;
  dataverseModifiedOn?: string | undefined;
  exchangeModifiedOn?: string | undefined;
}

export interface MergeResult {
  /** Fields to write to Exchange (canonical values). */
  toExchange: Snapshot;
  /** Fields to write to Dataverse (canonical values). */
  toDataverse: Snapshot;
  conflicts: Conflict[];
  /** The new base: what both sides hold after the writes. */
  merged: Snapshot;
}

const toEx = (d: Direction) => d === 'Both' || d === 'ToExchange';
const toDv = (d: Direction) => d === 'Both' || d === 'ToDataverse';
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Merges field by field; see the file comment. */
export function mergeSnapshots(input: MergeInput): MergeResult {
  const out: MergeResult = { toExchange: {}, toDataverse: {}, conflicts: [], merged: {} };
  for (const [field, direction] of Object.entries(input.directions)) {
    if (direction === 'None') continue;
    const dv = input.dataverse[field] ?? null;
    const ex = input.exchange[field] ?? null;
    const hasBase = Object.prototype.hasOwnProperty.call(input.base, field);
    const dvChanged = !hasBase || !baseValueEquals(input.base[field], dv);
    const exChanged = !hasBase || !baseValueEquals(input.base[field], ex);
    let winner: 'dataverse' | 'exchange' | undefined;
    if (same(dv, ex)) {
      winner = undefined;
    } else if (dvChanged && !exChanged) {
      winner = 'dataverse';
    } else if (exChanged && !dvChanged) {
      winner = 'exchange';
    } else {
      // Both changed (or no base yet) to different values.
      winner = settle(input, direction);
      if (hasBase) {
        out.conflicts.push({
          field,
          dataverseValue: dv,
          exchangeValue: ex,
          dataverseModifiedOn: input.dataverseModifiedOn,
          exchangeModifiedOn: input.exchangeModifiedOn,
          winner,
        });
      }
    }
    if (winner === 'dataverse' && !toEx(direction)) winner = undefined;
    if (winner === 'exchange' && !toDv(direction)) winner = undefined;
    if (winner === 'dataverse') {
      out.toExchange[field] = dv;
      out.merged[field] = dv;
    } else if (winner === 'exchange') {
      out.toDataverse[field] = ex;
      out.merged[field] = ex;
    } else {
      // No flow: each side keeps its value; the base records the side that owns the field's direction.
      out.merged[field] = direction === 'ToDataverse' ? ex : dv;
    }
  }
  return out;
}

function settle(input: MergeInput, direction: Direction): 'dataverse' | 'exchange' {
  if (direction === 'ToExchange') return 'dataverse';
  if (direction === 'ToDataverse') return 'exchange';
  if (input.policy === 'dataverseWins') return 'dataverse';
  if (input.policy === 'exchangeWins') return 'exchange';
  const dv = Date.parse(input.dataverseModifiedOn ?? '');
  const ex = Date.parse(input.exchangeModifiedOn ?? '');
  if (Number.isNaN(ex)) return 'dataverse';
  if (Number.isNaN(dv)) return 'exchange';
  // The later modification wins; a tie goes to Dataverse, the system of record.
  return ex > dv ? 'exchange' : 'dataverse';
}
