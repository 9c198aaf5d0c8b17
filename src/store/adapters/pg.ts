import type pg from 'pg';
import { REPLAY_PURGE_EVERY } from '../../constants.js';
import { StoreConflict, type AuditRecord, type BrokerStore, type SubjectBinding, type TableRow, type TableVersion } from '../ports.js';
import {
  demotionsFirst,
  keysAsExpected,
  formatTableVersion,
  MAPPING_GENERATION_KEY,
  rowToBinding,
  rowToKey,
  storedTableVersion,
  tableVersionKey,
  tableWriteDecision,
  type BindingRow,
  type KeyRow,
} from './rows.js';
import { CORE_SQL } from './core-sql.js';
import { appendAudit, auditWatermark, first, isUniqueViolation, lockKey, run, transaction, type Queryable } from './pg-client.js';
import { pgLoginStores } from './pg-logins.js';
import { pgReferences } from './pg-references.js';
import { pgSamlSessions } from './pg-saml-sessions.js';
import { pgAccessRequests } from './pg-access-requests.js';
import { pgDeferrals } from './pg-deferrals.js';
import { pgRetention } from './pg-retention.js';

export { isPgUrl, migratePg, openPgPool } from './pg-client.js';

/** Key rotations (and the first keys two instances create at once) take this advisory lock. */
const KEY_ROTATION_LOCK = 'xaa-broker:key-rotation';

/** This adapter's own statements; the shared ones are CORE_SQL. */
const OWN_SQL = {
  currentKids: "SELECT kid, state FROM signing_keys WHERE state IN ('active', 'next')",
  upsertKey: `INSERT INTO signing_keys (kid, alg, state, private_jwk, public_jwk, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (kid) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`,
  removeKey: 'DELETE FROM signing_keys WHERE kid = ?',
  upsertTableRow: `INSERT INTO mapping_table (namespace, upstream_issuer, upstream_subject, subject) VALUES (?, ?, ?, ?)
    ON CONFLICT (namespace, upstream_issuer, upstream_subject) DO UPDATE SET subject = excluded.subject`,
  deleteTable: 'DELETE FROM mapping_table WHERE namespace = ?',
  upsertBinding: `INSERT INTO subject_bindings (namespace, principal_id, subject, source, version, created_at, upstream_issuer)
    VALUES (?, ?, ?, ?, 1, ?, ?)
    ON CONFLICT (namespace, principal_id) DO UPDATE SET subject = excluded.subject, source = excluded.source,
      version = subject_bindings.version + 1, created_at = excluded.created_at, upstream_issuer = excluded.upstream_issuer
    RETURNING *`,
  /** AUDIT_SINCE (retention-sql.ts) bounded by the watermark (auditWatermark, pg-client.ts). */
  auditSince: 'SELECT seq, record FROM audit_log WHERE at >= ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
  bumpGeneration: `INSERT INTO broker_secrets (name, value) VALUES (?, '1')
    ON CONFLICT (name) DO UPDATE SET value = (broker_secrets.value::bigint + 1)::text`,
} as const;
const SQL = { ...CORE_SQL, ...OWN_SQL };

/** Runs `write`, turning a unique violation into the StoreConflict the ports promise. */
async function conflictAs<R>(message: string, write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreConflict(message);
    throw err;
  }
}

/**
 * The PostgreSQL store (Node, several instances on one database): the same ports and the same
 * promises as the SQLite adapter. Every multi-statement write is one transaction; single-use
 * consumption is one conditional UPDATE (of racing consumers the row lock lets one match);
 * writers that decide on something they read first lock it (a row, or an advisory lock on a
 * name). The schema must be migrated first (`migratePg`).
 */
export function createPgStore(pool: pg.Pool): BrokerStore {
  let replayWrites = 0;
  const secret = async (db: Queryable, name: string) => (await first<{ value: string }>(db, SQL.getSecret, [name]))?.value;

  return {
    ...pgLoginStores(pool),
    references: pgReferences(pool),
    samlSessions: pgSamlSessions(pool),
    accessRequests: pgAccessRequests(pool),
    deferrals: pgDeferrals(pool),
    retention: pgRetention(pool),
    keys: {
      list: async () => (await run<KeyRow>(pool, SQL.listKeys)).rows.map(rowToKey),
      apply: (change) =>
        transaction(pool, async (tx) => {
          await lockKey(tx, KEY_ROTATION_LOCK);
          if (!keysAsExpected(change, (await run<{ kid: string; state: string }>(tx, SQL.currentKids)).rows)) return false;
          for (const k of demotionsFirst(change.upsert)) {
            await run(tx, SQL.upsertKey, [k.kid, k.alg, k.state, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.expiresAt ?? null]);
          }
          for (const kid of change.remove) await run(tx, SQL.removeKey, [kid]);
          return true;
        }),
    },
    mappings: {
      tableRow: async (ns, iss, sub) => {
        const row = await first<{ namespace: string; upstream_issuer: string; upstream_subject: string; subject: string }>(pool, SQL.tableRow, [ns, iss, sub]);
        return row && { namespace: row.namespace, upstreamIssuer: row.upstream_issuer, upstreamSubject: row.upstream_subject, subject: row.subject };
      },
      bindingOf: async (ns, pid) => rowToBinding(await first<BindingRow>(pool, SQL.bindingOf, [ns, pid])),
      bindingOfSubject: async (ns, subject) => rowToBinding(await first<BindingRow>(pool, SQL.bindingOfSubject, [ns, subject])),
      // The version is read and written under a lock on the namespace: two importers take turns.
      replaceTable: (namespace: string, rows: TableRow[], version: TableVersion) =>
        conflictAs('two upstream identities would share one subject in a namespace', () =>
          transaction(pool, async (tx) => {
            const versionKey = tableVersionKey(namespace);
            await lockKey(tx, versionKey);
            const stored = await secret(tx, versionKey);
            const decision = tableWriteDecision(namespace, stored, version);
            if (decision !== 'write') return { status: decision, written: 0, current: storedTableVersion(stored) };
            await run(tx, SQL.deleteTable, [namespace]);
            for (const r of rows) await run(tx, SQL.upsertTableRow, [namespace, r.upstreamIssuer, r.upstreamSubject, r.subject]);
            await run(tx, SQL.putSecret, [versionKey, formatTableVersion(version)]);
            await run(tx, SQL.bumpGeneration, [MAPPING_GENERATION_KEY]);
            return { status: 'written' as const, written: rows.length, current: version.version };
          }),
        ),
      remap: (b: Omit<SubjectBinding, 'version' | 'createdAt'>, at: number) =>
        conflictAs(`subject is already bound to another principal in ${b.namespace}`, () =>
          transaction(pool, async (tx) => {
            const row = await first<BindingRow>(tx, SQL.upsertBinding, [b.namespace, b.principalId, b.subject, b.source, at, b.upstreamIssuer ?? null]);
            await run(tx, SQL.bumpGeneration, [MAPPING_GENERATION_KEY]);
            return rowToBinding(row)!;
          }),
        ),
      generation: async () => Number((await secret(pool, MAPPING_GENERATION_KEY)) ?? 0),
    },
    replay: {
      consume: async (scope, id, expiresAt, now) => {
        if (++replayWrites % REPLAY_PURGE_EVERY === 0) await run(pool, SQL.purgeReplay, [now]);
        return (await run(pool, SQL.consumeReplay, [scope, id, expiresAt, now])).changes === 1;
      },
      recorded: async (scope, id, now) => (await first(pool, SQL.replayRecorded, [scope, id, now])) !== undefined,
    },
    audit: {
      append: (r) => appendAudit(pool, r),
      recent: async (limit) => (await run<{ record: string }>(pool, SQL.recentAudit, [limit])).rows.map((r) => JSON.parse(r.record) as AuditRecord),
      // Only up to the watermark: a page never runs ahead of a smaller `seq` yet to commit.
      since: async (since, after, limit) => {
        const upTo = await auditWatermark(pool);
        const { rows } = await run<{ seq: number; record: string }>(pool, SQL.auditSince, [since, after, upTo, limit]);
        return rows.map((r) => ({ seq: r.seq, record: JSON.parse(r.record) as AuditRecord }));
      },
    },
    secrets: {
      getOrCreate: async (name, create) => {
        await run(pool, SQL.insertSecret, [name, create()]);
        return (await secret(pool, name))!;
      },
      get: (name) => secret(pool, name),
    },
    // A first binding races another instance's on the primary key or the subject index: the loser's
    // transaction waits for the winner's commit, then fails on the index and writes nothing.
    commitMint: ({ binding: b, audit }) =>
      conflictAs('binding conflict', async () => {
        if (!b) return appendAudit(pool, audit);
        await transaction(pool, async (tx) => {
          await run(tx, SQL.insertBinding, [b.namespace, b.principalId, b.subject, b.source, b.version, b.createdAt, b.upstreamIssuer ?? null]);
          await appendAudit(tx, audit);
        });
      }),
  };
}
