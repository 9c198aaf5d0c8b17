import type pg from 'pg';
import type { AuthorizationCodeRecord, BrokerStore, PrincipalRecord, RefreshTokenRecord, SessionRecord } from '../ports.js';
import type { LoginTransaction } from '../../identity/types.js';
import { LOGIN_PURGE_EVERY, REVOKED_FAMILY_MEMORY } from '../../constants.js';
import { LOGIN_SQL } from './login-sql.js';
import { revokedFamilyHash } from './rows.js';
import { first, lockKey, run, transaction, type Queryable } from './pg-client.js';

type LoginStores = Pick<BrokerStore, 'logins' | 'principals' | 'sessions' | 'codes' | 'refreshTokens'>;

/** This adapter's own statements; the shared ones are LOGIN_SQL. */
const OWN_SQL = {
  getCode: 'SELECT record, expires_at, consumed_at FROM authorization_codes WHERE code_hash = ?',
  /** (now, hash, now): of racing redemptions the row lock lets exactly one match. */
  consumeCode: `UPDATE authorization_codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ?
    RETURNING record`,
  /** Locks the token's row for the rotation deciding on it. */
  getRefreshForUpdate: 'SELECT record, expires_at, rotated_at, revoked_at, family_id FROM refresh_tokens WHERE token_hash = ? FOR UPDATE',
  getRefresh: 'SELECT record, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = ?',
  markRotated: 'UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL',
} as const;
const SQL = { ...LOGIN_SQL, ...OWN_SQL };

/**
 * A family's issues and its revocation take turns under this lock: without it an issue's
 * snapshot could miss a revocation marker committed meanwhile, and the revocation miss the new token.
 */
const familyLock = (familyId: string) => `xaa-broker:refresh-family:${familyId}`;

type RefreshRow = { record: string; expires_at: number; rotated_at: number | null; revoked_at: number | null; family_id: string };

/** Logins, sessions and the broker's OpenID Provider grants on PostgreSQL: records as JSON, state in columns. */
export function pgLoginStores(pool: pg.Pool): LoginStores {
  const revokeFamily = async (tx: Queryable, familyId: string, now: number) => {
    await lockKey(tx, familyLock(familyId));
    await run(tx, SQL.revokeFamily, [now, familyId]);
    await run(tx, SQL.markFamilyRevoked, [revokedFamilyHash(familyId), familyId, now, now + REVOKED_FAMILY_MEMORY, now]);
  };

  let loginWrites = 0;
  return {
    logins: {
      put: async (tx) => {
        if (++loginWrites % LOGIN_PURGE_EVERY === 0) await run(pool, SQL.purgeLogins, [tx.createdAt]);
        await run(pool, SQL.putLogin, [tx.id, JSON.stringify(tx), tx.expiresAt]);
      },
      take: async (id, now) => {
        const row = await first<{ record: string; expires_at: number }>(pool, SQL.takeLogin, [id]);
        return row && row.expires_at > now ? (JSON.parse(row.record) as LoginTransaction) : undefined;
      },
    },
    principals: {
      upsert: async (p) => void (await run(pool, SQL.upsertPrincipal, [p.id, p.upstreamIssuer, p.upstreamSubject, JSON.stringify(p), p.updatedAt])),
      get: async (id) => {
        const row = await first<{ record: string }>(pool, SQL.getPrincipal, [id]);
        return row ? (JSON.parse(row.record) as PrincipalRecord) : undefined;
      },
    },
    sessions: {
      create: async (s) => void (await run(pool, SQL.createSession, [s.id, s.principalId, JSON.stringify(s), s.createdAt, s.expiresAt])),
      active: async (id, now) => {
        const row = await first<{ record: string }>(pool, SQL.activeSession, [id, now]);
        return row ? (JSON.parse(row.record) as SessionRecord) : undefined;
      },
      revoke: async (id, now) => void (await run(pool, SQL.revokeSession, [now, id])),
    },
    codes: {
      put: async (hash, code) => void (await run(pool, SQL.putCode, [hash, JSON.stringify(code), code.expiresAt])),
      consume: async (hash, now) => {
        const won = await first<{ record: string }>(pool, SQL.consumeCode, [now, hash, now]);
        if (won) return { status: 'ok' as const, code: JSON.parse(won.record) as AuthorizationCodeRecord };
        // Lost or never valid: a consumed code is reuse (with its record, to revoke what it produced).
        const row = await first<{ record: string; consumed_at: number | null }>(pool, SQL.getCode, [hash]);
        if (!row || row.consumed_at === null) return { status: 'unknown' as const };
        return { status: 'reused' as const, code: JSON.parse(row.record) as AuthorizationCodeRecord };
      },
    },
    refreshTokens: {
      issue: (hash, t) =>
        transaction(pool, async (tx) => {
          await lockKey(tx, familyLock(t.familyId));
          const values = [hash, t.familyId, t.clientId, t.sessionId, JSON.stringify(t), t.createdAt, t.expiresAt, revokedFamilyHash(t.familyId)];
          return (await run(tx, SQL.issueUnlessRevoked, values)).changes === 1;
        }),
      rotate: (oldHash, next, now, rotatedAfter) =>
        transaction(pool, async (tx) => {
          // The successor joins the old token's family: a revocation of it waits, then sees the successor.
          await lockKey(tx, familyLock(next.token.familyId));
          const row = await first<RefreshRow>(tx, SQL.getRefreshForUpdate, [oldHash]);
          if (!row || row.revoked_at !== null || row.expires_at <= now) return { status: 'invalid' as const };
          if (row.rotated_at !== null) {
            // Within the grace window: the client's own concurrent request, not a copy.
            if (rotatedAfter !== undefined && row.rotated_at > rotatedAfter) return { status: 'superseded' as const };
            // Reuse of a rotated token: someone holds a copy. Revoke the whole family (RFC 9700 §4.14.2).
            await revokeFamily(tx, row.family_id, now);
            return { status: 'reused' as const };
          }
          await run(tx, SQL.markRotated, [now, next.tokenHash, oldHash]);
          const t = next.token;
          await run(tx, SQL.issueRefresh, [next.tokenHash, t.familyId, t.clientId, t.sessionId, JSON.stringify(t), t.createdAt, t.expiresAt]);
          return { status: 'rotated' as const, previous: JSON.parse(row.record) as RefreshTokenRecord };
        }),
      active: async (hash, now, rotatedAfter) => {
        const row = await first<Omit<RefreshRow, 'family_id'>>(pool, SQL.getRefresh, [hash]);
        if (!row || row.revoked_at !== null || row.expires_at <= now) return undefined;
        if (row.rotated_at !== null && (rotatedAfter === undefined || row.rotated_at <= rotatedAfter)) return undefined;
        return JSON.parse(row.record) as RefreshTokenRecord;
      },
      revokeFamily: (familyId, now) => transaction(pool, (tx) => revokeFamily(tx, familyId, now)),
      revokeSession: async (sessionId, now) => void (await run(pool, SQL.revokeSessionTokens, [now, sessionId])),
    },
  };
}
