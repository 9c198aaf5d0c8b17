import type { D1Database } from '@cloudflare/workers-types';
import type { SamlSessionLink, SamlSessionStore } from '../ports.js';
import { SAML_SESSION_SQL } from './saml-session-sql.js';

/** SAML session links on D1 (Single Logout): the twin of sqlite-saml-sessions.ts. */
export function d1SamlSessions(db: D1Database): SamlSessionStore {
  return {
    link: async (l) => void (await db.prepare(SAML_SESSION_SQL.link).bind(l.sessionId, l.connectionId, l.nameId.value, JSON.stringify(l), l.expiresAt).run()),
    ofSession: async (id) => {
      const row = await db.prepare(SAML_SESSION_SQL.ofSession).bind(id).first<{ record: string }>();
      return row ? (JSON.parse(row.record) as SamlSessionLink) : undefined;
    },
    matching: async (connectionId, nameIdValue, now, limit) => {
      const { results } = await db.prepare(SAML_SESSION_SQL.matching).bind(connectionId, nameIdValue, now, limit).all<{ record: string }>();
      return results.map((r) => JSON.parse(r.record) as SamlSessionLink);
    },
  };
}
