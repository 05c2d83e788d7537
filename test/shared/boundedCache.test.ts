// The bounded cache: size bound (least recently used goes), age bound (an old entry is a miss), cached misses.
import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../shared/boundedCache.js';

describe('BoundedCache', () => {
  it('never holds more than its bound: the least recently used entry goes first', () => {
    const cache = new BoundedCache<string, number>(3, Infinity);
    for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, i);
    expect(cache.get('a')).toBe(0);
    cache.set('d', 3);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([0, 2, 3]);
    for (let i = 0; i < 1_000; i += 1) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
  });

  it('answers an entry only within its time to live', () => {
    let now = 1_000;
    const cache = new BoundedCache<string, string>(10, 500, () => now);
    cache.set('a', 'x');
    now += 499;
    expect(cache.get('a')).toBe('x');
    now += 1;
    expect(cache.has('a')).toBe(false);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps a cached miss apart from no entry', () => {
    const cache = new BoundedCache<string, readonly string[]>(10, Infinity);
    cache.set('none', []);
    expect(cache.has('none')).toBe(true);
    expect(cache.get('none')).toEqual([]);
    expect(cache.has('other')).toBe(false);
  });
});
