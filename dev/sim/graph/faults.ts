// The seeded fault plan: random latency, 429 bursts, 5xx (before or after the write took effect), notification
// drops, duplicates, delays and reordering, removed subscriptions and evicted delta tokens, plus scripted one-off
// failures. Each concern draws from its own stream of the plan's seed, so the same seed and the same sequence of
// requests give the same faults.
import { z } from 'zod';
import { Prng } from './prng.js';

const range = z.object({ min: z.number().min(0), max: z.number().min(0) });

export const faultPlanSchema = z.object({
  seed: z.number().int().optional(),
  /** Only requests whose "METHOD /path" matches this regular expression get request faults. */
  routes: z.string().optional(),
  latency: z.object({ probability: z.number().min(0).max(1).optional(), minMs: z.number().min(0), maxMs: z.number().min(0) }).optional(),
  throttleBursts: z.object({ probability: z.number().min(0).max(1), length: z.number().int().min(1).optional(), retryAfterSeconds: z.number().min(0).optional() }).optional(),
  serverErrors: z
    .object({ probability: z.number().min(0).max(1), statuses: z.array(z.number().int().min(500).max(599)).optional(), afterExecution: z.number().min(0).max(1).optional() })
    .optional(),
  notifications: z
    .object({
      drop: z.number().min(0).max(1).optional(),
      duplicate: z.number().min(0).max(1).optional(),
      delay: z.number().min(0).max(1).optional(),
      delayMs: range.optional(),
      reorder: z.number().min(0).max(1).optional(),
      missedOnDrop: z.boolean().optional(),
    })
    .optional(),
  subscriptionRemoval: z.number().min(0).max(1).optional(),
  deltaTokenEviction: z.number().min(0).max(1).optional(),
});
/** A seeded description of what goes wrong, and how often. */
export type FaultPlan = z.infer<typeof faultPlanSchema>;

export const scriptedFaultSchema = z.object({
  method: z.string().optional(),
  /** Regular expression matched against the request path after /v1.0 (e.g. "/events$"). */
  path: z.string().optional(),
  status: z.number().int().min(400).max(599),
  code: z.string().optional(),
  message: z.string().optional(),
  retryAfterSeconds: z.number().min(0).optional(),
  times: z.number().int().min(1).optional(),
  /** Fail after the request took effect (a lost response), instead of before. */
  afterExecution: z.boolean().optional(),
});
/** A one-off failure for the next matching request(s). */
export type ScriptedFault = z.infer<typeof scriptedFaultSchema>;

/** What to do to one request. */
export interface RequestFault {
  latencyMs: number;
  fail?: { status: number; code: string; message: string; retryAfterSeconds?: number; afterExecution: boolean };
}

/** What to do to one notification. */
export interface NotificationFault {
  drop: boolean;
  duplicate: boolean;
  delayMs: number;
}

const CODES: Record<number, string> = { 500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceNotAvailable', 504: 'GatewayTimeout' };

/** Applies a fault plan deterministically. */
export class FaultInjector {
  private plan: FaultPlan = {};
  private routes: RegExp | undefined;
  private streams!: Record<'latency' | 'burst' | 'server' | 'notify' | 'subscription' | 'delta', Prng>;
  private readonly bursts = new Map<string, number>();
  private scripted: (ScriptedFault & { remaining: number; re?: RegExp })[] = [];
  /** One line per decision that injected something, for reproducibility checks. */
  readonly history: string[] = [];

  constructor(private readonly defaultSeed: number) {
    this.setPlan({});
  }

  setPlan(plan: FaultPlan): void {
    this.plan = faultPlanSchema.parse(plan);
    this.routes = plan.routes ? new RegExp(plan.routes) : undefined;
    const root = new Prng(plan.seed ?? this.defaultSeed, 'faults');
    this.streams = {
      latency: root.fork('latency'),
      burst: root.fork('burst'),
      server: root.fork('server'),
      notify: root.fork('notify'),
      subscription: root.fork('subscription'),
      delta: root.fork('delta'),
    };
    this.bursts.clear();
    this.history.length = 0;
  }

  getPlan(): FaultPlan {
    return this.plan;
  }

  addScripted(fault: ScriptedFault): void {
    const parsed = scriptedFaultSchema.parse(fault);
    this.scripted.push({ ...parsed, remaining: parsed.times ?? 1, ...(parsed.path ? { re: new RegExp(parsed.path, 'i') } : {}) });
  }

  clearScripted(): void {
    this.scripted = [];
  }

  /** Decides the faults of one Graph request (key = app|mailbox for 429 bursts). */
  forRequest(method: string, path: string, key: string): RequestFault {
    const out: RequestFault = { latencyMs: 0 };
    const scripted = this.scripted.find((f) => (!f.method || f.method.toUpperCase() === method) && (!f.re || f.re.test(path)));
    if (scripted) {
      scripted.remaining -= 1;
      if (scripted.remaining <= 0) this.scripted = this.scripted.filter((f) => f !== scripted);
      out.fail = {
        status: scripted.status,
        code: scripted.code ?? (scripted.status === 429 ? 'TooManyRequests' : (CODES[scripted.status] ?? 'BadRequest')),
        message: scripted.message ?? `Injected failure (scripted ${scripted.status}).`,
        ...(scripted.retryAfterSeconds !== undefined ? { retryAfterSeconds: scripted.retryAfterSeconds } : {}),
        afterExecution: scripted.afterExecution ?? false,
      };
      this.history.push(`scripted ${method} ${path} ${scripted.status}`);
      return out;
    }
    if (this.routes && !this.routes.test(`${method} ${path}`)) return out;
    const { latency, throttleBursts, serverErrors } = this.plan;
    if (latency && this.streams.latency.chance(latency.probability ?? 1)) {
      out.latencyMs = Math.round(latency.minMs + this.streams.latency.next() * Math.max(0, latency.maxMs - latency.minMs));
    }
    const remaining = this.bursts.get(key) ?? 0;
    if (remaining > 0 || (throttleBursts && this.streams.burst.chance(throttleBursts.probability))) {
      const left = remaining > 0 ? remaining - 1 : (throttleBursts?.length ?? 1) - 1;
      if (left > 0) this.bursts.set(key, left);
      else this.bursts.delete(key);
      out.fail = { status: 429, code: 'TooManyRequests', message: 'Please retry again later.', retryAfterSeconds: throttleBursts?.retryAfterSeconds ?? 1, afterExecution: false };
      this.history.push(`429 ${method} ${path}`);
      return out;
    }
    if (serverErrors && this.streams.server.chance(serverErrors.probability)) {
      const status = this.streams.server.pick(serverErrors.statuses ?? [500, 502, 503, 504]);
      const after = this.streams.server.chance(serverErrors.afterExecution ?? 0);
      out.fail = { status, code: CODES[status] ?? 'InternalServerError', message: `Injected ${status}.`, afterExecution: after };
      this.history.push(`${status}${after ? ' after' : ''} ${method} ${path}`);
    }
    return out;
  }

  forNotification(subscriptionId: string): NotificationFault {
    const n = this.plan.notifications;
    if (!n) return { drop: false, duplicate: false, delayMs: 0 };
    const s = this.streams.notify;
    const drop = s.chance(n.drop);
    const duplicate = !drop && s.chance(n.duplicate);
    const delayed = !drop && s.chance(n.delay);
    const range = n.delayMs ?? { min: 50, max: 500 };
    const delayMs = delayed ? Math.round(range.min + s.next() * Math.max(0, range.max - range.min)) : 0;
    if (drop || duplicate || delayed) this.history.push(`notification ${subscriptionId}${drop ? ' drop' : ''}${duplicate ? ' duplicate' : ''}${delayed ? ` delay ${delayMs}` : ''}`);
    return { drop, duplicate, delayMs };
  }

  missedOnDrop(): boolean {
    return this.plan.notifications?.missedOnDrop ?? false;
  }

  /** Whether a batch for one URL is delivered in shuffled order; shuffles it if so. */
  reorder<T>(items: T[]): T[] {
    const p = this.plan.notifications?.reorder;
    if (!p || items.length < 2 || !this.streams.notify.chance(p)) return items;
    this.history.push(`reorder ${items.length}`);
    return this.streams.notify.shuffle([...items]);
  }

  removeSubscription(subscriptionId: string): boolean {
    const hit = this.streams.subscription.chance(this.plan.subscriptionRemoval);
    if (hit) this.history.push(`remove subscription ${subscriptionId}`);
    return hit;
  }

  evictDeltaToken(): boolean {
    const hit = this.streams.delta.chance(this.plan.deltaTokenEviction);
    if (hit) this.history.push('evict delta token');
    return hit;
  }
}
