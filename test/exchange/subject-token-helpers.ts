/**
 * Shared by the refresh_token, saml2 and sub_id tests: a broker with a SAML connection and the Node
 * runtime's saml2 verifier, assertions that samlify (as the upstream IdP) issued to an app, refresh
 * tokens issued the way the broker's OpenID Provider issues them, and the refusal contract.
 */
import { expect } from 'vitest';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { randomToken, sha256Base64url } from '../../src/provider/crypto.js';
import { nodeSamlFactory } from '../../src/runtime/node-saml.js';
import type { AuditRecord, PrincipalRecord, RefreshTokenRecord, SessionRecord } from '../../src/store/ports.js';
import { createSamlSubjectTokenVerifier } from '../../src/upstream/saml/index.js';
import type { SamlConnectionInput } from '../../src/upstream/saml/index.js';
import { BROKER, ID_JAG_TYPE, IDP, postToken, SECRET, startTestBroker, testNamespaces, testSettings, TOKEN_EXCHANGE, TODO, TODO_API, type TestBroker } from '../helpers/broker.js';
import { decode, defaultSpec, IDP_ENTITY, idpMetadata, idpResponse, NOW, SP_ENTITY, testKeys, type ResponseSpec, type SignOptions } from '../upstream/saml/helpers.js';

export { BROKER, IDP, IDP_ENTITY, NOW, SECRET, SP_ENTITY, TODO, TODO_API };

export const TT = 'urn:ietf:params:oauth:token-type:';
export const REFRESH_TOKEN_TYPE = `${TT}refresh_token`;
export const SAML2_TYPE = `${TT}saml2`;

/** The app (client wiki-agent) as a SAML SP of the upstream IdP: its own entity id and ACS. */
export const WIKI_SP = 'https://wiki.example.test/saml/sp';
export const WIKI_ACS = 'https://wiki.example.test/saml/acs';
/** basic-agent's own entity id at the same IdP. */
export const BASIC_SP = 'https://basic.example.test/saml/sp';

/** A destination that still keys users on SAML NameIDs: its ID-JAGs carry sub_id. */
export const LEGACY = 'https://legacy.test';
export const LEGACY_API = 'https://api.legacy.test/';

export const ALICE_NAMEID = 'a1b2c3d4-persistent-alice';
export const ALICE_TODO_VIA_SAML = 'todo-user-2001';

export const subjectTokenNamespaces: NamespaceConfig[] = [
  ...testNamespaces.map((ns) =>
    ns.namespace === 'todo-users' && ns.strategy === 'table'
      ? { ...ns, rows: [...ns.rows, { upstream_issuer: IDP_ENTITY, upstream_subject: ALICE_NAMEID, subject: ALICE_TODO_VIA_SAML }] }
      : ns,
  ),
  { namespace: 'legacy-users', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } },
];

export interface BrokerOptions {
  /** Overrides of the SAML connection `corp`. */
  connection?: Partial<SamlConnectionInput>;
  /** Start without the saml2 verifier (what a Worker is). */
  withoutSamlVerifier?: boolean;
  settings?: (s: BrokerConfigInput) => void;
}


/** What the test SAML IdP is believed about: its directory is the authority for example.com addresses. */
export const SAML_TEST_AUTHORITY = {
  email: { domains: ['example.com'], verified: 'always' as const },
  acr: ['urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport', 'https://refeds.org/profile/mfa'],
  amr: ['pwd', 'mfa'],
  claims: ['name', 'given_name', 'family_name'],
};

/** The standard test broker plus: SAML connection `corp`, saml_audiences for two clients, destination `legacy` (sub_id). */
export async function startSubjectTokenBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const keys = await testKeys();
  const settings = await testSettings((s) => {
    s.connections = [
      {
        type: 'saml',
        id: 'corp',
        sp_entity_id: SP_ENTITY,
        acs_url: `${BROKER}/login/saml/corp/acs`,
        idp_metadata_xml: idpMetadata([keys.idp.cert]),
        authority: SAML_TEST_AUTHORITY,
        ...options.connection,
      } as NonNullable<BrokerConfigInput['connections']>[number],
    ];
    const wiki = s.clients!.find((c) => c.client_id === 'wiki-agent')!;
    wiki.saml_audiences = { corp: WIKI_SP };
    wiki.destinations!.legacy = { client_id: 'wiki-at-legacy', scopes: ['records.read'] };
    const basic = s.clients!.find((c) => c.client_id === 'basic-agent')!;
    basic.saml_audiences = { corp: BASIC_SP };
    s.destinations!.push({
      id: 'legacy',
      issuer: LEGACY,
      resources: [LEGACY_API],
      namespace: 'legacy-users',
      scope_translation: { 'records.read': ['records.read'] },
      include_claims: ['email', 'acr', 'amr', 'auth_time'],
      sub_id: 'saml-nameid',
    });
    options.settings?.(s);
  });
  return startTestBroker({
    settings,
    namespaces: subjectTokenNamespaces,
    now: NOW,
    deps: { saml: nodeSamlFactory, ...(options.withoutSamlVerifier ? {} : { samlSubjectTokens: createSamlSubjectTokenVerifier }) },
  });
}

// ---------------------------------------------------------------------------------------------
// Exchanges

/** A token exchange by wiki-agent for the Todo AS with this subject token; override any parameter. */
export function exchange(b: TestBroker, subjectToken: string, subjectTokenType: string, overrides: Record<string, string | undefined> = {}) {
  return postToken(b, exchangeBody(subjectToken, subjectTokenType, overrides));
}

export function exchangeBody(subjectToken: string, subjectTokenType: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const params: Record<string, string | undefined> = {
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: subjectToken,
    subject_token_type: subjectTokenType,
    audience: TODO,
    resource: TODO_API,
    scope: 'todos.read',
    client_id: 'wiki-agent',
    client_secret: SECRET,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** The same exchange, for the legacy destination (sub_id). */
export const legacy = { audience: LEGACY, resource: LEGACY_API, scope: 'records.read' } as const;

export async function minted(res: Response): Promise<{ access_token: string; scope: string }> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as { access_token: string; scope: string };
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens, as the broker's OpenID Provider issues them

export interface Login {
  principal: PrincipalRecord;
  session: SessionRecord;
}

/** A person who logged in at the broker: principal and session (alice at the demo OIDC IdP by default). */
export async function login(b: TestBroker, o: { sessionId?: string; principal?: Partial<PrincipalRecord>; session?: Partial<SessionRecord> } = {}): Promise<Login> {
  const upstreamIssuer = o.principal?.upstreamIssuer ?? IDP;
  const upstreamSubject = o.principal?.upstreamSubject ?? 'alice';
  const principal: PrincipalRecord = {
    id: await principalIdOf(upstreamIssuer, upstreamSubject),
    upstreamIssuer,
    upstreamSubject,
    connectionId: 'idp',
    claims: { email: 'alice@example.com', email_verified: true },
    updatedAt: b.clock.now,
    ...o.principal,
  };
  const session: SessionRecord = {
    id: o.sessionId ?? randomToken(),
    principalId: principal.id,
    connectionId: principal.connectionId,
    authTime: b.clock.now - 60,
    acr: 'urn:example:acr:mfa',
    amr: ['pwd', 'mfa'],
    createdAt: b.clock.now - 60,
    expiresAt: b.clock.now + 3600,
    ...o.session,
  };
  await b.services.store.principals.upsert(principal);
  await b.services.store.sessions.create(session);
  return { principal, session };
}

/** Issues a refresh token in that session, stored by its hash exactly as the refresh grant stores it. */
export async function issueRefreshToken(b: TestBroker, l: Login, o: Partial<RefreshTokenRecord> = {}): Promise<{ token: string; hash: string; record: RefreshTokenRecord }> {
  const token = randomToken();
  const hash = await sha256Base64url(token);
  const record: RefreshTokenRecord = {
    familyId: `family-${randomToken().slice(0, 8)}`,
    clientId: 'wiki-agent',
    sessionId: l.session.id,
    principalId: l.principal.id,
    // The app asked the user to delegate the Todo, legacy and CRM scopes at /authorize (oidc.delegated_scopes).
    scopes: ['openid', 'email', 'offline_access', 'todos.read', 'todos.write', 'records.read', 'contacts.read'],
    createdAt: b.clock.now,
    expiresAt: b.clock.now + 3600,
    ...o,
  };
  await b.services.store.refreshTokens.issue(hash, record);
  return { token, hash, record };
}

// ---------------------------------------------------------------------------------------------
// SAML assertions issued to the app by samlify as the IdP

/** A response as the IdP would post it to the app (wiki-agent's ACS), with the app's Audience. */
export function appSpec(overrides: Partial<ResponseSpec> = {}): ResponseSpec {
  return defaultSpec({ audience: WIKI_SP, recipient: WIKI_ACS, destination: WIKI_ACS, spNameQualifier: WIKI_SP, ...overrides });
}

/** The signed Response (XML) samlify produces for the spec. */
export async function appResponseXml(spec: ResponseSpec = appSpec(), options: SignOptions = {}): Promise<string> {
  return decode(await idpResponse(spec, options));
}

/** The signed Assertion's exact text, cut out of the response the app received. */
export function assertionOf(responseXml: string): string {
  const match = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(responseXml);
  if (!match) throw new Error('no assertion in the response');
  return match[0];
}

/** RFC 8693 §3: base64url. */
export function saml2Token(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64url');
}

/** A signed assertion issued to wiki-agent, as a saml2 subject token. */
export async function appAssertionToken(spec: ResponseSpec = appSpec(), options: SignOptions = {}): Promise<string> {
  return saml2Token(assertionOf(await appResponseXml(spec, options)));
}

// ---------------------------------------------------------------------------------------------
// The refusal contract

const TABLES = ['signing_keys', 'mapping_table', 'subject_bindings', 'replay', 'broker_secrets', 'principals', 'sessions', 'refresh_tokens'];

export function snapshot(b: TestBroker): { tables: Record<string, unknown[]>; auditCount: number } {
  const tables: Record<string, unknown[]> = {};
  for (const table of TABLES) tables[table] = b.db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all();
  return { tables, auditCount: b.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number };
}

export interface Refusal {
  error: string;
  reason: string;
  /** A fragment the audit detail must contain (e.g. the SAML refusal code). */
  detail?: string | RegExp;
  /** The store may change (e.g. a reused refresh token revokes its family); default: nothing but the audit record. */
  storeMayChange?: boolean;
}

/**
 * Sends the exchange and checks the refusal: status 400 (or 401 for invalid_client), no-store, only
 * `error` and `error_description` on the wire, no reason or token material there or in the audit
 * record, exactly one new audit record (event refusal, the internal reason), and nothing else stored.
 */
export async function expectRefused(b: TestBroker, params: Record<string, string>, e: Refusal): Promise<AuditRecord> {
  const before = snapshot(b);
  const res = await postToken(b, params);
  const text = await res.text();
  expect(res.status, text).toBe(e.error === 'invalid_client' ? 401 : 400);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body.error, text).toBe(e.error);
  expect(Object.keys(body).filter((k) => k !== 'error' && k !== 'error_description')).toEqual([]);

  const after = snapshot(b);
  if (!e.storeMayChange) expect(after.tables).toEqual(before.tables);
  expect(after.auditCount).toBe(before.auditCount + 1);
  const [record] = await b.services.store.audit.recent(1);
  expect(record, 'audit record').toMatchObject({ event: 'refusal', reason: e.reason, requestId: res.headers.get('x-request-id') });
  expect(record).not.toHaveProperty('jti');
  if (e.detail !== undefined) {
    if (typeof e.detail === 'string') expect(record!.detail ?? '').toContain(e.detail);
    else expect(record!.detail ?? '').toMatch(e.detail);
  }
  if (e.reason !== e.error) expect(text).not.toContain(e.reason);
  const subjectToken = params.subject_token ?? '';
  const recordText = JSON.stringify(record);
  for (const secret of [SECRET, subjectToken].filter((s) => s.length >= 8)) {
    expect(text).not.toContain(secret);
    expect(recordText).not.toContain(secret);
  }
  return record!;
}
