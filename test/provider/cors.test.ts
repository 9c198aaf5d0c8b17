import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, type ConfigFiles } from '../../src/config/load.js';
import { browserOrigins } from '../../src/provider/cors.js';
import { exchangeParams, postToken, startTestBroker, TEST_POLICIES, testNamespaces, testSettings, type TestBroker } from '../helpers/broker.js';
import { problemsOf } from '../helpers/config.js';

/** The web app's redirect URIs sit on two origins; the SPA's on a third, with a port. */
const APP = 'https://app.test';
const APP_OTHER = 'https://login.app.test';
const SPA = 'http://localhost:5173';
const CONFIGURED = 'https://console.example';
const STRANGER = 'https://evil.test';

async function broker(): Promise<TestBroker> {
  const settings = await testSettings((s) => {
    const wiki = s.clients!.find((c) => c.client_id === 'wiki-agent')!;
    wiki.oidc = { redirect_uris: [`${APP}/cb`, `${APP_OTHER}/cb?x=1`], subject_namespace: 'todo-users' };
    const spa = s.clients!.find((c) => c.client_id === 'spa')!;
    spa.oidc = { redirect_uris: [`${SPA}/callback`], subject_namespace: 'todo-users' };
    s.cors_origins = [CONFIGURED];
  });
  return startTestBroker({ settings });
}

const ENDPOINTS: Array<{ path: string; method: 'GET' | 'POST' }> = [
  { path: '/.well-known/openid-configuration', method: 'GET' },
  { path: '/.well-known/oauth-authorization-server', method: 'GET' },
  { path: '/jwks', method: 'GET' },
  { path: '/token', method: 'POST' },
  { path: '/userinfo', method: 'GET' },
  { path: '/userinfo', method: 'POST' },
];

function preflight(b: TestBroker, path: string, origin: string, method: string) {
  return b.request(path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' } });
}

function simple(b: TestBroker, path: string, method: 'GET' | 'POST', origin: string) {
  return method === 'GET'
    ? b.request(path, { headers: { origin } })
    : b.request(path, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
}

describe('CORS for browser apps', () => {
  it('answers the preflight of every listed endpoint for a redirect-URI origin or a configured one', async () => {
    const b = await broker();
    for (const { path, method } of ENDPOINTS) {
      for (const origin of [APP, APP_OTHER, SPA, CONFIGURED]) {
        const res = await preflight(b, path, origin, method);
        expect(res.status, `${method} ${path} from ${origin}`).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain(method);
        expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(expect.arrayContaining(['authorization', 'content-type', 'dpop']));
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
        expect(res.headers.get('vary')).toContain('Origin');
      }
    }
  });

  it('sets Access-Control-Allow-Origin on the answers themselves, success and error alike', async () => {
    const b = await broker();
    for (const { path, method } of ENDPOINTS) {
      const res = await simple(b, path, method, SPA);
      expect(res.headers.get('access-control-allow-origin'), `${method} ${path}`).toBe(SPA);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toContain('Origin');
    }
    // A browser app reads the userinfo challenge.
    const challenge = await simple(b, '/userinfo', 'GET', SPA);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    // A browser DPoP client reads the nonce the token endpoint hands out (RFC 9449 §8).
    expect(challenge.headers.get('access-control-expose-headers')).toContain('DPoP-Nonce');

    const minted = await postToken(b, await exchangeParams(b), { origin: APP });
    expect(minted.status).toBe(200);
    expect(minted.headers.get('access-control-allow-origin')).toBe(APP);
    expect(minted.headers.get('cache-control')).toBe('no-store');
  });

  it('gives an unlisted origin no Access-Control-Allow-Origin, and never *', async () => {
    const b = await broker();
    for (const { path, method } of ENDPOINTS) {
      for (const origin of [STRANGER, 'null', `${APP}:8443`, 'http://app.test', `${APP}.evil.test`]) {
        const pre = await preflight(b, path, origin, method);
        expect(pre.headers.get('access-control-allow-origin'), `${method} ${path} from ${origin}`).toBeNull();
        const res = await simple(b, path, method, origin);
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
      }
      const none = await (method === 'GET' ? b.request(path) : b.request(path, { method: 'POST' }));
      expect(none.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('says Vary: Origin on what shared caches may store, and leaves no-store answers to server-side clients untouched', async () => {
    const b = await broker();
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
      expect((await b.request(path)).headers.get('vary'), path).toContain('Origin');
    }
    const minted = await postToken(b, await exchangeParams(b));
    expect(minted.status).toBe(200);
    expect(minted.headers.get('vary')).toBeNull();
    expect(minted.headers.get('access-control-expose-headers')).toBeNull();
    const userinfo = await b.request('/userinfo');
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers.get('vary')).toBeNull();
  });

  it('leaves the other endpoints alone', async () => {
    const b = await broker();
    for (const path of ['/authorize', '/logout', '/revoke', '/introspect', '/healthz']) {
      const res = await b.request(path, { headers: { origin: APP } });
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });
});

describe('browserOrigins', () => {
  it('takes the origins of http(s) redirect URIs and the configured list', () => {
    const origins = browserOrigins([{ redirect_uris: ['https://a.test/cb', 'https://a.test/other', 'http://localhost:3000/x', 'com.example.app:/cb'] }], ['https://b.test']);
    expect([...origins].sort()).toEqual(['http://localhost:3000', 'https://a.test', 'https://b.test']);
  });
});

describe('cors_origins configuration', () => {
  async function files(cors_origins: unknown): Promise<ConfigFiles> {
    const settings = await testSettings((s) => {
      (s as Record<string, unknown>).cors_origins = cors_origins;
    });
    return {
      broker: { path: 'broker.config.yaml', text: stringify(settings) },
      mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
      policies: [{ path: 'policies/test.cedar', text: TEST_POLICIES }],
    };
  }

  it('accepts origins, and defaults to none', async () => {
    expect(loadConfig(await files(['https://ok.test', 'http://localhost:8080'])).settings.cors_origins).toEqual(['https://ok.test', 'http://localhost:8080']);
    expect(loadConfig(await files(undefined)).settings.cors_origins).toEqual([]);
  });

  it.each(['*', 'https://x.test/', 'https://x.test/path', 'https://x.test?q', 'ftp://x.test', 'x.test', 'https://X.test', 'null', 'https://u:p@x.test'])('refuses %s: not exactly an origin', async (bad) => {
    expect(problemsOf(await files([bad]))).toContainEqual(expect.objectContaining({ file: 'broker.config.yaml', at: expect.stringContaining('cors_origins') }));
  });
});
