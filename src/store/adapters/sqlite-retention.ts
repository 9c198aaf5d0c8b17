import type Database from 'better-sqlite3';
import { PRUNE_CHUNK_ROWS, PRUNE_MAX_CHUNKS } from '../../constants.js';
import type { PruneReport, RetentionStore } from '../ports.js';
import { PRUNE_AUDIT_BY_AGE, PRUNE_AUDIT_BY_COUNT, PRUNE_EXPIRED } from './retention-sql.js';

/** Retention on SQLite: each chunk is its own short write, so other writers get the database in between. */
export function sqliteRetention(db: Database.Database): RetentionStore {
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
          changes = stmt.run(policy[arg], PRUNE_CHUNK_ROWS).changes;
          deleted[table] = (deleted[table] ?? 0) + changes;
        } while (changes === PRUNE_CHUNK_ROWS && ++chunks < PRUNE_MAX_CHUNKS);
        if (changes === PRUNE_CHUNK_ROWS) complete = false;
      }
      return { deleted, complete };
    },
  };
}
