import type Database from 'better-sqlite3';
import type { BrokerStore, AuthorizationCodeRecord, RefreshTokenRecord, SessionRecord, PrincipalRecord } from '../ports.js';
import type { LoginTransaction } from '../../identity/types.js';
import { LOGIN_PURGE_EVERY, REVOKED_FAMILY_MEMORY } from '../../constants.js';
import { LOGIN_SQL } from './login-sql.js';
import { revokedFamilyHash } from './rows.js';
import { writeTransaction } from './sqlite-tx.js';

type LoginStores = Pick<BrokerStore, 'logins' | 'principals' | 'sessions' | 'codes' | 'refreshTokens'>;

/** Logins, sessions and the broker's OpenID Provider grants on SQLite: records as JSON, state in columns. */
export function sqliteLoginStores(db: Database.Database): LoginStores {
  const q = {
    putLogin: db.prepare(LOGIN_SQL.putLogin),
    takeLogin: db.prepare(LOGIN_SQL.takeLogin),
    purgeLogins: db.prepare(LOGIN_SQL.purgeLogins),
    upsertPrincipal: db.prepare(LOGIN_SQL.upsertPrincipal),
    getPrincipal: db.prepare(LOGIN_SQL.getPrincipal).pluck(),
    createSession: db.prepare(LOGIN_SQL.createSession),
    activeSession: db.prepare(LOGIN_SQL.activeSession).pluck(),
    revokeSession: db.prepare(LOGIN_SQL.revokeSession),
    putCode: db.prepare(LOGIN_SQL.putCode),
    getCode: db.prepare('SELECT record, expires_at, consumed_at FROM authorization_codes WHERE code_hash = ?'),
    consumeCode: db.prepare('UPDATE authorization_codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ?'),
    issueRefresh: db.prepare(LOGIN_SQL.issueRefresh),
    issueUnlessRevoked: db.prepare(LOGIN_SQL.issueUnlessRevoked),
    markFamilyRevoked: db.prepare(LOGIN_SQL.markFamilyRevoked),
    getRefresh: db.prepare('SELECT record, expires_at, rotated_at, revoked_at, family_id FROM refresh_tokens WHERE token_hash = ?'),
    markRotated: db.prepare('UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL'),
    revokeFamily: db.prepare(LOGIN_SQL.revokeFamily),
    revokeSessionTokens: db.prepare(LOGIN_SQL.revokeSessionTokens),
  };

  const issue = (hash: string, t: RefreshTokenRecord) =>
    q.issueRefresh.run(hash, t.familyId, t.clientId, t.sessionId, JSON.stringify(t), t.createdAt, t.expiresAt);

  const revokeFamily = writeTransaction(db, (familyId: string, now: number) => {
    q.revokeFamily.run(now, familyId);
    q.markFamilyRevoked.run(revokedFamilyHash(familyId), familyId, now, now + REVOKED_FAMILY_MEMORY, now);
  });

  const rotate = writeTransaction(db, (oldHash: string, next: { tokenHash: string; token: RefreshTokenRecord }, now: number, rotatedAfter?: number) => {
    const row = q.getRefresh.get(oldHash) as
      | { record: string; expires_at: number; rotated_at: number | null; revoked_at: number | null; family_id: string }
      | undefined;
    if (!row || row.revoked_at !== null || row.expires_at <= now) return { status: 'invalid' as const };
    if (row.rotated_at !== null) {
      // Within the grace window: the client's own concurrent request, not a copy.
      if (rotatedAfter !== undefined && row.rotated_at > rotatedAfter) return { status: 'superseded' as const };
      // Reuse of a rotated token: someone holds a copy. Revoke the whole family (RFC 9700 §4.14.2).
      revokeFamily(row.family_id, now);
      return { status: 'reused' as const };
    }
    q.markRotated.run(now, next.tokenHash, oldHash);
    issue(next.tokenHash, next.token);
    return { status: 'rotated' as const, previous: JSON.parse(row.record) as RefreshTokenRecord };
  });

  const consumeCode = writeTransaction(db, (hash: string, now: number) => {
    const row = q.getCode.get(hash) as { record: string; expires_at: number; consumed_at: number | null } | undefined;
    if (!row) return { status: 'unknown' as const };
    const code = JSON.parse(row.record) as AuthorizationCodeRecord;
    if (row.consumed_at !== null) return { status: 'reused' as const, code };
    if (q.consumeCode.run(now, hash, now).changes !== 1) return { status: 'unknown' as const };
    return { status: 'ok' as const, code };
  });

  let loginWrites = 0;
  return {
    logins: {
      put: async (tx) => {
        if (++loginWrites % LOGIN_PURGE_EVERY === 0) q.purgeLogins.run(tx.createdAt);
        q.putLogin.run(tx.id, JSON.stringify(tx), tx.expiresAt);
      },
      take: async (id, now) => {
        const row = q.takeLogin.get(id) as { record: string; expires_at: number } | undefined;
        return row && row.expires_at > now ? (JSON.parse(row.record) as LoginTransaction) : undefined;
      },
    },
    principals: {
      upsert: async (p) => void q.upsertPrincipal.run(p.id, p.upstreamIssuer, p.upstreamSubject, JSON.stringify(p), p.updatedAt),
      get: async (id) => {
        const record = q.getPrincipal.get(id) as string | undefined;
        return record ? (JSON.parse(record) as PrincipalRecord) : undefined;
      },
    },
    sessions: {
      create: async (s) => void q.createSession.run(s.id, s.principalId, JSON.stringify(s), s.createdAt, s.expiresAt),
      active: async (id, now) => {
        const record = q.activeSession.get(id, now) as string | undefined;
        return record ? (JSON.parse(record) as SessionRecord) : undefined;
      },
      revoke: async (id, now) => void q.revokeSession.run(now, id),
    },
    codes: {
      put: async (hash, code) => void q.putCode.run(hash, JSON.stringify(code), code.expiresAt),
      consume: async (hash, now) => consumeCode(hash, now),
    },
    refreshTokens: {
      issue: async (hash, t) =>
        q.issueUnlessRevoked.run(hash, t.familyId, t.clientId, t.sessionId, JSON.stringify(t), t.createdAt, t.expiresAt, revokedFamilyHash(t.familyId)).changes === 1,
      rotate: async (oldHash, next, now, rotatedAfter) => rotate(oldHash, next, now, rotatedAfter),
      active: async (hash, now, rotatedAfter) => {
        const row = q.getRefresh.get(hash) as { record: string; expires_at: number; rotated_at: number | null; revoked_at: number | null } | undefined;
        if (!row || row.revoked_at !== null || row.expires_at <= now) return undefined;
        if (row.rotated_at !== null && (rotatedAfter === undefined || row.rotated_at <= rotatedAfter)) return undefined;
        return JSON.parse(row.record) as RefreshTokenRecord;
      },
      revokeFamily: async (familyId, now) => revokeFamily(familyId, now),
      revokeSession: async (sessionId, now) => void q.revokeSessionTokens.run(now, sessionId),
    },
  };
}
