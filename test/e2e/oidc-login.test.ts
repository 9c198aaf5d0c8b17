import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { hashSecret } from '../../src/clients/secrets.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { sha256Base64url } from '../../src/provider/crypto.js';
import { startTestOp, type TestOp } from '../upstream/oidc/test-op.js';
import { Browser, buildBroker, listen, type E2eBroker, type Listener } from './helpers.js';

/**
 * The broker between real libraries on both sides, over real loopback HTTP:
 *
 *   openid-client (the app) ──OIDC──▶ broker ──OIDC──▶ oidc-provider (the workforce IdP)
 *   app ── token exchange ──▶ broker ── ID-JAG ──▶ app ── jwt-bearer ──▶ Todo AS ──▶ /api/todos
 */

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

const WIKI = { client_id: 'wiki', secret: 'wiki-secret-e2e', redirect_uri: 'http://wiki.localhost/callback' };
const TODO_WEB = { client_id: 'todo-web', secret: 'todo-web-secret-e2e', redirect_uri: 'http://todo-web.localhost/callback' };
const WIKI_AT_TODO = { client_id: 'wiki-at-todo', client_secret: 'wiki-at-todo-secret' };
const OP_CLIENT = { client_id: 'xaa-broker', client_secret: 'broker-secret-at-op' };
/** The login at the upstream OP: a step-up with a second factor, a little while ago. */
const LOGIN = { acr: 'urn:corp:loa:2fa', amr: ['pwd', 'otp'], loginTs: Math.floor(Date.now() / 1000) - 42 };

let op: TestOp;
let brokerHttp: Listener;
let todoHttp: Listener;
let broker: E2eBroker;
const browser = new Browser();
let rp: client.Configuration;
let brokerJwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  brokerHttp = await listen();
  todoHttp = await listen();
  const BROKER = brokerHttp.origin;
  const TODO = todoHttp.origin;
  const callback = `${BROKER}/login/oidc/corp/callback`;
  op = await startTestOp([{ ...OP_CLIENT, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [callback] }]);
  op.next = { accountId: 'alice', ...LOGIN };

  const settings: BrokerConfigInput = {
    issuer: BROKER,
    connections: [
      {
        type: 'oidc',
        id: 'corp',
        display_name: 'Corp SSO',
        issuer: op.issuer,
        ...OP_CLIENT,
        redirect_uri: callback,
        allow_insecure_http_for_loopback: true,
        use_userinfo: true,
        claims: { id_token: { sid: null } },
        authority: {
          email: { domains: ['corp.example'] },
          groups: { allow_prefixes: ['todo-'] },
          acr: ['urn:corp:loa:pwd', 'urn:corp:loa:2fa'],
          amr: ['pwd', 'otp', 'mfa'],
          claims: ['name', 'given_name', 'family_name'],
        },
      },
    ],
    clients: [
      {
        client_id: WIKI.client_id,
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(WIKI.secret, 10_000),
        destinations: { todo: { client_id: WIKI_AT_TODO.client_id, scopes: ['todos.read', 'todos.write'], default_scopes: ['todos.read'] } },
        oidc: {
          redirect_uris: [WIKI.redirect_uri],
          grant_types: ['authorization_code', 'refresh_token'],
          subject_namespace: 'wiki-users',
          scopes: ['openid', 'email', 'profile', 'offline_access'],
        },
      },
      {
        // The Todo app's own web front end: an RP in the Todo AS's namespace.
        client_id: TODO_WEB.client_id,
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret_hash: await hashSecret(TODO_WEB.secret, 10_000),
        oidc: { redirect_uris: [TODO_WEB.redirect_uri], subject_namespace: 'todo-users', scopes: ['openid', 'email'] },
      },
    ],
    destinations: [
      {
        id: 'todo',
        issuer: TODO,
        resources: [`${TODO}/api`],
        namespace: 'todo-users',
        scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] },
      },
    ],
  };
  const namespaces: NamespaceConfig[] = [
    { namespace: 'wiki-users', strategy: 'pairwise', sector: 'wiki.example' },
    { namespace: 'todo-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: op.issuer, upstream_subject: 'alice-0001', subject: 'todo-user-1001' }] },
  ];
  broker = await buildBroker(settings, namespaces);
  brokerHttp.serve(broker.app.fetch);

  const todoAs = await createDestinationAs({
    issuer: TODO,
    brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks`, todos: { 'todo-user-1001': [{ id: '1', title: 'Review the e2e suite', done: false }] } }],
    clients: [WIKI_AT_TODO],
  });
  todoHttp.serve(todoAs.fetch);

  // The app discovers the broker like any OpenID Provider, and checks ID token signatures itself.
  rp = await client.discovery(new URL(BROKER), WIKI.client_id, undefined, client.ClientSecretPost(WIKI.secret), {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
  brokerJwks = createRemoteJWKSet(new URL(`${BROKER}/jwks`));
});

afterAll(async () => {
  await Promise.all([op?.close(), brokerHttp?.close(), todoHttp?.close()]);
});

/** An authorization request with PKCE, state and nonce; the browser follows it to the app's redirect_uri. */
async function logIn(config: client.Configuration, app: { redirect_uri: string }, scope: string) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: app.redirect_uri,
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const from = browser.hops.length;
  const callback = await browser.navigate(url, (u) => u.href.startsWith(app.redirect_uri));
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { tokens, callback, nonce, hops: browser.hops.slice(from) };
}

describe('OIDC upstream (oidc-provider) → broker → openid-client', () => {
  let login: Awaited<ReturnType<typeof logIn>>;
  let idToken: string;
  let idJag: string;
  let rotated: string;

  it('logs in through the upstream OP and issues the app an ID token from the broker', async () => {
    login = await logIn(rp, WIKI, 'openid email profile offline_access');
    const BROKER = brokerHttp.origin;

    // The hops a browser makes: broker → OP (login, consent) → broker callback → app.
    const visited = login.hops.map((h) => `${h.method} ${h.url.origin === BROKER ? 'broker' : h.url.origin === op.issuer ? 'op' : h.url.origin}${h.url.pathname}`);
    expect(visited[0]).toBe('GET broker/authorize');
    expect(visited).toContain('GET broker/login/oidc/corp/callback');
    expect(visited.some((v) => v.startsWith('GET op/'))).toBe(true);
    expect(login.callback.searchParams.get('iss')).toBe(BROKER);
    expect(op.lastParams).toMatchObject({ client_id: OP_CLIENT.client_id, code_challenge_method: 'S256', redirect_uri: `${BROKER}/login/oidc/corp/callback` });

    const claims = login.tokens.claims()!;
    idToken = login.tokens.id_token!;
    expect(login.tokens.token_type).toBe('bearer');
    expect(login.tokens.scope?.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);

    // Verified again here with jose against the broker's published keys.
    const { payload, protectedHeader } = await jwtVerify(idToken, brokerJwks, { issuer: BROKER, audience: WIKI.client_id, typ: 'JWT' });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toEqual(claims);

    // sub comes from the app's namespace (pairwise here), not from the upstream.
    const principalId = await principalIdOf(op.issuer, 'alice-0001');
    const binding = await broker.services.store.mappings.bindingOf('wiki-users', principalId);
    expect(binding).toMatchObject({ namespace: 'wiki-users', source: 'pairwise' });
    expect(claims.sub).toBe(binding!.subject);
    expect(claims.sub).not.toBe('alice-0001');

    // sid is the SHA-256 of the broker's session cookie in this browser.
    const sessionCookie = browser.cookies(BROKER).get('xaa-session');
    expect(sessionCookie).toBeDefined();
    expect(claims.sid).toBe(await sha256Base64url(sessionCookie!));

    // The login facts come from the upstream's ID token.
    expect(claims).toMatchObject({
      iss: BROKER,
      aud: WIKI.client_id,
      nonce: login.nonce,
      auth_time: LOGIN.loginTs,
      acr: LOGIN.acr,
      amr: LOGIN.amr,
      email: 'alice@corp.example',
      name: 'Alice Example',
    });
    expect(typeof claims.at_hash).toBe('string');
  });

  it('answers userinfo for the access token', async () => {
    const sub = login.tokens.claims()!.sub;
    const userinfo = await client.fetchUserInfo(rp, login.tokens.access_token, sub);
    expect(userinfo).toEqual({ sub, email: 'alice@corp.example', email_verified: true, name: 'Alice Example' });
  });

  it('rotates the refresh token and keeps the login facts', async () => {
    const first = login.tokens.claims()!;
    const refreshed = await client.refreshTokenGrant(rp, login.tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(login.tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(login.tokens.access_token);
    const claims = refreshed.claims()!;
    expect(claims).toMatchObject({ iss: first.iss, sub: first.sub, sid: first.sid, auth_time: first.auth_time, acr: first.acr, amr: first.amr });
    expect(claims.nonce).toBeUndefined();
    await expect(client.fetchUserInfo(rp, refreshed.access_token, first.sub)).resolves.toMatchObject({ sub: first.sub });
    // The original is kept for the reuse test below.
    rotated = refreshed.refresh_token!;
  });

  it('exchanges the broker ID token for an ID-JAG (client_secret_post) and redeems it at the Todo AS', async () => {
    const BROKER = brokerHttp.origin;
    const TODO = todoHttp.origin;
    const exchanged = await client.genericGrantRequest(rp, TOKEN_EXCHANGE, {
      requested_token_type: ID_JAG,
      subject_token: idToken,
      subject_token_type: ID_TOKEN,
      audience: TODO,
      resource: `${TODO}/api`,
      scope: 'todos.read',
    });
    expect(exchanged).toMatchObject({ issued_token_type: ID_JAG, token_type: 'n_a', scope: 'todos.read' });
    idJag = exchanged.access_token;
    const { payload, protectedHeader } = await jwtVerify(idJag, brokerJwks, { issuer: BROKER, audience: TODO, typ: 'oauth-id-jag+jwt' });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({
      sub: 'todo-user-1001',
      client_id: WIKI_AT_TODO.client_id,
      resource: `${TODO}/api`,
      scope: 'todos.read',
      auth_time: LOGIN.loginTs,
      acr: LOGIN.acr,
      amr: LOGIN.amr,
      email: 'alice@corp.example',
    });

    // The app, now a client of the Todo AS, redeems it with RFC 7523 jwt-bearer (openid-client again).
    const todo = await client.discovery(new URL(TODO), WIKI_AT_TODO.client_id, undefined, client.ClientSecretBasic(WIKI_AT_TODO.client_secret), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const grant = await client.genericGrantRequest(todo, JWT_BEARER, { assertion: idJag });
    expect(grant).toMatchObject({ token_type: 'bearer', scope: 'todos.read' });
    expect(decodeJwt(grant.access_token)).toMatchObject({ iss: TODO, sub: 'todo-user-1001', client_id: WIKI_AT_TODO.client_id, acr: LOGIN.acr, amr: LOGIN.amr });

    const api = await client.fetchProtectedResource(todo, grant.access_token, new URL(`${TODO}/api/todos`), 'GET');
    expect(api.status).toBe(200);
    expect(await api.json()).toEqual({ sub: 'todo-user-1001', todos: [{ id: '1', title: 'Review the e2e suite', done: false }] });

    // The ID-JAG is single use at the destination.
    await expect(client.genericGrantRequest(todo, JWT_BEARER, { assertion: idJag })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it("names the person in the ID-JAG exactly as in an ID token for an app in the destination's namespace", async () => {
    const todoWeb = await client.discovery(new URL(brokerHttp.origin), TODO_WEB.client_id, undefined, client.ClientSecretBasic(TODO_WEB.secret), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
    const second = await logIn(todoWeb, TODO_WEB, 'openid email');
    // Single sign-on: the broker session answers, no trip to the upstream OP.
    expect(second.hops.every((h) => h.url.origin === brokerHttp.origin)).toBe(true);
    const claims = second.tokens.claims()!;
    expect(claims.sub).toBe(decodeJwt(idJag).sub);
    expect(claims.sub).toBe('todo-user-1001');
    // Same person, same session, another namespace than the wiki's.
    expect(claims.sid).toBe(login.tokens.claims()!.sid);
    expect(claims.sub).not.toBe(login.tokens.claims()!.sub);
  });

  it('refuses a rotated refresh token presented again; moments after the rotation the family survives (the reuse grace window)', async () => {
    await expect(client.refreshTokenGrant(rp, login.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // A replay after REFRESH_TOKEN_REUSE_GRACE revokes the family: test/provider/races.test.ts.
    expect((await client.refreshTokenGrant(rp, rotated)).refresh_token).toBeDefined();
  });
});
