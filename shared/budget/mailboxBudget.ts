// The Graph budget of each mailbox in this instance: at most `concurrency` calls at once, paced by the mailbox's rate
// bucket, none while a Retry-After runs, and (mode shared) only while this instance holds the mailbox's lease, so the
// limits hold across every instance (shared/budget/lease.ts). Decisions are the pure functions of lease.ts and
// tokenBucket.ts; this class only keeps the state per mailbox and does the waiting and the lease I/O through a port.
import { SyncError } from '../errors.js';
import { decideTake, defaultLeaseTiming, releasedRow, renewedRow, shouldYield, type LeaseRow, type LeaseTiming } from './lease.js';
import { fullBucket, refill, shapeFor, take, type BucketShape, type BucketState } from './tokenBucket.js';

/** Where the lease rows live (shared/storage/budgetStore.ts). Writes answer the new etag, or undefined when the row changed (412) or exists (409). */
export interface LeasePort {
  read(mailbox: string): Promise<{ row: LeaseRow; etag: string } | undefined>;
  create(mailbox: string, row: LeaseRow): Promise<string | undefined>;
  replace(mailbox: string, row: LeaseRow, etag: string): Promise<string | undefined>;
}

/** shared: one instance at a time per mailbox (a lease in Table Storage); local: this instance alone; off: no pacing. */
export type BudgetMode = 'shared' | 'local' | 'off';

/** Graph's Outlook limits per app and mailbox (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits). */
export const graphMailboxLimits = { concurrent: 4, requests: 10_000, windowMs: 600_000 } as const;

/** Past this many mailboxes held, a new one first makes the budget forget the idle ones. */
const idleSweepAbove = 1_000;

export interface MailboxBudgetOptions {
  mode: Exclude<BudgetMode, 'off'>;
  /** This instance's id in the lease rows. */
  instanceId: string;
  port?: LeasePort;
  concurrency?: number;
  shape?: BucketShape;
  timing?: LeaseTiming;
  /** Longest a call waits here; past it the call fails Throttled and the worker reschedules the change. */
  maxWaitMs?: number;
  now?: () => number;
  /** Reports a lease I/O failure (the call then goes on without the lease rather than failing). */
  onError?: (error: unknown) => void;
}

interface MailboxState {
  inFlight: number;
  /** acquire() calls under way (an idle lease is kept while any waits). */
  pending: number;
  bucket: BucketState;
  pausedUntil: number;
  lease: { row: LeaseRow; etag: string } | undefined;
  taking: Promise<number | undefined> | undefined;
  yielding: boolean;
  renewTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  wake: Set<() => void>;
}

export class MailboxBudget {
  private readonly mailboxes = new Map<string, MailboxState>();
  private readonly concurrency: number;
  private readonly shape: BucketShape;
  private readonly timing: LeaseTiming;
  private readonly maxWaitMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: MailboxBudgetOptions) {
    if (options.mode === 'shared' && !options.port) throw new SyncError('Internal', 'a shared mailbox budget needs its lease table');
    this.concurrency = options.concurrency ?? graphMailboxLimits.concurrent;
    // 90% of the window's requests: a margin for calls this budget does not see (another tool on the same app id).
    this.shape = options.shape ?? shapeFor(graphMailboxLimits.requests, graphMailboxLimits.windowMs, 0.9);
    this.timing = options.timing ?? defaultLeaseTiming;
    this.maxWaitMs = options.maxWaitMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Waits for a slot of the mailbox's budget; the function returned gives it back (call it once the answer is in). */
  async acquire(mailbox: string): Promise<() => void> {
    const m = this.state(mailbox);
    const deadline = this.now() + this.maxWaitMs;
    m.pending += 1;
    try {
      for (;;) {
        if (this.options.mode === 'shared' && !m.lease) {
          await this.holdLease(mailbox, m, deadline);
          continue;
        }
        const now = this.now();
        if (m.pausedUntil > now) {
          await this.waitUntil(m, Math.min(m.pausedUntil, now + 1_000), deadline, m.pausedUntil);
          continue;
        }
        if (m.yielding || m.inFlight >= this.concurrency) {
          await this.waitUntil(m, now + 1_000, deadline, now + 1_000);
          continue;
        }
        const taken = take(this.shape, m.bucket, now);
        m.bucket = taken.state;
        if (taken.waitMs > 0) {
          await this.waitUntil(m, now + taken.waitMs, deadline, now + taken.waitMs);
          continue;
        }
        m.inFlight += 1;
        clearTimeout(m.idleTimer);
        m.idleTimer = undefined;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          m.inFlight -= 1;
          this.afterCall(mailbox, m);
        };
      }
    } finally {
      m.pending -= 1;
    }
  }

  /** Graph answered 429 with this Retry-After: no call to the mailbox before it ends, on any instance (the next renewal writes it). */
  pause(mailbox: string, retryAfterMs: number): void {
    const m = this.state(mailbox);
    m.pausedUntil = Math.max(m.pausedUntil, this.now() + retryAfterMs);
    if (m.lease) void this.renew(mailbox, m);
  }

  /** Lets go of every lease (the instance stops). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.mailboxes].map(async ([mailbox, m]) => {
      clearTimeout(m.idleTimer);
      if (m.lease) await this.release(mailbox, m);
    }));
  }

  private state(mailbox: string): MailboxState {
    let m = this.mailboxes.get(mailbox);
    if (!m) {
      if (this.mailboxes.size >= idleSweepAbove) this.forgetIdle();
      m = { inFlight: 0, pending: 0, bucket: fullBucket(this.shape, this.now()), pausedUntil: 0, lease: undefined, taking: undefined, yielding: false, renewTimer: undefined, idleTimer: undefined, wake: new Set() };
      this.mailboxes.set(mailbox, m);
    }
    return m;
  }

  /**
   * Drops the state of mailboxes nothing is waiting on, holding or owing: no call in flight or pending, no lease or
   * timer, no pause, and a bucket full again (so forgetting it allows nothing a remembered one would not). A worker of
   * a tenant with tens of thousands of mailboxes then keeps the ones in use, not every one it ever called.
   */
  private forgetIdle(): void {
    const now = this.now();
    for (const [mailbox, m] of this.mailboxes) {
      const busy = m.inFlight > 0 || m.pending > 0 || m.lease !== undefined || m.taking !== undefined || m.renewTimer !== undefined || m.idleTimer !== undefined || m.wake.size > 0;
      if (busy || m.pausedUntil > now || refill(this.shape, m.bucket, now).tokens < this.shape.capacity) continue;
      this.mailboxes.delete(mailbox);
    }
  }

  /** How many mailboxes' state this instance holds (bounded by forgetIdle). */
  get heldMailboxes(): number {
    return this.mailboxes.size;
  }

  /** Sleeps until `until` or the next change of the mailbox's state; fails Throttled when that passes the deadline. */
  private async waitUntil(m: MailboxState, until: number, deadline: number, readyAt: number): Promise<void> {
    if (readyAt > deadline || this.closed) {
      throw new SyncError('Throttled', "waiting for the mailbox's Graph budget took too long", { retryAfterMs: Math.max(1_000, readyAt - this.now()) });
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        m.wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, until - this.now()));
      m.wake.add(done);
    });
  }

  private notify(m: MailboxState): void {
    for (const wake of [...m.wake]) wake();
  }

  private afterCall(mailbox: string, m: MailboxState): void {
    this.notify(m);
    if (m.inFlight > 0 || !m.lease) return;
    if (m.yielding) {
      void this.release(mailbox, m);
      return;
    }
    if (m.pending > 0) return;
    clearTimeout(m.idleTimer);
    m.idleTimer = setTimeout(() => {
      m.idleTimer = undefined;
      if (m.inFlight === 0 && m.pending === 0 && m.lease) void this.release(mailbox, m);
    }, this.timing.idleReleaseMs);
    m.idleTimer.unref?.();
  }

  private async holdLease(mailbox: string, m: MailboxState, deadline: number): Promise<void> {
    m.taking ??= this.tryTake(mailbox, m).finally(() => (m.taking = undefined));
    const retryAt = await m.taking;
    if (m.lease || retryAt === undefined) return;
    await this.waitUntil(m, retryAt, deadline, retryAt);
  }

  /** One attempt at the lease: undefined when it is ours (or the table failed: go on unshared), else when to look again. */
  private async tryTake(mailbox: string, m: MailboxState): Promise<number | undefined> {
    const port = this.options.port!;
    try {
      const read = await port.read(mailbox);
      const now = this.now();
      const decision = decideTake(read?.row, this.options.instanceId, now, this.timing, this.shape);
      if (decision.kind === 'wait') {
        if (decision.mark && read) await port.replace(mailbox, decision.mark, read.etag);
        return decision.retryAt;
      }
      const etag = read ? await port.replace(mailbox, decision.row, read.etag) : await port.create(mailbox, decision.row);
      // Someone else wrote in between: look again at once.
      if (etag === undefined) return now;
      m.lease = { row: decision.row, etag };
      m.bucket = decision.row.bucket;
      m.pausedUntil = Math.max(m.pausedUntil, decision.row.pausedUntil);
      m.yielding = false;
      clearInterval(m.renewTimer);
      m.renewTimer = setInterval(() => void this.renew(mailbox, m), this.timing.renewMs);
      m.renewTimer.unref?.();
      return undefined;
    } catch (error) {
      this.options.onError?.(error);
      // Without the table the budget still holds in this instance; a failing table must not stop the sync.
      m.lease = { row: { holder: this.options.instanceId, expiresAt: this.now() + this.timing.leaseMs, bucket: m.bucket, pausedUntil: m.pausedUntil, wantedBy: '', wantedAt: 0 }, etag: '' };
      return undefined;
    }
  }

  private async renew(mailbox: string, m: MailboxState): Promise<void> {
    const lease = m.lease;
    if (!lease || lease.etag === '') return;
    const port = this.options.port!;
    try {
      let current = lease;
      for (let i = 0; i < 3; i += 1) {
        const now = this.now();
        if (shouldYield(current.row, this.options.instanceId, now, this.timing)) {
          m.yielding = true;
          if (m.inFlight === 0) await this.release(mailbox, m);
          return;
        }
        const row = renewedRow(current.row, now, this.timing, { bucket: m.bucket, pausedUntil: m.pausedUntil });
        const etag = await port.replace(mailbox, row, current.etag);
        if (etag !== undefined) {
          if (m.lease === lease || m.lease === current) m.lease = { row, etag };
          return;
        }
        // The row changed: a waiter marked it (ours still: keep it and see whether to hand over), or it was taken.
        const read = await port.read(mailbox);
        if (!read || read.row.holder !== this.options.instanceId) {
          this.lost(m);
          return;
        }
        current = read;
        m.lease = read;
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private lost(m: MailboxState): void {
    clearInterval(m.renewTimer);
    m.renewTimer = undefined;
    m.lease = undefined;
    m.yielding = false;
    this.notify(m);
  }

  private async release(mailbox: string, m: MailboxState): Promise<void> {
    const lease = m.lease;
    if (!lease) return;
    this.lost(m);
    if (lease.etag === '') return;
    const port = this.options.port!;
    try {
      let current = lease;
      for (let i = 0; i < 3; i += 1) {
        if ((await port.replace(mailbox, releasedRow(current.row, this.now(), { bucket: m.bucket, pausedUntil: m.pausedUntil }), current.etag)) !== undefined) return;
        // The row changed since: a waiting instance marked it (that is what asking does), so the etag is stale. Release
        // the row as it is now while it is still ours, keeping the waiter's wish; otherwise the waiter would wait out
        // the whole lease (10 s) for a holder that has already let go.
        const read = await port.read(mailbox);
        if (!read || read.row.holder !== this.options.instanceId) return;
        current = read;
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
