import type { LoginTransaction, LoginTransactionStore } from '../../../src/identity/types.js';

/**
 * The LoginTransactionStore contract in memory: `take` removes the record whatever happens and
 * returns it only while unexpired. `honourExpiry: false` models a store that forgets the expiry
 * check, to prove the connection does not depend on it.
 */
export class MemoryTransactions implements LoginTransactionStore {
  readonly records = new Map<string, LoginTransaction>();

  constructor(private readonly options: { honourExpiry: boolean } = { honourExpiry: true }) {}

  async put(tx: LoginTransaction): Promise<void> {
    if (this.records.has(tx.id)) throw new Error('duplicate transaction id');
    this.records.set(tx.id, structuredClone(tx));
  }

  async take(id: string, now: number): Promise<LoginTransaction | undefined> {
    const tx = this.records.get(id);
    this.records.delete(id);
    if (!tx || (this.options.honourExpiry && tx.expiresAt <= now)) return undefined;
    return structuredClone(tx);
  }

  /** Changes a stored transaction behind the connection's back, as an attacker with store access could. */
  tamper(id: string, patch: Record<string, unknown>): void {
    const tx = this.records.get(id);
    if (!tx) throw new Error(`no transaction ${id}`);
    this.records.set(id, { ...tx, ...patch } as LoginTransaction);
  }
}
