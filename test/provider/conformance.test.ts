/**
 * The OP against the letter of the specifications (OIDC Core 1.0, RFC 6749, RFC 7009, RFC 9700):
 * one test per rule found broken by the conformance audit, black-box through the app.
 */
import { describe, expect, it } from 'vitest';
import { APP_CALLBACK, BROKER, codeFor, location, webAppRequest, startProvider } from './harness.js';

describe('RFC 6749 §3.1: unrecognised parameters are ignored', () => {
  it('a repeated parameter the OP does not recognise (RFC 8707 allows several `resource`) does not fail the request', async () => {
    const b = await startProvider();
    const params = await codeFor(b.browser(), `${webAppRequest()}&resource=https%3A%2F%2Fa.test%2F&resource=https%3A%2F%2Fb.test%2F`);
    expect(params.get('error')).toBeNull();
    expect(params.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBe('state-1');
    expect(params.get('iss')).toBe(BROKER);
  });

  it('a repeated parameter the OP does recognise is still invalid_request', async () => {
    const b = await startProvider();
    const res = await b.browser().get(`${webAppRequest()}&nonce=again`);
    const to = location(res);
    expect(to.origin + to.pathname).toBe(APP_CALLBACK);
    expect(to.searchParams.get('error')).toBe('invalid_request');
  });
});
