import type { D1Database } from '@cloudflare/workers-types';
import { PRUNE_CHUNK_ROWS, PRUNE_MAX_CHUNKS } from '../../constants.js';
import type { PruneReport, RetentionStore } from '../ports.js';
import { PRUNE_AUDIT_BY_AGE, PRUNE_AUDIT_BY_COUNT, PRUNE_EXPIRED } from './retention-sql.js';

/** Retention on D1: the same chunked statements as SQLite, one round trip per chunk. */
export function d1Retention(db: D1Database): RetentionStore {
  const statements = [
    ...Object.entries(PRUNE_EXPIRED).map(([table, sql]) => ({ table, stmt: db.prepare(sql), arg: 'now' as const })),
    { table: 'audit_log', stmt: db.prepare(PRUNE_AUDIT_BY_AGE), arg: 'auditBefore' as const },
    { table: 'audit_log', stmt: db.prepare(PRUNE_AUDIT_BY_COUNT), arg: 'auditMaxRows' as const },
  ];
  return {
    prune: async (policy) => {
      const deleted: PruneReport = {};
      let complete = true;
      for (const { table, stmt, arg } of statements) {
        let chunks = 0;
        let changes: number;
        do {
          changes = (await stmt.bind(policy[arg], PRUNE_CHUNK_ROWS).run()).meta.changes;
          deleted[table] = (deleted[table] ?? 0) + changes;
        } while (changes === PRUNE_CHUNK_ROWS && ++chunks < PRUNE_MAX_CHUNKS);
        if (changes === PRUNE_CHUNK_ROWS) complete = false;
      }
      return { deleted, complete };
    },
  };
}
