// Delta rounds (GDC concepts/delta-query-overview.md; api-reference/v1.0/api/event-delta.md): an initial call
// lists what exists, pages carry @odata.nextLink ($skiptoken) and the last page @odata.deltaLink ($deltatoken);
// calling the delta link returns what changed since, removals as @removed. Sync states live in a bounded cache
// and can be evicted (by the admin API or the fault plan); an evicted or unknown token answers 410 Gone with
// code syncStateNotFound, so the client must start a full resync.
import { GraphError } from './graphError.js';
import type { ItemRecord } from './store.js';
import type { World } from './world.js';

/** What a round covers. */
export interface DeltaScope {
  userId: string;
  collectionKey: string;
  /** calendarView window: events overlapping [start, end) are in scope; changed events outside it are reported removed. */
  window?: { start: number; end: number };
  /** $select given on the initial call (lower-cased names), kept for the whole round. */
  select?: string[];
  /** Absolute URL of the delta endpoint without query, e.g. https://127.0.0.1:1/v1.0/users/u/calendarView/delta */
  linkBase: string;
  /** Absolute URL that starts a new round (sent in Location on 410). */
  restartUrl: string;
  /**
   * What a stored item stands for in this round, when not itself: a series master stands for its occurrences in
   * the window (a series is never split across pages). Undefined = the item itself.
   */
  expand?: (record: ItemRecord, initial: boolean) => { record: ItemRecord; sparse?: boolean }[] | undefined;
}

interface RoundState {
  scope: DeltaScope;
  kind: 'skip' | 'delta';
  /** Sequence number the round (or the next round, for delta tokens) starts from. */
  watermark: number;
  pending?: readonly string[];
  pos?: number;
  /** The initial round lists only what exists in scope; later rounds report what left it as removed. */
  initial?: boolean;
}

/** One page of a round. */
export interface DeltaPage {
  scope: DeltaScope;
  entries: ({ record: ItemRecord; sparse?: boolean } | { removedId: string })[];
  nextLink?: string;
  deltaLink?: string;
}

/** Creates, pages and evicts delta rounds. */
export class DeltaEngine {
  private readonly states = new Map<string, RoundState>();
  private readonly evicted = new Map<string, string>();

  constructor(
    private readonly world: World,
    private maxStates: number,
  ) {}

  setMaxStates(n: number): void {
    this.maxStates = n;
  }

  /** Starts a round: everything in scope now. */
  start(scope: DeltaScope, pageSize: number): DeltaPage {
    const coll = this.world.collections.get(scope.collectionKey);
    const ids = coll ? [...coll.ids] : [];
    return this.serve({ scope, kind: 'skip', watermark: this.world.seq, pending: ids, pos: 0, initial: true }, pageSize);
  }

  /** Continues from a $skiptoken or $deltatoken. */
  resume(token: string, kind: 'skip' | 'delta', pageSize: number | undefined, evict: boolean): DeltaPage {
    const state = this.states.get(token);
    if (!state || state.kind !== kind || evict) {
      const restart = state?.scope.restartUrl ?? this.evicted.get(token);
      if (state) this.drop(token, state);
      throw new GraphError(
        410,
        'syncStateNotFound',
        'The sync state generation is not found or has expired; restart the synchronization with a new delta request.',
        restart ? { Location: restart } : {},
      );
    }
    const size = pageSize ?? 0;
    if (kind === 'skip') return this.serve(state, size);
    const coll = this.world.collections.get(state.scope.collectionKey);
    const changed = coll ? coll.changedSince(state.watermark) : [];
    return this.serve({ scope: state.scope, kind: 'skip', watermark: this.world.seq, pending: changed, pos: 0 }, size);
  }

  /** Evicts the sync states of one user (or all): the next call with their tokens gets 410. */
  evict(userId?: string): number {
    let n = 0;
    for (const [token, state] of this.states) {
      if (userId === undefined || state.scope.userId === userId) {
        this.drop(token, state);
        n += 1;
      }
    }
    return n;
  }

  reset(): void {
    this.states.clear();
    this.evicted.clear();
  }

  private drop(token: string, state: RoundState): void {
    this.states.delete(token);
    this.evicted.set(token, state.scope.restartUrl);
    if (this.evicted.size > this.maxStates) {
      const oldest = this.evicted.keys().next().value;
      if (oldest !== undefined) this.evicted.delete(oldest);
    }
  }

  private remember(state: RoundState): string {
    const token = this.world.randomToken(24);
    this.states.set(token, state);
    while (this.states.size > this.maxStates) {
      const first = this.states.entries().next().value;
      if (!first) break;
      this.drop(first[0], first[1]);
    }
    return token;
  }

  private serve(state: RoundState, pageSize: number): DeltaPage {
    const pending = state.pending ?? [];
    let pos = state.pos ?? 0;
    const entries: DeltaPage['entries'] = [];
    const size = pageSize > 0 ? pageSize : Number.MAX_SAFE_INTEGER;
    while (pos < pending.length && entries.length < size) {
      const id = pending[pos] as string;
      pos += 1;
      const record = this.world.items.get(id);
      const expanded = record && record.collectionKey === state.scope.collectionKey ? state.scope.expand?.(record, state.initial === true) : undefined;
      if (expanded) entries.push(...expanded);
      else if (record && record.collectionKey === state.scope.collectionKey && this.inWindow(record, state.scope)) entries.push({ record });
      else if (!state.initial) entries.push({ removedId: id });
    }
    const page: DeltaPage = { scope: state.scope, entries };
    if (pos < pending.length) {
      const token = this.remember({ scope: state.scope, kind: 'skip', watermark: state.watermark, pending, pos, ...(state.initial ? { initial: true } : {}) });
      page.nextLink = `${state.scope.linkBase}?$skiptoken=${token}`;
    } else {
      const token = this.remember({ scope: state.scope, kind: 'delta', watermark: state.watermark });
      page.deltaLink = `${state.scope.linkBase}?$deltatoken=${token}`;
    }
    return page;
  }

  private inWindow(record: ItemRecord, scope: DeltaScope): boolean {
    if (!scope.window) return true;
    const d = record.data as { start?: number; end?: number };
    if (d.start === undefined || d.end === undefined) return true;
    return d.start < scope.window.end && (d.end > scope.window.start || (d.end === d.start && d.start >= scope.window.start));
  }
}
