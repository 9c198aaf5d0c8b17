/**
 * The refusal battery: every validation rule of the token endpoint, each broken alone, through the
 * HTTP surface. Each refusal must carry the precise OAuth error, change nothing in the store but
 * one audit record (event "refusal", the internal reason), keep Cache-Control: no-store, and never
 * put the internal reason, token material or secrets on the wire or in the audit record.
 */
import { base64url, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { CLIENT_ASSERTION_MAX_LIFETIME, CLOCK_SKEW, MAX_BODY_BYTES, MAX_TOKEN_BYTES } from '../../src/constants.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import type { AuditRecord } from '../../src/store/ports.js';
import {
  BASIC_SECRET,
  BROKER,
  CRM,
  CRM_API,
  exchangeParams,
  IDP,
  postToken,
  SECRET,
  startTestBroker,
  storeState,
  testSettings,
  TODO,
  TODO_API,
  type TestBroker,
} from '../helpers/broker.js';

const IDP2 = 'https://idp2.test';
const IDP3 = 'https://idp3.test';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** RFC 7523bis: client assertions name the issuer identifier. */
const ASSERTION_AUD = BROKER;
const TT = 'urn:ietf:params:oauth:token-type:';

type Params = Record<string, string | string[]>;
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
interface SigningKey {
  privateKey: Key;
  jwk: JWK;
  kid: string;
}

async function signingKey(kid?: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(pub));
  return { privateKey, kid: id, jwk: { ...pub, kid: id, alg: 'ES256', use: 'sig' } };
}

/** An upstream issuer whose keys the test holds (inline JWKS), to craft any claim set; a client key; a rogue key. */
let idp2: SigningKey;
let jwtAgentKey: SigningKey;
let rogue: SigningKey;

beforeAll(async () => {
  idp2 = await signingKey();
  jwtAgentKey = await signingKey('jwt-agent-1');
  rogue = await signingKey('rogue-kid');
});

/** The standard test settings plus a crafted-token issuer, an issuer whose JWKS is unreachable, and a private_key_jwt client. */
function batterySettings(extra: (s: BrokerConfigInput) => void = () => {}) {
  return testSettings((s) => {
    s.trusted_issuers!.push({ issuer: IDP2, jwks: { keys: [idp2.jwk] }, algorithms: ['ES256'], authority: { email: { domains: ['idp2.example'] } } });
    s.trusted_issuers!.push({ issuer: IDP3, jwks_uri: `${IDP3}/nowhere`, algorithms: ['ES256'] });
    const wiki = s.clients![0]!;
    wiki.upstream_client_ids = { ...wiki.upstream_client_ids, [IDP2]: 'wiki-agent', [IDP3]: 'wiki-agent' };
    s.clients!.push({
      client_id: 'jwt-agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwtAgentKey.jwk] },
      upstream_client_ids: { [IDP]: 'jwt-agent' },
      destinations: { todo: { client_id: 'jwt-at-todo', scopes: ['todos.read'] } },
    });
    extra(s);
  });
}

// ---------------------------------------------------------------------------------------------
// The refusal contract

interface Expected {
  status: number;
  error: string;
  reason: string;
  /** A Basic challenge must accompany the 401 (RFC 6749 §5.2) exactly when the client tried Basic. */
  basicChallenge?: boolean;
}

/** Strings that must never appear in an audit record or an error response. */
function sensitive(params: Params = {}, headers: Record<string, string> = {}): string[] {
  const out = new Set<string>([SECRET, BASIC_SECRET]);
  for (const name of ['subject_token', 'client_secret', 'client_assertion', 'actor_token']) {
    for (const v of ([] as string[]).concat(params[name] ?? [])) {
      if (v.length >= 8) out.add(v);
      for (const part of v.split('.')) if (part.length >= 16) out.add(part);
    }
  }
  const auth = headers.authorization ?? headers.Authorization;
  if (auth) out.add(auth.replace(/^\S+\s+/, ''));
  return [...out].filter((s) => s.length >= 8);
}

async function latestAudit(b: TestBroker): Promise<AuditRecord> {
  const [record] = await b.services.store.audit.recent(1);
  expect(record).toBeDefined();
  return record!;
}

async function expectRefusal(b: TestBroker, send: () => Promise<Response>, sent: { params?: Params; headers?: Record<string, string> }, e: Expected) {
  const before = storeState(b);
  const res = await send();
  const text = await res.text();

  expect(res.status, text).toBe(e.status);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('pragma')).toBe('no-cache');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  if (e.basicChallenge) expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
  else expect(res.headers.get('www-authenticate')).toBeNull();

  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body.error).toBe(e.error);
  expect(Object.keys(body).filter((k) => k !== 'error' && k !== 'error_description')).toEqual([]);

  // Nothing changed but one audit record: a refusal, or (before the client authenticated) a
  // refusal summary counting this one request, written at the latest when the broker stops.
  await b.maintenance.flush({ final: true });
  const after = storeState(b);
  expect(after.tables).toEqual(before.tables);
  expect(after.auditCount).toBe(before.auditCount + 1);
  const record = await latestAudit(b);
  expect(record).toMatchObject({ reason: e.reason, requestId: res.headers.get('x-request-id'), at: b.clock.now });
  if (record.event === 'refusal_summary') expect(record).toMatchObject({ count: 1, source: 'unknown' });
  else expect(record.event).toBe('refusal');
  expect(record).not.toHaveProperty('jti');

  // The wire never carries the internal reason or its detail.
  if (e.reason !== e.error) expect(text).not.toContain(e.reason);
  if (record.detail && record.detail.length >= 12) expect(text).not.toContain(record.detail);
  // Neither the wire nor the audit record carries tokens or secrets.
  const recordText = JSON.stringify(record);
  for (const s of sensitive(sent.params, sent.headers)) {
    expect(recordText).not.toContain(s);
    expect(text).not.toContain(s);
  }
  return { body, record };
}

function refusedPost(b: TestBroker, params: Params, e: Expected, headers: Record<string, string> = {}) {
  return expectRefusal(b, () => postToken(b, params, headers), { params, headers }, e);
}

async function expectMint(res: Response) {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return JSON.parse(text) as { access_token: string; scope: string };
}

/**
 * Holds the first `n` store commits until all `n` have arrived, so that `n` concurrent requests
 * have all resolved their mapping before any of them writes: the race happens every time.
 */
function raceCommits(b: TestBroker, n: number) {
  const store = b.services.store;
  const original = store.commitMint.bind(store);
  let arrived = 0;
  let release!: () => void;
  const everyoneHere = new Promise<void>((resolve) => (release = resolve));
  store.commitMint = async (write) => {
    if (arrived < n) {
      arrived++;
      if (arrived === n) release();
      await everyoneHere;
    }
    return original(write);
  };
}

function formBody(params: Params): string {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of ([] as string[]).concat(v)) body.append(k, one);
  return body.toString();
}

const basicAuth = (id: string, secret: string) => ({ authorization: `Basic ${btoa(`${id}:${secret}`)}` });

// ---------------------------------------------------------------------------------------------
// Token builders

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const enc = (o: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(o)));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

/** A token from the crafted issuer: anything the test wants, signed with that issuer's real key. */
function idp2Token(b: TestBroker, claims: Record<string, unknown> = {}, header: Partial<JWTHeaderParameters> = {}) {
  const payload: Record<string, unknown> = { iss: IDP2, sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300, email: 'alice@idp2.example', email_verified: true, ...claims };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'ES256', kid: idp2.kid, typ: 'JWT', ...header }).sign(idp2.privateKey);
}

/** The crafted-issuer exchange: its users live in the claim-mapped CRM namespace. */
async function idp2Params(b: TestBroker, token: string, overrides: Record<string, string | string[] | undefined> = {}) {
  return exchangeParams(b, { subject_token: token, audience: CRM, resource: CRM_API, scope: 'contacts.read', ...overrides });
}

function assertion(b: TestBroker, claims: Record<string, unknown> = {}, key: SigningKey = jwtAgentKey) {
  const payload: Record<string, unknown> = { iss: 'jwt-agent', sub: 'jwt-agent', aud: ASSERTION_AUD, iat: b.clock.now, exp: b.clock.now + 60, jti: crypto.randomUUID(), ...claims };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
}

async function jwtAgentParams(b: TestBroker, clientAssertion: string, overrides: Record<string, string | string[] | undefined> = {}) {
  const idToken = await b.idp.idToken({ sub: 'alice', amr: ['pwd', 'mfa'] }, 'jwt-agent', { now: b.clock.now });
  return exchangeParams(b, {
    subject_token: idToken,
    client_id: undefined,
    client_secret: undefined,
    client_assertion: clientAssertion,
    client_assertion_type: JWT_BEARER,
    ...overrides,
  });
}

async function basicAgentParams(b: TestBroker, overrides: Record<string, string | string[] | undefined> = {}) {
  const idToken = await b.idp.idToken({ sub: 'alice', email: 'alice@example.com' }, 'basic-agent', { now: b.clock.now });
  return exchangeParams(b, { subject_token: idToken, client_id: undefined, client_secret: undefined, ...overrides });
}

async function crmParams(b: TestBroker, user: { sub: string; email?: string }, overrides: Record<string, string | string[] | undefined> = {}) {
  const idToken = await b.idp.idToken(user, 'wiki-agent', { now: b.clock.now });
  return exchangeParams(b, { subject_token: idToken, audience: CRM, resource: CRM_API, scope: 'contacts.read', ...overrides });
}

// ---------------------------------------------------------------------------------------------

describe('token endpoint refusals', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker({ settings: await batterySettings() });
  });

  describe('controls: the unbroken requests succeed', () => {
    it('client_secret_post at the Todo AS', async () => {
      await expectMint(await postToken(b, await exchangeParams(b)));
    });

    it('client_secret_basic at the Todo AS', async () => {
      await expectMint(await postToken(b, await basicAgentParams(b), basicAuth('basic-agent', BASIC_SECRET)));
    });

    it('private_key_jwt at the Todo AS', async () => {
      await expectMint(await postToken(b, await jwtAgentParams(b, await assertion(b))));
    });

    it('a token from the crafted issuer at the CRM AS', async () => {
      const body = await expectMint(await postToken(b, await idp2Params(b, await idp2Token(b))));
      expect(decodeJwt(body.access_token).sub).toBe('alice@idp2.example');
    });

    it('an unknown parameter is ignored (RFC 6749 §3.2), not refused', async () => {
      const before = storeState(b);
      const res = await postToken(b, await exchangeParams(b, { frobnicate: 'yes' }));
      await expectMint(res);
      expect(storeState(b).auditCount).toBe(before.auditCount + 1);
      expect((await latestAudit(b)).event).toBe('mint');
    });

    it('the content type may carry a charset parameter', async () => {
      const body = formBody(await exchangeParams(b));
      await expectMint(await b.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body }));
    });
  });

  describe('request shape', () => {
    it('missing grant_type → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { grant_type: undefined }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    it('unsupported grant_type (password) → unsupported_grant_type', async () => {
      await refusedPost(b, await exchangeParams(b, { grant_type: 'password' }), { status: 400, error: 'unsupported_grant_type', reason: 'unsupported_grant_type' });
    });

    it('the jwt-bearer grant (the RAS side) is not served here → unsupported_grant_type', async () => {
      await refusedPost(b, await exchangeParams(b, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }), {
        status: 400,
        error: 'unsupported_grant_type',
        reason: 'unsupported_grant_type',
      });
    });

    it('a hostile grant_type is bounded in the audit record', async () => {
      const { record } = await refusedPost(b, await exchangeParams(b, { grant_type: 'x'.repeat(5000) }), { status: 400, error: 'unsupported_grant_type', reason: 'unsupported_grant_type' });
      expect(record.grantType!.length).toBeLessThanOrEqual(100);
    });

    it('JSON instead of a form → invalid_request', async () => {
      const params = await exchangeParams(b);
      const send = () => b.request('/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
      await expectRefusal(b, send, { params }, { status: 400, error: 'invalid_request', reason: 'bad_content_type' });
    });

    it('no content type → invalid_request', async () => {
      const params = await exchangeParams(b);
      const body = new TextEncoder().encode(formBody(params));
      await expectRefusal(b, () => b.request('/token', { method: 'POST', body }), { params }, { status: 400, error: 'invalid_request', reason: 'bad_content_type' });
    });

    it('a body over 64 KiB → 413', async () => {
      const params = await exchangeParams(b, { padding: 'x'.repeat(MAX_BODY_BYTES) });
      await refusedPost(b, params, { status: 413, error: 'invalid_request', reason: 'body_too_large' });
    });

    it('a body over 64 KiB behind a Content-Length that lies low → 413', async () => {
      const params = await exchangeParams(b, { padding: 'x'.repeat(MAX_BODY_BYTES) });
      const bytes = new TextEncoder().encode(formBody(params));
      const send = () =>
        b.request('/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '100' },
          body: new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
              controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
      await expectRefusal(b, send, { params }, { status: 413, error: 'invalid_request', reason: 'body_too_large' });
    });

    it('a body that is not UTF-8 → invalid_request', async () => {
      const params = await exchangeParams(b);
      const text = new TextEncoder().encode(`${formBody(params)}&x=`);
      const body = new Uint8Array([...text, 0xff, 0xfe]);
      const send = () => b.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      await expectRefusal(b, send, { params }, { status: 400, error: 'invalid_request', reason: 'malformed_body' });
    });

    it('a percent-encoded value that is not UTF-8 → invalid_request', async () => {
      const params = await exchangeParams(b);
      const body = `${formBody(params)}&scope2=%C3%28`;
      const send = () => b.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      await expectRefusal(b, send, { params }, { status: 400, error: 'invalid_request', reason: 'malformed_body' });
    });

    it('duplicated grant_type → invalid_request', async () => {
      const p = await exchangeParams(b);
      await refusedPost(b, { ...p, grant_type: [p.grant_type as string, p.grant_type as string] }, { status: 400, error: 'invalid_request', reason: 'duplicate_parameter' });
    });

    it('duplicated subject_token → invalid_request', async () => {
      const p = await exchangeParams(b);
      await refusedPost(b, { ...p, subject_token: [p.subject_token as string, p.subject_token as string] }, { status: 400, error: 'invalid_request', reason: 'duplicate_parameter' });
    });

    it('duplicated scope → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { scope: ['todos.read', 'todos.read'] }), { status: 400, error: 'invalid_request', reason: 'duplicate_parameter' });
    });

    it('duplicated client_secret → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { client_secret: [SECRET, SECRET] }), { status: 400, error: 'invalid_request', reason: 'duplicate_parameter' });
    });

    it('missing requested_token_type → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { requested_token_type: undefined }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    it('requested_token_type other than the ID-JAG → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { requested_token_type: `${TT}access_token` }), { status: 400, error: 'invalid_request', reason: 'invalid_parameter' });
    });

    it('authorization_details (which the broker cannot process yet) → invalid_request, not silently dropped', async () => {
      const p = await exchangeParams(b, { authorization_details: '[{"type":"todo_list","actions":["read"]}]' });
      await refusedPost(b, p, { status: 400, error: 'invalid_request', reason: 'authorization_details_unsupported' });
    });

    it('an actor_token → invalid_request', async () => {
      const p = await exchangeParams(b);
      await refusedPost(b, { ...p, actor_token: p.subject_token as string, actor_token_type: `${TT}id_token` }, { status: 400, error: 'invalid_request', reason: 'invalid_parameter' });
    });

    it('missing subject_token → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token: undefined }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    it('an empty subject_token counts as missing → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token: '' }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    it('missing subject_token_type → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token_type: undefined }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    // saml2 is unsupported here because this broker has no SAML verifier (as on Workers); see saml2-subject-token.test.ts.
    it.each([['access_token'], ['saml2'], ['jwt'], ['id-jag']])('subject_token_type %s → unsupported_token_type', async (type) => {
      await refusedPost(b, await exchangeParams(b, { subject_token_type: `${TT}${type}` }), { status: 400, error: 'unsupported_token_type', reason: 'unsupported_token_type' });
    });

    it('an ID token presented as subject_token_type refresh_token → invalid_grant (not a broker refresh token)', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token_type: `${TT}refresh_token` }), { status: 400, error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('an unknown subject_token_type URI → unsupported_token_type', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token_type: 'urn:example:token-type:mystery' }), { status: 400, error: 'unsupported_token_type', reason: 'unsupported_token_type' });
    });
  });

  describe('target: audience and resource', () => {
    it('missing audience → invalid_request', async () => {
      await refusedPost(b, await exchangeParams(b, { audience: undefined }), { status: 400, error: 'invalid_request', reason: 'missing_parameter' });
    });

    it('two audiences → invalid_target', async () => {
      const { record } = await refusedPost(b, await exchangeParams(b, { audience: [TODO, CRM] }), { status: 400, error: 'invalid_target', reason: 'audience_ambiguous' });
      expect(record.clientId).toBe('wiki-agent');
    });

    it('an unknown audience → invalid_target', async () => {
      await refusedPost(b, await exchangeParams(b, { audience: 'https://evil.test' }), { status: 400, error: 'invalid_target', reason: 'audience_unknown' });
    });

    it('an unknown resource → invalid_target', async () => {
      await refusedPost(b, await exchangeParams(b, { resource: 'https://api.unknown.test/' }), { status: 400, error: 'invalid_target', reason: 'resource_unknown' });
    });

    it('a resource of another destination → invalid_target', async () => {
      const { record } = await refusedPost(b, await exchangeParams(b, { resource: CRM_API }), { status: 400, error: 'invalid_target', reason: 'resource_audience_mismatch' });
      expect(record.detail).toContain('crm');
    });

    it('a resource that is not an absolute URI → invalid_target (RFC 8707 §2)', async () => {
      await refusedPost(b, await exchangeParams(b, { resource: '/api/todos' }), { status: 400, error: 'invalid_target', reason: 'invalid_parameter' });
    });

    it('a resource with a fragment, even an empty one → invalid_target (RFC 8707 §2)', async () => {
      await refusedPost(b, await exchangeParams(b, { resource: `${TODO_API}#` }), { status: 400, error: 'invalid_target', reason: 'invalid_parameter' });
    });

    it('a destination the client is not enabled for (basic-agent → CRM) → invalid_target', async () => {
      const params = await basicAgentParams(b, { audience: CRM, resource: CRM_API, scope: 'contacts.read' });
      const { record } = await refusedPost(b, params, { status: 400, error: 'invalid_target', reason: 'client_not_enabled_for_destination' }, basicAuth('basic-agent', BASIC_SECRET));
      expect(record).toMatchObject({ clientId: 'basic-agent', destination: 'crm' });
    });
  });

  describe('scope', () => {
    it('a scope with a character outside NQCHAR → invalid_scope', async () => {
      await refusedPost(b, await exchangeParams(b, { scope: 'todos.read "todos.write"' }), { status: 400, error: 'invalid_scope', reason: 'invalid_parameter' });
    });

    it('a scope with a doubled space → invalid_scope', async () => {
      await refusedPost(b, await exchangeParams(b, { scope: 'todos.read  tasks:read' }), { status: 400, error: 'invalid_scope', reason: 'invalid_parameter' });
    });

    it('a scope the translation table does not map → invalid_scope', async () => {
      const { record } = await refusedPost(b, await exchangeParams(b, { scope: 'todos.read admin' }), { status: 400, error: 'invalid_scope', reason: 'scope_untranslatable' });
      expect(record.detail).toBe('admin');
    });

    it('a prototype name as scope is untranslatable → invalid_scope', async () => {
      await refusedPost(b, await exchangeParams(b, { scope: 'constructor' }), { status: 400, error: 'invalid_scope', reason: 'scope_untranslatable' });
    });

    it('a scope the client may not hold at the destination → invalid_scope', async () => {
      const params = await basicAgentParams(b, { scope: 'todos.write' });
      await refusedPost(b, params, { status: 400, error: 'invalid_scope', reason: 'scope_not_permitted_for_client' }, basicAuth('basic-agent', BASIC_SECRET));
    });

    it('everything requested denied by policy → access_denied (the grant is valid; the person is not entitled)', async () => {
      // alice is not in todo-writers.
      const { record } = await refusedPost(b, await exchangeParams(b, { scope: 'todos.write' }), { status: 400, error: 'access_denied', reason: 'policy_denied' });
      expect(record.policy).toContain('todos.write:deny');
    });

    it('no scope and no default scopes for the destination → invalid_scope', async () => {
      const params = await crmParams(b, { sub: 'alice', email: 'alice@example.com' }, { scope: undefined });
      await refusedPost(b, params, { status: 400, error: 'invalid_scope', reason: 'missing_parameter' });
    });

    it("partial_scope 'refuse' refuses a partial grant instead of narrowing", async () => {
      b = await startTestBroker({ settings: await batterySettings((s) => void (s.destinations![0]!.partial_scope = 'refuse')) });
      // Control: a fully grantable request is still minted under 'refuse'.
      await expectMint(await postToken(b, await exchangeParams(b, { scope: 'todos.read' })));
      await refusedPost(b, await exchangeParams(b, { scope: 'todos.read todos.write' }), { status: 400, error: 'access_denied', reason: 'policy_denied' });
    });
  });

  describe('subject token', () => {
    it('expired by the skew → invalid_grant', async () => {
      const t = b.clock.now;
      const params = await exchangeParams(b); // the ID token lives 600 s from t
      b.clock.now = t + 600 + CLOCK_SKEW;
      await refusedPost(b, params, { status: 400, error: 'invalid_grant', reason: 'expired' });
    });

    it('expired by less than the skew → accepted', async () => {
      const t = b.clock.now;
      const params = await exchangeParams(b);
      b.clock.now = t + 600 + CLOCK_SKEW - 1;
      await expectMint(await postToken(b, params));
    });

    it('an expired token is refused even when its signature check is cached', async () => {
      const params = await exchangeParams(b);
      await expectMint(await postToken(b, params));
      b.clock.now += 3600;
      await refusedPost(b, params, { status: 400, error: 'invalid_grant', reason: 'expired' });
    });

    it('iat in the future beyond the skew → invalid_grant', async () => {
      const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now + CLOCK_SKEW + 1 });
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'iat_in_future' });
    });

    it('nbf in the future beyond the skew → invalid_grant', async () => {
      const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now, extra: { nbf: b.clock.now + CLOCK_SKEW + 1 } });
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'not_yet_valid' });
    });

    it('no sub → invalid_grant', async () => {
      await refusedPost(b, await idp2Params(b, await idp2Token(b, { sub: undefined })), { status: 400, error: 'invalid_grant', reason: 'claim_missing' });
    });

    it('no exp → invalid_grant', async () => {
      await refusedPost(b, await idp2Params(b, await idp2Token(b, { exp: undefined })), { status: 400, error: 'invalid_grant', reason: 'claim_missing' });
    });

    it('no iat → invalid_grant', async () => {
      await refusedPost(b, await idp2Params(b, await idp2Token(b, { iat: undefined })), { status: 400, error: 'invalid_grant', reason: 'claim_missing' });
    });

    it('aud naming another client → invalid_grant', async () => {
      const token = await b.idp.idToken({ sub: 'alice' }, 'basic-agent', { now: b.clock.now });
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'aud_mismatch' });
    });

    it('several audiences without azp → invalid_grant', async () => {
      const token = await idp2Token(b, { aud: ['wiki-agent', 'other-app'] });
      await refusedPost(b, await idp2Params(b, token), { status: 400, error: 'invalid_grant', reason: 'aud_mismatch' });
    });

    it('several audiences with azp naming this client are accepted', async () => {
      await expectMint(await postToken(b, await idp2Params(b, await idp2Token(b, { aud: ['wiki-agent', 'other-app'], azp: 'wiki-agent' }))));
    });

    it('azp naming another client → invalid_grant', async () => {
      const token = await idp2Token(b, { aud: 'wiki-agent', azp: 'other-app' });
      await refusedPost(b, await idp2Params(b, token), { status: 400, error: 'invalid_grant', reason: 'aud_mismatch' });
    });

    it('an untrusted issuer → invalid_grant', async () => {
      const token = await new SignJWT({ sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 })
        .setProtectedHeader({ alg: 'ES256', kid: rogue.kid })
        .setIssuer('https://evil.test')
        .sign(rogue.privateKey);
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'issuer_untrusted' });
    });

    it('signed by a key the issuer does not publish (kid unknown) → invalid_grant', async () => {
      const token = await new SignJWT({ sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 })
        .setProtectedHeader({ alg: 'ES256', kid: rogue.kid, typ: 'JWT' })
        .setIssuer(IDP)
        .sign(rogue.privateKey);
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'key_unknown' });
    });

    it("signed by another key under the issuer's kid → invalid_grant", async () => {
      const token = await new SignJWT({ sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 })
        .setProtectedHeader({ alg: 'ES256', kid: idp2.kid, typ: 'JWT' })
        .setIssuer(IDP2)
        .sign(rogue.privateKey);
      await refusedPost(b, await idp2Params(b, token), { status: 400, error: 'invalid_grant', reason: 'signature_invalid' });
    });

    it('a tampered payload → invalid_grant', async () => {
      const genuine = (await exchangeParams(b)).subject_token as string;
      const [h, p, s] = genuine.split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>;
      claims.sub = 'bob';
      const tampered = `${h}.${base64url.encode(new TextEncoder().encode(JSON.stringify(claims)))}.${s}`;
      await refusedPost(b, await exchangeParams(b, { subject_token: tampered }), { status: 400, error: 'invalid_grant', reason: 'signature_invalid' });
    });

    it('alg none, crafted by hand → invalid_grant', async () => {
      const token = unsigned({ alg: 'none', typ: 'JWT' }, { iss: IDP, sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 });
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'alg_not_allowed' });
    });

    it('HS256 (a shared-secret signature) → invalid_grant', async () => {
      const token = await new SignJWT({ sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(IDP)
        .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-or-more!'));
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'alg_not_allowed' });
    });

    it('an ID-JAG minted by this broker, presented as subject token → invalid_grant', async () => {
      const { access_token: idJag } = await expectMint(await postToken(b, await exchangeParams(b)));
      await refusedPost(b, await exchangeParams(b, { subject_token: idJag }), { status: 400, error: 'invalid_grant', reason: 'subject_token_is_id_jag' });
    });

    it('a JWE-shaped (5-part) token → invalid_grant', async () => {
      const jwe = `${base64url.encode(new TextEncoder().encode(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })))}.AAAA.BBBB.CCCC.DDDD`;
      await refusedPost(b, await exchangeParams(b, { subject_token: jwe }), { status: 400, error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('a garbage string → invalid_grant', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token: 'this is not a token at all' }), { status: 400, error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('three parts that are not base64url JSON → invalid_grant', async () => {
      await refusedPost(b, await exchangeParams(b, { subject_token: 'not!.base64?.json~' }), { status: 400, error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('a payload that is JSON but not an object → invalid_grant', async () => {
      const enc = (s: string) => base64url.encode(new TextEncoder().encode(s));
      await refusedPost(b, await exchangeParams(b, { subject_token: `${enc('{"alg":"ES256"}')}.${enc('[1,2,3]')}.AAAA` }), { status: 400, error: 'invalid_grant', reason: 'token_malformed' });
    });

    it('a token over 16 KiB → invalid_grant', async () => {
      const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now, extra: { padding: 'x'.repeat(MAX_TOKEN_BYTES) } });
      expect(token.length).toBeGreaterThan(MAX_TOKEN_BYTES);
      await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'token_too_large' });
    });

    it('typ at+jwt (an access token) → invalid_grant', async () => {
      await refusedPost(b, await idp2Params(b, await idp2Token(b, {}, { typ: 'at+jwt' })), { status: 400, error: 'invalid_grant', reason: 'subject_token_not_id_token' });
    });

    it('an issuer whose keys cannot be fetched → 503 temporarily_unavailable: not blamed on the client, not a 500', async () => {
      const token = await new SignJWT({ sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 })
        .setProtectedHeader({ alg: 'ES256', kid: rogue.kid })
        .setIssuer(IDP3)
        .sign(rogue.privateKey);
      await refusedPost(b, await idp2Params(b, token), { status: 503, error: 'temporarily_unavailable', reason: 'jwks_unavailable' });
    });

    it('a critical header extension the broker does not understand → invalid_grant (crit_unsupported), not signature_invalid', async () => {
      const payload = { iss: IDP2, sub: 'alice', aud: 'wiki-agent', iat: b.clock.now, exp: b.clock.now + 300 };
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: idp2.kid, typ: 'JWT', crit: ['urn:example:ext'], 'urn:example:ext': 1 } as JWTHeaderParameters)
        .sign(idp2.privateKey, { crit: { 'urn:example:ext': true } });
      await refusedPost(b, await idp2Params(b, token), { status: 400, error: 'invalid_grant', reason: 'crit_unsupported' });
    });
  });

  describe('mapping', () => {
    it('no table row for the user (carol) → invalid_grant', async () => {
      const token = await b.idp.idToken({ sub: 'carol' }, 'wiki-agent', { now: b.clock.now });
      const { record } = await refusedPost(b, await exchangeParams(b, { subject_token: token }), { status: 400, error: 'invalid_grant', reason: 'mapping_missing' });
      expect(record).toMatchObject({ destination: 'todo', principalId: await principalIdOf(IDP, 'carol'), upstreamIssuer: IDP });
    });

    it('claim strategy without the claim (no email) → invalid_grant', async () => {
      await refusedPost(b, await crmParams(b, { sub: 'alice' }), { status: 400, error: 'invalid_grant', reason: 'mapping_claim_missing' });
    });

    it('claim strategy: a changed email for a bound principal → invalid_grant, binding kept', async () => {
      await expectMint(await postToken(b, await crmParams(b, { sub: 'alice', email: 'alice@example.com' })));
      const alice = await principalIdOf(IDP, 'alice');
      const bound = await b.services.store.mappings.bindingOf('crm-users', alice);
      await refusedPost(b, await crmParams(b, { sub: 'alice', email: 'alice.new@example.com' }), { status: 400, error: 'invalid_grant', reason: 'mapping_changed' });
      expect(await b.services.store.mappings.bindingOf('crm-users', alice)).toEqual(bound);
      expect(await b.services.store.mappings.bindingOfSubject('crm-users', 'alice.new@example.com')).toBeUndefined();
    });

    it('claim strategy: a second principal with the same email → invalid_grant, nothing bound for it', async () => {
      await expectMint(await postToken(b, await crmParams(b, { sub: 'alice', email: 'shared@example.com' })));
      await refusedPost(b, await crmParams(b, { sub: 'bob', email: 'shared@example.com' }), { status: 400, error: 'invalid_grant', reason: 'mapping_ambiguous' });
      expect(await b.services.store.mappings.bindingOf('crm-users', await principalIdOf(IDP, 'bob'))).toBeUndefined();
      expect((await b.services.store.mappings.bindingOfSubject('crm-users', 'shared@example.com'))?.principalId).toBe(await principalIdOf(IDP, 'alice'));
    });

    it('a request refused after its mapping resolved (policy) binds nothing', async () => {
      const alice = await principalIdOf(IDP, 'alice');
      // Refused after mapping resolved (policy): the binding must not be written.
      b = await startTestBroker({ settings: await batterySettings(), policies: 'forbid (principal, action, resource);' });
      await refusedPost(b, await crmParams(b, { sub: 'alice', email: 'alice@example.com' }), { status: 400, error: 'access_denied', reason: 'policy_denied' });
      expect(await b.services.store.mappings.bindingOf('crm-users', alice)).toBeUndefined();
    });

    it('concurrent first requests for one principal: all minted, one binding, no server error', async () => {
      const params = await crmParams(b, { sub: 'alice', email: 'alice@example.com' });
      raceCommits(b, 4);
      const responses = await Promise.all([1, 2, 3, 4].map(() => postToken(b, params)));
      for (const res of responses) await expectMint(res);
      expect(storeState(b).tables.subject_bindings).toHaveLength(1);
      const audit = await b.services.store.audit.recent(10);
      expect(audit.filter((r) => r.event === 'mint')).toHaveLength(4);
    });

    it('concurrent first requests by two principals for one email: one minted, one mapping_ambiguous', async () => {
      const [p1, p2] = [await crmParams(b, { sub: 'alice', email: 'shared@example.com' }), await crmParams(b, { sub: 'bob', email: 'shared@example.com' })];
      raceCommits(b, 2);
      const responses = await Promise.all([postToken(b, p1), postToken(b, p2)]);
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 400]);
      const refused = responses.find((r) => r.status === 400)!;
      expect(((await refused.json()) as { error: string }).error).toBe('invalid_grant');
      expect(storeState(b).tables.subject_bindings).toHaveLength(1);
      const refusal = (await b.services.store.audit.recent(10)).find((r) => r.event === 'refusal');
      expect(refusal).toMatchObject({ reason: 'mapping_ambiguous' });
      expect(refusal).not.toHaveProperty('jti');
    });
  });

  describe('failures that are not the client’s', () => {
    it('an unexpected store failure → 500 server_error, no-store, audited, nothing on the wire', async () => {
      b.services.store.commitMint = async () => {
        throw new Error('disk on fire at /var/lib/broker.sqlite');
      };
      const { record } = await refusedPost(b, await exchangeParams(b), { status: 500, error: 'server_error', reason: 'internal_error' });
      expect(record).toMatchObject({ clientId: 'wiki-agent', destination: 'todo' });
      const res = await postToken(b, await exchangeParams(b));
      expect(await res.text()).not.toMatch(/disk|sqlite|Error/);
    });
  });

  describe('client authentication', () => {
    it('unknown client_id (client_secret_post) → 401 invalid_client, no challenge', async () => {
      await refusedPost(b, await exchangeParams(b, { client_id: 'nobody' }), { status: 401, error: 'invalid_client', reason: 'client_unknown' });
    });

    it('wrong secret (client_secret_post) → 401 invalid_client, no challenge', async () => {
      await refusedPost(b, await exchangeParams(b, { client_secret: 'wrong-secret-value' }), { status: 401, error: 'invalid_client', reason: 'client_secret_mismatch' });
    });

    it('a right secret is not remembered for a wrong one (the cache holds only successes)', async () => {
      await expectMint(await postToken(b, await exchangeParams(b)));
      await refusedPost(b, await exchangeParams(b, { client_secret: `${SECRET}x` }), { status: 401, error: 'invalid_client', reason: 'client_secret_mismatch' });
    });

    it('wrong secret (client_secret_basic) → 401 with a Basic challenge', async () => {
      await refusedPost(b, await basicAgentParams(b), { status: 401, error: 'invalid_client', reason: 'client_secret_mismatch', basicChallenge: true }, basicAuth('basic-agent', 'wrong-secret-value'));
    });

    it('unknown client over Basic → 401 with a Basic challenge', async () => {
      await refusedPost(b, await basicAgentParams(b), { status: 401, error: 'invalid_client', reason: 'client_unknown', basicChallenge: true }, basicAuth('nobody', BASIC_SECRET));
    });

    it('malformed Basic credentials (not base64) → 401 with a Basic challenge', async () => {
      await refusedPost(b, await basicAgentParams(b), { status: 401, error: 'invalid_client', reason: 'client_auth_missing', basicChallenge: true }, { authorization: 'Basic !!!not-base64!!!' });
    });

    it('Basic plus client_secret in the body → invalid_request', async () => {
      const params = await basicAgentParams(b, { client_id: 'basic-agent', client_secret: BASIC_SECRET });
      await refusedPost(b, params, { status: 400, error: 'invalid_request', reason: 'client_auth_multiple' }, basicAuth('basic-agent', BASIC_SECRET));
    });

    it('Basic client_id differing from the body client_id → 401 with a Basic challenge', async () => {
      const params = await basicAgentParams(b, { client_id: 'wiki-agent' });
      await refusedPost(b, params, { status: 401, error: 'invalid_client', reason: 'client_id_mismatch', basicChallenge: true }, basicAuth('basic-agent', BASIC_SECRET));
    });

    it('a client_secret_post client using Basic → 401 with a Basic challenge', async () => {
      const params = await exchangeParams(b, { client_id: undefined, client_secret: undefined });
      await refusedPost(b, params, { status: 401, error: 'invalid_client', reason: 'client_auth_method_mismatch', basicChallenge: true }, basicAuth('wiki-agent', SECRET));
    });

    it('a client_secret_basic client using the body → 401, no challenge', async () => {
      const params = await basicAgentParams(b, { client_id: 'basic-agent', client_secret: BASIC_SECRET });
      await refusedPost(b, params, { status: 401, error: 'invalid_client', reason: 'client_auth_method_mismatch' });
    });

    it('a public client (auth method none) → unauthorized_client', async () => {
      const token = await b.idp.idToken({ sub: 'alice' }, 'spa', { now: b.clock.now });
      const { record } = await refusedPost(b, await exchangeParams(b, { subject_token: token, client_id: 'spa', client_secret: undefined }), {
        status: 400,
        error: 'unauthorized_client',
        reason: 'public_client',
      });
      expect(record.clientId).toBe('spa');
    });

    it('a confidential client sending no credentials → 401', async () => {
      await refusedPost(b, await exchangeParams(b, { client_secret: undefined }), { status: 401, error: 'invalid_client', reason: 'client_auth_missing' });
    });

    it('no client identification at all → 401', async () => {
      await refusedPost(b, await exchangeParams(b, { client_id: undefined, client_secret: undefined }), { status: 401, error: 'invalid_client', reason: 'client_auth_missing' });
    });

    it('a secret client presenting a client assertion → 401', async () => {
      const forged = await new SignJWT({ iss: 'wiki-agent', sub: 'wiki-agent', aud: ASSERTION_AUD, jti: 'x', exp: b.clock.now + 60 }).setProtectedHeader({ alg: 'ES256', kid: rogue.kid }).sign(rogue.privateKey);
      const params = await exchangeParams(b, { client_id: undefined, client_secret: undefined, client_assertion: forged, client_assertion_type: JWT_BEARER });
      await refusedPost(b, params, { status: 401, error: 'invalid_client', reason: 'client_auth_method_mismatch' });
    });
  });

  describe('private_key_jwt', () => {
    it('a replayed assertion (same jti) → 401', async () => {
      const params = await jwtAgentParams(b, await assertion(b));
      await expectMint(await postToken(b, params));
      await refusedPost(b, params, { status: 401, error: 'invalid_client', reason: 'client_assertion_replayed' });
    });

    it('an assertion is single use even when the request it authenticated was refused', async () => {
      const clientAssertion = await assertion(b);
      const res = await postToken(b, await jwtAgentParams(b, clientAssertion, { scope: 'admin' }));
      expect(res.status).toBe(400);
      await refusedPost(b, await jwtAgentParams(b, clientAssertion), { status: 401, error: 'invalid_client', reason: 'client_assertion_replayed' });
    });

    it('aud naming another server → 401', async () => {
      const a = await assertion(b, { aud: 'https://other-as.test/token' });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('expired → 401', async () => {
      const a = await assertion(b, { iat: b.clock.now - 300, exp: b.clock.now - CLOCK_SKEW });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('iss different from sub → 401', async () => {
      const a = await assertion(b, { iss: 'wiki-agent' });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('no jti → 401', async () => {
      const a = await assertion(b, { jti: undefined });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('a lifetime over 600 s → 401', async () => {
      const a = await assertion(b, { exp: b.clock.now + CLIENT_ASSERTION_MAX_LIFETIME + 1 });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('signed by a key the client did not register → 401', async () => {
      const a = await new SignJWT({ iss: 'jwt-agent', sub: 'jwt-agent', aud: ASSERTION_AUD, iat: b.clock.now, exp: b.clock.now + 60, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: jwtAgentKey.kid })
        .sign(rogue.privateKey);
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('alg none → 401', async () => {
      const a = unsigned({ alg: 'none' }, { iss: 'jwt-agent', sub: 'jwt-agent', aud: ASSERTION_AUD, iat: b.clock.now, exp: b.clock.now + 60, jti: 'j1' });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('a malformed assertion → 401', async () => {
      await refusedPost(b, await jwtAgentParams(b, 'not-a-jwt'), { status: 401, error: 'invalid_client', reason: 'client_assertion_invalid' });
    });

    it('a critical header extension the broker does not understand → 401 (crit_unsupported), not a bad signature', async () => {
      const a = await new SignJWT({ iss: 'jwt-agent', sub: 'jwt-agent', aud: ASSERTION_AUD, iat: b.clock.now, exp: b.clock.now + 60, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: jwtAgentKey.kid, crit: ['urn:example:ext'], 'urn:example:ext': 1 } as JWTHeaderParameters)
        .sign(jwtAgentKey.privateKey, { crit: { 'urn:example:ext': true } });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'crit_unsupported' });
    });

    it('an assertion for an unknown client → 401', async () => {
      const a = await assertion(b, { iss: 'ghost', sub: 'ghost' });
      await refusedPost(b, await jwtAgentParams(b, a), { status: 401, error: 'invalid_client', reason: 'client_unknown' });
    });

    it('a body client_id naming another client than the assertion (RFC 7521 §4.2) → 401', async () => {
      const a = await assertion(b);
      await refusedPost(b, await jwtAgentParams(b, a, { client_id: 'wiki-agent' }), { status: 401, error: 'invalid_client', reason: 'client_id_mismatch' });
    });

    it('a body client_id equal to the assertion subject is accepted', async () => {
      await expectMint(await postToken(b, await jwtAgentParams(b, await assertion(b), { client_id: 'jwt-agent' })));
    });

    it('a wrong client_assertion_type → invalid_request', async () => {
      const a = await assertion(b);
      await refusedPost(b, await jwtAgentParams(b, a, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), {
        status: 400,
        error: 'invalid_request',
        reason: 'invalid_parameter',
      });
    });
  });
});
