// The seeded fault plan: what goes wrong, and how often, for Web API requests and webhook deliveries.
// Decisions come from seeded streams in request (or delivery) order, so the same seed and the same sequence of calls
// give the same faults.
import { DataverseError, ErrorCodes } from './errors.js';
import type { Prng } from './prng.js';
import type { WebhookFaults } from './webhooks.js';

export interface RequestFaults {
  /** Only requests whose "METHOD /path" matches this regular expression (default: every Web API request). */
  match?: string;
  /** Added latency before the request is handled: a fixed ms or a uniform range. */
  latencyMs?: number | { min: number; max: number };
  /** 429 bursts: with this probability a request starts a burst of `burst` throttled requests for that user. */
  throttle?: { probability: number; burst?: number; retryAfterSeconds?: number };
  /**
   * Server errors answered instead of handling the request, or, with `afterExecution`, after handling it (a lost
   * answer: the write took effect but the client hears a 5xx). `times` stops injecting after that many.
   */
  serverError?: { probability: number; status?: 500 | 502 | 503 | 504; afterExecution?: boolean; times?: number };
  /**
   * Client errors (4xx) answered instead of handling the request, with the code and message given (default
   * 0x80040203 "Invalid argument."): Dataverse's messages may quote the offending value, e.g. a subject. Decided
   * from the same draw as serverError, after it.
   */
  reject?: { probability: number; status?: number; code?: string; message?: string };
}

export interface FaultPlan {
  requests?: RequestFaults;
  webhooks?: WebhookFaults;
}

export interface RequestFaultDecision {
  latencyMs: number;
  error: DataverseError | undefined;
  /** The error is answered after the request took effect. */
  afterExecution?: boolean;
  faults: string[];
}

/** Requests held at a gate until released (RequestFaultInjector.hold). */
export interface RequestHold {
  release: () => void;
  /** How many requests wait at the gate now or waited there. */
  held: () => number;
  /** Resolves once `count` requests have reached the gate. */
  waitForHeld: (count: number) => Promise<void>;
}

/** Applies the request part of a fault plan. */
export class RequestFaultInjector {
  private plan: RequestFaults = {};
  private matcher: RegExp | undefined;
  private readonly bursts = new Map<string, number>();
  private serverErrorsInjected = 0;
  private gates: Array<{ re: RegExp; release: Promise<void>; held: number; waiters: Array<{ count: number; resolve: () => void }> }> = [];

  constructor(private readonly prng: () => Prng) {}

  setPlan(plan: RequestFaults | undefined): void {
    this.plan = plan ?? {};
    this.matcher = this.plan.match ? new RegExp(this.plan.match) : undefined;
    this.bursts.clear();
    this.serverErrorsInjected = 0;
  }

  /** Decides the faults for one request; always draws the same number of values so decisions stay aligned. */
  decide(userId: string, method: string, path: string): RequestFaultDecision {
    const plan = this.plan;
    if (!plan.latencyMs && !plan.throttle && !plan.serverError && !plan.reject) return { latencyMs: 0, error: undefined, faults: [] };
    if (this.matcher && !this.matcher.test(`${method} ${path}`)) return { latencyMs: 0, error: undefined, faults: [] };
    const prng = this.prng();
    const latencyDraw = prng.next();
    const throttleDraw = prng.next();
    const errorDraw = prng.next();
    const faults: string[] = [];
    let latencyMs = 0;
    if (typeof plan.latencyMs === 'number') latencyMs = plan.latencyMs;
    else if (plan.latencyMs) latencyMs = plan.latencyMs.min + Math.floor(latencyDraw * (plan.latencyMs.max - plan.latencyMs.min + 1));
    if (latencyMs > 0) faults.push(`latency ${latencyMs}ms`);
    let remaining = this.bursts.get(userId) ?? 0;
    if (remaining === 0 && plan.throttle && throttleDraw < plan.throttle.probability) remaining = Math.max(1, plan.throttle.burst ?? 1);
    if (remaining > 0) {
      this.bursts.set(userId, remaining - 1);
      faults.push('throttled');
      const retryAfter = plan.throttle?.retryAfterSeconds ?? 1;
      return {
        latencyMs,
        faults,
        error: new DataverseError(429, ErrorCodes.RequestsLimit, 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.', { 'Retry-After': String(retryAfter) }),
      };
    }
    const serverError = plan.serverError;
    if (serverError && errorDraw < serverError.probability && (serverError.times === undefined || this.serverErrorsInjected < serverError.times)) {
      this.serverErrorsInjected += 1;
      const status = serverError.status ?? 503;
      const afterExecution = serverError.afterExecution === true;
      faults.push(`server error ${status}${afterExecution ? ' after execution' : ''}`);
      return { latencyMs, faults, afterExecution, error: new DataverseError(status, ErrorCodes.Unexpected, 'An unexpected error occurred.') };
    }
    if (plan.reject && errorDraw < (plan.serverError?.probability ?? 0) + plan.reject.probability) {
      const status = plan.reject.status ?? 400;
      faults.push(`rejected ${status}`);
      return { latencyMs, faults, error: new DataverseError(status, plan.reject.code ?? ErrorCodes.InvalidArgument, plan.reject.message ?? 'Invalid argument.') };
    }
    return { latencyMs, error: undefined, faults };
  }

  /** Holds matching requests (after admission, so they count as in flight) until the returned release is called. */
  hold(match: string): RequestHold {
    let release!: () => void;
    const gate = { re: new RegExp(match), release: new Promise<void>((r) => (release = r)), held: 0, waiters: [] as Array<{ count: number; resolve: () => void }> };
    this.gates.push(gate);
    return {
      release: () => {
        this.gates = this.gates.filter((g) => g !== gate);
        release();
      },
      held: () => gate.held,
      waitForHeld: (count) => (gate.held >= count ? Promise.resolve() : new Promise<void>((resolve) => gate.waiters.push({ count, resolve }))),
    };
  }

  /** Waits at any gate the request matches. */
  async gate(method: string, path: string): Promise<void> {
    for (const g of this.gates) {
      if (!g.re.test(`${method} ${path}`)) continue;
      g.held++;
      for (const w of g.waiters.filter((x) => g.held >= x.count)) w.resolve();
      g.waiters = g.waiters.filter((x) => g.held < x.count);
      await g.release;
    }
  }
}
