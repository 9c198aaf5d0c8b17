import type Database from 'better-sqlite3';
import type { RetentionStore } from '../ports.js';
import { chunkedRetention, PRUNE_PLAN } from './retention-sql.js';

/** Retention on SQLite: each chunk is its own short write, so other writers get the database in between. */
export function sqliteRetention(db: Database.Database): RetentionStore {
  return chunkedRetention(
    PRUNE_PLAN.map(({ table, sql, arg }) => {
      const stmt = db.prepare(sql);
      return { table, arg, run: async (value: number, chunk: number) => stmt.run(value, chunk).changes };
    }),
  );
}
