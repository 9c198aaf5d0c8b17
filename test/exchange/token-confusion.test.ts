/**
 * Issue 6 §2 "Token confusion and time", through the HTTP surface: tokens that are not what the
 * exchange needs are refused with a precise error and change nothing but one audit record.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ID_TOKEN_TYPE, IDP, postToken, startTestBroker, testSettings } from '../helpers/broker.js';
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

describe('auth_time is never invented; a destination may bound the authentication age', () => {
  async function brokerWithMaxAge(maxAuthAge: number) {
    const settings = await testSettings((s) => {
      s.destinations![0]!.max_auth_age = maxAuthAge;
    });
    return startTestBroker({ settings });
  }

  it('refuses an ID token whose auth_time is older than the destination allows: insufficient_user_authentication with a max_age hint', async () => {
    const b = await brokerWithMaxAge(300);
    const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now, extra: { auth_time: b.clock.now - 301 } });
    const res = await postToken(b, exchangeBody(token, ID_TOKEN_TYPE));
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ error: 'insufficient_user_authentication', max_age: 300 });
    const [record] = await b.services.store.audit.recent(1);
    expect(record).toMatchObject({ event: 'refusal', reason: 'authentication_too_old' });
  });

  it('an unknown auth_time satisfies no maximum age', async () => {
    const b = await brokerWithMaxAge(100_000);
    const token = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now, extra: { auth_time: undefined } });
    expect(decodeJwt(token)).not.toHaveProperty('auth_time');
    const res = await postToken(b, exchangeBody(token, ID_TOKEN_TYPE));
    expect(await res.json()).toMatchObject({ error: 'insufficient_user_authentication', max_age: 100_000 });
  });

  it('mints when the authentication is recent enough, and emits no auth_time the upstream did not send', async () => {
    const b = await brokerWithMaxAge(300);
    const recent = await b.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: b.clock.now, extra: { auth_time: b.clock.now - 300 } });
    expect((await postToken(b, exchangeBody(recent, ID_TOKEN_TYPE))).status).toBe(200);
    const plain = await startTestBroker();
    const unknown = await plain.idp.idToken({ sub: 'alice' }, 'wiki-agent', { now: plain.clock.now, extra: { auth_time: undefined } });
    const body = (await (await postToken(plain, exchangeBody(unknown, ID_TOKEN_TYPE))).json()) as { access_token: string };
    expect(decodeJwt(body.access_token)).not.toHaveProperty('auth_time');
  });
});
