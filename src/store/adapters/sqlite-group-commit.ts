import type Database from 'better-sqlite3';
import { writeTransaction } from './sqlite-tx.js';

/** Runs a write in the next group transaction; resolves with its result once that transaction has committed. */
export type GroupWrite = <R>(write: () => R) => Promise<R>;

/**
 * Group commit: writes that arrive in the same turn of the event loop share one transaction
 * (`BEGIN IMMEDIATE`), so one WAL commit instead of one per request. Each write stays
 * all-or-nothing (its own savepoint: a failing write rolls back alone and rejects its caller), a
 * write's result is what it decided inside the transaction (an UPDATE's `changes`), and each
 * caller's promise settles only after the shared commit: nothing is answered before it is durable
 * as far as the store goes. Across processes the transaction's write lock serialises batches.
 */
export function groupCommit(db: Database.Database): GroupWrite {
  // Nested inside the group transaction below, a transaction is a savepoint.
  const one = writeTransaction(db, (write: () => unknown) => write());
  const group = writeTransaction(db, (writes: Array<() => unknown>) =>
    writes.map((write) => {
      try {
        return { ok: true as const, value: one(write) };
      } catch (error) {
        return { ok: false as const, error };
      }
    }),
  );

  let queue: Array<{ write: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    let outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;
    try {
      outcomes = group(batch.map((b) => b.write));
    } catch (error) {
      // The commit itself failed (e.g. the busy timeout ran out): nothing of the batch was written.
      outcomes = batch.map(() => ({ ok: false as const, error }));
    }
    batch.forEach((b, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) b.resolve(outcome.value);
      else b.reject(outcome.error);
    });
  };

  return <R>(write: () => R) =>
    new Promise<R>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
    });
}
