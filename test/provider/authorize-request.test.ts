import { describe, expect, it } from 'vitest';
import {
  authorizeParams,
  decideAuthentication,
  decideConsent,
  toRawParams,
  validateAuthorizeRequest,
  type AuthorizationRequest,
} from '../../src/provider/authorize-request.js';
import type { SessionRecord } from '../../src/store/ports.js';
import { APP_CALLBACK, consentApp, spa, webApp } from './harness.js';

const clients = new Map([webApp, spa, consentApp].map((c) => [c.client_id, c]));
const NOW = 1_800_000_000;

function params(overrides: Record<string, string | undefined> = {}) {
  const all = { client_id: webApp.client_id, redirect_uri: APP_CALLBACK, response_type: 'code', scope: 'openid email', state: 's', ...overrides };
  return toRawParams(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

function valid(overrides: Record<string, string | undefined> = {}): AuthorizationRequest {
  const check = validateAuthorizeRequest(params(overrides), clients);
  if (!check.ok) throw new Error(`unexpected refusal: ${check.error.reason}`);
  return check.request;
}

const session: SessionRecord = { id: 'sid', principalId: 'p_1', connectionId: 'corp', authTime: NOW - 100, amr: ['pwd'], createdAt: NOW - 100, expiresAt: NOW + 1000 };

describe('validateAuthorizeRequest', () => {
  it('accepts a minimal request and round-trips it through its parameters', () => {
    const request = valid({ nonce: 'n', prompt: 'login consent', max_age: '30', login_hint: 'a@b.test', connection: 'corp', scope: 'openid email openid' });
    expect(request.scopes).toEqual(['openid', 'email']);
    expect([...request.prompt]).toEqual(['login', 'consent']);
    const again = validateAuthorizeRequest(toRawParams(Object.entries(authorizeParams(request))), clients);
    expect(again).toEqual({ ok: true, request });
  });

  it('treats an empty value as absent (RFC 6749 §3.1)', () => {
    expect(valid({ nonce: '', state: '' })).not.toHaveProperty('nonce');
    const check = validateAuthorizeRequest(params({ client_id: '' }), clients);
    expect(check).toMatchObject({ ok: false });
    expect(check.ok ? undefined : check.redirect).toBeUndefined();
  });

  it('checks client_id, then redirect_uri, before anything else', () => {
    const check = validateAuthorizeRequest(params({ redirect_uri: 'https://evil.test/', response_type: 'token', scope: 'x' }), clients);
    expect(check).toMatchObject({ ok: false, clientId: webApp.client_id });
    expect(check.ok ? undefined : check.error.reason).toBe('redirect_uri_unregistered');
    expect(check.ok ? undefined : check.redirect).toBeUndefined();
  });

  it('echoes state in redirected refusals', () => {
    const check = validateAuthorizeRequest(params({ response_type: 'token' }), clients);
    expect(check.ok ? undefined : check.redirect).toEqual({ redirectUri: APP_CALLBACK, state: 's' });
  });
});

describe('decideAuthentication (time passed in)', () => {
  it('no session → login; prompt=none → login_required', () => {
    expect(decideAuthentication(valid(), undefined, NOW, false)).toEqual({ kind: 'login', forceChooser: false });
    expect(decideAuthentication(valid({ prompt: 'none' }), undefined, NOW, false)).toMatchObject({ kind: 'refuse', error: { code: 'login_required' } });
  });

  it('max_age is inclusive: exactly as old passes, one second older does not', () => {
    expect(decideAuthentication(valid({ max_age: '100' }), session, NOW, false)).toMatchObject({ kind: 'authenticated' });
    expect(decideAuthentication(valid({ max_age: '99' }), session, NOW, false)).toEqual({ kind: 'login', forceChooser: false });
  });

  it('a session whose authentication time is unknown satisfies no max_age (issue 6 §2)', () => {
    const { authTime: _, ...unknown } = session;
    expect(decideAuthentication(valid({ max_age: '100000' }), unknown, NOW, false)).toEqual({ kind: 'login', forceChooser: false });
    expect(decideAuthentication(valid({ max_age: '100000', prompt: 'none' }), unknown, NOW, false)).toMatchObject({ kind: 'refuse', error: { code: 'login_required' } });
    expect(decideAuthentication(valid(), unknown, NOW, false)).toMatchObject({ kind: 'authenticated' });
  });

  it('prompt=login always logs in, unless the login it caused just happened', () => {
    expect(decideAuthentication(valid({ prompt: 'login' }), session, NOW, false)).toEqual({ kind: 'login', forceChooser: false });
    expect(decideAuthentication(valid({ prompt: 'login', max_age: '0' }), session, NOW, true)).toMatchObject({ kind: 'authenticated' });
    expect(decideAuthentication(valid({ prompt: 'select_account' }), session, NOW, false)).toEqual({ kind: 'login', forceChooser: true });
  });

  it('a request naming another connection than the session\'s logs in there', () => {
    expect(decideAuthentication(valid({ connection: 'labs' }), session, NOW, false)).toEqual({ kind: 'login', forceChooser: false });
    expect(decideAuthentication(valid({ connection: 'corp' }), session, NOW, false)).toMatchObject({ kind: 'authenticated' });
  });
});

describe('decideConsent', () => {
  const consentRequest = (overrides: Record<string, string> = {}) => valid({ client_id: consentApp.client_id, redirect_uri: 'https://consent.test/cb', ...overrides });

  it('never for clients that do not require it', () => {
    expect(decideConsent(valid({ prompt: 'consent' }), undefined, false)).toEqual({ kind: 'granted' });
  });

  it('asks, unless every scope was consented to before; prompt=consent always asks; prompt=none refuses', () => {
    expect(decideConsent(consentRequest(), undefined, false)).toEqual({ kind: 'ask' });
    expect(decideConsent(consentRequest(), new Set(['openid', 'email', 'profile']), false)).toEqual({ kind: 'granted' });
    expect(decideConsent(consentRequest(), new Set(['openid']), false)).toEqual({ kind: 'ask' });
    expect(decideConsent(consentRequest({ prompt: 'consent' }), new Set(['openid', 'email']), false)).toEqual({ kind: 'ask' });
    expect(decideConsent(consentRequest({ prompt: 'none' }), undefined, false)).toMatchObject({ kind: 'refuse', error: { code: 'consent_required' } });
    expect(decideConsent(consentRequest(), undefined, true)).toEqual({ kind: 'granted' });
  });
});
