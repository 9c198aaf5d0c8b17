import type { D1Database } from '@cloudflare/workers-types';
import type { AuthorizationCodeRecord, BrokerStore, PrincipalRecord, RefreshTokenRecord, SessionRecord } from '../ports.js';
import type { LoginTransaction } from '../../identity/types.js';
import { LOGIN_PURGE_EVERY, REVOKED_FAMILY_MEMORY } from '../../constants.js';
import { LOGIN_SQL } from './login-sql.js';
import { revokedFamilyHash } from './rows.js';

type LoginStores = Pick<BrokerStore, 'logins' | 'principals' | 'sessions' | 'codes' | 'refreshTokens'>;

/** This adapter's own statements; the shared ones are LOGIN_SQL. */
const OWN_SQL = {
  consumeCode: 'UPDATE authorization_codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ?',
  getCode: 'SELECT record, consumed_at FROM authorization_codes WHERE code_hash = ?',
  markRotated: `UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ?
    WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
  /** Inserts the successor only if this batch's rotation won (the old row names it). */
  issueSuccessor: `INSERT INTO refresh_tokens (token_hash, family_id, client_id, session_id, record, created_at, expires_at)
    SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ? AND successor_hash = ?)`,
  getRefresh: 'SELECT record, expires_at, rotated_at, revoked_at, family_id FROM refresh_tokens WHERE token_hash = ?',
} as const;
const SQL = { ...LOGIN_SQL, ...OWN_SQL };

interface RefreshRow {
  record: string;
  expires_at: number;
  rotated_at: number | null;
  revoked_at: number | null;
  family_id: string;
}

/** The D1 twin of sqlite-logins.ts: every read-modify-write is one conditional statement or one batch. */
export function d1LoginStores(db: D1Database): LoginStores {
  const refreshValues = (hash: string, t: RefreshTokenRecord) => [hash, t.familyId, t.clientId, t.sessionId, JSON.stringify(t), t.createdAt, t.expiresAt];
  const revokeFamily = (familyId: string, now: number) =>
    db.batch([
      db.prepare(SQL.revokeFamily).bind(now, familyId),
      db.prepare(SQL.markFamilyRevoked).bind(revokedFamilyHash(familyId), familyId, now, now + REVOKED_FAMILY_MEMORY, now),
    ]);
  let loginWrites = 0;
  return {
    logins: {
      put: async (tx) => {
        if (++loginWrites % LOGIN_PURGE_EVERY === 0) await db.prepare(SQL.purgeLogins).bind(tx.createdAt).run();
        await db.prepare(SQL.putLogin).bind(tx.id, JSON.stringify(tx), tx.expiresAt).run();
      },
      take: async (id, now) => {
        const row = await db.prepare(SQL.takeLogin).bind(id).first<{ record: string; expires_at: number }>();
        return row && row.expires_at > now ? (JSON.parse(row.record) as LoginTransaction) : undefined;
      },
    },
    principals: {
      upsert: async (p) => void (await db.prepare(SQL.upsertPrincipal).bind(p.id, p.upstreamIssuer, p.upstreamSubject, JSON.stringify(p), p.updatedAt).run()),
      get: async (id) => {
        const row = await db.prepare(SQL.getPrincipal).bind(id).first<{ record: string }>();
        return row ? (JSON.parse(row.record) as PrincipalRecord) : undefined;
      },
    },
    sessions: {
      create: async (s) => void (await db.prepare(SQL.createSession).bind(s.id, s.principalId, JSON.stringify(s), s.createdAt, s.expiresAt).run()),
      active: async (id, now) => {
        const row = await db.prepare(SQL.activeSession).bind(id, now).first<{ record: string }>();
        return row ? (JSON.parse(row.record) as SessionRecord) : undefined;
      },
      revoke: async (id, now) => void (await db.prepare(SQL.revokeSession).bind(now, id).run()),
    },
    codes: {
      put: async (hash, code) => void (await db.prepare(SQL.putCode).bind(hash, JSON.stringify(code), code.expiresAt).run()),
      consume: async (hash, now) => {
        const [update, read] = await db.batch([db.prepare(SQL.consumeCode).bind(now, hash, now), db.prepare(SQL.getCode).bind(hash)]);
        const row = (read!.results as Array<{ record: string; consumed_at: number | null }>)[0];
        if (!row) return { status: 'unknown' as const };
        const code = JSON.parse(row.record) as AuthorizationCodeRecord;
        if (update!.meta.changes === 1) return { status: 'ok' as const, code };
        return row.consumed_at !== null ? { status: 'reused' as const, code } : { status: 'unknown' as const };
      },
    },
    refreshTokens: {
      issue: async (hash, t) =>
        (await db.prepare(SQL.issueUnlessRevoked).bind(...refreshValues(hash, t), revokedFamilyHash(t.familyId)).run()).meta.changes === 1,
      rotate: async (oldHash, next, now, rotatedAfter) => {
        const [mark, , read] = await db.batch([
          db.prepare(SQL.markRotated).bind(now, next.tokenHash, oldHash, now),
          db.prepare(SQL.issueSuccessor).bind(...refreshValues(next.tokenHash, next.token), oldHash, next.tokenHash),
          db.prepare(SQL.getRefresh).bind(oldHash),
        ]);
        const row = (read!.results as RefreshRow[])[0];
        if (mark!.meta.changes === 1 && row) return { status: 'rotated' as const, previous: JSON.parse(row.record) as RefreshTokenRecord };
        if (!row || row.revoked_at !== null || row.expires_at <= now) return { status: 'invalid' as const };
        // Rotated within the grace window: the client's own concurrent request, not a copy.
        if (row.rotated_at !== null && rotatedAfter !== undefined && row.rotated_at > rotatedAfter) return { status: 'superseded' as const };
        // Already rotated: a copy is being replayed. Revoke the family (RFC 9700 §4.14.2).
        await revokeFamily(row.family_id, now);
        return { status: 'reused' as const };
      },
      active: async (hash, now, rotatedAfter) => {
        const row = await db.prepare(SQL.getRefresh).bind(hash).first<RefreshRow>();
        if (!row || row.revoked_at !== null || row.expires_at <= now) return undefined;
        if (row.rotated_at !== null && (rotatedAfter === undefined || row.rotated_at <= rotatedAfter)) return undefined;
        return JSON.parse(row.record) as RefreshTokenRecord;
      },
      revokeFamily: async (familyId, now) => void (await revokeFamily(familyId, now)),
      revokeSession: async (sessionId, now) => void (await db.prepare(SQL.revokeSessionTokens).bind(now, sessionId).run()),
    },
  };
}
