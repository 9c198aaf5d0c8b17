import type { D1Database, D1PreparedStatement } from '@cloudflare/workers-types';
import { systemClock } from '../../clock.js';
import { REPLAY_PURGE_EVERY } from '../../constants.js';
import {
  StoreConflict,
  type AuditRecord,
  type BrokerStore,
  type KeyStore,
  type StoredKey,
  type SubjectBinding,
  type TableRow,
  type TableVersion,
} from '../ports.js';
import {
  demotionsFirst,
  expectedKids,
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
import { d1LoginStores } from './d1-logins.js';
import { d1Retention } from './d1-retention.js';
import { d1References } from './d1-references.js';
import { d1SamlSessions } from './d1-saml-sessions.js';
import { d1AccessRequests } from './d1-access-requests.js';
import { d1Deferrals } from './d1-deferrals.js';
import { AUDIT_SINCE } from './retention-sql.js';

/**
 * The Workers store: Cloudflare D1 over the same schema as the SQLite adapter (migrations/,
 * applied with `wrangler d1 migrations apply`). D1 has no interactive transactions: every
 * multi-statement write is one `db.batch([...])`, which D1 runs as a single transaction.
 * Queries go to the primary (no Sessions API, no read replicas), so a read sees every
 * committed write: replay records are strongly consistent.
 */

/** Rows per multi-row INSERT: 4 bound parameters each (+2 for the version guard), under D1's 100-parameter limit per statement. */
const TABLE_ROWS_PER_STATEMENT = 24;
/** A table replacement that loses the version compare-and-swap to a concurrent writer re-decides this often. */
const TABLE_WRITE_ATTEMPTS = 3;
/** The replay scope of the guard row a key rotation writes (and removes) inside its own batch. */
const ROTATION_GUARD_SCOPE = 'xaa:key-rotation-guard';

/** This adapter's own statements; the shared ones are CORE_SQL. */
const OWN_SQL = {
  upsertKey: `INSERT INTO signing_keys (kid, alg, state, private_jwk, public_jwk, created_at, expires_at)
    SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM replay WHERE scope = '${ROTATION_GUARD_SCOPE}' AND id = ?)
    ON CONFLICT (kid) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`,
  removeKey: `DELETE FROM signing_keys WHERE kid = ? AND EXISTS (SELECT 1 FROM replay WHERE scope = '${ROTATION_GUARD_SCOPE}' AND id = ?)`,
  guardAlways: `INSERT INTO replay (scope, id, expires_at) VALUES ('${ROTATION_GUARD_SCOPE}', ?, ?)`,
  dropGuard: `DELETE FROM replay WHERE scope = '${ROTATION_GUARD_SCOPE}' AND id = ?`,
  upsertBinding: `INSERT INTO subject_bindings (namespace, principal_id, subject, source, version, created_at, upstream_issuer)
    VALUES (?, ?, ?, ?, 1, ?, ?)
    ON CONFLICT (namespace, principal_id) DO UPDATE SET subject = excluded.subject, source = excluded.source,
      version = subject_bindings.version + 1, created_at = excluded.created_at, upstream_issuer = excluded.upstream_issuer`,
  appendAudit: 'INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)',
  auditSince: AUDIT_SINCE,
  swapSecret: 'UPDATE broker_secrets SET value = ? WHERE name = ? AND value = ?',
  /** The table's writes run only if its version row holds the value this batch swapped in. */
  deleteTableIf: `DELETE FROM mapping_table WHERE namespace = ? AND EXISTS (SELECT 1 FROM broker_secrets WHERE name = ? AND value = ?)`,
  bumpGeneration: `INSERT INTO broker_secrets (name, value) VALUES (?, '1') ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
} as const;
const SQL = { ...CORE_SQL, ...OWN_SQL };

/**
 * Writes the key rotation's guard row only if, for each state given, its kids are exactly the
 * expected ones (a JSON array of distinct kids, bound twice): as many keys in that state as
 * expected, and every one of them among the expected.
 */
function guardIfKids(states: ReadonlyArray<'active' | 'next'>): string {
  const exactly = (state: string) => `(SELECT COUNT(*) FROM signing_keys WHERE state = '${state}') = json_array_length(?)
      AND NOT EXISTS (SELECT 1 FROM signing_keys WHERE state = '${state}' AND kid NOT IN (SELECT value FROM json_each(?)))`;
  return `INSERT INTO replay (scope, id, expires_at) SELECT '${ROTATION_GUARD_SCOPE}', ?, ? WHERE ${states.map(exactly).join(' AND ')}`;
}

/** Several rows, written only if the version row holds the expected value (see replaceTable). */
function upsertTableRowsIf(count: number): string {
  return `INSERT INTO mapping_table (namespace, upstream_issuer, upstream_subject, subject)
    SELECT column1, column2, column3, column4 FROM (VALUES ${Array(count).fill('(?, ?, ?, ?)').join(', ')})
    WHERE EXISTS (SELECT 1 FROM broker_secrets WHERE name = ? AND value = ?)
    ON CONFLICT (namespace, upstream_issuer, upstream_subject) DO UPDATE SET subject = excluded.subject`;
}

/** D1 reports SQLite constraint failures in the message (`D1_ERROR: UNIQUE constraint failed: … : SQLITE_CONSTRAINT`). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    if (/UNIQUE constraint failed|SQLITE_CONSTRAINT/i.test(e.message)) return true;
  }
  return false;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Every table the D1 store reads or writes: migrations/ creates them (test/store/d1-tables.test.ts keeps the two in step). */
export const D1_TABLES = [
  'signing_keys',
  'mapping_table',
  'subject_bindings',
  'replay',
  'audit_log',
  'broker_secrets',
  'login_transactions',
  'principals',
  'sessions',
  'authorization_codes',
  'refresh_tokens',
  'id_jag_references',
  'access_requests',
  'deferrals',
  'saml_sessions',
] as const;

/**
 * Indexes the store's correctness rests on that a later migration made (not a table of its own):
 * one active signing key per algorithm (0007); before it, an RS256 key could not be active beside
 * the ES256 one.
 */
export const D1_INDEXES = ['signing_keys_one_active_per_alg'] as const;

/** The tables and the indexes (D1_INDEXES) the store needs that the database lacks: migrations not (all) applied. One query. */
export async function missingD1Schema(db: D1Database): Promise<{ tables: string[]; indexes: string[] }> {
  const rows = (await db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')").all<{ type: string; name: string }>()).results ?? [];
  const present = (type: string) => new Set(rows.filter((r) => r.type === type).map((r) => r.name));
  const tables = present('table');
  const indexes = present('index');
  return { tables: D1_TABLES.filter((t) => !tables.has(t)), indexes: D1_INDEXES.filter((i) => !indexes.has(i)) };
}

/** The D1 store. Statements are prepared once per store; `bind()` returns a new statement each call. */
export function createD1Store(db: D1Database, options: { clock?: () => number } = {}): BrokerStore {
  const clock = options.clock ?? systemClock;
  const q = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof SQL, D1PreparedStatement>;
  const appendAudit = (r: AuditRecord) => q.appendAudit.bind(r.at, r.event, r.requestId, JSON.stringify(r));
  let replayWrites = 0;

  const keys: KeyStore = {
    list: async () => ((await q.listKeys.all<KeyRow>()).results ?? []).map(rowToKey),
    /**
     * One batch: a guard row is written only if the active (and next) keys are the expected ones, every
     * write is conditional on that row, and the row is removed again at the end. A concurrent
     * rotation (or a second isolate creating the first keys) therefore changes nothing and
     * gets `false`, never a half-applied set.
     */
    apply: async (change) => {
      const guard = randomId();
      const now = clock();
      const expected = (['active', 'next'] as const).flatMap((state) => {
        const kids = state === 'active' ? change.expectActive : change.expectNext;
        return kids === undefined ? [] : [{ state, json: JSON.stringify([...expectedKids(kids)]) }];
      });
      const first =
        expected.length === 0
          ? q.guardAlways.bind(guard, now)
          : db.prepare(guardIfKids(expected.map((e) => e.state))).bind(guard, now, ...expected.flatMap((e) => [e.json, e.json]));
      const writes = [
        ...demotionsFirst(change.upsert).map((k: StoredKey) =>
          q.upsertKey.bind(k.kid, k.alg, k.state, JSON.stringify(k.privateJwk), JSON.stringify(k.publicJwk), k.createdAt, k.expiresAt ?? null, guard),
        ),
        ...change.remove.map((kid) => q.removeKey.bind(kid, guard)),
      ];
      const results = await db.batch([first, ...writes, q.dropGuard.bind(guard)]);
      return results[0]!.meta.changes === 1;
    },
  };

  return {
    ...d1LoginStores(db),
    references: d1References(db),
    samlSessions: d1SamlSessions(db),
    accessRequests: d1AccessRequests(db),
    deferrals: d1Deferrals(db),
    retention: d1Retention(db),
    keys,
    mappings: {
      tableRow: async (ns, iss, sub) => {
        const row = await q.tableRow.bind(ns, iss, sub).first<{ namespace: string; upstream_issuer: string; upstream_subject: string; subject: string }>();
        return row ? { namespace: row.namespace, upstreamIssuer: row.upstream_issuer, upstreamSubject: row.upstream_subject, subject: row.subject } : undefined;
      },
      bindingOf: async (ns, pid) => rowToBinding(await q.bindingOf.bind(ns, pid).first<BindingRow>()),
      bindingOfSubject: async (ns, subject) => rowToBinding(await q.bindingOfSubject.bind(ns, subject).first<BindingRow>()),
      /**
       * D1 has no interactive transaction, so the version check and the writes are one batch made
       * conditional: its first statement moves the version from the value read to the new one
       * (compare-and-swap), and every later write runs only if the version row holds the new value.
       * A concurrent writer that moved it first makes this batch change nothing; it is re-decided.
       */
      replaceTable: async (namespace: string, rows: TableRow[], version: TableVersion) => {
        const versionKey = tableVersionKey(namespace);
        const next = formatTableVersion(version);
        for (let attempt = 0; attempt < TABLE_WRITE_ATTEMPTS; attempt++) {
          const stored = (await q.getSecret.bind(versionKey).first<{ value: string }>())?.value;
          const decision = tableWriteDecision(namespace, stored, version);
          if (decision !== 'write') return { status: decision, written: 0, current: storedTableVersion(stored) };
          const swap = stored === undefined ? q.insertSecret.bind(versionKey, next) : q.swapSecret.bind(next, versionKey, stored);
          const statements: D1PreparedStatement[] = [swap, q.deleteTableIf.bind(namespace, versionKey, next)];
          for (let i = 0; i < rows.length; i += TABLE_ROWS_PER_STATEMENT) {
            const chunk = rows.slice(i, i + TABLE_ROWS_PER_STATEMENT);
            statements.push(db.prepare(upsertTableRowsIf(chunk.length)).bind(...chunk.flatMap((r) => [namespace, r.upstreamIssuer, r.upstreamSubject, r.subject]), versionKey, next));
          }
          statements.push(q.bumpGeneration.bind(MAPPING_GENERATION_KEY));
          let swapped: boolean;
          try {
            swapped = (await db.batch(statements))[0]!.meta.changes === 1;
          } catch (err) {
            if (isUniqueViolation(err)) throw new StoreConflict('two upstream identities would share one subject in a namespace');
            throw err;
          }
          if (swapped) return { status: 'written' as const, written: rows.length, current: version.version };
        }
        throw new StoreConflict(`${namespace}: the table kept changing under concurrent writers; retry`);
      },
      remap: async (b, at) => {
        try {
          const [, , read] = await db.batch<BindingRow>([
            q.upsertBinding.bind(b.namespace, b.principalId, b.subject, b.source, at, b.upstreamIssuer ?? null),
            q.bumpGeneration.bind(MAPPING_GENERATION_KEY),
            q.bindingOf.bind(b.namespace, b.principalId),
          ]);
          return rowToBinding(read!.results[0])!;
        } catch (err) {
          if (isUniqueViolation(err)) throw new StoreConflict(`subject is already bound to another principal in ${b.namespace}`);
          throw err;
        }
      },
      generation: async () => Number((await q.getSecret.bind(MAPPING_GENERATION_KEY).first<{ value: string }>())?.value ?? 0),
    },
    replay: {
      consume: async (scope, id, expiresAt, now) => {
        const consume = q.consumeReplay.bind(scope, id, expiresAt, now);
        if (++replayWrites % REPLAY_PURGE_EVERY === 0) {
          const [, result] = await db.batch([q.purgeReplay.bind(now), consume]);
          return result!.meta.changes === 1;
        }
        return (await consume.run()).meta.changes === 1;
      },
      recorded: async (scope, id, now) => (await q.replayRecorded.bind(scope, id, now).first()) !== null,
    },
    audit: {
      append: async (r) => void (await appendAudit(r).run()),
      recent: async (limit) => ((await q.recentAudit.bind(limit).all<{ record: string }>()).results ?? []).map((r) => JSON.parse(r.record) as AuditRecord),
      since: async (since, after, limit) =>
        ((await q.auditSince.bind(since, after, limit).all<{ seq: number; record: string }>()).results ?? []).map((r) => ({
          seq: r.seq,
          record: JSON.parse(r.record) as AuditRecord,
        })),
    },
    secrets: {
      getOrCreate: async (name, create) => {
        const [, read] = await db.batch<{ value: string }>([q.insertSecret.bind(name, create()), q.getSecret.bind(name)]);
        return read!.results[0]!.value;
      },
      get: async (name) => (await q.getSecret.bind(name).first<{ value: string }>())?.value ?? undefined,
    },
    commitMint: async (write: { binding?: SubjectBinding; audit: AuditRecord }) => {
      const b = write.binding;
      const statements = [
        ...(b ? [q.insertBinding.bind(b.namespace, b.principalId, b.subject, b.source, b.version, b.createdAt, b.upstreamIssuer ?? null)] : []),
        appendAudit(write.audit),
      ];
      try {
        if (statements.length === 1) await statements[0]!.run();
        else await db.batch(statements);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreConflict('binding conflict');
        throw err;
      }
    },
  };
}
