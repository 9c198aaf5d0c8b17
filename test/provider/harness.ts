import type Database from 'better-sqlite3';
import { Hono } from 'hono';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import { tokenExchangeGrant } from '../../src/exchange/token-exchange.js';
import { tokenEndpoint } from '../../src/server/token-endpoint.js';
import { mountProvider, providerGrants, type ProviderClient, type ProviderDeps } from '../../src/provider/index.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import type { UpstreamConnection } from '../../src/upstream/registry.js';
import type { BrokerStore } from '../../src/store/ports.js';
import { BROKER, SECRET, BASIC_SECRET, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';
import { FakeOidcUpstream, FakeRegistry } from './fake-upstream.js';
import { authoritySchema } from '../../src/trust/authority.js';
import { UpstreamTrust } from '../../src/trust/registry.js';

/** What the fake upstreams are believed about (as the tests' corporate IdP). */
export const PROVIDER_TEST_AUTHORITY = authoritySchema.parse({
  email: { domains: ['example.com'] },
  groups: { allow: ['staff', 'todo-writers'] },
  acr: ['urn:example:mfa'],
  amr: ['pwd', 'mfa', 'otp'],
  claims: ['name', 'given_name', 'family_name'],
});

export { BROKER, SECRET, BASIC_SECRET };
export const APP_CALLBACK = 'https://app.test/cb';
export const APP_LOGOUT = 'https://app.test/bye';
export const SPA_CALLBACK = 'https://spa.test/cb';
export const CONSENT_CALLBACK = 'https://consent.test/cb';
export const ANALYTICS = 'https://analytics.test';
export const ANALYTICS_API = 'https://api.analytics.test/';

/** A confidential app (client_secret_post) whose users are pairwise-named. */
export const webApp: ProviderClient = {
  client_id: 'wiki-agent',
  name: 'Wiki',
  redirect_uris: [APP_CALLBACK, 'https://app.test/other'],
  post_logout_redirect_uris: [APP_LOGOUT],
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['authorization_code', 'refresh_token'],
  subject_namespace: 'analytics-users',
  require_consent: false,
  scopes: ['openid', 'email', 'profile', 'offline_access'],
};

/** A public app (PKCE) named in the Todo table namespace. */
export const spa: ProviderClient = {
  client_id: 'spa',
  redirect_uris: [SPA_CALLBACK],
  post_logout_redirect_uris: [],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  subject_namespace: 'todo-users',
  require_consent: false,
  scopes: ['openid', 'email', 'offline_access'],
};

/** A confidential app (client_secret_basic) that requires consent, named by email. */
export const consentApp: ProviderClient = {
  client_id: 'basic-agent',
  name: 'Consent <App>',
  redirect_uris: [CONSENT_CALLBACK],
  post_logout_redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  subject_namespace: 'crm-users',
  require_consent: true,
  scopes: ['openid', 'email', 'profile'],
};

/** A cookie jar for one browser: keeps what the broker sets, sends it back. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly provider: ProviderBroker) {}

  private absorb(res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  async get(pathOrUrl: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.provider.fetch(pathOrUrl, { headers: { ...this.cookieHeader(), ...headers } });
    this.absorb(res);
    return res;
  }

  async post(pathOrUrl: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.provider.fetch(pathOrUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader(), ...headers },
      body: new URLSearchParams(form).toString(),
    });
    this.absorb(res);
    return res;
  }
}

export interface ProviderBroker extends TestBroker {
  issuer: string;
  providerApp: Hono;
  deps: ProviderDeps;
  oidc: FakeOidcUpstream;
  registry: FakeRegistry;
  /** A request to the provider app; paths are relative to the issuer. */
  fetch(pathOrUrl: string, init?: RequestInit): Promise<Response>;
  browser(): Browser;
  token(params: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

/**
 * The broker as the lead will wire it: the token endpoint with the provider's grants beside the
 * token exchange, the provider's routes, then the rest of the broker app.
 */
export async function startProvider(
  options: {
    issuer?: string;
    clients?: ProviderClient[];
    connections?: (clock: () => number) => UpstreamConnection[];
    namespaces?: NamespaceConfig[];
    /** Further changes to the broker's settings (after the harness's own). */
    settings?: (s: BrokerConfigInput) => void;
    /** An open database to share with another broker. */
    db?: Database.Database;
    /** Another store instead of a fresh in-memory SQLite one (two brokers on one PostgreSQL database). */
    store?: BrokerStore;
  } = {},
): Promise<ProviderBroker> {
  const issuer = options.issuer ?? BROKER;
  const settings = await testSettings((s) => {
    s.issuer = issuer;
    s.destinations!.push({
      id: 'analytics',
      issuer: ANALYTICS,
      resources: [ANALYTICS_API],
      namespace: 'analytics-users',
      scope_translation: { 'stats.read': ['stats.read'] },
    });
    const wiki = s.clients!.find((c) => c.client_id === 'wiki-agent')!;
    wiki.destinations!.analytics = { client_id: 'wiki-at-analytics', scopes: ['stats.read'] };
    options.settings?.(s);
  });
  const b = await startTestBroker({ settings, ...(options.namespaces ? { namespaces: options.namespaces } : {}), ...(options.db ? { db: options.db } : {}), ...(options.store ? { store: options.store } : {}) });
  // The fake connections are not in the settings: every one of them is believed as the tests' corporate IdP is.
  b.services.trust = new (class extends UpstreamTrust {
    override ofConnection() {
      return PROVIDER_TEST_AUTHORITY;
    }
  })(new Map(), new Map());
  const clock = () => b.clock.now;
  const oidc = new FakeOidcUpstream('corp', clock);
  const registry = new FakeRegistry(options.connections ? options.connections(clock) : [oidc]);
  const clients = options.clients ?? [webApp, spa, consentApp];
  const deps: ProviderDeps = { services: b.services, upstreams: registry, clock, clients: new Map(clients.map((c) => [c.client_id, c])) };

  const app = new Hono();
  app.onError((err, c) => c.json({ error: 'server_error', message: err.message }, 500));
  const token = tokenEndpoint([tokenExchangeGrant, ...providerGrants(deps)], b.services, clock);
  app.post('/token', (c) => token(c.req.raw));
  mountProvider(app, deps);
  app.route('/', b.app);

  const base = issuer.replace(/\/$/, '');
  const fetch = async (pathOrUrl: string, init?: RequestInit) => app.request(pathOrUrl.startsWith('http') ? pathOrUrl : `${base}${pathOrUrl}`, init);
  const provider: ProviderBroker = {
    ...b,
    issuer,
    providerApp: app,
    deps,
    oidc,
    registry,
    fetch,
    browser: () => new Browser(provider),
    token: (params, headers = {}) => fetch('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params).toString() }),
  };
  return provider;
}

export function authorizePath(params: Record<string, string | undefined>): string {
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return `/authorize?${new URLSearchParams(defined)}`;
}

/** A valid request for the confidential web app; override or remove (undefined) any parameter. */
export function webAppRequest(overrides: Record<string, string | undefined> = {}): string {
  return authorizePath({ client_id: webApp.client_id, redirect_uri: APP_CALLBACK, response_type: 'code', scope: 'openid email offline_access', state: 'state-1', nonce: 'nonce-1', ...overrides });
}

export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = `${crypto.randomUUID()}-${crypto.randomUUID()}`;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const challenge = Buffer.from(digest).toString('base64url');
  return { verifier, challenge };
}

/** The redirect's target and its query. */
export function location(res: Response): URL {
  expect([302, 303]).toContain(res.status);
  return new URL(res.headers.get('location')!);
}

/** Follows /authorize → upstream → callback; returns the callback's response. */
export async function loginThroughUpstream(browser: Browser, authorize: string, callbackQuery: Record<string, string> = {}): Promise<Response> {
  const start = await browser.get(authorize);
  const upstream = location(start);
  expect(upstream.origin + upstream.pathname).toBe('https://idp.test/authorize');
  const state = upstream.searchParams.get('state')!;
  return browser.get(`/login/oidc/corp/callback?${new URLSearchParams({ state, code: 'upstream-code', ...callbackQuery })}`);
}

/** Logs in and returns the authorization response's parameters (code, state, iss). */
export async function codeFor(browser: Browser, authorize: string): Promise<URLSearchParams> {
  const res = await loginThroughUpstream(browser, authorize);
  return location(res).searchParams;
}

export function redeem(b: ProviderBroker, code: string, extra: Record<string, string> = {}) {
  return b.token({ grant_type: 'authorization_code', code, redirect_uri: APP_CALLBACK, client_id: webApp.client_id, client_secret: SECRET, ...extra });
}

/** The web app's tokens after a login through the upstream (code redeemed with its secret). */
export async function signedIn(b: ProviderBroker, scope = 'openid email offline_access'): Promise<Record<string, string>> {
  const params = await codeFor(b.browser(), webAppRequest({ scope }));
  return (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
}

/** A form POST to one of the provider's endpoints. */
export function postForm(b: ProviderBroker, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return b.fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params).toString() });
}

export async function verifyBrokerJwt(b: ProviderBroker, token: string, audience: string, typ: string): Promise<JWTPayload> {
  const jwks = createLocalJWKSet(b.services.keys.jwks() as Parameters<typeof createLocalJWKSet>[0]);
  const { payload } = await jwtVerify(token, jwks, { issuer: b.issuer, audience, typ, currentDate: new Date(b.clock.now * 1000) });
  expect(decodeProtectedHeader(token).alg).toBe('ES256');
  return payload;
}

export { decodeJwt };

/** Every table a refusal must leave untouched, and the audit log's length. */
export function providerState(b: ProviderBroker) {
  const tables: Record<string, unknown[]> = {};
  for (const t of ['login_transactions', 'principals', 'sessions', 'authorization_codes', 'refresh_tokens', 'subject_bindings', 'mapping_table', 'replay', 'signing_keys']) {
    tables[t] = b.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
  }
  const auditCount = b.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
  return { tables, auditCount, upstreamTransactions: b.oidc.transactions.size };
}

export function lastAudit(b: ProviderBroker): Record<string, unknown> {
  const row = b.db.prepare('SELECT record FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get() as string;
  return JSON.parse(row) as Record<string, unknown>;
}

/** The last audit record once refusal summaries still counting in memory are written (as at shutdown). */
export async function lastRefusal(b: ProviderBroker): Promise<Record<string, unknown>> {
  await b.maintenance.flush({ final: true });
  return lastAudit(b);
}

/** Runs `act` and checks that it stored nothing but exactly one audit record, a refusal with `reason`. */
export async function refusedStatelessly<T>(b: ProviderBroker, reason: string, act: () => Promise<T>): Promise<T> {
  const before = providerState(b);
  const result = await act();
  const after = providerState(b);
  expect(after.tables).toEqual(before.tables);
  expect(after.upstreamTransactions).toBe(before.upstreamTransactions);
  expect(after.auditCount).toBe(before.auditCount + 1);
  expect(lastAudit(b)).toMatchObject({ event: 'refusal', reason });
  return result;
}

/**
 * Runs `act`, a request that established no user and no client, and checks that it stored
 * nothing, not even an audit record of its own: it was counted into the refusal summary, written
 * as one `refusal_summary` with `reason` and a count of 1 when the interval is flushed.
 */
export async function refusedAnonymously<T>(b: ProviderBroker, reason: string, act: () => Promise<T>): Promise<T> {
  const before = providerState(b);
  const result = await act();
  const after = providerState(b);
  expect(after.tables).toEqual(before.tables);
  expect(after.upstreamTransactions).toBe(before.upstreamTransactions);
  expect(after.auditCount).toBe(before.auditCount);
  expect(await lastRefusal(b)).toMatchObject({ event: 'refusal_summary', reason, count: 1 });
  expect(providerState(b).auditCount).toBe(before.auditCount + 1);
  return result;
}
