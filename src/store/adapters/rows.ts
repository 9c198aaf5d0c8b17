import type { StoredKey, SubjectBinding } from '../ports.js';

/** Row shapes shared by the SQLite and D1 adapters (same schema). */
export interface KeyRow {
  kid: string;
  alg: string;
  state: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  expires_at: number | null;
}

export interface BindingRow {
  namespace: string;
  principal_id: string;
  subject: string;
  source: string;
  version: number;
  created_at: number;
}

export function rowToKey(r: KeyRow): StoredKey {
  return {
    kid: r.kid,
    alg: r.alg as StoredKey['alg'],
    state: r.state as StoredKey['state'],
    privateJwk: JSON.parse(r.private_jwk),
    publicJwk: JSON.parse(r.public_jwk),
    createdAt: r.created_at,
    ...(r.expires_at != null ? { expiresAt: r.expires_at } : {}),
  };
}

export function rowToBinding(r: BindingRow | undefined | null): SubjectBinding | undefined {
  if (!r) return undefined;
  return { namespace: r.namespace, principalId: r.principal_id, subject: r.subject, source: r.source, version: r.version, createdAt: r.created_at };
}

/**
 * The refresh_tokens row that marks a family revoked, so nothing is issued into it later: a key no
 * token hash can take (hashes are base64url, no colon).
 */
export function revokedFamilyHash(familyId: string): string {
  return `revoked-family:${familyId}`;
}
