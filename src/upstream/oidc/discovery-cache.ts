/**
 * Remembers one connection's discovered metadata for `ttl` seconds. Concurrent logins share one
 * request; a failed discovery is forgotten at once, so the next login tries again rather than
 * failing until the TTL runs out.
 */
export function cachedDiscovery<T>(load: () => Promise<T>, clock: () => number, ttl: number): () => Promise<T> {
  let entry: { value: Promise<T>; loadedAt: number } | undefined;
  return () => {
    const now = clock();
    if (!entry || now - entry.loadedAt >= ttl) {
      const current = { value: load(), loadedAt: now };
      entry = current;
      current.value.catch(() => {
        if (entry === current) entry = undefined;
      });
    }
    return entry.value;
  };
}
