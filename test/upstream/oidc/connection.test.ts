import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import {
  createOidcConnection,
  LOGIN_TRANSACTION_LIFETIME,
  OidcLoginError,
  type OidcConnection,
  type OidcConnectionInput,
  type OidcLoginReason,
} from '../../../src/upstream/oidc/index.js';
import { createSqliteStore, openSqlite } from '../../../src/store/adapters/sqlite.js';
import { ACCOUNTS, browse, startTestOp, type TestOp } from './test-op.js';
import { MemoryTransactions } from './memory-transactions.js';

const CALLBACK_BASIC = 'https://broker.test/upstream/corp/callback';
const CALLBACK_POST = 'https://broker.test/upstream/partner/callback';
const CALLBACK_PUBLIC = 'https://broker.test/upstream/public/callback';
const BINDING = 'sha256-of-the-browser-cookie';

let op: TestOp;
let store: MemoryTransactions;
let now: number;
const clock = () => now;

beforeAll(async () => {
  op = await startTestOp([
    { client_id: 'broker-basic', client_secret: 'basic-secret', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [CALLBACK_BASIC] },
    { client_id: 'broker-post', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post', redirect_uris: [CALLBACK_POST] },
    { client_id: 'broker-public', token_endpoint_auth_method: 'none', redirect_uris: [CALLBACK_PUBLIC] },
  ]);
});

afterAll(async () => {
  await op.close();
});

beforeEach(() => {
  store = new MemoryTransactions();
  now = Math.floor(Date.now() / 1000);
  op.next = { accountId: 'alice', acr: 'urn:test:loa:2', amr: ['pwd', 'otp'] };
  op.lastParams = undefined;
});

function corp(overrides: Partial<OidcConnectionInput> = {}): OidcConnectionInput {
  return {
    id: 'corp',
    issuer: op.issuer,
    client_id: 'broker-basic',
    client_secret: 'basic-secret',
    redirect_uri: CALLBACK_BASIC,
    allow_insecure_http_for_loopback: true,
    // sid is asked for explicitly: this OP includes it only on request or with front/back-channel logout.
    claims: { id_token: { sid: null } },
    ...overrides,
  };
}

function connect(overrides: Partial<OidcConnectionInput> = {}, deps: { fetch?: typeof fetch; transactions?: MemoryTransactions } = {}): OidcConnection {
  return createOidcConnection(corp(overrides), { transactions: deps.transactions ?? store, clock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
}

/** Starts a login and drives the OP to the broker's callback. */
async function loginAtOp(connection: OidcConnection, start: Partial<Parameters<OidcConnection['startLogin']>[0]> = {}) {
  const started = await connection.startLogin({ browserBinding: BINDING, ...start });
  const callback = await browse(started.redirectUrl, connection.config.redirect_uri);
  return { started, callback };
}

/**
 * Expects a refusal with exactly this reason, and checks that nothing secret leaked into what
 * gets logged: not the authorization code, not the state, not a token.
 */
async function refusal(promise: Promise<unknown>, reason: OidcLoginReason, secrets: string[] = []): Promise<OidcLoginError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a refusal (${reason}), the login succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OidcLoginError);
  const refused = err as OidcLoginError;
  expect(refused.reason, refused.detail).toBe(reason);
  const logged = `${refused.message} ${refused.detail ?? ''} ${refused.upstreamError ?? ''} ${JSON.stringify(refused)}`;
  for (const secret of secrets) expect(logged).not.toContain(secret);
  return refused;
}

function secretsOf(callback: URL): string[] {
  return [callback.searchParams.get('code'), callback.searchParams.get('state')].filter((v): v is string => Boolean(v));
}

/** A fetch that edits the JSON of responses whose path matches, to impersonate a misbehaving OP. */
function rewriting(pathSuffix: string, edit: (body: Record<string, unknown>) => Record<string, unknown>, counter?: { calls: number }): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const res = await fetch(input, init);
    if (!url.pathname.endsWith(pathSuffix)) return res;
    if (counter) counter.calls++;
    const body = edit((await res.json()) as Record<string, unknown>);
    return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
}

describe('upstream OIDC login: happy paths', () => {
  it('starts with code + PKCE S256 + state + nonce and stores a bounded, browser-bound transaction', async () => {
    const connection = connect();
    const { transactionId, redirectUrl } = await connection.startLogin({ browserBinding: BINDING, continuation: '{"authorize":"abc"}', loginHint: 'alice@corp.example' });
    const q = redirectUrl.searchParams;
    expect(redirectUrl.origin).toBe(op.issuer);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('broker-basic');
    expect(q.get('redirect_uri')).toBe(CALLBACK_BASIC);
    expect(q.get('scope')).toBe('openid email profile');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('state')).toBe(transactionId);
    expect(q.get('login_hint')).toBe('alice@corp.example');
    expect(JSON.parse(q.get('claims') ?? '{}')).toEqual({ id_token: { sid: null } });

    const tx = store.records.get(transactionId);
    expect(tx).toBeDefined();
    // 32 random bytes, base64url: 256 bits, above the 128-bit floor.
    expect(transactionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tx!.connectionId).toBe('corp');
    expect(tx!.browserBinding).toBe(BINDING);
    expect(tx!.nonce).toBe(q.get('nonce'));
    expect(await oidc.calculatePKCECodeChallenge(tx!.codeVerifier!)).toBe(q.get('code_challenge'));
    expect(tx!.expiresAt - tx!.createdAt).toBe(LOGIN_TRANSACTION_LIFETIME);
    expect(LOGIN_TRANSACTION_LIFETIME).toBeLessThanOrEqual(600);
  });

  it('finishes with a validated identity from the ID token alone (userinfo off), and consumes the transaction', async () => {
    const connection = connect();
    const { started, callback } = await loginAtOp(connection, { continuation: '{"authorize":"abc"}', loginHint: 'alice@corp.example' });
    expect(op.lastParams?.login_hint).toBe('alice@corp.example');
    expect(callback.searchParams.get('iss')).toBe(op.issuer);

    const { identity, continuation } = await connection.finishLogin(callback, { browserBinding: BINDING });
    expect(continuation).toBe('{"authorize":"abc"}');
    expect(identity).toMatchObject({
      connectionId: 'corp',
      protocol: 'oidc',
      issuer: op.issuer,
      subject: ACCOUNTS.alice!.sub,
      acr: 'urn:test:loa:2',
      amr: ['pwd', 'otp'],
    });
    expect(identity.sessionIndex).toEqual(expect.any(String));
    expect(identity.authTime).toBeGreaterThan(now - 60);
    expect(identity.claims).toMatchObject({ iss: op.issuer, sub: ACCOUNTS.alice!.sub, aud: 'broker-basic', sid: identity.sessionIndex });
    // This OP puts profile claims in userinfo only (conformIdTokenClaims); they are not fetched here.
    expect(identity.claims.email).toBeUndefined();
    // The per-login nonce is not kept with the person's claims.
    expect(identity.claims.nonce).toBeUndefined();
    expect(store.records.has(started.transactionId)).toBe(false);
  });

  it('merges userinfo when use_userinfo is on, the ID token winning on conflicts', async () => {
    const connection = connect({ use_userinfo: true });
    const { callback } = await loginAtOp(connection);
    const { identity } = await connection.finishLogin(callback, { browserBinding: BINDING });
    expect(identity.subject).toBe(ACCOUNTS.alice!.sub);
    expect(identity.claims).toMatchObject({ email: ACCOUNTS.alice!.email, email_verified: true, name: ACCOUNTS.alice!.name, iss: op.issuer });
  });

  it('sends prompt and max_age, and accepts an auth_time within max_age', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection, { prompt: 'login', maxAge: 300 });
    expect(op.lastParams).toMatchObject({ prompt: 'login', max_age: '300' });
    const { identity } = await connection.finishLogin(callback, { browserBinding: BINDING });
    expect(identity.authTime).toBeGreaterThanOrEqual(now - 300);
  });

  it('runs several connections side by side (basic, post and public clients), each with its own transactions', async () => {
    const basic = connect();
    const post = connect({ id: 'partner', client_id: 'broker-post', client_secret: 'post-secret', client_auth: 'client_secret_post', redirect_uri: CALLBACK_POST });
    const pub = connect({ id: 'public', client_id: 'broker-public', client_secret: undefined, client_auth: 'none', redirect_uri: CALLBACK_PUBLIC });

    op.next = { accountId: 'alice' };
    const a = await loginAtOp(basic);
    op.next = { accountId: 'bob' };
    const b = await loginAtOp(post);
    const c = await loginAtOp(pub);

    expect((await post.finishLogin(b.callback, { browserBinding: BINDING })).identity).toMatchObject({ connectionId: 'partner', subject: ACCOUNTS.bob!.sub, claims: { aud: 'broker-post' } });
    expect((await basic.finishLogin(a.callback, { browserBinding: BINDING })).identity).toMatchObject({ connectionId: 'corp', subject: ACCOUNTS.alice!.sub, amr: [] });
    expect((await pub.finishLogin(c.callback, { browserBinding: BINDING })).identity).toMatchObject({ connectionId: 'public', subject: ACCOUNTS.bob!.sub });
  });

  it('discovers once per connection and reuses the metadata', async () => {
    const counter = { calls: 0 };
    const connection = connect({}, { fetch: rewriting('/.well-known/openid-configuration', (b) => b, counter) });
    await connection.startLogin({ browserBinding: BINDING });
    await connection.startLogin({ browserBinding: BINDING });
    const { callback } = await loginAtOp(connection);
    await connection.finishLogin(callback, { browserBinding: BINDING });
    expect(counter.calls).toBe(1);
  });
});

describe('upstream OIDC login: refusals at the callback', () => {
  it('unknown state: refused, nothing consumed', async () => {
    const connection = connect();
    const { started } = await loginAtOp(connection);
    const forged = new URL(`${CALLBACK_BASIC}?code=forged-code&state=${'x'.repeat(43)}&iss=${encodeURIComponent(op.issuer)}`);
    const err = await refusal(connection.finishLogin(forged, { browserBinding: BINDING }), 'transaction_unknown', ['forged-code']);
    expect(err.transactionConsumed).toBe(false);
    expect(store.records.has(started.transactionId)).toBe(true);
  });

  it('missing, duplicated or oversized state: malformed callback, the store is not asked', async () => {
    const connection = connect();
    await refusal(connection.finishLogin(new URL(`${CALLBACK_BASIC}?code=c`), { browserBinding: BINDING }), 'callback_malformed');
    await refusal(connection.finishLogin(new URL(`${CALLBACK_BASIC}?code=c&state=a&state=b`), { browserBinding: BINDING }), 'callback_malformed');
    await refusal(connection.finishLogin(new URL(`${CALLBACK_BASIC}?code=c&state=${'s'.repeat(200)}`), { browserBinding: BINDING }), 'callback_malformed');
  });

  it('replayed state: the second use is refused', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    await connection.finishLogin(callback, { browserBinding: BINDING });
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'transaction_unknown', secretsOf(callback));
    expect(err.transactionConsumed).toBe(false);
  });

  it('expired transaction: refused once the lifetime has passed (the store drops it)', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    now += LOGIN_TRANSACTION_LIFETIME;
    // The store cannot tell an expired id from an unknown one; the reason says so.
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'transaction_unknown', secretsOf(callback));
  });

  it('expired transaction: refused by the connection itself when a store returns it anyway', async () => {
    const lax = new MemoryTransactions({ honourExpiry: false });
    const connection = connect({}, { transactions: lax });
    const { started, callback } = await loginAtOp(connection);
    now += LOGIN_TRANSACTION_LIFETIME + 1;
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'transaction_expired', secretsOf(callback));
    expect(err.transactionConsumed).toBe(true);
    expect(lax.records.has(started.transactionId)).toBe(false);
  });

  it('wrong browser binding: refused, and the transaction is consumed so the right browser cannot reuse it either', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    const err = await refusal(connection.finishLogin(callback, { browserBinding: 'another-browser' }), 'browser_mismatch', secretsOf(callback));
    expect(err.transactionConsumed).toBe(true);
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'transaction_unknown');
  });

  it('empty browser binding at the callback: refused as a mismatch', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    await refusal(connection.finishLogin(callback, { browserBinding: '' }), 'browser_mismatch');
  });

  it('a transaction started at another connection: refused (state is not portable between IdPs)', async () => {
    const corpConnection = connect();
    const partner = connect({ id: 'partner', client_id: 'broker-post', client_secret: 'post-secret', client_auth: 'client_secret_post', redirect_uri: CALLBACK_POST });
    const { callback } = await loginAtOp(corpConnection);
    const err = await refusal(partner.finishLogin(callback, { browserBinding: BINDING }), 'connection_mismatch', secretsOf(callback));
    expect(err.transactionConsumed).toBe(true);
  });

  it('upstream error=access_denied: refused with the upstream code recorded', async () => {
    const connection = connect();
    op.next = { accountId: 'alice', deny: 'access_denied' };
    const { started, callback } = await loginAtOp(connection);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'upstream_error', [started.transactionId]);
    expect(err.upstreamError).toBe('access_denied');
    expect(err.transactionConsumed).toBe(true);
    expect(store.records.has(started.transactionId)).toBe(false);
  });

  it('upstream error: the pending request goes back with the refusal (the app is told), only for this browser\'s transaction', async () => {
    const connection = connect();
    op.next = { accountId: 'alice', deny: 'access_denied' };
    const { started, callback } = await loginAtOp(connection, { continuation: '{"client_id":["app"]}' });
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'upstream_error', [started.transactionId]);
    expect(err.continuation).toBe('{"client_id":["app"]}');
    // Another browser's callback carrying the same error learns nothing of the request.
    op.next = { accountId: 'alice', deny: 'access_denied' };
    const other = await loginAtOp(connection, { continuation: '{"client_id":["app"]}' });
    const stranger = await refusal(connection.finishLogin(other.callback, { browserBinding: 'another-browser' }), 'browser_mismatch');
    expect(stranger.continuation).toBeUndefined();
  });

  it('a refusal of the broker\'s own checks (nonce mismatch) keeps the pending request: the app is not told', async () => {
    const connection = connect();
    const { started, callback } = await loginAtOp(connection, { continuation: '{"client_id":["app"]}' });
    store.tamper(started.transactionId, { nonce: oidc.randomNonce() });
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'nonce_mismatch', secretsOf(callback));
    expect(err.continuation).toBeUndefined();
  });

  it('ID token nonce mismatch: refused', async () => {
    const connection = connect();
    const { started, callback } = await loginAtOp(connection);
    store.tamper(started.transactionId, { nonce: oidc.randomNonce() });
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'nonce_mismatch', secretsOf(callback));
    expect(err.transactionConsumed).toBe(true);
  });

  it('wrong PKCE verifier: the OP refuses the code and the broker records invalid_grant', async () => {
    const connection = connect();
    const { started, callback } = await loginAtOp(connection);
    store.tamper(started.transactionId, { codeVerifier: oidc.randomPKCECodeVerifier() });
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'token_request_failed', secretsOf(callback));
    expect(err.upstreamError).toBe('invalid_grant');
  });

  it('an auth_time older than the max_age asked for: refused even if the OP let it through', async () => {
    const connection = connect();
    op.next = { accountId: 'alice', loginTs: now - 3_600 };
    const { started, callback } = await loginAtOp(connection);
    // The OP was not asked for max_age, so it did not re-authenticate; the broker's record says 60 s.
    store.tamper(started.transactionId, { maxAge: 60 });
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'auth_time_too_old', secretsOf(callback));
  });

  it('an `iss` response parameter naming another issuer (mix-up): refused before the code is redeemed', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    callback.searchParams.set('iss', 'https://evil.example');
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'issuer_mismatch', secretsOf(callback));
    expect(err.detail).toBe('iss parameter names another issuer');
  });

  it('an `iss` response parameter missing where the OP advertises it: refused', async () => {
    const connection = connect();
    const { callback } = await loginAtOp(connection);
    callback.searchParams.delete('iss');
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'issuer_mismatch');
  });

  it('an ID token whose signature does not verify under the published key: refused', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const other = { ...(await exportJWK(publicKey)), kid: 'test-op-1', alg: 'RS256', use: 'sig' };
    const connection = connect({}, { fetch: rewriting('/jwks', () => ({ keys: [other] })) });
    const { callback } = await loginAtOp(connection);
    const err = await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'id_token_invalid', secretsOf(callback));
    expect(err.detail).toContain('signature');
  });

  it('an ID token signed by a key the OP does not publish: refused', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const other = { ...(await exportJWK(publicKey)), kid: 'someone-else', alg: 'RS256', use: 'sig' };
    const connection = connect({}, { fetch: rewriting('/jwks', () => ({ keys: [other] })) });
    const { callback } = await loginAtOp(connection);
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'id_token_invalid', secretsOf(callback));
  });

  it('a userinfo response about someone else: refused', async () => {
    const connection = connect({ use_userinfo: true }, { fetch: rewriting('/me', (b) => ({ ...b, sub: ACCOUNTS.bob!.sub })) });
    const { callback } = await loginAtOp(connection);
    await refusal(connection.finishLogin(callback, { browserBinding: BINDING }), 'userinfo_subject_mismatch', secretsOf(callback));
  });
});

describe('upstream OIDC login: with the SQLite login store', () => {
  it('keeps max_age across the store round trip, and the transaction single use', async () => {
    const db = openSqlite(':memory:');
    try {
      const connection = createOidcConnection(corp(), { transactions: createSqliteStore(db).logins, clock });
      const fresh = await loginAtOp(connection, { maxAge: 300 });
      await expect(connection.finishLogin(fresh.callback, { browserBinding: BINDING })).resolves.toMatchObject({ identity: { subject: ACCOUNTS.alice!.sub } });
      await refusal(connection.finishLogin(fresh.callback, { browserBinding: BINDING }), 'transaction_unknown');

      // An OP that vouches for an hour-old authentication although max_age=60 was asked.
      op.next = { accountId: 'alice', loginTs: now - 3_600 };
      const stale = await loginAtOp(connection, { maxAge: 60 });
      await refusal(connection.finishLogin(stale.callback, { browserBinding: BINDING }), 'auth_time_too_old', secretsOf(stale.callback));
    } finally {
      db.close();
    }
  });
});

describe('upstream OIDC login: refusals at the start', () => {
  it('issuer mismatch: a discovery document claiming another issuer is refused and nothing is stored', async () => {
    const connection = connect({}, { fetch: rewriting('/.well-known/openid-configuration', (b) => ({ ...b, issuer: `${op.issuer}/other` })) });
    await refusal(connection.startLogin({ browserBinding: BINDING }), 'issuer_mismatch');
    expect(store.records.size).toBe(0);
  });

  it('an OP that lists PKCE methods without S256 is refused', async () => {
    const connection = connect({}, { fetch: rewriting('/.well-known/openid-configuration', (b) => ({ ...b, code_challenge_methods_supported: ['plain'] })) });
    await refusal(connection.startLogin({ browserBinding: BINDING }), 'pkce_unsupported');
    expect(store.records.size).toBe(0);
  });

  it('an OP that does not answer in time: refused, and the failure is not cached', async () => {
    let hang = true;
    const slow: typeof fetch = (input, init) =>
      hang
        ? new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)))
        : fetch(input, init);
    const connection = connect({ timeout_seconds: 0.2 }, { fetch: slow });
    await refusal(connection.startLogin({ browserBinding: BINDING }), 'upstream_unavailable');
    hang = false;
    await expect(connection.startLogin({ browserBinding: BINDING })).resolves.toMatchObject({ transactionId: expect.any(String) });
  });

  it('an unreachable OP: refused as unavailable', async () => {
    const connection = connect({ issuer: 'http://127.0.0.1:9' });
    await refusal(connection.startLogin({ browserBinding: BINDING }), 'upstream_unavailable');
  });

  it('inputs the broker should never produce are refused before anything is fetched or stored', async () => {
    const connection = connect({ issuer: 'http://127.0.0.1:9' });
    await refusal(connection.startLogin({ browserBinding: '' }), 'invalid_request');
    await refusal(connection.startLogin({ browserBinding: BINDING, maxAge: -1 }), 'invalid_request');
    await refusal(connection.startLogin({ browserBinding: BINDING, loginHint: 'x'.repeat(300) }), 'invalid_request');
    await refusal(connection.startLogin({ browserBinding: BINDING, prompt: 'everything' as never }), 'invalid_request');
    expect(store.records.size).toBe(0);
  });
});
