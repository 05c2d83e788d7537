// The per-mailbox lease as plain data (state in, decision out, clock passed in). Graph's Outlook limits are per app
// and mailbox (4 concurrent requests, 10,000 per 10 minutes: https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits),
// so across instances one instance at a time holds a mailbox's budget: it takes the lease row (a read and a
// conditional write), renews it every few seconds while it calls, and on release writes back the rate bucket and any
// Retry-After still running, which the next holder continues from. An instance that waits marks the row as wanted;
// the holder then hands over once its calls in flight are done, so no instance waits for ever behind a busy one.
import { fullBucket, parseBucket, type BucketShape, type BucketState } from './tokenBucket.js';

/** The lease row of one mailbox. Times are ms since the epoch. */
export interface LeaseRow {
  /** The instance holding the budget; '' when released. */
  holder: string;
  /** The holder's lease ends here unless renewed (an instance that died lets go by itself). */
  expiresAt: number;
  /** The mailbox's rate bucket as its last holder left it. */
  bucket: BucketState;
  /** No call before this (a Retry-After Graph gave), whoever holds the lease. */
  pausedUntil: number;
  /** An instance waiting for the lease ('' when none), and since when. */
  wantedBy: string;
  wantedAt: number;
}

export interface LeaseTiming {
  /** How long a lease lasts without renewal. */
  leaseMs: number;
  /** How often the holder renews while it calls (one write each time). */
  renewMs: number;
  /** How often a waiting instance reads the row again. */
  pollMs: number;
  /** How long the holder keeps the lease after another instance asked for it. */
  yieldAfterMs: number;
  /** How long the holder keeps an idle lease (calls of one change come in quick succession). */
  idleReleaseMs: number;
}

export const defaultLeaseTiming: LeaseTiming = { leaseMs: 10_000, renewMs: 3_000, pollMs: 250, yieldAfterMs: 2_000, idleReleaseMs: 500 };

export type TakeDecision =
  /** Write this row (conditionally on the etag read, or create it when there was none): the lease is ours. */
  | { kind: 'take'; row: LeaseRow }
  /** Someone else holds it: read again at `retryAt`; write `mark` first when given (this instance asks for it). */
  | { kind: 'wait'; retryAt: number; mark?: LeaseRow };

/** What to do about a mailbox's lease row (undefined: there is none yet) for instance `me` at `now`. */
export function decideTake(row: LeaseRow | undefined, me: string, now: number, timing: LeaseTiming, shape: BucketShape): TakeDecision {
  if (!row) return { kind: 'take', row: { holder: me, expiresAt: now + timing.leaseMs, bucket: fullBucket(shape, now), pausedUntil: 0, wantedBy: '', wantedAt: 0 } };
  const expired = row.expiresAt <= now;
  // A released lease goes to the instance that asked for it first (while its wish is fresh), not to whoever reads first.
  const promisedElsewhere = row.holder === '' && row.wantedBy !== '' && row.wantedBy !== me && now - row.wantedAt < timing.leaseMs;
  const free = !promisedElsewhere && (row.holder === '' || row.holder === me || expired);
  if (free) {
    // A wish of another waiting instance stays on the row, so it is served next; our own is fulfilled.
    const wanted = row.wantedBy === me || row.wantedBy === '' ? { wantedBy: '', wantedAt: 0 } : { wantedBy: row.wantedBy, wantedAt: row.wantedAt };
    return { kind: 'take', row: { ...row, holder: me, expiresAt: now + timing.leaseMs, ...wanted } };
  }
  const retryAt = promisedElsewhere ? now + timing.pollMs : Math.min(row.expiresAt, now + timing.pollMs);
  // Ask once; a wish older than a lease is stale (its instance may be gone) and is taken over.
  if (row.wantedBy === me || (row.wantedBy !== '' && now - row.wantedAt < timing.leaseMs)) return { kind: 'wait', retryAt };
  return { kind: 'wait', retryAt, mark: { ...row, wantedBy: me, wantedAt: now } };
}

/** The row the holder writes when it renews: a later expiry, and its bucket and pause as they are now. */
export function renewedRow(row: LeaseRow, now: number, timing: LeaseTiming, local: { bucket: BucketState; pausedUntil: number }): LeaseRow {
  return { ...row, expiresAt: now + timing.leaseMs, bucket: local.bucket, pausedUntil: Math.max(row.pausedUntil, local.pausedUntil) };
}

/** The row the holder writes when it lets go: the bucket and the pause stay for the next holder. */
export function releasedRow(row: LeaseRow, now: number, local: { bucket: BucketState; pausedUntil: number }): LeaseRow {
  return { ...row, holder: '', expiresAt: now, bucket: local.bucket, pausedUntil: Math.max(row.pausedUntil, local.pausedUntil) };
}

/** Whether the holder `me` should stop starting calls and hand the lease over (another instance has waited long enough). */
export function shouldYield(row: LeaseRow, me: string, now: number, timing: LeaseTiming): boolean {
  return row.wantedBy !== '' && row.wantedBy !== me && now - row.wantedAt >= timing.yieldAfterMs;
}

/** A lease row read from storage (its JSON column), or undefined when it is not a lease's (it is then taken as absent). */
export function parseLeaseRow(value: unknown): LeaseRow | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { holder, expiresAt, pausedUntil, wantedBy, wantedAt } = value as Record<string, unknown>;
  const bucket = parseBucket((value as { bucket?: unknown }).bucket);
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (typeof holder !== 'string' || !num(expiresAt) || !bucket || !num(pausedUntil) || typeof wantedBy !== 'string' || !num(wantedAt)) return undefined;
  return { holder, expiresAt, bucket, pausedUntil, wantedBy, wantedAt };
}
