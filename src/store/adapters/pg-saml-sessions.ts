import type pg from 'pg';
import type { SamlSessionLink, SamlSessionStore } from '../ports.js';
import { SAML_SESSION_SQL } from './saml-session-sql.js';
import { first, run } from './pg-client.js';

/** SAML session links on PostgreSQL (Single Logout): the statements shared with SQLite and D1. */
export function pgSamlSessions(pool: pg.Pool): SamlSessionStore {
  return {
    link: async (l) => void (await run(pool, SAML_SESSION_SQL.link, [l.sessionId, l.connectionId, l.nameId.value, JSON.stringify(l), l.expiresAt])),
    ofSession: async (id) => {
      const row = await first<{ record: string }>(pool, SAML_SESSION_SQL.ofSession, [id]);
      return row ? (JSON.parse(row.record) as SamlSessionLink) : undefined;
    },
    matching: async (connectionId, nameIdValue, now, limit) =>
      (await run<{ record: string }>(pool, SAML_SESSION_SQL.matching, [connectionId, nameIdValue, now, limit])).rows.map((r) => JSON.parse(r.record) as SamlSessionLink),
  };
}
