/**
 * Issue 6 §2, private_key_jwt after the 2025 audience-injection findings (draft-ietf-oauth-rfc7523bis):
 * a client assertion's `aud` is the broker's issuer identifier, one string; the token endpoint URL
 * only for a client configured for it; a `typ` of another kind of token is refused.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { BROKER, exchangeParams, IDP, postToken, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_URL = `${BROKER}/token`;

let key: { privateKey: CryptoKey; jwk: JWK; kid: string };
beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  key = { privateKey, kid, jwk: { ...pub, kid, alg: 'ES256', use: 'sig' } };
});

async function broker(assertionAudience?: 'issuer' | 'issuer_or_token_endpoint'): Promise<TestBroker> {
  const settings = await testSettings((s: BrokerConfigInput) => {
    s.clients!.push({
      client_id: 'jwt-agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.jwk] },
      ...(assertionAudience ? { assertion_audience: assertionAudience } : {}),
      upstream_client_ids: { [IDP]: 'jwt-agent' },
      destinations: { todo: { client_id: 'jwt-at-todo', scopes: ['todos.read'] } },
    } as NonNullable<BrokerConfigInput['clients']>[number]);
  });
  return startTestBroker({ settings });
}

function assertion(b: TestBroker, claims: Record<string, unknown>, typ?: string) {
  const payload = { iss: 'jwt-agent', sub: 'jwt-agent', aud: BROKER, iat: b.clock.now, exp: b.clock.now + 60, jti: crypto.randomUUID(), ...claims };
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'ES256', kid: key.kid, ...(typ ? { typ } : {}) }).sign(key.privateKey);
}

async function send(b: TestBroker, clientAssertion: string) {
  const idToken = await b.idp.idToken({ sub: 'alice' }, 'jwt-agent', { now: b.clock.now });
  const params = await exchangeParams(b, { subject_token: idToken, client_id: undefined, client_secret: undefined, client_assertion: clientAssertion, client_assertion_type: JWT_BEARER });
  const res = await postToken(b, params);
  // A refusal before the client authenticated is counted in a summary record: write it now.
  await b.maintenance.flush({ final: true });
  const [record] = await b.services.store.audit.recent(1);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, record: record! };
}

describe('private_key_jwt: the assertion audience (RFC 7523bis)', () => {
  it('accepts the issuer identifier as a single string', async () => {
    const b = await broker();
    expect((await send(b, await assertion(b, {}))).status).toBe(200);
  });

  it('refuses the token endpoint URL as aud by default', async () => {
    const b = await broker();
    const r = await send(b, await assertion(b, { aud: TOKEN_URL }));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_client');
    expect(r.record).toMatchObject({ reason: 'client_assertion_invalid', detail: expect.stringContaining('aud') });
  });

  it('accepts the token endpoint URL for a client configured for it (compatibility)', async () => {
    const b = await broker('issuer_or_token_endpoint');
    expect((await send(b, await assertion(b, { aud: TOKEN_URL }))).status).toBe(200);
    expect((await send(b, await assertion(b, {}))).status).toBe(200);
  });

  it('refuses an aud array, even one holding only the issuer (audience injection)', async () => {
    const b = await broker('issuer_or_token_endpoint');
    for (const aud of [[BROKER], [BROKER, 'https://other-as.test'], ['https://other-as.test', TOKEN_URL]]) {
      const r = await send(b, await assertion(b, { aud }));
      expect(r.status, JSON.stringify(aud)).toBe(401);
      expect(r.record.detail).toMatch(/aud/);
    }
  });
});

describe('private_key_jwt: the assertion typ', () => {
  it.each([['client-authentication+jwt'], ['application/client-authentication+jwt'], ['JWT']])('accepts typ %s', async (typ) => {
    const b = await broker();
    expect((await send(b, await assertion(b, {}, typ))).status).toBe(200);
  });

  it.each([['at+jwt'], ['oauth-id-jag+jwt'], ['dpop+jwt'], ['logout+jwt'], ['secevent+jwt'], ['token-introspection+jwt']])('refuses typ %s (another kind of token)', async (typ) => {
    const b = await broker();
    const r = await send(b, await assertion(b, {}, typ));
    expect(r.status).toBe(401);
    expect(r.record).toMatchObject({ reason: 'client_assertion_invalid', detail: expect.stringContaining('typ') });
  });
});
