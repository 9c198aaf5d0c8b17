import type Database from 'better-sqlite3';

/**
 * A write transaction that takes the write lock at BEGIN (`BEGIN IMMEDIATE`). A deferred one reads
 * first and then upgrades to a writer, and that upgrade fails at once with SQLITE_BUSY (or
 * SQLITE_BUSY_SNAPSHOT in WAL mode) when another process wrote in between: the busy timeout cannot
 * help it. Taking the lock first makes every writer wait its turn (up to the busy timeout) instead.
 * Nested inside another transaction it is a savepoint, as with `db.transaction`.
 */
export function writeTransaction<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  return db.transaction(fn).immediate;
}
