import { StoreConflict, type ExpectedKids, type KeyChange, type KeyState, type StoredKey, type SubjectBinding, type TableVersion } from '../ports.js';

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
  upstream_issuer?: string | null;
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

/** The expected active kids as a set (a single kid or null is the one-algorithm form). */
export function expectedKids(expected: ExpectedKids): Set<string> {
  return new Set(expected === null ? [] : typeof expected === 'string' ? [expected] : expected);
}

/** Whether the active and next kids read inside the change's transaction are exactly the ones it expects. */
export function keysAsExpected(change: KeyChange, keys: ReadonlyArray<{ kid: string; state: string }>): boolean {
  const same = (expected: ExpectedKids | undefined, state: KeyState) => {
    if (expected === undefined) return true;
    const kids = keys.filter((k) => k.state === state).map((k) => k.kid);
    const set = expectedKids(expected);
    return kids.length === set.size && kids.every((kid) => set.has(kid));
  };
  return same(change.expectActive, 'active') && same(change.expectNext, 'next');
}

/** Demote before promote, so the one-active-key-per-algorithm index never sees two at once. */
export function demotionsFirst(upsert: readonly StoredKey[]): StoredKey[] {
  return [...upsert].sort((a, b) => (a.state === 'active' ? 1 : 0) - (b.state === 'active' ? 1 : 0));
}

export function rowToBinding(r: BindingRow | undefined | null): SubjectBinding | undefined {
  if (!r) return undefined;
  return {
    namespace: r.namespace,
    principalId: r.principal_id,
    subject: r.subject,
    source: r.source,
    version: r.version,
    createdAt: r.created_at,
    ...(r.upstream_issuer != null ? { upstreamIssuer: r.upstream_issuer } : {}),
  };
}

/**
 * The refresh_tokens row that marks a family revoked, so nothing is issued into it later: a key no
 * token hash can take (hashes are base64url, no colon).
 */
export function revokedFamilyHash(familyId: string): string {
  return `revoked-family:${familyId}`;
}

/** The broker_secrets rows of a table's version and of the mapping generation. */
export const tableVersionKey = (namespace: string) => `table-version:${namespace}`;
export const MAPPING_GENERATION_KEY = 'mapping-generation';

export function formatTableVersion(v: TableVersion): string {
  return `${v.version}:${v.hash}`;
}

/** A value written before versions existed is a bare content hash: version 0. */
function parseTableVersion(value: string): TableVersion {
  const m = /^(\d+):(.*)$/.exec(value);
  return m ? { version: Number(m[1]), hash: m[2]! } : { version: 0, hash: value };
}

/** Whether a table may be replaced by `next`, given what was last written (`stored`, if anything). */
export function tableWriteDecision(namespace: string, stored: string | undefined, next: TableVersion): 'write' | 'unchanged' | 'older' {
  if (stored === undefined) return 'write';
  const current = parseTableVersion(stored);
  if (next.version < current.version) return 'older';
  if (next.version > current.version) return 'write';
  if (next.hash === current.hash) return 'unchanged';
  throw new StoreConflict(`${namespace}: version ${next.version} was already written with other rows; raise the version when the rows change`);
}

export function storedTableVersion(stored: string | undefined): number {
  return stored === undefined ? 0 : parseTableVersion(stored).version;
}
