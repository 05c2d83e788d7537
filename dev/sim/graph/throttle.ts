// Outlook's throttling per app and mailbox (docs/reference/platform-facts.md section 4; GDC includes/throttling-outlook.md): a sliding
// window of requests and a cap on concurrent ones, answered 429 with Retry-After.
import type { TimeSource } from './clock.js';
import type { GraphSimLimits } from './options.js';

interface KeyState {
  stamps: number[];
  head: number;
  inFlight: number;
}

export type ThrottleResult = { ok: true; release: () => void } | { ok: false; retryAfterSeconds: number; reason: 'window' | 'concurrency' };

/** Counts requests per app+mailbox key. */
export class Throttle {
  private readonly keys = new Map<string, KeyState>();
  /** Per key: the most requests that were in the service at once, counting one that arrived and was refused (429). */
  private readonly peak = new Map<string, number>();
  private throttled = 0;

  constructor(
    private limits: GraphSimLimits,
    private readonly clock: TimeSource,
  ) {}

  setLimits(limits: GraphSimLimits): void {
    this.limits = limits;
  }

  /** Admits a request or says how long to wait. */
  acquire(key: string): ThrottleResult {
    const now = this.clock.now();
    let s = this.keys.get(key);
    if (!s) {
      s = { stamps: [], head: 0, inFlight: 0 };
      this.keys.set(key, s);
    }
    // Demand, not admissions: the request that arrives with n in flight makes n + 1 at once, whether admitted or not.
    if (s.inFlight + 1 > (this.peak.get(key) ?? 0)) this.peak.set(key, s.inFlight + 1);
    const cutoff = now - this.limits.windowMs;
    while (s.head < s.stamps.length && (s.stamps[s.head] as number) <= cutoff) s.head += 1;
    if (s.head > 4096 && s.head * 2 > s.stamps.length) {
      s.stamps = s.stamps.slice(s.head);
      s.head = 0;
    }
    if (s.stamps.length - s.head >= this.limits.requestsPerWindow) {
      this.throttled += 1;
      const oldest = s.stamps[s.head] as number;
      return { ok: false, reason: 'window', retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.limits.windowMs - now) / 1000)) };
    }
    if (s.inFlight >= this.limits.concurrentRequests) {
      this.throttled += 1;
      return { ok: false, reason: 'concurrency', retryAfterSeconds: this.limits.concurrencyRetryAfterSeconds };
    }
    s.stamps.push(now);
    s.inFlight += 1;
    const state = s;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        state.inFlight -= 1;
      },
    };
  }

  /** The peak concurrency per key (app|mailbox) since the last reset. */
  peaks(): ReadonlyMap<string, number> {
    return this.peak;
  }

  resetPeaks(): void {
    this.peak.clear();
  }

  throttledCount(): number {
    return this.throttled;
  }

  reset(): void {
    this.keys.clear();
    this.peak.clear();
    this.throttled = 0;
  }
}
