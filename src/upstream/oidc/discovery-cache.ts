/**
 * Remembers one connection's discovered metadata for `ttl` seconds. Only a settled value is
 * shared, never an in-flight promise: on Workers a promise is bound to the request that created
 * it (its fetch is cancelled when that request ends, and another request awaiting it hangs or
 * fails with a cross-request I/O error). Callers that arrive while nothing is cached each load;
 * the first value to settle then serves everyone until the TTL. A failed load caches nothing, so
 * the next login tries again rather than failing until the TTL runs out.
 */
export function cachedDiscovery<T>(load: () => Promise<T>, clock: () => number, ttl: number): () => Promise<T> {
  let entry: { value: T; loadedAt: number } | undefined;
  return async () => {
    const startedAt = clock();
    if (entry && startedAt - entry.loadedAt < ttl) return entry.value;
    const value = await load();
    if (!entry || startedAt >= entry.loadedAt) entry = { value, loadedAt: startedAt };
    return value;
  };
}
