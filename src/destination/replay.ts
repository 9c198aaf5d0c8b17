import { DEFAULT_REPLAY_STORE_MAX_ENTRIES } from './limits.js';

/**
 * Records ID-JAG identifiers so each is redeemed once.
 *
 * `consume` must be atomic: it returns `true` the first time a `(issuer, jti)` pair is seen and
 * `false` for every later call until `expiresAtSeconds` (epoch seconds) has passed. Behind
 * several token-endpoint instances it must be one shared, strongly consistent store (a
 * database row with a unique key, a Durable Object, Redis `SET NX EX`); an eventually
 * consistent cache lets the same ID-JAG be redeemed once per replica.
 */
export interface ReplayStore {
  consume(jti: string, issuer: string, expiresAtSeconds: number): Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /** Clock used to purge expired entries. */
  now?: () => Date;
  /** Live entries beyond which `consume` throws rather than forget. */
  maxEntries?: number;
}

/**
 * A {@link ReplayStore} for one process: tests, development, single-instance deployments.
 * Expired entries are swept as new ones arrive, so memory follows the redemption rate times
 * the ID-JAG lifetime. When full it throws: refusing service beats forgetting a `jti`.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen = new Map<string, number>();
  readonly #now: () => Date;
  readonly #maxEntries: number;
  #lastPurge = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#maxEntries = options.maxEntries ?? DEFAULT_REPLAY_STORE_MAX_ENTRIES;
  }

  /** Number of identifiers currently remembered. */
  get size(): number {
    return this.#seen.size;
  }

  async consume(jti: string, issuer: string, expiresAtSeconds: number): Promise<boolean> {
    const now = this.#now().getTime() / 1000;
    // A JSON pair cannot collide the way `${issuer}|${jti}` could.
    const key = JSON.stringify([issuer, jti]);
    const seenUntil = this.#seen.get(key);
    if (seenUntil !== undefined && seenUntil > now) return false;

    // Sweeping is O(n), so do it at most once a second unless the store is full.
    if (now - this.#lastPurge >= 1 || this.#seen.size >= this.#maxEntries) this.#purge(now);
    if (this.#seen.size >= this.#maxEntries) {
      throw new Error('MemoryReplayStore is full; refusing to forget unexpired identifiers');
    }
    this.#seen.set(key, expiresAtSeconds);
    return true;
  }

  #purge(now: number): void {
    this.#lastPurge = now;
    for (const [key, expiresAt] of this.#seen) {
      if (expiresAt <= now) this.#seen.delete(key);
    }
  }
}
