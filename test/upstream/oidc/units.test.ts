import { describe, expect, it } from 'vitest';
import { callbackAtRedirectUri, checkIssParameter, readCallbackParams } from '../../../src/upstream/oidc/callback.js';
import { classifyOidcError } from '../../../src/upstream/oidc/classify.js';
import { cachedDiscovery } from '../../../src/upstream/oidc/discovery-cache.js';
import { OidcLoginError } from '../../../src/upstream/oidc/errors.js';
import { mergeClaims, toUpstreamIdentity } from '../../../src/upstream/oidc/identity.js';
import { oidcConnectionSchema, type OidcConnectionInput } from '../../../src/config/oidc-connection.js';

const base: OidcConnectionInput = {
  id: 'corp',
  issuer: 'https://idp.corp.example',
  client_id: 'broker',
  client_secret: 's3cret',
  redirect_uri: 'https://broker.example/upstream/corp/callback',
};

describe('oidcConnectionSchema', () => {
  it('fills the defaults', () => {
    expect(oidcConnectionSchema.parse(base)).toMatchObject({
      client_auth: 'client_secret_basic',
      scopes: ['openid', 'email', 'profile'],
      use_userinfo: false,
      email_domains: [],
      default: false,
      allow_insecure_http_for_loopback: false,
      timeout_seconds: 5,
    });
  });

  it('lower-cases email domains and refuses what is not a domain', () => {
    expect(oidcConnectionSchema.parse({ ...base, email_domains: ['Corp.Example'] }).email_domains).toEqual(['corp.example']);
    expect(oidcConnectionSchema.safeParse({ ...base, email_domains: ['@corp.example'] }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, email_domains: ['localhost'] }).success).toBe(false);
  });

  it('requires https, except on loopback with the flag set', () => {
    expect(oidcConnectionSchema.safeParse({ ...base, issuer: 'http://idp.corp.example' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, issuer: 'http://127.0.0.1:4000' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, issuer: 'http://127.0.0.1:4000', allow_insecure_http_for_loopback: true }).success).toBe(true);
    expect(oidcConnectionSchema.safeParse({ ...base, issuer: 'http://idp.corp.example', allow_insecure_http_for_loopback: true }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, redirect_uri: 'http://localhost:8080/cb' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, redirect_uri: 'http://localhost:8080/cb', allow_insecure_http_for_loopback: true }).success).toBe(true);
  });

  it('ties the client secret to the authentication method', () => {
    expect(oidcConnectionSchema.safeParse({ ...base, client_secret: undefined }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, client_auth: 'none' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, client_auth: 'none', client_secret: undefined }).success).toBe(true);
    expect(oidcConnectionSchema.safeParse({ ...base, client_auth: 'client_secret_post' }).success).toBe(true);
    expect(oidcConnectionSchema.safeParse({ ...base, client_auth: 'private_key_jwt' }).success).toBe(false);
  });

  it('refuses scopes without openid, a redirect URI with a query, unknown keys and a bad claims request', () => {
    expect(oidcConnectionSchema.safeParse({ ...base, scopes: ['email'] }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, redirect_uri: `${base.redirect_uri}?a=1` }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, clientId: 'typo' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, claims: { id_token: { acr: { essential: true, values: ['a'] } } } }).success).toBe(true);
    expect(oidcConnectionSchema.safeParse({ ...base, claims: { access_token: {} } }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, id: 'has space' }).success).toBe(false);
    expect(oidcConnectionSchema.safeParse({ ...base, timeout_seconds: 300 }).success).toBe(false);
  });
});

describe('callback parameters', () => {
  it('reads state and iss, refusing duplicates and oversized state', () => {
    expect(readCallbackParams(new URLSearchParams('code=c&state=s&iss=https%3A%2F%2Fidp'))).toEqual({ ok: true, value: { state: 's', iss: 'https://idp' } });
    expect(readCallbackParams(new URLSearchParams('code=c&state=s'))).toEqual({ ok: true, value: { state: 's' } });
    expect(readCallbackParams(new URLSearchParams('code=c'))).toMatchObject({ ok: false, detail: 'state missing' });
    expect(readCallbackParams(new URLSearchParams('code=c&code=d&state=s'))).toMatchObject({ ok: false, detail: 'duplicate code' });
    expect(readCallbackParams(new URLSearchParams('state=s&iss=a&iss=b'))).toMatchObject({ ok: false, detail: 'duplicate iss' });
    expect(readCallbackParams(new URLSearchParams(`state=${'s'.repeat(129)}`))).toMatchObject({ ok: false, detail: 'state too long' });
  });

  it('checks the RFC 9207 iss parameter', () => {
    expect(checkIssParameter('https://idp', 'https://idp', true)).toBeUndefined();
    expect(checkIssParameter(undefined, 'https://idp', false)).toBeUndefined();
    expect(checkIssParameter(undefined, 'https://idp', true)).toBe('iss parameter missing');
    expect(checkIssParameter('https://other', 'https://idp', false)).toBe('iss parameter names another issuer');
  });

  it('rebuilds the callback on the configured redirect URI', () => {
    const seen = new URL('http://internal:8080/upstream/corp/callback?code=c&state=s');
    expect(callbackAtRedirectUri('https://broker.example/upstream/corp/callback', seen).href).toBe('https://broker.example/upstream/corp/callback?code=c&state=s');
  });
});

describe('identity from claims', () => {
  const idToken = { iss: 'https://idp', sub: 'u1', aud: 'broker', iat: 1_000, exp: 2_000, nonce: 'n', at_hash: 'h', email: 'signed@corp.example' };

  it('reads auth_time, acr, amr and sid only in their proper types', () => {
    expect(toUpstreamIdentity('corp', idToken)).toEqual({
      connectionId: 'corp',
      protocol: 'oidc',
      issuer: 'https://idp',
      subject: 'u1',
      claims: { iss: 'https://idp', sub: 'u1', aud: 'broker', iat: 1_000, exp: 2_000, email: 'signed@corp.example' },
      amr: [],
    });
    const rich = toUpstreamIdentity('corp', { ...idToken, auth_time: 900, acr: 'loa2', amr: ['pwd', 7, 'hwk'], sid: 'session-1' });
    expect(rich).toMatchObject({ authTime: 900, acr: 'loa2', amr: ['pwd', 'hwk'], sessionIndex: 'session-1' });
    expect(toUpstreamIdentity('corp', { ...idToken, acr: 2, amr: 'pwd', sid: 3 })).toMatchObject({ amr: [] });
    expect(toUpstreamIdentity('corp', { ...idToken, acr: 2 }).acr).toBeUndefined();
  });

  it('never invents auth_time: an ID token without it gives a login whose time is unknown, not its iat (issue 6 §2)', () => {
    const identity = toUpstreamIdentity('corp', idToken);
    expect(identity).not.toHaveProperty('authTime');
    expect(toUpstreamIdentity('corp', { ...idToken, auth_time: '900' })).not.toHaveProperty('authTime');
  });

  it('lets userinfo add claims but never override the ID token or supply login-bound ones', () => {
    const merged = mergeClaims(idToken, { sub: 'u1', email: 'unsigned@corp.example', name: 'Alice', acr: 'forged', amr: ['forged'], auth_time: 1, sid: 'x', iss: 'https://evil' });
    expect(merged).toEqual({ iss: 'https://idp', sub: 'u1', aud: 'broker', iat: 1_000, exp: 2_000, email: 'signed@corp.example', name: 'Alice' });
  });
});

describe('error classification and the error type', () => {
  it('treats anything unknown as a refusal of the step it happened in', () => {
    expect(classifyOidcError(new Error('boom'), 'discovery').reason).toBe('discovery_failed');
    expect(classifyOidcError('weird', 'grant').reason).toBe('token_response_invalid');
    expect(classifyOidcError(new Error('boom'), 'userinfo').reason).toBe('userinfo_failed');
    expect(classifyOidcError(new TypeError('fetch failed'), 'grant').reason).toBe('upstream_unavailable');
  });

  it('bounds and sanitises what the upstream sent, and says nothing else in its message', () => {
    const err = new OidcLoginError('corp', 'upstream_error', { upstreamError: `access_denied"\n${'x'.repeat(100)}`, detail: 'd'.repeat(500) });
    expect(err.message).toBe('upstream OIDC login refused (corp): upstream_error');
    expect(err.upstreamError).toMatch(/^access_denied\?\?x+$/);
    expect(err.upstreamError!.length).toBe(64);
    expect(err.detail!.length).toBe(200);
    expect(err.transactionConsumed).toBe(false);
  });
});

describe('cachedDiscovery', () => {
  it('shares the loaded value between later callers and reloads after the TTL', async () => {
    let now = 0;
    let loads = 0;
    const get = cachedDiscovery(async () => ++loads, () => now, 100);
    expect(await get()).toBe(1);
    now = 99;
    expect(await get()).toBe(1);
    now = 100;
    expect(await get()).toBe(2);
    expect(loads).toBe(2);
  });

  it('never hands one caller’s in-flight load to another (on Workers a promise belongs to the request that made it)', async () => {
    // The first request's discovery never settles (its request ended, its I/O was cancelled).
    const pending: Array<(v: string) => void> = [];
    let loads = 0;
    const get = cachedDiscovery(
      () => {
        loads++;
        return loads === 1 ? new Promise<string>((resolve) => pending.push(resolve)) : Promise.resolve(`metadata-${loads}`);
      },
      () => 0,
      100,
    );
    const first = get();
    const second = get();
    expect(second).not.toBe(first);
    expect(await second).toBe('metadata-2');
    // Once a load has settled, its value (not its promise) serves everyone.
    expect(await get()).toBe('metadata-2');
    expect(loads).toBe(2);
    pending[0]!('metadata-1');
    expect(await first).toBe('metadata-1');
  });

  it('forgets a failed load at once', async () => {
    let fail = true;
    const get = cachedDiscovery(async () => {
      if (fail) throw new Error('down');
      return 'metadata';
    }, () => 0, 100);
    await expect(get()).rejects.toThrow('down');
    fail = false;
    expect(await get()).toBe('metadata');
  });
});
