/**
 * `npm run demo:oidc`: log in to an app through a workforce OpenID Provider, receive an OIDC ID
 * token from the broker, exchange it for an ID-JAG and redeem that at the Todo AS. Each artifact
 * printed decoded.
 *
 *   app (openid-client) ──/authorize──▶ broker (:8787) ──/auth──▶ OpenID Provider (:9000, oidc-provider)
 *   OP login form ──code──▶ broker callback ──code──▶ app ──▶ ID token (sub from the app's namespace)
 *   app ── token exchange ──▶ broker ── ID-JAG ──▶ app ── jwt-bearer ──▶ Todo AS (:9100) ──▶ /api/todos
 *
 * "wiki" is an internal app that logs its users in at the broker, which federates the company's
 * OpenID Provider: the wiki gets a pairwise subject of its own (never the OP's identifier), and
 * the login's facts (auth_time, acr, amr) carried through. The broker is built in this process
 * from a configuration written below (broker.config.yaml is not used), on its own SQLite file
 * (data/demo-oidc.sqlite). The browser is scripted: fetch with a cookie jar, filling in the OP's
 * login form.
 *
 * Ports and database can be moved with DEMO_BROKER_PORT, DEMO_IDP_PORT, DEMO_TODO_PORT and
 * DEMO_DATABASE (the tests do, to run beside the other demos).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../src/config/schema.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';
import { createDestinationAs } from './destination-as/app.js';
import { decoded, demoApp, idJagToApi, short, show, todoDestination } from './demo-common.js';
import { DemoServers, freshDatabase } from './demo-servers.js';
import { Browser } from './demo-login.js';
import { createOidcIdp, demoAlice } from './oidc-idp.js';

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PORTS = { broker: port('DEMO_BROKER_PORT', 8787), idp: port('DEMO_IDP_PORT', 9000), todo: port('DEMO_TODO_PORT', 9100) };
const DATABASE = process.env.DEMO_DATABASE ?? 'data/demo-oidc.sqlite';
const BROKER = `http://localhost:${PORTS.broker}`;
const IDP = `http://localhost:${PORTS.idp}`;
const TODO = `http://localhost:${PORTS.todo}`;
const TODO_API = `${TODO}/api`;

/** The broker at the OP: a confidential client with one redirect URI, its callback for this connection. */
const CONNECTION = 'corp-sso';
const AT_OP = { client_id: 'xaa-broker', client_secret: 'demo-broker-secret-at-op', redirect_uri: `${BROKER}/login/oidc/${CONNECTION}/callback` };
/** The app at the broker (an OIDC client that also asks for ID-JAGs) and at the Todo AS. */
const APP = { client_id: 'wiki', client_secret: 'demo-wiki-secret', redirect_uri: 'http://localhost:3000/callback' };
const AT_TODO = { client_id: 'wiki-at-todo', client_secret: 'demo-wiki-todo-secret' };
const ALICE = demoAlice(['staff', 'todo-writers']);

const iso = (seconds: unknown) => (typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : undefined);

/** The broker's configuration, as code: the same schema broker.config.yaml and mappings/*.yaml follow. */
async function brokerConfig() {
  const settings: BrokerConfigInput = {
    issuer: BROKER,
    connections: [
      {
        type: 'oidc',
        id: CONNECTION,
        display_name: 'Corp SSO',
        issuer: IDP,
        client_id: AT_OP.client_id,
        client_secret: AT_OP.client_secret,
        client_auth: 'client_secret_basic',
        redirect_uri: AT_OP.redirect_uri,
        scopes: ['openid', 'email', 'profile', 'groups'],
        // The OP's ID tokens carry the login only; email, name and groups are at userinfo.
        use_userinfo: true,
        // The OP sends its session id only when asked.
        claims: { id_token: { sid: null } },
        allow_insecure_http_for_loopback: true,
        // What this OP is believed about (docs/configuration.md): verified corp.example addresses,
        // the todo-* groups, its own assurance levels and methods, and the person's name.
        authority: {
          tenant: 'corp',
          email: { domains: ['corp.example'] },
          groups: { allow_prefixes: ['todo-'] },
          acr: ['urn:corp:loa:pwd', 'urn:corp:loa:2fa'],
          amr: ['pwd', 'otp', 'mfa'],
          claims: ['name', 'given_name', 'family_name'],
        },
      },
    ],
    clients: [await demoApp({ app: APP, atTodo: AT_TODO, name: 'Team wiki', subjectNamespace: 'wiki-users' })],
    destinations: [todoDestination(TODO, TODO_API)],
  };
  const namespaces: NamespaceConfig[] = [
    // The wiki knows people by a pairwise identifier: not the OP's, not any other app's.
    { namespace: 'wiki-users', strategy: 'pairwise', sector: 'wiki.corp.example' },
    // The Todo AS knows people by its own account numbers.
    { namespace: 'todo-users', strategy: 'table', version: 1, rows: [{ upstream_issuer: IDP, upstream_subject: ALICE.sub, subject: 'todo-user-1001' }] },
  ];
  const policyFiles = readdirSync('policies').sort();
  return loadConfig({
    broker: { path: 'examples/demo-oidc.ts (in code)', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml (in code)`, text: stringify(ns) })),
    policies: policyFiles.filter((f) => f.endsWith('.cedar')).map((f) => ({ path: `policies/${f}`, text: readFileSync(join('policies', f), 'utf8') })),
    schema: { path: 'policies/xaa.cedarschema', text: readFileSync('policies/xaa.cedarschema', 'utf8') },
  });
}

function redirectOf(res: Response, from: URL): URL {
  const location = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !location) throw new Error(`expected a redirect from ${from.href}, got ${res.status}`);
  return new URL(location, from);
}

/** The OP's login form: where it posts and the names of its fields. */
function loginForm(html: string, base: URL): { action: URL; fields: string[] } {
  const action = /<form[^>]*method="post"[^>]*action="([^"]*)"/i.exec(html)?.[1];
  if (!action) throw new Error(`expected the OP's login form, got: ${html.slice(0, 300)}`);
  return { action: new URL(action.replace(/&amp;/g, '&'), base), fields: [...html.matchAll(/<input[^>]*name="([^"]*)"/g)].map((m) => m[1]!) };
}

async function main() {
  freshDatabase(DATABASE);
  const servers = new DemoServers();

  try {
    // The upstream OpenID Provider: oidc-provider, with a signing key generated just now. The
    // broker is registered there as a confidential client with its callback as redirect URI.
    const idp = await createOidcIdp({
      issuer: IDP,
      clients: [{ client_id: AT_OP.client_id, client_secret: AT_OP.client_secret, redirect_uris: [AT_OP.redirect_uri], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'] }],
      users: [ALICE],
    });
    await servers.listen(idp.listener, PORTS.idp);

    // The broker, configured in code: one OIDC connection to the OP.
    const config = await brokerConfig();
    const broker = await createBroker({ config, store: createSqliteStore(openSqlite(DATABASE)), cedar });
    await servers.serve(broker.app.fetch, PORTS.broker);

    // The Todo AS trusts the broker's keys; it knows alice as todo-user-1001.
    const todoAs = await createDestinationAs({
      issuer: TODO,
      brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks`, todos: { 'todo-user-1001': [{ id: '1', title: 'Ship the OIDC-upstream demo', done: false }, { id: '2', title: 'Write the wiki page about it', done: false }] } }],
      clients: [AT_TODO],
    });
    await servers.serve(todoAs.fetch, PORTS.todo);
    console.log(`OpenID Provider ${IDP} (oidc-provider), broker ${BROKER}, Todo AS ${TODO}`);

    const discovery = (await (await fetch(`${IDP}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    show('0. Setup', {
      'OP issuer': discovery.issuer,
      'OP endpoints': { authorization: discovery.authorization_endpoint, token: discovery.token_endpoint, userinfo: discovery.userinfo_endpoint, jwks: discovery.jwks_uri },
      'the broker, registered at the OP': { client_id: AT_OP.client_id, redirect_uri: AT_OP.redirect_uri, token_endpoint_auth_method: 'client_secret_basic' },
      'an account at the OP': { username: ALICE.username, sub: ALICE.sub, groups: ALICE.groups, 'second factor': 'a one-time code' },
    });

    // 1. The app discovers the broker and sends the browser to /authorize (PKCE, state, nonce).
    const app = await client.discovery(new URL(BROKER), APP.client_id, undefined, client.ClientSecretPost(APP.client_secret), {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorize = client.buildAuthorizationUrl(app, {
      redirect_uri: APP.redirect_uri,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    show('1. The app sends the browser to the broker (openid-client)', `GET ${authorize.origin}${authorize.pathname}\n${JSON.stringify(Object.fromEntries(authorize.searchParams), null, 2)}`);

    // 2. The broker starts a login at the OP: its own authorization request (PKCE, state, nonce).
    const browser = new Browser();
    const toOp = redirectOf(await browser.go(authorize), authorize);
    if (toOp.origin !== IDP) throw new Error(`expected a redirect to the OP, got ${toOp.href}`);
    const upstreamRequest = Object.fromEntries(toOp.searchParams);
    show('2. The broker redirects to the OP with its own authorization request', {
      to: `${toOp.origin}${toOp.pathname}`,
      ...upstreamRequest,
      state: `${short(upstreamRequest.state)} (the broker's login transaction)`,
      nonce: short(upstreamRequest.nonce),
      code_challenge: short(upstreamRequest.code_challenge),
      claims: upstreamRequest.claims ? JSON.parse(upstreamRequest.claims) : undefined,
    });

    // 3. The OP has no session for this browser: it shows its login page; the browser fills it in.
    const atOpHops: string[] = [];
    const atOp = await browser.follow(toOp, () => false, atOpHops);
    if (atOp.res?.status !== 200) throw new Error(`the OP did not show its login page: ${atOp.res?.status} ${await atOp.res?.text()}`);
    const page = loginForm(await atOp.res.text(), atOp.url);
    const credentials = { username: ALICE.username, password: ALICE.password, otp: ALICE.otp };
    show(`3. The OP's login page (${atOp.url.pathname}); the browser posts the form`, {
      hops: atOpHops,
      form: { action: page.action.pathname, fields: page.fields },
      posted: { ...credentials, password: '•'.repeat(8) },
    });
    const posted = await browser.go(page.action, credentials);
    const fromOpHops: string[] = [];
    const fromOp = await browser.follow(redirectOf(posted, page.action), (u) => u.href.startsWith(AT_OP.redirect_uri), fromOpHops);
    if (!fromOp.url.href.startsWith(AT_OP.redirect_uri)) throw new Error(`the OP did not return to the broker: ${fromOp.res?.status} ${await fromOp.res?.text()}`);
    const login = idp.logins.at(-1)!;
    show(`4. The OP signs alice in (acr ${login.acr}) and returns the browser to the broker's callback`, {
      hops: [`POST ${page.action.origin}${page.action.pathname} → ${posted.status}`, ...fromOpHops],
      to: `${fromOp.url.origin}${fromOp.url.pathname}`,
      code: short(fromOp.url.searchParams.get('code'), 12),
      state: short(fromOp.url.searchParams.get('state')),
      iss: fromOp.url.searchParams.get('iss'),
    });

    // 5. The broker redeems the OP's code (PKCE, client_secret_basic), verifies the ID token,
    //    fetches userinfo, starts its own session and sends the browser back to the app.
    const back = await browser.go(fromOp.url);
    const callback = redirectOf(back, fromOp.url);
    if (!callback.href.startsWith(APP.redirect_uri)) throw new Error(`the broker did not return to the app: ${callback.href} ${await back.text()}`);
    const upstreamIdToken = String(idp.tokenResponses.at(-1)?.id_token);
    const up = decodeJwt(upstreamIdToken);
    show("5. What the broker received from the OP's token endpoint: the upstream ID token", {
      header: decodeProtectedHeader(upstreamIdToken),
      payload: { ...up, nonce: `${short(up.nonce as string)} (the broker's, checked)` },
      note: 'no email, name or groups: this OP serves them at userinfo (use_userinfo: true)',
    });
    show('   ... and its userinfo', idp.userinfoResponses.at(-1));
    show(`6. The broker returns the browser to the app (${back.status})`, {
      redirect_uri: `${callback.origin}${callback.pathname}`,
      code: short(callback.searchParams.get('code'), 12),
      state: callback.searchParams.get('state'),
      iss: callback.searchParams.get('iss'),
    });

    // 7. The app redeems the code: the broker's ID token, sub from the wiki's namespace.
    const tokens = await client.authorizationCodeGrant(app, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const idToken = tokens.id_token!;
    const claims = tokens.claims()!;
    const session = browser.cookie(BROKER, 'xaa-session');
    show("7. The broker's ID token for the wiki: a pairwise sub; auth_time, acr and amr from the OP's login", decoded(idToken));
    show('   Reading it', {
      sub: `${claims.sub} (wiki-users, pairwise: not the OP's ${ALICE.sub})`,
      sid: `${claims.sid} (${session && createHash('sha256').update(session).digest('base64url') === claims.sid ? "= SHA-256 of the broker's session cookie" : "the broker's session"}, not the OP's ${short(up.sid as string)})`,
      auth_time: `${claims.auth_time} (${iso(claims.auth_time)}, ${claims.auth_time === up.auth_time ? "the OP's" : 'the broker login'})`,
      amr: claims.amr,
      acr: claims.acr,
    });
    const userinfo = await client.fetchUserInfo(app, tokens.access_token, claims.sub);
    show('   /userinfo at the broker', userinfo);

    await idJagToApi({ app, idToken, todo: TODO, todoApi: TODO_API, atTodo: AT_TODO, firstStep: 8, exchangeLabel: 'Token exchange response from the broker (client_secret_post)', idJagNote: 'The ID-JAG: alice is "todo-user-1001" at the Todo AS; todos.write granted (group todo-writers, amr mfa)' });

    show('   The broker audit log (newest last)', (await broker.services.store.audit.recent(3)).reverse());
  } finally {
    servers.close();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (err && typeof err === 'object' && 'code' in err && err.code === 'EADDRINUSE') {
    console.error(`a port (${PORTS.broker}, ${PORTS.idp} or ${PORTS.todo}) is in use: stop \`npm start\` or the other demo first`);
  }
  process.exit(1);
});
