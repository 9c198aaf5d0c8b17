import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { createPgStore, isPgUrl, migratePg, openPgPool } from '../store/adapters/pg.js';
import { createSqliteStore, openSqlite } from '../store/adapters/sqlite.js';
import type { BrokerStore } from '../store/ports.js';
import { databaseError, pgDatabaseError } from './startup.js';

/** The Node runtime's store: SQLite (a file, the default) or PostgreSQL (a `postgres://` URL). */
export type NodeStore =
  | { kind: 'sqlite'; store: BrokerStore; db: Database.Database; file: string; display: string; close(): Promise<void> }
  | { kind: 'postgres'; store: BrokerStore; pool: pg.Pool; display: string; close(): Promise<void> };

/**
 * The `database` setting as given: a `postgres://` or `postgresql://` URL is used as is, anything
 * else is a SQLite path relative to the config file's directory.
 */
export function databaseLocation(setting: string, baseDir: string): string {
  return isPgUrl(setting) ? setting : resolve(baseDir, setting);
}

/** A PostgreSQL URL without its password, for logs and messages. */
export function displayPgUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.href;
  } catch {
    return 'the PostgreSQL URL (unparseable)';
  }
}

/**
 * Opens the store `database` names (a URL or a path), migrating its schema; a failure is a
 * StartupError naming the database (never a password) and `source`, the setting that chose it.
 */
export async function openNodeStore(database: string, source: string, onIdleError?: (err: Error) => void): Promise<NodeStore> {
  if (isPgUrl(database)) {
    const display = displayPgUrl(database);
    const pool = openPgPool(database, onIdleError);
    try {
      await migratePg(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw pgDatabaseError(err, display, source);
    }
    return { kind: 'postgres', store: createPgStore(pool), pool, display, close: () => pool.end() };
  }
  let db: Database.Database;
  try {
    db = openSqlite(database);
  } catch (err) {
    throw databaseError(err, database, source);
  }
  return { kind: 'sqlite', store: createSqliteStore(db), db, file: database, display: database, close: async () => void db.close() };
}
