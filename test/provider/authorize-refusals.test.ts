import { describe, expect, it } from 'vitest';
import { APP_CALLBACK, BROKER, SPA_CALLBACK, authorizePath, pkcePair, refusedAnonymously, startProvider, webAppRequest, type ProviderBroker } from './harness.js';

async function pageRefusal(b: ProviderBroker, path: string, reason: string) {
  const res = await refusedAnonymously(b, reason, () => b.browser().get(path));
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  const html = await res.text();
  // A correlation id that finds the audit record, and no internals.
  const audit = b.db.prepare('SELECT request_id FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get() as string;
  expect(html).toContain(audit);
  expect(html).not.toContain(reason);
  expect(html).not.toContain('evil.test');
  return res;
}

describe('/authorize refusals that must not redirect (client or redirect_uri in doubt)', () => {
  const cases: [string, Record<string, string | undefined>, string][] = [
    ['unknown client', { client_id: 'nobody' }, 'client_unknown'],
    ['missing client_id', { client_id: undefined }, 'missing_parameter'],
    ['repeated client_id', { client_id: 'wiki-agent&client_id=wiki-agent' }, 'duplicate_parameter'],
    ['unregistered redirect_uri', { redirect_uri: 'https://evil.test/cb' }, 'redirect_uri_unregistered'],
    ['redirect_uri differing only by a trailing slash', { redirect_uri: `${APP_CALLBACK}/` }, 'redirect_uri_unregistered'],
    ['missing redirect_uri', { redirect_uri: undefined }, 'redirect_uri_missing'],
  ];
  it.each(cases)('%s: an error page, no redirect, only a count in the refusal summary', async (_name, overrides, reason) => {
    const b = await startProvider();
    const path = webAppRequest(overrides).replace('wiki-agent%26client_id%3Dwiki-agent', 'wiki-agent&client_id=wiki-agent');
    await pageRefusal(b, path, reason);
  });

  it('a malformed percent-encoding is refused on a page', async () => {
    const b = await startProvider();
    await pageRefusal(b, `${webAppRequest()}&x=%ff`, 'malformed_body');
  });
});

describe('/authorize refusals redirected to the client', () => {
  const cases: [string, Record<string, string | undefined>, string, string][] = [
    ['scope without openid', { scope: 'email' }, 'invalid_scope', 'openid_scope_missing'],
    ['missing scope', { scope: undefined }, 'invalid_scope', 'openid_scope_missing'],
    ['malformed scope', { scope: 'openid  email' }, 'invalid_scope', 'invalid_parameter'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type', 'unsupported_response_type'],
    ['response_type=code id_token', { response_type: 'code id_token' }, 'unsupported_response_type', 'unsupported_response_type'],
    ['missing response_type', { response_type: undefined }, 'invalid_request', 'missing_parameter'],
    ['response_mode=form_post', { response_mode: 'form_post' }, 'invalid_request', 'unsupported_response_mode'],
    ['a request object', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported', 'request_object_unsupported'],
    ['a request_uri', { request_uri: 'https://app.test/req' }, 'request_uri_not_supported', 'request_object_unsupported'],
    ['plain PKCE', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }, 'invalid_request', 'pkce_method_unsupported'],
    ['code_challenge without a method (plain)', { code_challenge: 'a'.repeat(43) }, 'invalid_request', 'pkce_method_unsupported'],
    ['a method without a challenge', { code_challenge_method: 'S256' }, 'invalid_request', 'missing_parameter'],
    ['a challenge S256 cannot produce', { code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request', 'pkce_challenge_invalid'],
    ['a nonce over 512 characters', { nonce: 'n'.repeat(513) }, 'invalid_request', 'invalid_parameter'],
    ['a nonce with a control character', { nonce: 'a\u0001b' }, 'invalid_request', 'invalid_parameter'],
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request', 'prompt_invalid'],
    ['an unknown prompt', { prompt: 'create' }, 'invalid_request', 'prompt_invalid'],
    ['a negative max_age', { max_age: '-1' }, 'invalid_request', 'invalid_parameter'],
    ['a login_hint over 256 characters', { login_hint: `${'a'.repeat(260)}@example.com` }, 'invalid_request', 'invalid_parameter'],
    ['a malformed connection', { connection: '../x' }, 'invalid_request', 'invalid_parameter'],
    ['an unknown connection', { connection: 'nope' }, 'invalid_request', 'connection_unknown'],
    ['prompt=none without a session', { prompt: 'none' }, 'login_required', 'login_required'],
  ];
  it.each(cases)('%s → %s', async (_name, overrides, error, reason) => {
    const b = await startProvider();
    const res = await refusedAnonymously(b, reason, () => b.browser().get(webAppRequest(overrides)));
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin + to.pathname).toBe(APP_CALLBACK);
    expect(to.searchParams.get('error')).toBe(error);
    expect(to.searchParams.get('state')).toBe('state-1');
    expect(to.searchParams.get('iss')).toBe(BROKER);
    expect(to.searchParams.get('code')).toBeNull();
  });

  it('a repeated parameter is invalid_request', async () => {
    const b = await startProvider();
    const res = await refusedAnonymously(b, 'duplicate_parameter', () => b.browser().get(`${webAppRequest()}&scope=openid`));
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('a malformed state is refused without being echoed', async () => {
    const b = await startProvider();
    for (const state of ['s'.repeat(513), 'tab\there']) {
      const res = await refusedAnonymously(b, 'invalid_parameter', () => b.browser().get(webAppRequest({ state })));
      const to = new URL(res.headers.get('location')!);
      expect(to.searchParams.get('error')).toBe('invalid_request');
      expect(to.searchParams.has('state')).toBe(false);
    }
  });

  it('a public client without PKCE', async () => {
    const b = await startProvider();
    const res = await refusedAnonymously(b, 'pkce_required', () =>
      b.browser().get(authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', state: 'x' })),
    );
    const to = new URL(res.headers.get('location')!);
    expect(to.origin + to.pathname).toBe(SPA_CALLBACK);
    expect(to.searchParams.get('error')).toBe('invalid_request');
    expect(to.searchParams.get('state')).toBe('x');
  });

  it('a public client with plain PKCE', async () => {
    const b = await startProvider();
    const { verifier } = await pkcePair();
    const res = await refusedAnonymously(b, 'pkce_method_unsupported', () =>
      b.browser().get(authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: verifier, code_challenge_method: 'plain' })),
    );
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('no upstream connection at all → temporarily_unavailable', async () => {
    const b = await startProvider({ connections: () => [] });
    const res = await refusedAnonymously(b, 'no_connections', () => b.browser().get(webAppRequest()));
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('temporarily_unavailable');
  });
});
