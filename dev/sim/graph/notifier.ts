// Delivery of change and lifecycle notifications to webhooks (GDC concepts/change-notifications-delivery-webhooks.md):
// notifications bound for one URL are POSTed together as { value: [...] } (several subscriptions may share a POST);
// an answer other than 2xx, or one slower than 3 s, is a failure retried with exponential backoff for a bounded
// time, after which the notifications are discarded and `onGiveUp` lets the caller signal `missed`.
import type { FaultInjector } from './faults.js';

/** A notification waiting for delivery. */
export interface PendingNotification {
  subscriptionId: string;
  payload: Record<string, unknown>;
  lifecycle: boolean;
}

/** One delivery attempt, for inspection. */
export interface DeliveryRecord {
  sequence: number;
  url: string;
  attempt: number;
  /** HTTP status, or 0 when the endpoint did not answer in time or the connection failed. */
  status: number;
  ok: boolean;
  error?: string;
  durationMs: number;
  at: string;
  notifications: Record<string, unknown>[];
}

export interface NotifierOptions {
  responseTimeoutMs: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  retryForMs: number;
  maxBatchSize: number;
  batchDelayMs: number;
}

/** Batches, POSTs and retries notifications; knows when nothing is left in flight. */
export class Notifier {
  private readonly queues = new Map<string, PendingNotification[]>();
  private readonly flushTimers = new Map<string, NodeJS.Timeout | NodeJS.Immediate>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private readonly log: DeliveryRecord[] = [];
  private closed = false;

  constructor(
    private options: NotifierOptions,
    private readonly faults: FaultInjector,
    private readonly onGiveUp: (url: string, items: PendingNotification[]) => void,
  ) {}

  setOptions(options: NotifierOptions): void {
    this.options = options;
  }

  /** Queues a notification for a URL, honouring the fault plan's drop/duplicate/delay decision made by the caller. */
  enqueue(url: string, item: PendingNotification, delayMs = 0): void {
    if (this.closed) return;
    if (delayMs > 0) {
      this.outstanding += 1;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.outstanding -= 1;
        this.enqueue(url, item);
        this.checkIdle();
      }, delayMs);
      this.timers.add(t);
      return;
    }
    let q = this.queues.get(url);
    if (!q) {
      q = [];
      this.queues.set(url, q);
    }
    q.push(item);
    this.outstanding += 1;
    if (!this.flushTimers.has(url)) {
      const flush = () => {
        this.flushTimers.delete(url);
        this.flush(url);
      };
      this.flushTimers.set(url, this.options.batchDelayMs > 0 ? setTimeout(flush, this.options.batchDelayMs) : setImmediate(flush));
    }
  }

  deliveries(): DeliveryRecord[] {
    return [...this.log];
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** Resolves when no notification is queued, in flight, delayed or waiting for a retry. */
  settled(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get pending(): number {
    return this.outstanding;
  }

  close(): void {
    this.closed = true;
    for (const t of this.flushTimers.values()) {
      clearTimeout(t as NodeJS.Timeout);
      clearImmediate(t as NodeJS.Immediate);
    }
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.controllers) c.abort();
    this.flushTimers.clear();
    this.timers.clear();
    this.queues.clear();
    this.outstanding = 0;
    this.checkIdle();
  }

  private flush(url: string): void {
    const q = this.queues.get(url);
    if (!q || q.length === 0) return;
    this.queues.delete(url);
    for (let i = 0; i < q.length; i += this.options.maxBatchSize) {
      const batch = this.faults.reorder(q.slice(i, i + this.options.maxBatchSize));
      void this.attempt(url, batch, 1, Date.now());
    }
  }

  private async attempt(url: string, batch: PendingNotification[], attempt: number, firstAt: number): Promise<void> {
    const started = Date.now();
    const body = JSON.stringify({ value: batch.map((b) => b.payload) });
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.options.responseTimeoutMs);
    let status = 0;
    let error: string | undefined;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body, signal: controller.signal });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = controller.signal.aborted ? `no answer within ${this.options.responseTimeoutMs} ms` : err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    if (this.closed) return;
    const ok = status >= 200 && status < 300;
    this.log.push({
      sequence: this.log.length + 1,
      url,
      attempt,
      status,
      ok,
      ...(error ? { error } : {}),
      durationMs: Date.now() - started,
      at: new Date(started).toISOString(),
      notifications: batch.map((b) => b.payload),
    });
    if (ok) {
      this.done(batch.length);
      return;
    }
    const delay = Math.min(this.options.retryInitialDelayMs * 2 ** (attempt - 1), this.options.retryMaxDelayMs);
    if (Date.now() + delay - firstAt > this.options.retryForMs) {
      this.onGiveUp(url, batch);
      this.done(batch.length);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.attempt(url, batch, attempt + 1, firstAt);
    }, delay);
    this.timers.add(t);
  }

  private done(n: number): void {
    this.outstanding -= n;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.outstanding > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
