// The base of a pair's three-way merge: the canonical field values both sides held after the last sync, in the
// compact form the pair store keeps. Pure, so the merge can compare with it without depending on storage.
import { createHash } from 'node:crypto';

/** Canonical last-synced values; large values are kept as hashes (a Table property holds at most 64 KiB). */
export type BaseSnapshot = Record<string, unknown>;

/** Values whose JSON is longer than this are stored as a hash: the merge only asks "did it change?" of the base. */
const inlineLimit = 512;

/** Compacts a snapshot for storage; `baseValueEquals` compares a current value with a stored one. */
export function compactSnapshot(snapshot: Record<string, unknown>): BaseSnapshot {
  const out: BaseSnapshot = {};
  for (const [key, value] of Object.entries(snapshot)) {
    const json = JSON.stringify(value ?? null);
    out[key] = json.length > inlineLimit ? `#sha256:${createHash('sha256').update(json).digest('base64url')}` : (value ?? null);
  }
  return out;
}

/** True when a current canonical value equals the stored base value (hashed or inline). */
export function baseValueEquals(base: unknown, current: unknown): boolean {
  const json = JSON.stringify(current ?? null);
  if (typeof base === 'string' && base.startsWith('#sha256:')) {
    return json.length > inlineLimit && base === `#sha256:${createHash('sha256').update(json).digest('base64url')}`;
  }
  return JSON.stringify(base ?? null) === json;
}
