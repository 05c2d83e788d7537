// One timer for the whole broker: lock expiries, scheduled activations, message TTLs and session locks are entries
// in a heap, and a single setTimeout is armed for the earliest. At thousands of messages per second this avoids a
// Node timer per lock, and `close()` has exactly one handle to clear.
import { MinHeap } from './heap.js';

export interface TimerHandle {
  readonly at: number;
  cancelled: boolean;
}

interface Entry extends TimerHandle {
  readonly seq: number;
  readonly fn: () => void;
}

// setTimeout clamps delays above 2^31-1 ms to 1 ms; long TTLs (P14D is fine, P30D is not) are re-armed in steps.
const maxDelay = 2 ** 31 - 1;

/** Runs callbacks at absolute times (ms since epoch) from a single Node timer. */
export class TimerQueue {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private nextSeq = 0;
  private cancelledCount = 0;
  private closed = false;

  /** Schedules `fn` at `at` (ms since epoch); returns a handle for `cancel`. */
  schedule(at: number, fn: () => void): TimerHandle {
    const entry: Entry = { at, fn, seq: this.nextSeq++, cancelled: false };
    this.heap.push(entry);
    if (at < this.armedFor) this.arm();
    return entry;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle || handle.cancelled) return;
    handle.cancelled = true;
    this.cancelledCount++;
    // Completed locks leave dead entries behind; compact once they dominate so memory stays bounded.
    if (this.cancelledCount > 1024 && this.cancelledCount * 2 > this.heap.size) {
      this.heap.retain((e) => !e.cancelled);
      this.cancelledCount = 0;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.closed) return;
    while (this.heap.peek()?.cancelled) {
      this.heap.pop();
      this.cancelledCount--;
    }
    const next = this.heap.peek();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    if (!next) return;
    this.armedFor = next.at;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, next.at - Date.now()), maxDelay));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    for (let next = this.heap.peek(); next && next.at <= now; next = this.heap.peek()) {
      this.heap.pop();
      if (next.cancelled) {
        this.cancelledCount--;
        continue;
      }
      next.cancelled = true;
      next.fn();
    }
    this.arm();
  }
}
