import type Database from 'better-sqlite3';
import type { SamlSessionLink, SamlSessionStore } from '../ports.js';
import { SAML_SESSION_SQL } from './saml-session-sql.js';

/** SAML session links on SQLite (Single Logout). */
export function sqliteSamlSessions(db: Database.Database): SamlSessionStore {
  const q = {
    link: db.prepare(SAML_SESSION_SQL.link),
    ofSession: db.prepare(SAML_SESSION_SQL.ofSession).pluck(),
    matching: db.prepare(SAML_SESSION_SQL.matching).pluck(),
  };
  return {
    link: async (l) => void q.link.run(l.sessionId, l.connectionId, l.nameId.value, JSON.stringify(l), l.expiresAt),
    ofSession: async (id) => {
      const record = q.ofSession.get(id) as string | undefined;
      return record ? (JSON.parse(record) as SamlSessionLink) : undefined;
    },
    matching: async (connectionId, nameIdValue, now, limit) =>
      (q.matching.all(connectionId, nameIdValue, now, limit) as string[]).map((r) => JSON.parse(r) as SamlSessionLink),
  };
}
