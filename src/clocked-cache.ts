import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';

/**
 * Every in-memory cache of the broker and the destination kit is an lru-cache built here, never
 * directly (test/structure/clocked-caches.test.ts holds that line).
 *
 * Why: lru-cache's default `ttlResolution` remembers "now" and forgets it with a 1 ms
 * `setTimeout(…).unref()`. On workerd that timer never fires, so time inside every TTL cache
 * stops and nothing ever expires. Here time comes from the broker's clock, read on every check
 * (`ttlResolution: 0`), so expiry needs no timer, and a test that advances the clock sees it.
 * No correctness rule may rest on a timer firing.
 */
export function clockedCache<K extends {}, V extends {}>(clock: Clock, options: LRUCache.Options<K, V, unknown>): LRUCache<K, V> {
  if (options.ttlAutopurge) throw new TypeError('ttlAutopurge relies on timers; expiry is checked on read');
  return new LRUCache<K, V>({ ...options, ttlResolution: 0, perf: { now: () => clock() * 1000 } });
}

/** A size-bounded cache with no time rule (an entry leaves only when evicted). */
export function boundedCache<K extends {}, V extends {}>(options: Omit<LRUCache.Options<K, V, unknown>, 'ttl' | 'ttlAutopurge' | 'ttlResolution'>): LRUCache<K, V> {
  return new LRUCache<K, V>(options as LRUCache.Options<K, V, unknown>);
}
