// The breaker between deciding and doing: the executor asks it before every destructive write and every create,
// reconciliation and backfill tell it what a full listing returned. It loads the scope's state, applies the pure
// rules (shared/sync/breaker.ts) and stores the result; a held write goes to the quarantine (shared/storage/
// breakerStore.ts), never to the dead-letter queue.
import type { Logger } from '../log.js';
import { recordBreakerHold } from '../telemetry/index.js';
import type { BreakerLimits } from '../settings/index.js';
import type { BreakerScope, BreakerStore, HeldEntry } from '../storage/breakerStore.js';
import type { PairStore } from '../storage/pairStore.js';
import { judgeCreate, judgeDelete, judgeListing, type BreakerThresholds, type BreakerTrigger, type ScopeState } from './breaker.js';

/**
 * The breaker's thresholds from the sync configuration's limits of a kind (shared/settings/, keys breaker.*). The
 * configuration has one minDeletes; deletes inferred from a listing start counting at half of it (at least 1), so
 * their ratio is stricter from fewer items too.
 */
export function thresholdsFromConfig(b: Readonly<BreakerLimits>): BreakerThresholds {
  return {
    windowMinutes: b.windowMinutes,
    emptyListingHolds: b.emptyListingHolds,
    emptyListingMinPairs: b.emptyListingMinPairs,
    holdResyncInferredDeletes: b.holdResyncInferredDeletes,
    explicit: { minDeletes: b.minDeletes, ratio: b.deleteRatio, hardCap: b.deleteCap },
    inferred: { minDeletes: Math.max(1, Math.ceil(b.minDeletes / 2)), ratio: b.inferredDeleteRatio, hardCap: b.inferredDeleteCap },
    createCap: b.createCap,
  };
}

export type Admission = { allow: true } | { allow: false; trigger: BreakerTrigger; detail: string };

/** How long a counted pair total stays good for the ratio (a ratio needs the order of magnitude, not the last pair). */
const pairCountTtlMs = 5 * 60_000;

export class BreakerGate {
  constructor(
    readonly store: BreakerStore,
    private readonly pairs: PairStore,
    private readonly thresholds: (mailboxId: string, kind: string) => Promise<BreakerThresholds>,
    private readonly log: Logger,
  ) {}

  /** The scope's pairs (both directions share them), counted again when the stored count is stale. */
  private async pairCount(scope: BreakerScope, state: ScopeState, now: Date): Promise<{ count: number; at: number }> {
    if (state.pairs && now.getTime() - state.pairs.at < pairCountTtlMs) return state.pairs;
    let count = 0;
    for await (const pair of this.pairs.listMailbox(scope.mailboxId)) if (pair.kind === scope.kind) count += 1;
    return { count, at: now.getTime() };
  }

  /** Decides one destructive write of the scope, counting it when it may go ahead. */
  async admitDelete(scope: BreakerScope, request: { inferred: boolean; resync: boolean; now: Date; target?: string }): Promise<Admission> {
    const t = await this.thresholds(scope.mailboxId, scope.kind);
    const pairs = await this.pairCount(scope, await this.store.get(scope), request.now);
    const admission = await this.store.update(scope, (state) => {
      // The stored count is the one this gate keeps current: an allowed delete takes its pair away.
      const counted = state.pairs && request.now.getTime() - state.pairs.at < pairCountTtlMs ? state.pairs : pairs;
      const verdict = judgeDelete(state, { ...request, pairs: counted.count }, t);
      return { state: { ...verdict.state, pairs: verdict.allow && !verdict.repeat ? { ...counted, count: Math.max(0, counted.count - 1) } : counted }, result: verdict };
    });
    if (admission.allow) return { allow: true };
    return { allow: false, trigger: admission.trigger, detail: admission.detail };
  }

  /** Decides one create of the scope, counting it when it may go ahead. */
  async admitCreate(scope: BreakerScope, now: Date): Promise<Admission> {
    const t = await this.thresholds(scope.mailboxId, scope.kind);
    const verdict = await this.store.update(scope, (state) => {
      const v = judgeCreate(state, now, t);
      return { state: v.state, result: v };
    });
    return verdict.allow ? { allow: true } : { allow: false, trigger: verdict.trigger, detail: verdict.detail };
  }

  /** A full listing of the scope's source side came back with `items` items (reconciliation from scratch, backfill). */
  async noteListing(scope: BreakerScope, items: number, now: Date): Promise<boolean> {
    const t = await this.thresholds(scope.mailboxId, scope.kind);
    if (items > 0) return false;
    const pairs = await this.pairCount(scope, await this.store.get(scope), now);
    const tripped = await this.store.update(scope, (state) => {
      const next = judgeListing(state, { items, pairs: pairs.count, now }, t);
      return { state: { ...next, pairs }, result: next.trip !== undefined && state.trip === undefined };
    });
    if (tripped) this.log.warn('breaker tripped: a full listing returned no items while pairs exist', { mailboxId: scope.mailboxId, kind: scope.kind, direction: scope.direction, pairs: pairs.count, trigger: 'emptyListing' });
    return tripped;
  }

  /** Quarantines a held write and says so once per item (ids and the trigger only). */
  async hold(entry: HeldEntry): Promise<void> {
    await this.store.hold(entry);
    recordBreakerHold({ mailboxId: entry.mailboxId, kind: entry.kind, direction: entry.direction, trigger: entry.trigger, action: entry.op === 'create' ? 'create' : (entry.how ?? 'delete') });
    this.log.warn('breaker held a write', { mailboxId: entry.mailboxId, kind: entry.kind, direction: entry.direction, op: entry.op, trigger: entry.trigger, dataverseId: entry.dataverseId, exchangeId: entry.exchangeId });
  }

  /**
   * Clears the scope's trips and counts once nothing of it is held any more: an operator has looked at the window and
   * released, discarded or restored all of it, so the next trip needs a window of its own.
   */
  async clearIfEmpty(scope: BreakerScope): Promise<boolean> {
    if ((await this.store.held(scope)).length > 0) return false;
    await this.store.update(scope, () => ({ state: { deletes: [], creates: [] }, result: undefined }));
    return true;
  }
}
