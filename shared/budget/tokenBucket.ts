// A token bucket as plain data: state in, state and wait out, the clock passed in. The per-mailbox Graph budget and
// the per-application-user Dataverse budget both pace their calls with it, and a lease hands the state over between
// instances (shared/budget/lease.ts).

/** How big the bucket is and how fast it fills. */
export interface BucketShape {
  /** Tokens the bucket holds when full: the burst allowed after a quiet spell. */
  capacity: number;
  /** Tokens added per millisecond. */
  refillPerMs: number;
}

/** A bucket's content at a moment (ms since the epoch). */
export interface BucketState {
  tokens: number;
  at: number;
}

/**
 * The shape that keeps any sliding window of `windowMs` under `fraction` of `limit` requests. A bucket lets through
 * at most capacity + refill x window in any window, so a tenth of the allowance is burst and the rest is rate.
 * (Graph: 10,000 requests per 10 minutes per app and mailbox, https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits;
 * Dataverse: 6,000 requests per 5 minutes per user, https://learn.microsoft.com/power-apps/developer/data-platform/api-limits.)
 */
export function shapeFor(limit: number, windowMs: number, fraction = 1): BucketShape {
  const allowance = Math.max(1, limit * fraction);
  return { capacity: Math.max(1, allowance / 10), refillPerMs: (allowance * 0.9) / windowMs };
}

/** A full bucket at `now`. */
export function fullBucket(shape: BucketShape, now: number): BucketState {
  return { tokens: shape.capacity, at: now };
}

/** The bucket at `now`: filled for the time since its state was taken, never over capacity (a clock going back adds nothing). */
export function refill(shape: BucketShape, state: BucketState, now: number): BucketState {
  const elapsed = Math.max(0, now - state.at);
  return { tokens: Math.min(shape.capacity, state.tokens + elapsed * shape.refillPerMs), at: Math.max(now, state.at) };
}

/**
 * Takes one token: `waitMs` 0 and the new state when there was one, else how long until there is one (the state is
 * then only refilled, nothing taken).
 */
export function take(shape: BucketShape, state: BucketState, now: number): { state: BucketState; waitMs: number } {
  const filled = refill(shape, state, now);
  if (filled.tokens >= 1) return { state: { tokens: filled.tokens - 1, at: filled.at }, waitMs: 0 };
  return { state: filled, waitMs: Math.ceil((1 - filled.tokens) / shape.refillPerMs) };
}

/** A bucket of another shape with the same fill level (an instance count changed: the share is reshaped, not refilled). */
export function reshape(from: BucketShape, to: BucketShape, state: BucketState): BucketState {
  const level = from.capacity > 0 ? state.tokens / from.capacity : 1;
  return { tokens: Math.min(to.capacity, level * to.capacity), at: state.at };
}

/** A bucket state read from storage, or undefined when it is not one (a row written by hand, a newer release). */
export function parseBucket(value: unknown): BucketState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { tokens, at } = value as { tokens?: unknown; at?: unknown };
  return typeof tokens === 'number' && Number.isFinite(tokens) && tokens >= 0 && typeof at === 'number' && Number.isFinite(at) ? { tokens, at } : undefined;
}
