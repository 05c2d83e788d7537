// A small in-process cache bounded in both size and age: the least recently used entry goes when it is full, and an
// entry older than its time to live is not answered. Per-process caches of per-mailbox or per-user facts use it, so a
// worker's memory does not grow with the tenant (issue 19: tens of thousands of mailboxes) and a change made on another
// instance is seen within the time to live.

/** A Map kept in insertion order is an LRU: a hit is deleted and set again, so the first key is the least recently used. */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();

  constructor(
    /** At most this many entries (at least 1). */
    private readonly maxEntries: number,
    /** An entry older than this (milliseconds) is a miss; Infinity keeps entries until they are pushed out. */
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('a bounded cache needs room for at least one entry');
  }

  /** The value cached for the key, unless it is missing or expired (an expired entry is dropped). */
  get(key: K): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    if (this.now() - hit.at >= this.ttlMs) return undefined;
    this.entries.set(key, hit);
    return hit.value;
  }

  /** Whether the key has a fresh value (an undefined value counts: a cached "not found"). */
  has(key: K): boolean {
    const hit = this.entries.get(key);
    return hit !== undefined && this.now() - hit.at < this.ttlMs;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.now() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
