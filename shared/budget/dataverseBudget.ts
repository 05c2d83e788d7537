// The Dataverse budget: service protection limits are evaluated per user, so per application user
// (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits: 6,000 requests per 5 minutes and 52
// concurrent requests by default). Every Dataverse call of this instance takes a slot from one application user's
// lane: the lane with the most room, so the load spreads over several app registrations when more are configured.
// Each instance takes 1/N of every lane, N being the instances whose heartbeat is fresh in the Budget table.
import { SyncError } from '../errors.js';
import type { TokenProvider } from '../auth/tokens.js';
import { fullBucket, reshape, shapeFor, take, type BucketShape, type BucketState } from './tokenBucket.js';

/** One application user: the token of its app registration and its systemuserid once known. */
export interface ApplicationUserLane {
  /** The app registration's client id (an id, never a secret). */
  clientId: string;
  tokens: TokenProvider;
}

/** Where instances say they are alive (shared/storage/budgetStore.ts). */
export interface HeartbeatPort {
  beat(instanceId: string, now: number): Promise<void>;
  liveInstances(since: number): Promise<number>;
  leave(instanceId: string): Promise<void>;
}

export interface DataverseBudgetOptions {
  mode: 'shared' | 'local';
  lanes: readonly ApplicationUserLane[];
  /** Requests per 5 minutes per application user this deployment may use (all instances together). */
  requestsPer5Minutes: number;
  /** Concurrent requests per application user (all instances together). */
  concurrent: number;
  instanceId: string;
  port?: HeartbeatPort;
  heartbeatMs?: number;
  maxWaitMs?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

interface LaneState {
  lane: ApplicationUserLane;
  inFlight: number;
  bucket: BucketState;
  pausedUntil: number;
  calls: number;
}

/** A slot of one lane: call with its tokens, then release. */
export interface DataverseSlot {
  clientId: string;
  tokens: TokenProvider;
  release(): void;
}

const windowMs = 300_000;

export class DataverseBudget {
  private readonly lanes: LaneState[];
  private instances = 1;
  private shape: BucketShape;
  private concurrency: number;
  private readonly now: () => number;
  private readonly maxWaitMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private started: Promise<void> | undefined;
  /** The first heartbeat's count is in (or there is none to wait for). */
  private counted = false;
  private readonly wake = new Set<() => void>();
  private turn = 0;

  constructor(private readonly options: DataverseBudgetOptions) {
    if (options.lanes.length === 0) throw new SyncError('Internal', 'the Dataverse budget needs at least one application user');
    this.now = options.now ?? Date.now;
    this.maxWaitMs = options.maxWaitMs ?? 30_000;
    this.shape = shapeFor(options.requestsPer5Minutes, windowMs);
    this.concurrency = options.concurrent;
    this.lanes = options.lanes.map((lane) => ({ lane, inFlight: 0, bucket: fullBucket(this.shape, this.now()), pausedUntil: 0, calls: 0 }));
  }

  /** Calls made per application user so far (client id -> count), for the status and the benchmark. */
  callsByApplicationUser(): Record<string, number> {
    return Object.fromEntries(this.lanes.map((l) => [l.lane.clientId, l.calls]));
  }

  /** The instance count this instance's share is based on. */
  instanceCount(): number {
    return this.instances;
  }

  /** Waits for a slot on the lane with the most room. */
  async acquire(): Promise<DataverseSlot> {
    await this.start();
    const deadline = this.now() + this.maxWaitMs;
    for (;;) {
      const now = this.now();
      const taken = this.take(now);
      if ('slot' in taken) return taken.slot;
      const soonest = taken.soonest;
      // Every lane is busy: wake on a release, or when the soonest bucket or pause allows a call.
      const until = Math.min(soonest, now + 1_000);
      if (soonest !== Infinity && soonest > deadline) throw new SyncError('Throttled', 'waiting for the Dataverse budget took too long', { retryAfterMs: Math.max(1_000, soonest - now) });
      if (now > deadline) throw new SyncError('Throttled', 'waiting for the Dataverse budget took too long', { retryAfterMs: 1_000 });
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wake.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, until - now));
        this.wake.add(done);
      });
    }
  }

  /**
   * A slot now, or why the call would have to wait: 'tokens' when the lanes it could use are out of request tokens or
   * paused by a Retry-After (or the instance count is not known yet), 'concurrency' when every one of them is only
   * full. The client sends calls waiting for tokens together as one $batch, which takes one token; a batch would not
   * help a call waiting only for concurrency, since its parts run one after another in one slot.
   */
  tryAcquire(): { slot: DataverseSlot } | { waitFor: 'tokens' | 'concurrency' } {
    if (this.options.mode === 'shared' && this.options.port && !this.counted) {
      void this.start();
      return { waitFor: 'tokens' };
    }
    const taken = this.take(this.now());
    return 'slot' in taken ? taken : { waitFor: taken.soonest === Infinity ? 'concurrency' : 'tokens' };
  }

  /** Takes a slot on the lane with the most room, or says when the soonest lane may have one. */
  private take(now: number): { slot: DataverseSlot } | { soonest: number } {
    let best: { lane: LaneState; tokens: number } | undefined;
    let soonest = Infinity;
    // Start the scan one lane further each time, so equal lanes take turns.
    this.turn = (this.turn + 1) % this.lanes.length;
    for (let k = 0; k < this.lanes.length; k += 1) {
      const l = this.lanes[(this.turn + k) % this.lanes.length]!;
      if (l.pausedUntil > now) {
        soonest = Math.min(soonest, l.pausedUntil);
        continue;
      }
      if (l.inFlight >= this.concurrency) continue;
      const taken = take(this.shape, l.bucket, now);
      if (taken.waitMs > 0) {
        soonest = Math.min(soonest, now + taken.waitMs);
        continue;
      }
      // Fewest in flight first, then most tokens left: the load spreads over the lanes.
      const tokens = taken.state.tokens;
      if (!best || l.inFlight < best.lane.inFlight || (l.inFlight === best.lane.inFlight && tokens > best.tokens + 1)) best = { lane: l, tokens };
    }
    if (!best) return { soonest };
    const l = best.lane;
    l.bucket = take(this.shape, l.bucket, now).state;
    l.inFlight += 1;
    l.calls += 1;
    let released = false;
    return {
      slot: {
        clientId: l.lane.clientId,
        tokens: l.lane.tokens,
        release: () => {
          if (released) return;
          released = true;
          l.inFlight -= 1;
          for (const w of [...this.wake]) w();
        },
      },
    };
  }

  /** Dataverse answered 429 for this application user: no call on its lane before Retry-After ends. */
  pause(clientId: string, retryAfterMs: number): void {
    const l = this.lanes.find((x) => x.lane.clientId === clientId);
    if (l) l.pausedUntil = Math.max(l.pausedUntil, this.now() + retryAfterMs);
  }

  /** Stops the heartbeat and removes this instance's row, so the others take its share. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.options.mode === 'shared' && this.started) await this.options.port?.leave(this.options.instanceId).catch((error: unknown) => this.options.onError?.(error));
  }

  /** Starts the heartbeat on first use; the first call waits for the first count, so no instance starts with a whole budget. */
  private start(): Promise<void> {
    if (this.options.mode !== 'shared' || !this.options.port) return Promise.resolve();
    if (this.started) return this.started;
    // Every 3 s: an instance that starts under load is counted by the others within seconds, so two instances do not
    // both take a whole share for long (2 table calls per beat; Table Storage takes 2,000 per second per partition).
    const every = this.options.heartbeatMs ?? 3_000;
    const beat = async () => {
      const port = this.options.port!;
      try {
        const now = this.now();
        await port.beat(this.options.instanceId, now);
        // Fresh means within three beats: one missed beat does not double the others' shares.
        this.setInstances(Math.max(1, await port.liveInstances(now - 3 * every)));
      } catch (error) {
        this.options.onError?.(error);
      }
    };
    this.started = beat().then(() => void (this.counted = true));
    this.heartbeat = setInterval(() => void beat(), every);
    this.heartbeat.unref?.();
    return this.started;
  }

  /** Reshapes every lane to this instance's share of N. */
  setInstances(n: number): void {
    if (n === this.instances) return;
    const next = shapeFor(this.options.requestsPer5Minutes / n, windowMs);
    for (const l of this.lanes) l.bucket = reshape(this.shape, next, l.bucket);
    this.shape = next;
    this.instances = n;
    this.concurrency = Math.max(1, Math.floor(this.options.concurrent / n));
  }
}
