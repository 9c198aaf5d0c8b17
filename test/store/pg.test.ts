/**
 * What the PostgreSQL adapter promises beyond the shared contracts (pg-contracts.test.ts): its
 * migrations (once, under a lock, the same logical schema as SQLite's), and single winners when
 * two instances (two pools, each its own connections) race on one database.
 */
import { describe, expect, it } from 'vitest';
import { PRUNE_CHUNK_ROWS, PRUNE_MAX_CHUNKS } from '../../src/constants.js';
import { createPgStore, isPgUrl, migratePg } from '../../src/store/adapters/pg.js';
import { appendAudit, transaction } from '../../src/store/adapters/pg-client.js';
import { openSqlite } from '../../src/store/adapters/sqlite.js';
import { StoreConflict, type AuditRecord, type BrokerStore, type RefreshTokenRecord } from '../../src/store/ports.js';
import { freshPgDatabase, freshPgStore, testPool } from '../helpers/pg.js';
import type pg from 'pg';

const NOW = 1_800_000_000;
const u = (id: string) => `${id}:${crypto.randomUUID()}`;

/** Two instances on one fresh database: one migrated it, both have their own pool. */
async function twoInstances(): Promise<[BrokerStore, BrokerStore]> {
  const { store, url } = await freshPgStore();
  return [store, createPgStore(testPool(url))];
}

describe('PostgreSQL migrations', () => {
  it('two instances starting together apply each migration once; a later start applies none', async () => {
    const url = await freshPgDatabase();
    const [a, b] = [testPool(url), testPool(url)];
    const [appliedA, appliedB] = await Promise.all([migratePg(a), migratePg(b)]);
    // One of them applied everything, the other waited on the lock and found nothing to do.
    expect([appliedA.length, appliedB.length].sort()).toEqual([0, expect.any(Number)].sort());
    const all = [...appliedA, ...appliedB];
    expect(all.length).toBeGreaterThan(0);
    const recorded = (await a.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')).rows.map((r) => r.name);
    expect(recorded).toEqual([...all].sort());
    expect(await migratePg(a)).toEqual([]);
  });

  it('has the same tables, columns, nullability and indexes as the SQLite schema', async () => {
    const { pool } = await freshPgStore();
    const sqlite = openSqlite(':memory:');
    const sqliteTables = (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('d1_migrations', 'sqlite_sequence') ORDER BY name").pluck().all() as string[]);
    const pgTables = (await pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY table_name")).rows.map((r) => r.table_name);
    expect(pgTables).toEqual(sqliteTables);
    for (const table of sqliteTables) {
      const sqliteColumns = (sqlite.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; notnull: number; pk: number }>)
        .map((c) => `${c.name}${c.notnull || c.pk ? ' not null' : ''}`)
        .sort();
      const pgColumns = (
        await pool.query<{ column_name: string; is_nullable: string }>('SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = $1', [table])
      ).rows
        .map((c) => `${c.column_name}${c.is_nullable === 'NO' ? ' not null' : ''}`)
        .sort();
      expect(pgColumns, table).toEqual(sqliteColumns);
    }
    const sqliteIndexes = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name").pluck().all();
    const pgIndexes = (
      await pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname")
    ).rows.map((r) => r.indexname);
    expect(pgIndexes).toEqual(sqliteIndexes);
  });

  it('chooses PostgreSQL by a postgres:// or postgresql:// URL only', () => {
    expect(isPgUrl('postgres://u@h/db')).toBe(true);
    expect(isPgUrl('postgresql://u@h:5432/db')).toBe(true);
    expect(isPgUrl('data/broker.sqlite')).toBe(false);
    expect(isPgUrl(':memory:')).toBe(false);
    expect(isPgUrl('./postgres://not-a-url')).toBe(false);
  });
});

describe('PostgreSQL store: two instances, one database, one winner', () => {
  const refresh = (familyId: string): RefreshTokenRecord => ({ familyId, clientId: 'app', sessionId: u('s'), principalId: 'p', scopes: ['openid'], createdAt: NOW, expiresAt: NOW + 3600 });

  it('an authorization code is consumed by exactly one of the racing instances; the others see reuse', async () => {
    const [a, b] = await twoInstances();
    const hash = u('code');
    await a.codes.put(hash, { clientId: 'app', redirectUri: 'https://app/cb', sessionId: 's', principalId: 'p', scopes: ['openid'], amr: [], issuedAt: NOW, expiresAt: NOW + 60 });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).codes.consume(hash, NOW + 1)));
    expect(outcomes.filter((o) => o.status === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'reused')).toHaveLength(5);
  });

  it('a refresh token is rotated by exactly one; the rest are superseded within the grace window', async () => {
    const [a, b] = await twoInstances();
    const family = u('fam');
    const old = u('rt');
    await a.refreshTokens.issue(old, refresh(family));
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).refreshTokens.rotate(old, { tokenHash: u('next'), token: refresh(family) }, NOW + 1, NOW - 10)),
    );
    expect(outcomes.filter((o) => o.status === 'rotated')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'superseded')).toHaveLength(5);
  });

  it('a revocation racing an issue into the same family never leaves a live token behind', async () => {
    const [a, b] = await twoInstances();
    for (let round = 0; round < 10; round++) {
      const family = u('fam');
      const hash = u('rt');
      const [issued] = await Promise.all([a.refreshTokens.issue(hash, refresh(family)), b.refreshTokens.revokeFamily(family, NOW)]);
      // Either the issue came first and was revoked with the family, or it came second and was refused.
      expect(await a.refreshTokens.active(hash, NOW + 1)).toBeUndefined();
      if (!issued) expect(await b.refreshTokens.active(hash, NOW + 1)).toBeUndefined();
    }
  });

  it('a client-assertion jti is accepted by exactly one instance', async () => {
    const [a, b] = await twoInstances();
    const jti = u('jti');
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).replay.consume('client-assertion', jti, NOW + 60, NOW)));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    // An expired record no longer counts: the same id is fresh again, once.
    const later = await Promise.all([a.replay.consume('client-assertion', jti, NOW + 200, NOW + 100), b.replay.consume('client-assertion', jti, NOW + 200, NOW + 100)]);
    expect(later.filter(Boolean)).toHaveLength(1);
  });

  it('an ID-JAG reference is redeemed by exactly one instance', async () => {
    const [a, b] = await twoInstances();
    const hash = u('ref');
    const reference = { id: u('r'), clientId: 'app', destination: 'todo', principalId: 'p', resources: [], scopes: [], subject: {}, issuedAt: NOW, expiresAt: NOW + 60 };
    await a.references.issue(hash, reference, { at: NOW, event: 'reference', requestId: u('req') });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).references.consume(hash, NOW + 1)));
    expect(outcomes.filter((o) => o.status === 'consumed')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'replayed')).toHaveLength(5);
  });

  it('an ID-JAG reference redeemed in its last second is consumed even if another instance prunes it just after', async () => {
    const { store: other, pool, url } = await freshPgStore();
    const hash = u('ref');
    const reference = { id: u('r'), clientId: 'app', destination: 'todo', principalId: 'p', resources: [], scopes: [], subject: {}, issuedAt: NOW, expiresAt: NOW + 60 };
    await other.references.issue(hash, reference, { at: NOW, event: 'reference', requestId: u('req') });
    // This instance's connection: right after its consuming statement, another instance (its clock
    // a second or two ahead) runs retention, which deletes the now expired reference.
    const own = testPool(url);
    const racing = {
      query: async (...args: Parameters<pg.Pool['query']>) => {
        const result = await (own.query as (...a: unknown[]) => Promise<unknown>)(...args);
        const text = (args[0] as { text?: string }).text ?? '';
        if (text.startsWith('UPDATE id_jag_references')) await other.retention.prune({ now: NOW + 61, auditBefore: 0, auditMaxRows: 1_000_000 });
        return result;
      },
      connect: () => own.connect(),
    } as unknown as pg.Pool;
    expect(await createPgStore(racing).references.consume(hash, NOW + 59)).toEqual({ status: 'consumed', reference });
    expect((await pool.query('SELECT count(*)::int AS n FROM id_jag_references')).rows[0].n).toBe(0);
  });

  it('a first subject binding is written by exactly one mint; the other is a StoreConflict and writes no audit record', async () => {
    const [a, b] = await twoInstances();
    const ns = u('ns');
    const binding = (principalId: string) => ({ namespace: ns, principalId, subject: 'pairwise-1', source: 'pairwise', version: 1, createdAt: NOW });
    const audit = (): AuditRecord => ({ at: NOW, event: 'mint', requestId: u('req') });
    const writes = [audit(), audit()];
    const outcomes = await Promise.allSettled([a.commitMint({ binding: binding('p1'), audit: writes[0]! }), b.commitMint({ binding: binding('p2'), audit: writes[1]! })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(StoreConflict);
    const audited = (await a.audit.recent(100)).map((r) => r.requestId);
    expect(writes.filter((w) => audited.includes(w.requestId))).toHaveLength(1);
    expect((await b.mappings.bindingOfSubject(ns, 'pairwise-1'))?.principalId).toBe(outcomes[0]!.status === 'fulfilled' ? 'p1' : 'p2');
  });

  it('a remap onto a subject bound to someone else is a StoreConflict and changes nothing', async () => {
    const [a, b] = await twoInstances();
    const ns = u('ns');
    await a.mappings.remap({ namespace: ns, principalId: 'p1', subject: 'x', source: 'operator' }, NOW);
    const generation = await b.mappings.generation();
    await expect(b.mappings.remap({ namespace: ns, principalId: 'p2', subject: 'x', source: 'operator' }, NOW)).rejects.toBeInstanceOf(StoreConflict);
    expect(await b.mappings.bindingOf(ns, 'p2')).toBeUndefined();
    expect(await a.mappings.generation()).toBe(generation);
    // A remap of p1 made through one instance is read (version and generation raised) through the other.
    await a.mappings.remap({ namespace: ns, principalId: 'p1', subject: 'y', source: 'operator' }, NOW + 1);
    expect(await b.mappings.bindingOf(ns, 'p1')).toMatchObject({ subject: 'y', version: 2 });
    expect(await b.mappings.generation()).toBe(generation + 1);
  });

  it('of two key rotations expecting the same active key, exactly one applies', async () => {
    const [a, b] = await twoInstances();
    const key = (kid: string, state: 'next' | 'active') => ({ kid, alg: 'ES256' as const, state, privateJwk: { kty: 'EC' }, publicJwk: { kty: 'EC' }, createdAt: NOW });
    const results = await Promise.all([
      a.keys.apply({ upsert: [key('k-a', 'active')], remove: [], expectActive: null }),
      b.keys.apply({ upsert: [key('k-b', 'active')], remove: [], expectActive: null }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await a.keys.list()).filter((k) => k.state === 'active')).toHaveLength(1);
  });
});

describe('PostgreSQL retention: bounded work per run', () => {
  it('stops after its chunk budget, reports it was not complete, and finishes on the next run', async () => {
    const { store, pool } = await freshPgStore();
    const rows = PRUNE_CHUNK_ROWS * PRUNE_MAX_CHUNKS + 10;
    await pool.query("INSERT INTO replay (scope, id, expires_at) SELECT 'bulk', g::text, 1 FROM generate_series(1, $1) g", [rows]);
    const policy = { now: 100, auditBefore: 0, auditMaxRows: 1_000_000 };
    expect(await store.retention.prune(policy)).toMatchObject({ complete: false, deleted: { replay: PRUNE_CHUNK_ROWS * PRUNE_MAX_CHUNKS } });
    expect(await store.retention.prune(policy)).toMatchObject({ complete: true, deleted: { replay: 10 } });
    expect((await pool.query('SELECT count(*)::int AS n FROM replay')).rows[0].n).toBe(0);
  });
});

describe('PostgreSQL audit export: paging by seq skips no record, whatever order instances commit in', () => {
  const record = (requestId: string): AuditRecord => ({ at: NOW, event: 'mint', requestId });
  const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

  /** Pages as `audit-export` does: from `after`, each page after the last seq of the one before, until one is empty. */
  async function exportFrom(store: BrokerStore, after: number, limit: number) {
    const out: Array<{ seq: number; record: AuditRecord }> = [];
    for (;;) {
      const page = await store.audit.since(0, after, limit);
      if (page.length === 0) return out;
      out.push(...page);
      after = page[page.length - 1]!.seq;
    }
  }

  /** Resolves once a session of the cluster waits on a lock, or once `settled` has settled. */
  async function waitingOnLockOr(pool: pg.Pool, settled: Promise<unknown>) {
    let done = false;
    settled.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done && (await pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted")).rows[0].n === 0) await sleep(5);
  }

  it('a record whose seq was drawn first but committed after a later one is exported, once, before it', async () => {
    const { store: a, pool, url } = await freshPgStore();
    const b = createPgStore(testPool(url));
    // Instance A's transaction draws the first seq through the adapter's own insert and stays open.
    const open = await pool.connect();
    await open.query('BEGIN');
    await appendAudit(open, record('first'));
    // Instance B's record, the later seq, commits.
    await b.audit.append(record('second'));
    // The export reads a page while A is still open: it either answers or waits on a lock.
    const page = a.audit.since(0, 0, 100);
    await waitingOnLockOr(pool, page);
    await open.query('COMMIT');
    open.release();
    const first = await page;
    const rest = first.length ? await exportFrom(a, first[first.length - 1]!.seq, 100) : [];
    expect([...first, ...rest].map((r) => r.record.requestId)).toEqual(['first', 'second']);
  });

  it('a page that cannot take its watermark (a writer holds its seq past the statement timeout) fails, and the next export has everything', async () => {
    const { store, pool } = await freshPgStore();
    await store.audit.append(record('before'));
    const open = await pool.connect();
    await open.query('BEGIN');
    await appendAudit(open, record('stuck'));
    await store.audit.append(record('after'));
    await expect(store.audit.since(0, 0, 100)).rejects.toThrow(/statement timeout/);
    await open.query('COMMIT');
    open.release();
    expect((await exportFrom(store, 0, 100)).map((r) => r.record.requestId)).toEqual(['before', 'stuck', 'after']);
  });

  it('an export paging while two instances commit out of seq order gets every record exactly once, in seq order', async () => {
    const { pool, url } = await freshPgStore();
    const pools = [pool, testPool(url)];
    const exporter = createPgStore(testPool(url));
    const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
    // Each write draws its seq, then holds its transaction open for a while: commits land out of seq order.
    const writes = Promise.all(
      ids.map(async (id, i) => {
        await sleep(i % 7);
        await transaction(pools[i % 2]!, async (tx) => {
          await appendAudit(tx, record(id));
          await sleep((i * 13) % 17);
        });
      }),
    );
    let finished = false;
    void writes.then(() => (finished = true));
    const exported: Array<{ seq: number; record: AuditRecord }> = [];
    while (!finished) {
      exported.push(...(await exportFrom(exporter, exported.at(-1)?.seq ?? 0, 3)));
      await sleep(1);
    }
    await writes;
    exported.push(...(await exportFrom(exporter, exported.at(-1)?.seq ?? 0, 3)));
    const seqs = exported.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(exported.map((r) => r.record.requestId).sort()).toEqual([...ids].sort());
  });
});
