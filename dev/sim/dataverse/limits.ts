// Service protection limits per user (PAD api-limits.md; docs/reference/platform-facts.md section 6; samples/dataverse-429-service-protection.txt):
// requests and combined execution time over a sliding window, and concurrent requests, answered 429 with Retry-After
// (integer seconds) and the documented hex codes and messages.
import { DataverseError, ErrorCodes } from './errors.js';

export interface ServiceProtectionLimits {
  /** Requests per window per user (6000). */
  requestsPerWindow: number;
  /** Window length in seconds (300). */
  windowSeconds: number;
  /** Combined execution time per window in ms (1,200,000). */
  executionTimeMsPerWindow: number;
  /** Concurrent requests per user (52). */
  concurrentRequests: number;
}

export const defaultServiceProtectionLimits: ServiceProtectionLimits = {
  requestsPerWindow: 6000,
  windowSeconds: 300,
  executionTimeMsPerWindow: 1_200_000,
  concurrentRequests: 52,
};

interface UserUsage {
  // Request start times (ms) in the window, oldest first, with the execution time each one took.
  times: number[];
  durations: number[];
  head: number;
  /** Entries compacted away so far, so an absolute entry number survives compaction. */
  base: number;
  executionMs: number;
  inFlight: number;
}

export class ServiceProtection {
  private readonly users = new Map<string, UserUsage>();

  constructor(
    private limits: ServiceProtectionLimits,
    private readonly now: () => number,
  ) {}

  setLimits(limits: ServiceProtectionLimits): void {
    this.limits = limits;
  }

  getLimits(): ServiceProtectionLimits {
    return this.limits;
  }

  private usage(userId: string): UserUsage {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { times: [], durations: [], head: 0, base: 0, executionMs: 0, inFlight: 0 }));
    const cutoff = this.now() - this.limits.windowSeconds * 1000;
    while (u.head < u.times.length && u.times[u.head]! <= cutoff) {
      u.executionMs -= u.durations[u.head]!;
      u.head++;
    }
    if (u.head > 1024 && u.head * 2 > u.times.length) {
      u.times = u.times.slice(u.head);
      u.durations = u.durations.slice(u.head);
      u.base += u.head;
      u.head = 0;
    }
    return u;
  }

  /** Admits a request or throws the documented 429; returns the finisher that records its execution time. */
  admit(userId: string): { finish: () => void; headers: Record<string, string> } {
    const u = this.usage(userId);
    const now = this.now();
    const count = u.times.length - u.head;
    if (u.inFlight >= this.limits.concurrentRequests) {
      throw new DataverseError(429, ErrorCodes.ConcurrencyLimit, `Number of concurrent requests exceeded the limit of ${this.limits.concurrentRequests}.`, { 'Retry-After': '1' });
    }
    this.checkWindow(u, now, count);
    const entry = u.base + u.times.length;
    u.times.push(now);
    u.durations.push(0);
    u.inFlight++;
    const t0 = performance.now();
    let finished = false;
    return {
      headers: {
        'x-ms-ratelimit-burst-remaining-xrm-requests': String(Math.max(0, this.limits.requestsPerWindow - count - 1)),
        'x-ms-ratelimit-time-remaining-xrm-requests': String(Math.max(0, this.limits.executionTimeMsPerWindow - u.executionMs)),
      },
      finish: () => {
        if (finished) return;
        finished = true;
        u.inFlight--;
        const ms = performance.now() - t0;
        // The entry has left the window already if the window moved on meanwhile.
        const i = entry - u.base;
        if (i >= u.head && i < u.durations.length) {
          u.durations[i] = ms;
          u.executionMs += ms;
        }
      },
    };
  }

  /**
   * Throws the documented 429 when the user is over the request-count or execution-time limit of the window, without
   * counting anything: a part of a batch under `batchPartThrottling: 'part'` (the batch itself was counted once).
   */
  check(userId: string): void {
    const u = this.usage(userId);
    this.checkWindow(u, this.now(), u.times.length - u.head);
  }

  private checkWindow(u: UserUsage, now: number, count: number): void {
    if (count >= this.limits.requestsPerWindow) {
      throw new DataverseError(429, ErrorCodes.RequestsLimit, `Number of requests exceeded the limit of ${this.limits.requestsPerWindow} over time window of ${this.limits.windowSeconds} seconds.`, {
        'Retry-After': String(this.retryAfterSeconds(u, now)),
      });
    }
    if (u.executionMs >= this.limits.executionTimeMsPerWindow) {
      throw new DataverseError(
        429,
        ErrorCodes.ExecutionTimeLimit,
        `Combined execution time of incoming requests exceeded limit of ${this.limits.executionTimeMsPerWindow.toLocaleString('en-US')}  milliseconds over time window of ${this.limits.windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
        { 'Retry-After': String(this.retryAfterSeconds(u, now)) },
      );
    }
  }

  /** Seconds until the oldest request in the window leaves it (at least 1). */
  private retryAfterSeconds(u: UserUsage, now: number): number {
    const oldest = u.times[u.head] ?? now;
    return Math.max(1, Math.ceil((oldest + this.limits.windowSeconds * 1000 - now) / 1000));
  }

  reset(): void {
    this.users.clear();
  }
}
