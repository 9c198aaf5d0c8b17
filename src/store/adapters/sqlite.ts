import Database from 'better-sqlite3';
import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPLAY_PURGE_EVERY, SQLITE_BUSY_TIMEOUT_MS } from '../../constants.js';
import {
  StoreConflict,
  type AuditRecord,
  type BrokerStore,
  type KeyChange,
  type SubjectBinding,
  type TableRow,
  type TableVersion,
} from '../ports.js';
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
import { sqliteLoginStores } from './sqlite-logins.js';
import { sqliteRetention } from './sqlite-retention.js';
import { sqliteReferences } from './sqlite-references.js';
import { sqliteSamlSessions } from './sqlite-saml-sessions.js';
import { sqliteAccessRequests } from './sqlite-access-requests.js';
import { sqliteDeferrals } from './sqlite-deferrals.js';
import { AUDIT_SINCE } from './retention-sql.js';
import { groupCommit } from './sqlite-group-commit.js';
import { writeTransaction } from './sqlite-tx.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/** Opens (creating if needed) the SQLite file and applies the shared migrations. */
export function openSqlite(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  // Another process (a second broker, the CLI) may hold the write lock: wait for it, set first.
  const db = new Database(file, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** Each migration once, even when several processes open a fresh file at the same moment. */
function migrate(db: Database.Database) {
  const apply = writeTransaction(db, (name: string, sql: string) => {
    db.exec('CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)');
    // Checked under the write lock: another process may have applied it meanwhile.
    if (db.prepare('SELECT 1 FROM d1_migrations WHERE name = ?').get(name)) return;
    db.exec(sql);
    db.prepare('INSERT INTO d1_migrations (name) VALUES (?)').run(name);
  });
  for (const name of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort()) {
    apply(name, readFileSync(join(MIGRATIONS_DIR, name), 'utf8'));
  }
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}

/** The Node store: synchronous better-sqlite3 behind the async ports, statements prepared once. */
export function createSqliteStore(db: Database.Database): BrokerStore {
  const q = {
    listKeys: db.prepare('SELECT * FROM signing_keys ORDER BY created_at'),
    currentKids: db.prepare("SELECT kid, state FROM signing_keys WHERE state IN ('active', 'next')"),
    upsertKey: db.prepare(
      `INSERT INTO signing_keys (kid, alg, state, private_jwk, public_jwk, created_at, expires_at)
       VALUES (@kid, @alg, @state, @private_jwk, @public_jwk, @created_at, @expires_at)
       ON CONFLICT (kid) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`,
    ),
    removeKey: db.prepare('DELETE FROM signing_keys WHERE kid = ?'),
    tableRow: db.prepare('SELECT * FROM mapping_table WHERE namespace = ? AND upstream_issuer = ? AND upstream_subject = ?'),
    upsertTableRow: db.prepare(
      `INSERT INTO mapping_table (namespace, upstream_issuer, upstream_subject, subject) VALUES (?, ?, ?, ?)
       ON CONFLICT (namespace, upstream_issuer, upstream_subject) DO UPDATE SET subject = excluded.subject`,
    ),
    bindingOf: db.prepare('SELECT * FROM subject_bindings WHERE namespace = ? AND principal_id = ?'),
    bindingOfSubject: db.prepare('SELECT * FROM subject_bindings WHERE namespace = ? AND subject = ?'),
    insertBinding: db.prepare(
      `INSERT INTO subject_bindings (namespace, principal_id, subject, source, version, created_at, upstream_issuer)
       VALUES (@namespace, @principalId, @subject, @source, @version, @createdAt, @upstreamIssuer)`,
    ),
    upsertBinding: db.prepare(
      `INSERT INTO subject_bindings (namespace, principal_id, subject, source, version, created_at, upstream_issuer)
       VALUES (@namespace, @principalId, @subject, @source, 1, @createdAt, @upstreamIssuer)
       ON CONFLICT (namespace, principal_id) DO UPDATE SET subject = excluded.subject, source = excluded.source,
         version = subject_bindings.version + 1, created_at = excluded.created_at, upstream_issuer = excluded.upstream_issuer`,
    ),
    consumeReplay: db.prepare('INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    purgeReplay: db.prepare('DELETE FROM replay WHERE expires_at < ?'),
    replayRecorded: db.prepare('SELECT 1 FROM replay WHERE scope = ? AND id = ? AND expires_at >= ?').pluck(),
    appendAudit: db.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)'),
    recentAudit: db.prepare('SELECT record FROM audit_log ORDER BY seq DESC LIMIT ?').pluck(),
    auditSince: db.prepare(AUDIT_SINCE),
    getSecret: db.prepare('SELECT value FROM broker_secrets WHERE name = ?').pluck(),
    insertSecret: db.prepare('INSERT INTO broker_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    putSecret: db.prepare('INSERT INTO broker_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    deleteTable: db.prepare('DELETE FROM mapping_table WHERE namespace = ?'),
    bumpGeneration: db.prepare(
      "INSERT INTO broker_secrets (name, value) VALUES (?, '1') ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    ),
  };

  const appendAudit = (r: AuditRecord) => q.appendAudit.run(r.at, r.event, r.requestId, JSON.stringify(r));
  let replayWrites = 0;

  const applyKeys = writeTransaction(db, (change: KeyChange) => {
    if (!keysAsExpected(change, q.currentKids.all() as Array<{ kid: string; state: string }>)) return false;
    for (const k of demotionsFirst(change.upsert)) {
      q.upsertKey.run({
        kid: k.kid,
        alg: k.alg,
        state: k.state,
        private_jwk: JSON.stringify(k.privateJwk),
        public_jwk: JSON.stringify(k.publicJwk),
        created_at: k.createdAt,
        expires_at: k.expiresAt ?? null,
      });
    }
    for (const kid of change.remove) q.removeKey.run(kid);
    return true;
  });

  const replaceTable = writeTransaction(db, (namespace: string, rows: TableRow[], version: TableVersion) => {
    const versionKey = tableVersionKey(namespace);
    const stored = q.getSecret.get(versionKey) as string | undefined;
    const decision = tableWriteDecision(namespace, stored, version);
    if (decision !== 'write') return { status: decision, written: 0, current: storedTableVersion(stored) };
    q.deleteTable.run(namespace);
    for (const r of rows) q.upsertTableRow.run(namespace, r.upstreamIssuer, r.upstreamSubject, r.subject);
    q.putSecret.run(versionKey, formatTableVersion(version));
    q.bumpGeneration.run(MAPPING_GENERATION_KEY);
    return { status: 'written' as const, written: rows.length, current: version.version };
  });

  const remap = writeTransaction(db, (b: Omit<SubjectBinding, 'version' | 'createdAt'>, at: number) => {
    q.upsertBinding.run({ upstreamIssuer: null, ...b, createdAt: at });
    q.bumpGeneration.run(MAPPING_GENERATION_KEY);
    return rowToBinding(q.bindingOf.get(b.namespace, b.principalId) as BindingRow)!;
  });

  type MintWrite = { binding?: SubjectBinding; audit: AuditRecord };
  // Mint and reference writes share group transactions (sqlite-group-commit.ts): one WAL commit per turn.
  const inGroup = groupCommit(db);
  const commitOne = (write: MintWrite) => {
    if (write.binding) q.insertBinding.run({ upstreamIssuer: null, ...write.binding });
    appendAudit(write.audit);
  };

  return {
    ...sqliteLoginStores(db),
    references: sqliteReferences(db, inGroup),
    samlSessions: sqliteSamlSessions(db),
    accessRequests: sqliteAccessRequests(db),
    deferrals: sqliteDeferrals(db),
    retention: sqliteRetention(db),
    keys: {
      list: async () => (q.listKeys.all() as KeyRow[]).map(rowToKey),
      apply: async (change) => applyKeys(change),
    },
    mappings: {
      tableRow: async (ns, iss, sub) => {
        const row = q.tableRow.get(ns, iss, sub) as { namespace: string; upstream_issuer: string; upstream_subject: string; subject: string } | undefined;
        return row && { namespace: row.namespace, upstreamIssuer: row.upstream_issuer, upstreamSubject: row.upstream_subject, subject: row.subject };
      },
      bindingOf: async (ns, pid) => rowToBinding(q.bindingOf.get(ns, pid) as BindingRow | undefined),
      bindingOfSubject: async (ns, subject) => rowToBinding(q.bindingOfSubject.get(ns, subject) as BindingRow | undefined),
      replaceTable: async (namespace, rows, version) => {
        try {
          return replaceTable(namespace, rows, version);
        } catch (err) {
          if (isUniqueViolation(err)) throw new StoreConflict('two upstream identities would share one subject in a namespace');
          throw err;
        }
      },
      remap: async (b, at) => {
        try {
          return remap(b, at);
        } catch (err) {
          if (isUniqueViolation(err)) throw new StoreConflict(`subject is already bound to another principal in ${b.namespace}`);
          throw err;
        }
      },
      generation: async () => Number(q.getSecret.get(MAPPING_GENERATION_KEY) ?? 0),
    },
    replay: {
      consume: async (scope, id, expiresAt, now) => {
        // Purge now and then, not on every write: the primary key keeps lookups cheap meanwhile.
        if (++replayWrites % REPLAY_PURGE_EVERY === 0) q.purgeReplay.run(now);
        const fresh = q.consumeReplay.run(scope, id, expiresAt).changes === 1;
        if (fresh) return true;
        // An expired record may linger until the next purge; it no longer counts as a replay.
        const purged = q.purgeReplay.run(now).changes > 0;
        return purged && q.consumeReplay.run(scope, id, expiresAt).changes === 1;
      },
      recorded: async (scope, id, now) => q.replayRecorded.get(scope, id, now) !== undefined,
    },
    audit: {
      append: (r) => inGroup(() => void appendAudit(r)),
      recent: async (limit) => (q.recentAudit.all(limit) as string[]).map((s) => JSON.parse(s) as AuditRecord),
      since: async (since, after, limit) =>
        (q.auditSince.all(since, after, limit) as Array<{ seq: number; record: string }>).map((r) => ({ seq: r.seq, record: JSON.parse(r.record) as AuditRecord })),
    },
    secrets: {
      getOrCreate: async (name, create) => {
        q.insertSecret.run(name, create());
        return q.getSecret.get(name) as string;
      },
      get: async (name) => (q.getSecret.get(name) as string | undefined) ?? undefined,
    },
    commitMint: async (write) => {
      try {
        await inGroup(() => commitOne(write));
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreConflict('binding conflict');
        throw err;
      }
    },
  };
}
