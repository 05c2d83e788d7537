// The simulator's clock: real time plus an offset the admin API can advance, so tests can let days pass
// (subscription expiry, throttling windows) without waiting.

/** Something that tells the time in epoch milliseconds. */
export interface TimeSource {
  now(): number;
}

/** Real (or injected) time shifted by an adjustable offset. */
export class SimClock implements TimeSource {
  private offsetMs = 0;

  constructor(private readonly base: TimeSource = { now: () => Date.now() }) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }

  /** Moves simulated time forward (never backward: Graph time does not run back). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock can only be advanced by a non-negative number of milliseconds');
    this.offsetMs += ms;
  }

  get offset(): number {
    return this.offsetMs;
  }
}
