// The mass-delete breaker's rules, pure: the state of one scope (a mailbox, a kind, a direction) and a request in,
// a verdict and the next state out. The gate (shared/sync/breakerGate.ts) loads and stores the state and sits in
// the executor between the plan and the adapters, so every path (webhook, notification, reconciliation, backfill)
// meets the same rules. Why these rules: every peer that guards against mass deletes keys on "the other side
// looks empty" (vdirsyncer StorageEmpty), a ratio (rclone bisync --max-delete) and, because a ratio alone missed a
// partial listing that lost 59 % of 2,500 notes (laurent22/joplin#16165), an absolute cap.
import { z } from 'zod';

export const breakerDirections = ['toExchange', 'toDataverse'] as const;
export type BreakerDirection = (typeof breakerDirections)[number];

const limitsSchema = z
  .object({
    /** Below this many deletes in the window the ratio does not apply (a small mailbox cleaning up). */
    minDeletes: z.number().int().min(1),
    /** Share of the scope's pairs (at the window's start) that may be deleted in the window. */
    ratio: z.number().gt(0).max(1),
    /** Deletes in the window above which everything is held, whatever the ratio. */
    hardCap: z.number().int().min(1),
  })
  .strict();
export type DeleteLimits = z.infer<typeof limitsSchema>;

export const breakerThresholdsSchema = z
  .object({
    /** The rolling window the counts cover, in minutes. */
    windowMinutes: z.number().int().min(1).max(7 * 24 * 60),
    /** Whether a full listing that returns nothing trips the scope (when it has at least emptyListingMinPairs pairs). */
    emptyListingHolds: z.boolean(),
    emptyListingMinPairs: z.number().int().min(1),
    /** Whether deletes inferred during a resync are always held. */
    holdResyncInferredDeletes: z.boolean(),
    /** Deletes the other side announced (a delete notification, a Dataverse Delete event). */
    explicit: limitsSchema,
    /** Deletes inferred from an item missing on read or from a listing: stricter (a failed listing looks the same). */
    inferred: limitsSchema,
    /** Creates in the window above which creates are held (duplicate floods after a first sync or a scope change). */
    createCap: z.number().int().min(1),
  })
  .strict();
export type BreakerThresholds = z.infer<typeof breakerThresholdsSchema>;

/**
 * Defaults reasoned in the design notes: a user who cleans up 10-20 items an hour passes; a user with 100 pairs who
 * loses 25 trips on the ratio; one with 5,000 pairs who loses 101 trips on the cap although it is only 2 %.
 */
export const defaultBreakerThresholds: Readonly<BreakerThresholds> = Object.freeze({
  windowMinutes: 60,
  emptyListingHolds: true,
  emptyListingMinPairs: 5,
  holdResyncInferredDeletes: true,
  explicit: Object.freeze({ minDeletes: 10, ratio: 0.2, hardCap: 100 }),
  inferred: Object.freeze({ minDeletes: 5, ratio: 0.05, hardCap: 25 }),
  createCap: 500,
});

/** What made a scope hold its deletes (or one delete). */
export const breakerTriggers = ['emptyListing', 'ratio', 'hardCap', 'inferredRatio', 'inferredHardCap', 'resync', 'createCap'] as const;
export type BreakerTrigger = (typeof breakerTriggers)[number];

export const tripSchema = z.object({ trigger: z.enum(breakerTriggers), at: z.string(), detail: z.string() });
export type Trip = z.infer<typeof tripSchema>;

export const scopeStateSchema = z.object({
  /** Deletes executed in the window (ms since epoch), whether each was inferred, and what it deleted. */
  deletes: z.array(z.object({ at: z.number(), inferred: z.boolean(), target: z.string().max(300).optional() })),
  /** Creates executed in the window (ms since epoch). */
  creates: z.array(z.number()),
  /** Set when the scope holds every delete until an operator acts (breaker release / discard / restore). */
  trip: tripSchema.optional(),
  /** Set when the scope holds every create until an operator acts. */
  createTrip: tripSchema.optional(),
  /** The scope's pair count as last counted (the gate counts again when it is older than a few minutes). */
  pairs: z.object({ count: z.number().int().min(0), at: z.number() }).optional(),
});
export type ScopeState = z.infer<typeof scopeStateSchema>;

export const emptyScopeState = (): ScopeState => ({ deletes: [], creates: [] });

export interface DeleteRequest {
  /** Inferred from a missing item or a listing, not announced by the other side. */
  inferred: boolean;
  /** Found while a listing started over (first sync after enable, an expired delta token). */
  resync: boolean;
  /** Pairs the scope holds now (deletes already executed in the window are added back: the ratio is of the start). */
  pairs: number;
  now: Date;
  /**
   * What is deleted (side and id). The same delete asked for again within the window (a retry, or two changes of one
   * series comparing its occurrences at the same time: the changes queue has no sessions) is let through without
   * being counted again, so one delete never counts twice towards the limits.
   */
  target?: string;
}

export type Verdict = { allow: true; state: ScopeState; repeat?: true } | { allow: false; trigger: BreakerTrigger; detail: string; state: ScopeState };

function inWindow(state: ScopeState, now: Date, t: BreakerThresholds): ScopeState {
  const since = now.getTime() - t.windowMinutes * 60_000;
  return { ...state, deletes: state.deletes.filter((d) => d.at > since), creates: state.creates.filter((c) => c > since) };
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** Whether one more limit class is passed by `count` deletes of `base` pairs. */
function passes(count: number, base: number, limits: DeleteLimits): 'hardCap' | 'ratio' | undefined {
  if (count > limits.hardCap) return 'hardCap';
  if (count >= limits.minDeletes && count / Math.max(base, 1) > limits.ratio) return 'ratio';
  return undefined;
}

/** Decides one destructive write (a delete or a cancellation that notifies attendees). */
export function judgeDelete(current: ScopeState, req: DeleteRequest, t: BreakerThresholds): Verdict {
  const state = inWindow(current, req.now, t);
  if (req.target !== undefined && state.deletes.some((d) => d.target === req.target)) return { allow: true, state, repeat: true };
  if (state.trip) return { allow: false, trigger: state.trip.trigger, detail: `scope tripped: ${state.trip.detail}`, state };
  // A delete inferred while a listing starts over is the failure every guard exists for (a listing read as "all gone"):
  // it waits for a person, whatever the counts. It does not trip the scope: explicit deletes still flow.
  if (req.inferred && req.resync && t.holdResyncInferredDeletes) return { allow: false, trigger: 'resync', detail: 'inferred during a resync', state };
  const all = state.deletes.length + 1;
  const base = req.pairs + state.deletes.length;
  const trip = (trigger: BreakerTrigger, detail: string): Verdict => ({ allow: false, trigger, detail, state: { ...state, trip: { trigger, at: req.now.toISOString(), detail } } });
  const explicit = passes(all, base, t.explicit);
  if (explicit === 'hardCap') return trip('hardCap', `${all} deletes in ${t.windowMinutes} min pass the cap of ${t.explicit.hardCap}`);
  if (explicit === 'ratio') return trip('ratio', `${all} deletes of ${base} pairs (${pct(all / base)}) pass ${pct(t.explicit.ratio)} in ${t.windowMinutes} min`);
  if (req.inferred) {
    const inferred = state.deletes.filter((d) => d.inferred).length + 1;
    const stricter = passes(inferred, base, t.inferred);
    if (stricter === 'hardCap') return trip('inferredHardCap', `${inferred} inferred deletes in ${t.windowMinutes} min pass the cap of ${t.inferred.hardCap}`);
    if (stricter === 'ratio') return trip('inferredRatio', `${inferred} inferred deletes of ${base} pairs (${pct(inferred / base)}) pass ${pct(t.inferred.ratio)} in ${t.windowMinutes} min`);
  }
  return { allow: true, state: { ...state, deletes: [...state.deletes, { at: req.now.getTime(), inferred: req.inferred, ...(req.target === undefined ? {} : { target: req.target }) }] } };
}

/** Decides one create: past the cap the scope holds its creates until an operator acts. */
export function judgeCreate(current: ScopeState, now: Date, t: BreakerThresholds): Verdict {
  const state = inWindow(current, now, t);
  if (state.createTrip) return { allow: false, trigger: 'createCap', detail: `scope tripped: ${state.createTrip.detail}`, state };
  const count = state.creates.length + 1;
  if (count > t.createCap) {
    const detail = `${count} creates in ${t.windowMinutes} min pass the cap of ${t.createCap}`;
    return { allow: false, trigger: 'createCap', detail, state: { ...state, createTrip: { trigger: 'createCap', at: now.toISOString(), detail } } };
  }
  return { allow: true, state: { ...state, creates: [...state.creates, now.getTime()] } };
}

/**
 * A full listing of one side (a delta round started from scratch, a backfill's read) came back: with no items while
 * the scope holds pairs, it is taken for a failed listing, and the scope holds its deletes (vdirsyncer StorageEmpty).
 */
export function judgeListing(current: ScopeState, listing: { items: number; pairs: number; now: Date }, t: BreakerThresholds): ScopeState {
  if (!t.emptyListingHolds || current.trip || listing.items > 0 || listing.pairs < t.emptyListingMinPairs) return current;
  return { ...current, trip: { trigger: 'emptyListing', at: listing.now.toISOString(), detail: `a full listing returned no items while ${listing.pairs} pairs exist` } };
}
