import type { LoginTransaction, LoginTransactionStore } from '../../identity/types.js';

/**
 * A LoginTransactionStore in process memory, for tests and single-process demos. `take` is atomic
 * because it runs to completion without awaiting. Persistent stores (SQLite, D1) live in
 * src/store/adapters.
 */
export class MemoryLoginTransactionStore implements LoginTransactionStore {
  private readonly byId = new Map<string, LoginTransaction>();

  async put(tx: LoginTransaction): Promise<void> {
    this.byId.set(tx.id, { ...tx });
  }

  async take(id: string, now: number): Promise<LoginTransaction | undefined> {
    const tx = this.byId.get(id);
    if (!tx) return undefined;
    this.byId.delete(id);
    return tx.expiresAt > now ? tx : undefined;
  }

  /** For tests: how many transactions are waiting. */
  get size(): number {
    return this.byId.size;
  }

  /** For tests: whether a transaction is still waiting (without taking it). */
  has(id: string): boolean {
    return this.byId.has(id);
  }
}
