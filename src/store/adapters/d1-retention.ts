import type { D1Database } from '@cloudflare/workers-types';
import type { RetentionStore } from '../ports.js';
import { chunkedRetention, PRUNE_PLAN } from './retention-sql.js';

/** Retention on D1: the same chunked statements as SQLite, one round trip per chunk. */
export function d1Retention(db: D1Database): RetentionStore {
  return chunkedRetention(
    PRUNE_PLAN.map(({ table, sql, arg }) => {
      const stmt = db.prepare(sql);
      return { table, arg, run: async (value: number, chunk: number) => (await stmt.bind(value, chunk).run()).meta.changes };
    }),
  );
}
