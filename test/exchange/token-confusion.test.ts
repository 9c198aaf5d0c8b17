/**
 * Issue 6 §2 "Token confusion and time", through the HTTP surface: tokens that are not what the
 * exchange needs are refused with a precise error and change nothing but one audit record.
 */
import { describe, expect, it } from 'vitest';
import { ID_TOKEN_TYPE, IDP, startTestBroker, testSettings } from '../helpers/broker.js';
import { exchangeBody, expectRefused } from './subject-token-helpers.js';

describe('an access token is not an ID token', () => {
  it('refuses an access-token-shaped JWT (aud = the client, scp, appid of another app, no azp) as an id_token subject token', async () => {
    const b = await startTestBroker();
    const accessToken = await b.idp.idToken({ sub: 'alice', amr: ['pwd', 'mfa'] }, 'wiki-agent', {
      now: b.clock.now,
      extra: { scp: 'todos.write', appid: '7d1b2c3e-other-app' },
    });
    const record = await expectRefused(b, exchangeBody(accessToken, ID_TOKEN_TYPE, { scope: 'todos.read' }), { error: 'invalid_grant', reason: 'subject_token_not_id_token' });
    expect(record.detail).toMatch(/scp|appid/);
  });

  it('refuses an untyped token from an upstream configured to always type its ID tokens', async () => {
    const settings = await testSettings((s) => {
      s.trusted_issuers = [{ issuer: IDP, jwks_uri: `${IDP}/jwks`, algorithms: ['ES256'], id_token_typ: ['id_token+jwt'], require_typ: true }];
    });
    const b = await startTestBroker({ settings });
    // The demo IdP types its tokens `JWT`, which this upstream is configured not to use for ID tokens.
    const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now });
    await expectRefused(b, exchangeBody(token, ID_TOKEN_TYPE), { error: 'invalid_grant', reason: 'subject_token_not_id_token', detail: 'typ' });
  });
});
