import type pg from 'pg';
import { ACCESS_REQUEST_RETAIN_AFTER } from '../../constants.js';
import type { RetentionStore } from '../ports.js';
import { chunkedRetention, PRUNE_AUDIT_BY_AGE, PRUNE_AUDIT_BY_COUNT, PRUNE_EXPIRED } from './retention-sql.js';
import { run } from './pg-client.js';

/**
 * PostgreSQL's pruning statements: those of retention-sql.ts with `ctid` (a row's physical
 * address) where SQLite names `rowid`; each chunk is its own short statement.
 */
const expired = (table: string) => `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE expires_at < ? LIMIT ?))`;

const PLAN = [
  ...Object.keys(PRUNE_EXPIRED)
    .filter((table) => table !== 'access_requests')
    .map((table) => ({ table, sql: expired(table), arg: 'now' as const })),
  {
    table: 'access_requests',
    sql: `DELETE FROM access_requests WHERE ctid = ANY (ARRAY(SELECT ctid FROM access_requests, (SELECT ?::bigint - ${ACCESS_REQUEST_RETAIN_AFTER} AS before) b
      WHERE expires_at < b.before AND (approved_until IS NULL OR approved_until < b.before) LIMIT ?))`,
    arg: 'now' as const,
  },
  { table: 'audit_log', sql: PRUNE_AUDIT_BY_AGE, arg: 'auditBefore' as const },
  { table: 'audit_log', sql: PRUNE_AUDIT_BY_COUNT, arg: 'auditMaxRows' as const },
];

/** Retention on PostgreSQL, in the same bounded chunks as SQLite and D1. */
export function pgRetention(pool: pg.Pool): RetentionStore {
  return chunkedRetention(PLAN.map(({ table, sql, arg }) => ({ table, arg, run: async (value: number, chunk: number) => (await run(pool, sql, [value, chunk])).changes })));
}
