/**
 * PostgreSQL in tests: each test file gets its own database on the suite's server
 * (test/helpers/pg-server.ts), so files run in parallel without seeing each other's rows.
 */
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createPgStore, migratePg, openPgPool } from '../../src/store/adapters/pg.js';
import type { BrokerStore } from '../../src/store/ports.js';

/** Creates a fresh, empty database and returns its URL. */
export async function freshPgDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  const name = `xaa_${crypto.randomUUID().replace(/-/g, '')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(inject('pgUrl'));
  url.pathname = `/${name}`;
  return url.href;
}

/** Pools opened through here are ended after the file's tests. */
const pools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
});

/** A pool on `url` (ended after the file). */
export function testPool(url: string): pg.Pool {
  const pool = openPgPool(url);
  pools.push(pool);
  return pool;
}

/** A migrated store on a fresh database, and its pool and URL. */
export async function freshPgStore(): Promise<{ store: BrokerStore; pool: pg.Pool; url: string }> {
  const url = await freshPgDatabase();
  const pool = testPool(url);
  await migratePg(pool);
  return { store: createPgStore(pool), pool, url };
}
