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

/** Appends an audit record (inside the caller's transaction when `db` is one). */
export async function appendAudit(db: Queryable, r: AuditRecord): Promise<void> {
  await run(db, 'INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)', [r.at, r.event, r.requestId, JSON.stringify(r)]);
}

/**
 * Audit `seq` is drawn during an INSERT, so instances' transactions can commit out of `seq` order,
 * and an export paging by `seq` could read past a smaller one still uncommitted and never see it.
 * Every INSERT takes ROW EXCLUSIVE on audit_log before it draws its `seq` and holds it to commit;
 * SHARE conflicts with it, so once SHARE is granted no drawn `seq` is uncommitted: every record at
 * or below max(seq) is visible, every later one higher. Nothing is added to the write path: the
 * export waits for the audit transactions in flight (nothing after an audit INSERT waits on a lock,
 * so they are committing) and new ones wait for its max(). One simple query, one implicit
 * transaction: the lock is released as the max() returns, with no round trip while it is held, and
 * holding it the export waits for nothing, so it closes no deadlock cycle. (An advisory lock taken
 * shared by every INSERT would do the same at a cost on every mint, and miss writers not taking it.)
 */
const AUDIT_WATERMARK = 'LOCK TABLE audit_log IN SHARE MODE; SELECT coalesce(max(seq), 0) AS seq FROM audit_log';

/** The highest `seq` at or below which no audit record can appear any more (see AUDIT_WATERMARK). */
export async function auditWatermark(db: Queryable): Promise<number> {
  const results = (await db.query(AUDIT_WATERMARK)) as unknown as pg.QueryResult<{ seq: string }>[];
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
