/**
 * Narrow storage ports. The core speaks only these; `adapters/sqlite.ts` (Node, better-sqlite3),
 * `adapters/d1.ts` (Workers) and `adapters/pg.ts` (Node, PostgreSQL, several instances) implement
 * them over the same logical schema (migrations/, migrations/postgres/).
 * Times are seconds since epoch.
 */
import type { JWK } from 'jose';
import type { LoginTransactionStore, SamlNameId, UpstreamIdentity } from '../identity/types.js';

export type KeyState = 'next' | 'active' | 'retired';

export interface StoredKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  state: KeyState;
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
  /** For a retired key: when it may be removed from the JWKS (every token it signed has expired). */
  expiresAt?: number;
}

/**
 * The keys of one state (active, next) a key change was computed from: exactly these kids are in
 * that state, in any order. A single kid, or null for none, is the one-algorithm form.
 */
export type ExpectedKids = readonly string[] | string | null;

export interface KeyStore {
  list(): Promise<StoredKey[]>;
  /**
   * Applies a whole change (a rotation of every algorithm, the first keys) atomically, or nothing.
   * With `expectActive`, only if the set of active kids is exactly that one: two nodes rotating at
   * once, or starting at once, get one winner, and a change to either algorithm's active key
   * refuses a change computed before it for both. The table holds one active key per algorithm.
   * With `expectNext`, likewise only if the next kids are exactly those: two nodes publishing a
   * missing next key at once publish one.
   */
  apply(change: KeyChange): Promise<boolean>;
}

export interface KeyChange {
  upsert: StoredKey[];
  remove: string[];
  expectActive?: ExpectedKids;
  expectNext?: readonly string[];
}

/** A subject bound in a namespace: once bound, never silently re-bound. */
export interface SubjectBinding {
  namespace: string;
  principalId: string;
  subject: string;
  /** How it was bound: `table`, `claim`, `pairwise` or `operator`. */
  source: string;
  /** The upstream whose login the bound value came from (absent on bindings older than this field). */
  upstreamIssuer?: string;
  version: number;
  createdAt: number;
}

export interface TableRow {
  namespace: string;
  upstreamIssuer: string;
  upstreamSubject: string;
  subject: string;
}

/** What a table was written from: an operator-raised version, and the content hash of the rows. */
export interface TableVersion {
  version: number;
  hash: string;
}

export interface MappingStore {
  tableRow(namespace: string, upstreamIssuer: string, upstreamSubject: string): Promise<TableRow | undefined>;
  bindingOf(namespace: string, principalId: string): Promise<SubjectBinding | undefined>;
  bindingOfSubject(namespace: string, subject: string): Promise<SubjectBinding | undefined>;
  /**
   * Makes `rows` the whole table of `namespace`, atomically: rows not listed are removed (a person
   * taken out of the file is deprovisioned). Versions only go up: a version lower than the one
   * last written changes nothing (`older`), the same version and content nothing (`unchanged`).
   * Throws StoreConflict, writing nothing, if two identities would share a subject or the same
   * version comes with other content. A write bumps the mapping generation.
   */
  replaceTable(namespace: string, rows: TableRow[], version: TableVersion): Promise<{ status: 'written' | 'unchanged' | 'older'; written: number; current: number }>;
  /** Operator action: bind (or re-bind) a principal to a subject, bumping its version and the mapping generation. */
  remap(binding: Omit<SubjectBinding, 'version' | 'createdAt'>, at: number): Promise<SubjectBinding>;
  /**
   * A counter every operator mapping write (table replacement, remap) raises in the same
   * transaction: an instance whose cache was filled at another generation drops it.
   */
  generation(): Promise<number>;
}

export interface ReplayStore {
  /** Records `id` in `scope` until `expiresAt`; false if it was already recorded (a replay). Atomic. */
  consume(scope: string, id: string, expiresAt: number, now: number): Promise<boolean>;
  /** Whether `id` is recorded in `scope` and not yet expired at `now` (a read: records nothing). */
  recorded(scope: string, id: string, now: number): Promise<boolean>;
}

/** What a check of single-use ids needs (assertion `jti`s, SAML assertion ids): consumption only. */
export type ReplayGuard = Pick<ReplayStore, 'consume'>;

export interface AuditRecord {
  at: number;
  /** `refusal_summary`: refusals of unauthenticated requests, counted per (reason, source) over one interval. */
  event: 'mint' | 'refusal' | 'refusal_summary' | 'remap' | 'login' | 'token' | 'logout' | 'reference' | 'access_request' | 'deferral' | 'revocation';
  /** Correlates with the log line and the response's request id. */
  requestId: string;
  grantType?: string;
  clientId?: string;
  principalId?: string;
  upstreamIssuer?: string;
  destination?: string;
  resource?: string;
  /** namespace, strategy, binding version: which mapping decided the subject. */
  mapping?: string;
  /** Policy set version and the policies that determined each scope. */
  policy?: string;
  requestedScopes?: string[];
  grantedScopes?: string[];
  /** What the upstream asserted but is not authoritative for, dropped before mapping and policy (names only). */
  dropped?: string[];
  /** The internal refusal reason (never sent on the wire). */
  reason?: string;
  detail?: string;
  /** The minted token's jti: an identifier, never the token. */
  jti?: string;
  /** For a summary: the route refused at (its pattern, e.g. `/login/oidc/:id/callback`). */
  endpoint?: string;
  /** Resource-pulled profile: the reference's id (never the reference), on its issue and its redemption. */
  reference?: string;
  /** Resource-pulled profile: the client a redeemed reference was issued to (`clientId` is the redeeming destination's). */
  forClient?: string;
  /** Governance: the access request (task) id a record is about; the approval ids a mint relied on. */
  accessRequest?: string;
  approvals?: string[];
  /** Governance: what happened to an access request (`submitted`, `approved`, `denied`, `cancelled`) and who did it. */
  action?: string;
  actor?: string;
  /** Deferred completion: the deferral's id (never its code). */
  deferral?: string;
  /** For a summary: the request source (http/source.ts), how many refusals, and the end of its interval (`at` is the start). */
  source?: string;
  count?: number;
  until?: number;
}

export interface AuditStore {
  append(record: AuditRecord): Promise<void>;
  recent(limit: number): Promise<AuditRecord[]>;
  /**
   * Records with `at >= since`, oldest first, after the sequence number `after` (for paging an
   * export). None is returned while a record with a smaller `seq` may still be committed, so
   * paging on from the last `seq` returned skips no record and repeats none.
   */
  since(since: number, after: number, limit: number): Promise<Array<{ seq: number; record: AuditRecord }>>;
}

/** What `RetentionStore.prune` deletes. Times are seconds since epoch. */
export interface RetentionPolicy {
  /** Expired replay records, login transactions, authorization codes, sessions and refresh tokens go. */
  now: number;
  /** Audit records with `at` before this go. */
  auditBefore: number;
  /** Beyond this many audit records, the oldest go. */
  auditMaxRows: number;
}

/** Rows deleted, per table. */
export type PruneReport = Record<string, number>;

export interface RetentionStore {
  /**
   * Deletes what the policy says, in bounded chunks: one call does a bounded amount of work and
   * reports `complete: false` when rows were left for the next call.
   */
  prune(policy: RetentionPolicy): Promise<{ deleted: PruneReport; complete: boolean }>;
}

export interface SecretStore {
  /** Returns the stored secret, creating it with `create()` the first time (first writer wins). */
  getOrCreate(name: string, create: () => string): Promise<string>;
  /** The stored secret, or undefined: never creates one. */
  get(name: string): Promise<string | undefined>;
}

/** The latest evidence about a person (from their most recent upstream login). */
export interface PrincipalRecord {
  id: string;
  upstreamIssuer: string;
  upstreamSubject: string;
  connectionId: string;
  claims: Record<string, unknown>;
  /** SAML NameID and attributes as last received, for subject-contract continuity. */
  saml?: UpstreamIdentity['saml'];
  updatedAt: number;
}

export interface PrincipalStore {
  /** Replaces the stored record unless it is from a later login (`updatedAt`): concurrent logins keep the latest evidence. */
  upsert(p: PrincipalRecord): Promise<void>;
  get(id: string): Promise<PrincipalRecord | undefined>;
}

/** A broker session: one browser, one upstream login. */
export interface SessionRecord {
  id: string;
  principalId: string;
  connectionId: string;
  /** When the person authenticated upstream; absent when the upstream did not say. */
  authTime?: number;
  acr?: string;
  amr: string[];
  upstreamSessionIndex?: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStore {
  create(s: SessionRecord): Promise<void>;
  /** The session if it exists, is unexpired and unrevoked. */
  active(id: string, now: number): Promise<SessionRecord | undefined>;
  revoke(id: string, now: number): Promise<void>;
}

/**
 * SAML Single Logout: what the IdP asserted about a broker session its login started (docs/saml.md),
 * kept for the session's lifetime: the broker's LogoutRequest names it, the IdP's is matched to it.
 */
export interface SamlSessionLink {
  sessionId: string;
  connectionId: string;
  nameId: SamlNameId;
  sessionIndex?: string;
  createdAt: number;
  /** The session's own expiry: the link is of no use after it. */
  expiresAt: number;
}

export interface SamlSessionStore {
  /** Records the link of a new session (once: a second link for the same session changes nothing). */
  link(link: SamlSessionLink): Promise<void>;
  ofSession(sessionId: string): Promise<SamlSessionLink | undefined>;
  /**
   * Links of the connection's sessions still active at `now` (unexpired, unrevoked) whose NameID
   * value is `nameIdValue`, oldest first, at most `limit`. Format, qualifiers and SessionIndex are
   * for the caller to compare.
   */
  matching(connectionId: string, nameIdValue: string, now: number, limit: number): Promise<SamlSessionLink[]>;
}

export interface AuthorizationCodeRecord {
  clientId: string;
  redirectUri: string;
  sessionId: string;
  principalId: string;
  scopes: string[];
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'S256';
  authTime?: number;
  acr?: string;
  amr: string[];
  issuedAt: number;
  expiresAt: number;
}

export interface AuthorizationCodeStore {
  put(codeHash: string, code: AuthorizationCodeRecord): Promise<void>;
  /**
   * Single use, atomic: `ok` the first time; `reused` (with the record, so what it produced can be
   * revoked) on any later attempt; `unknown` for a code never issued or expired.
   */
  consume(codeHash: string, now: number): Promise<{ status: 'ok' | 'reused'; code: AuthorizationCodeRecord } | { status: 'unknown' }>;
}

export interface RefreshTokenRecord {
  familyId: string;
  clientId: string;
  sessionId: string;
  principalId: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
}

export interface RefreshTokenStore {
  /**
   * Stores the token unless its family has been revoked (then stores nothing and returns false):
   * a revocation that lands before the issue, e.g. a replayed authorization code, still wins.
   */
  issue(tokenHash: string, token: RefreshTokenRecord): Promise<boolean>;
  /**
   * Atomic rotation: an active token is marked rotated and its successor stored → `rotated`.
   * A token rotated after `rotatedAfter` (the reuse grace window) → `superseded`, nothing changed.
   * A token rotated earlier is being reused → its whole family is revoked → `reused`.
   * Unknown, expired or revoked → `invalid`.
   */
  rotate(
    oldHash: string,
    next: { tokenHash: string; token: RefreshTokenRecord },
    now: number,
    rotatedAfter?: number,
  ): Promise<{ status: 'rotated'; previous: RefreshTokenRecord } | { status: 'superseded' | 'reused' | 'invalid' }>;
  /**
   * The token if active (unrotated, unrevoked, unexpired): for refresh tokens used as subject
   * tokens. With `rotatedAfter`, a token rotated after that time (and not revoked) also counts.
   */
  active(tokenHash: string, now: number, rotatedAfter?: number): Promise<RefreshTokenRecord | undefined>;
  /** Revokes every token of the family, and remembers the family as revoked (see `issue`). */
  revokeFamily(familyId: string, now: number): Promise<void>;
  revokeSession(sessionId: string, now: number): Promise<void>;
}

/**
 * An ID-JAG reference (resource-pulled profile, docs/profiles/pulled.md): what the broker decided
 * when it issued the reference, kept so that redemption can bind and re-check it. Stored by the
 * SHA-256 of the reference only, like refresh tokens.
 */
export interface IdJagReferenceRecord {
  /** Names the reference in audit records (issue and redemption); never the reference itself. */
  id: string;
  /** The client the reference was issued to (its id at the broker). */
  clientId: string;
  /** The destination id: only its back-channel client may redeem the reference. */
  destination: string;
  principalId: string;
  resources: string[];
  /** Granted at issue, in the destination's vocabulary: redemption grants at most these. */
  scopes: string[];
  /** The subject as the exchange saw it (JSON), for re-checking; exchange/pulled.ts owns its shape. */
  subject: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
}

export type ReferenceConsumption =
  | { status: 'consumed'; reference: IdJagReferenceRecord }
  | { status: 'replayed' | 'expired'; reference: IdJagReferenceRecord }
  | { status: 'unknown' };

export interface IdJagReferenceStore {
  /** Stores the reference and the audit record of its issue, all or nothing. */
  issue(referenceHash: string, reference: IdJagReferenceRecord, audit: AuditRecord): Promise<void>;
  /**
   * Single use, atomic: `consumed` for exactly one caller, however many race; `replayed` once
   * consumed; `expired` past `expiresAt` (and then never consumed); `unknown` otherwise.
   */
  consume(referenceHash: string, now: number): Promise<ReferenceConsumption>;
}

/**
 * Governance (docs/access-requests.md): an access request, the AuthZEN Access Request profile's
 * task. Created from a requestable denial (one task per denial), decided by an approver; an
 * approved task is the approval the mint path finds when it is asked again.
 */
export type AccessRequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface AccessRequestRecord {
  /** The task id: opaque, unguessable (≥ 128 bits), in URLs. */
  id: string;
  /** The `jti` of the signed denial it was submitted for: one task per denial. */
  denialId: string;
  /** The authenticated client that submitted it (its broker client_id). */
  requester: string;
  /** The submission's Idempotency-Key and the SHA-256 of its body, to tell a retry from a different request. */
  idempotencyKey?: string;
  bodyHash?: string;
  /** The client the denied mint was for, the person, their upstream, and what was denied. */
  clientId: string;
  principalId: string;
  upstreamIssuer: string;
  /** What approvers are shown as "who": a believed email when there is one, else the principal id. */
  subjectLabel: string;
  destination: string;
  resources: string[];
  /** Denied scopes, destination vocabulary. */
  scopes: string[];
  /** The `@requestable` forbids that denied them (policy ids). */
  policies: string[];
  justification?: string;
  /** Seconds; what the requester asked for (an approver may grant less, never more than the policy's maximum). */
  requestedDuration?: number;
  createdAt: number;
  /** A task still pending at this time is expired (read as such; nothing needs to run). */
  expiresAt: number;
  /** As stored: `pending` past `expiresAt` is reported `expired` (see effectiveStatus). */
  status: AccessRequestStatus;
  decidedAt?: number;
  /** The approver's (or canceller's) principal id and label, for the record. */
  decidedBy?: string;
  decidedByLabel?: string;
  /** Why it was denied or cancelled. */
  reason?: string;
  approval?: { id: string; approvedAt: number; approvedUntil: number };
}

/** What a terminal transition sets. */
export interface AccessRequestDecision {
  status: 'approved' | 'denied' | 'cancelled';
  decidedAt: number;
  decidedBy?: string;
  decidedByLabel?: string;
  reason?: string;
  approval?: { id: string; approvedAt: number; approvedUntil: number };
}

export type AccessRequestSubmission =
  | { status: 'created' }
  /** Nothing written: a task already exists for this denial, or under this (requester, Idempotency-Key). */
  | { status: 'exists'; task: AccessRequestRecord; clash: 'denial' | 'idempotency_key' };

export type AccessRequestTransition =
  | { status: 'done'; task: AccessRequestRecord }
  /** The task was no longer pending (decided, cancelled, or expired at `now`): nothing written. */
  | { status: 'conflict'; task: AccessRequestRecord }
  | { status: 'unknown' };

export interface AccessRequestStore {
  /** Stores a new pending task with the audit record of its submission, all or nothing. */
  submit(task: AccessRequestRecord, audit: AuditRecord): Promise<AccessRequestSubmission>;
  get(id: string): Promise<AccessRequestRecord | undefined>;
  /** Tasks pending and unexpired at `now`, oldest first, at most `limit`. */
  pending(now: number, limit: number): Promise<AccessRequestRecord[]>;
  /**
   * Moves a task that is pending and unexpired at `now` to a terminal status, with its audit record,
   * atomically: of racing transitions (two approvers, an approval and a cancel) exactly one is `done`.
   */
  transition(id: string, decision: AccessRequestDecision, audit: AuditRecord, now: number): Promise<AccessRequestTransition>;
  /** Approved tasks of (principal, client, destination) whose approval is still valid at `now`. */
  approvals(principalId: string, clientId: string, destination: string, now: number): Promise<AccessRequestRecord[]>;
  /** The task submitted for a denial, if any (deferred completion finds its task this way). */
  forDenial(denialId: string): Promise<AccessRequestRecord | undefined>;
}

/**
 * Deferred completion (docs/access-requests.md): a client that can wait gets a deferral code with
 * its requestable denial and polls the token endpoint with it. Stored by the SHA-256 of the code.
 */
export interface DeferralRecord {
  /** Names the deferral in audit records; never the code. */
  id: string;
  /** The denial it waits on: its task is found by this. */
  denialId: string;
  clientId: string;
  principalId: string;
  destination: string;
  resources: string[];
  /** Everything the exchange asked for (translated, client-filtered): decided again at completion. */
  scopes: string[];
  /** The subject as the exchange saw it (JSON); exchange/ owns its shape, as for references. */
  subject: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
}

export type DeferralPoll =
  | { status: 'unknown' }
  /** Already answered with a final result (an ID-JAG, access_denied, expired_token): single use. */
  | { status: 'finished'; deferral: DeferralRecord }
  /** Past `expiresAt` and not yet finished. */
  | { status: 'expired'; deferral: DeferralRecord }
  /** Polled sooner than `interval` after the previous poll (or the issue): the interval has been raised and stored. */
  | { status: 'slow_down'; deferral: DeferralRecord; interval: number }
  /** The poll is recorded; the caller may look at the task. */
  | { status: 'ready'; deferral: DeferralRecord; interval: number };

export interface DeferralStore {
  /** Stores the deferral (first poll allowed `interval` seconds after `issuedAt`) with the audit record of its issue, all or nothing. */
  issue(codeHash: string, deferral: DeferralRecord, interval: number, audit: AuditRecord): Promise<void>;
  /**
   * Records a poll at `now`, atomically: of concurrent polls within one interval at most one is
   * `ready`; a poll sooner than the interval after the last counted poll is `slow_down` and adds
   * `slowDownStep` seconds to the interval (RFC 8628 §3.5), for it and every later poll.
   */
  poll(codeHash: string, now: number, slowDownStep: number): Promise<DeferralPoll>;
  /** Ends the deferral (single use): `true` for exactly one caller, however many race. */
  finish(codeHash: string, now: number): Promise<boolean>;
}

export interface BrokerStore {
  references: IdJagReferenceStore;
  accessRequests: AccessRequestStore;
  deferrals: DeferralStore;
  keys: KeyStore;
  mappings: MappingStore;
  replay: ReplayStore;
  audit: AuditStore;
  secrets: SecretStore;
  logins: LoginTransactionStore;
  principals: PrincipalStore;
  sessions: SessionStore;
  samlSessions: SamlSessionStore;
  codes: AuthorizationCodeStore;
  refreshTokens: RefreshTokenStore;
  retention: RetentionStore;
  /** The mint's writes, all or nothing: a new binding (if any) and the audit record. */
  commitMint(write: { binding?: SubjectBinding; audit: AuditRecord }): Promise<void>;
}

/** Thrown by a store when a write would break a uniqueness rule (e.g. two principals, one subject). */
export class StoreConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflict';
  }
}
