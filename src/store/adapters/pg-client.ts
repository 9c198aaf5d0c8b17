import pg from 'pg';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditRecord } from '../ports.js';
import { PG_CONNECT_TIMEOUT_MS, PG_POOL_SIZE, PG_STATEMENT_TIMEOUT_MS } from '../../constants.js';

/**
 * What the PostgreSQL adapter (pg*.ts) shares: the pool, `?` placeholders turned into `$n` (so the
 * statements shared with SQLite and D1 in *-sql.ts serve here too), BIGINT read as a number,
 * transactions, and the migrations (migrations/postgres/) applied once under an advisory lock.
 */

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../migrations/postgres');

/** Anything that runs a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** `postgres://` or `postgresql://`: the Node runtime's choice of PostgreSQL over a SQLite path. */
export function isPgUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/** A pool with the broker's limits (src/constants.ts). */
export function openPgPool(url: string, onIdleError: (err: Error) => void = () => {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: PG_POOL_SIZE,
    statement_timeout: PG_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  // An idle connection the server dropped (restart, failover) is discarded by the pool; unhandled,
  // its 'error' event would end the process. The next query opens a fresh connection.
  pool.on('error', onIdleError);
  return pool;
}

// Seconds since epoch and sequence numbers are BIGINT: well inside a double, read as numbers.
const INT8_OID = 20;
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
};

const converted = new Map<string, string>();
/** `?` → `$1, $2, …` (the shared statements hold no `?` inside literals), memoised per statement. */
export function placeholders(sql: string): string {
  let text = converted.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    converted.set(sql, text);
  }
  return text;
}

/** Runs one statement with `?` placeholders; rows and the number of rows it changed. */
export async function run<R extends object = Record<string, unknown>>(db: Queryable, sql: string, values: unknown[] = []): Promise<{ rows: R[]; changes: number }> {
  const result = await db.query<R>({ text: placeholders(sql), values, types } as pg.QueryConfig);
  return { rows: result.rows, changes: result.rowCount ?? 0 };
}

export async function first<R extends object>(db: Queryable, sql: string, values: unknown[] = []): Promise<R | undefined> {
  return (await run<R>(db, sql, values)).rows[0];
}

/**
 * One transaction on one pooled connection (READ COMMITTED): committed if `fn` resolves, rolled
 * back if it throws, and the error passed on. Writers that must not interleave take a row lock
 * (`FOR UPDATE`) or an advisory lock (`lockKey`) as their first statement.
 */
export async function transaction<R>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection itself failed: it is not returned to the pool.
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/** A transaction-scoped advisory lock on a name: concurrent holders of the same name wait their turn. */
export async function lockKey(tx: Queryable, name: string): Promise<void> {
  await run(tx, 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [name]);
}

/**
 * Audit `seq` is drawn at INSERT, so instances' transactions can commit out of `seq` order: an
 * export paging by `seq` could read past a smaller one still uncommitted and never see it. Every
 * audit INSERT holds this advisory lock shared, from before its `seq` is drawn to its commit;
 * `auditWatermark` takes it exclusively for an instant, when no drawn `seq` is uncommitted.
 */
const AUDIT_SEQ_LOCK = `hashtextextended('xaa-broker:audit-seq', 0)`;

/**
 * The lock in the same statement as the INSERT, evaluated (a subquery with a volatile call is
 * never flattened) before the row and its `seq` default: no extra round trip on the mint path.
 * It is the last lock of every transaction that appends (nothing after it waits on a lock), so an
 * export waiting for its holders never waits on writers queued behind the export.
 */
const INSERT_AUDIT = `INSERT INTO audit_log (at, event, request_id, record)
  SELECT ?::bigint, ?::text, ?::text, ?::text FROM (SELECT pg_advisory_xact_lock_shared(${AUDIT_SEQ_LOCK})) AS audit_seq_lock`;

/** Appends an audit record (inside the caller's transaction when `db` is one). */
export async function appendAudit(db: Queryable, r: AuditRecord): Promise<void> {
  await run(db, INSERT_AUDIT, [r.at, r.event, r.requestId, JSON.stringify(r)]);
}

/**
 * The highest `seq` below which no audit record can appear any more: every `seq` drawn before the
 * exclusive lock was granted is committed or rolled back, every later one is higher. One simple
 * query, so one implicit transaction: the lock is held for the max() alone, no round trip, while
 * new audit INSERTs wait (the max() runs on a snapshot taken after the lock).
 */
export async function auditWatermark(db: Queryable): Promise<number> {
  const results = (await db.query(`SELECT pg_advisory_xact_lock(${AUDIT_SEQ_LOCK}); SELECT coalesce(max(seq), 0) AS seq FROM audit_log`)) as unknown as pg.QueryResult<{ seq: string }>[];
  return Number(results[1]!.rows[0]!.seq);
}

/** PostgreSQL's unique_violation (SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === '23505';
}

/** The advisory lock two instances starting together take before migrating (any constant serves). */
const MIGRATION_LOCK = 'xaa-broker:schema-migrations';

/**
 * Applies migrations/postgres/*.sql not yet recorded in `schema_migrations`, each once, in name
 * order, all in one transaction under an advisory lock: a second instance starting at the same
 * moment waits, then finds them applied. A failing migration leaves the schema as it was.
 */
export async function migratePg(pool: pg.Pool): Promise<string[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  return transaction(pool, async (tx) => {
    await lockKey(tx, MIGRATION_LOCK);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    const done = new Set((await run<{ name: string }>(tx, 'SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const name of files.filter((f) => !done.has(f))) {
      await tx.query(readFileSync(join(MIGRATIONS_DIR, name), 'utf8'));
      await run(tx, 'INSERT INTO schema_migrations (name) VALUES (?)', [name]);
      applied.push(name);
    }
    return applied;
  });
}
