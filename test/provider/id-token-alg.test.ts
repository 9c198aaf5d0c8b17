import { stringify } from 'yaml';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigFiles } from '../../src/config/load.js';
import { KEY_RELOAD_INTERVAL, NEXT_KEY_MIN_AGE, RETIRED_KEY_GRACE } from '../../src/constants.js';
import { KeyRing } from '../../src/minting/keys.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { providerConfigProblems } from '../../src/provider/index.js';
import { TEST_POLICIES, testNamespaces, testSettings } from '../helpers/broker.js';
import { problemsOf } from '../helpers/config.js';
import { APP_CALLBACK, APP_LOGOUT, BROKER, SECRET, SPA_CALLBACK, authorizePath, codeFor, pkcePair, redeem, spa, startProvider, webApp, webAppRequest, type ProviderBroker } from './harness.js';

/** The web app, registered for RS256 ID tokens (in the settings, as an operator would, and for the provider). */
const rsaApp = { ...webApp, id_token_signed_response_alg: 'RS256' as const };

function registerRs256(s: BrokerConfigInput) {
  const wiki = s.clients!.find((c) => c.client_id === webApp.client_id)!;
  wiki.oidc = {
    redirect_uris: [...webApp.redirect_uris],
    post_logout_redirect_uris: [APP_LOGOUT],
    grant_types: ['authorization_code', 'refresh_token'],
    subject_namespace: webApp.subject_namespace,
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    id_token_signed_response_alg: 'RS256',
  };
}

async function jwks(b: ProviderBroker): Promise<JSONWebKeySet> {
  return (await (await b.fetch('/jwks')).json()) as JSONWebKeySet;
}

async function tokensOf(b: ProviderBroker) {
  const params = await codeFor(b.browser(), webAppRequest());
  const res = await redeem(b, params.get('code')!);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

describe('id_token_signed_response_alg per client', () => {
  it('an RS256 client gets an RS256 ID token that openid-client verifies with the published JWKS; its access token stays ES256', async () => {
    const b = await startProvider({ clients: [rsaApp, spa], settings: registerRs256 });
    const published = await jwks(b);
    // Its active key and the next one, published before it signs (they rotate with the ring's keys).
    const rsa = published.keys.filter((k) => k.kty === 'RSA');
    expect(rsa).toHaveLength(2);
    for (const k of rsa) {
      expect(k).toMatchObject({ alg: 'RS256', use: 'sig' });
      expect(k).not.toHaveProperty('d');
    }
    const activeRsa = b.services.keys.signingKey('RS256').kid;

    // openid-client, as a relying party would: discovery, then the code flow's token response (ID token checked against the JWKS).
    const fetchBroker: oidc.CustomFetch = (url, options) => b.fetch(url, options as RequestInit);
    const config = await oidc.discovery(new URL(BROKER), webApp.client_id, { id_token_signed_response_alg: 'RS256' }, oidc.ClientSecretPost(SECRET), { [oidc.customFetch]: fetchBroker, execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: APP_CALLBACK, scope: 'openid email offline_access', state, nonce });
    const browser = b.browser();
    const upstreamState = new URL((await browser.get(authorize.href)).headers.get('location')!).searchParams.get('state')!;
    const callback = await browser.get(`/login/oidc/corp/callback?${new URLSearchParams({ state: upstreamState, code: 'upstream-code' })}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.headers.get('location')!), { expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    expect(tokens.claims()).toMatchObject({ iss: BROKER, aud: webApp.client_id });

    // And jose, against the JWKS alone.
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createLocalJWKSet(published), { issuer: BROKER, audience: webApp.client_id, algorithms: ['RS256'], currentDate: new Date(b.clock.now * 1000) });
    expect(protectedHeader.kid).toBe(activeRsa);
    expect(rsa.map((k) => k.kid)).toContain(activeRsa);
    expect(payload.sub).toBeTruthy();
    expect(decodeProtectedHeader(tokens.access_token).alg).toBe('ES256');

    // Refreshing re-issues it with RS256 too.
    const refreshed = (await (await b.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: SECRET })).json()) as Record<string, string>;
    expect(decodeProtectedHeader(refreshed.id_token!).alg).toBe('RS256');
  });

  it('an ES256 client (the default) still gets ES256 beside an RS256 one', async () => {
    const b = await startProvider({ clients: [rsaApp, { ...spa, id_token_signed_response_alg: 'ES256' }], settings: registerRs256 });
    expect(decodeProtectedHeader((await tokensOf(b)).id_token!).alg).toBe('RS256');
    const { verifier, challenge } = await pkcePair();
    const params = await codeFor(b.browser(), authorizePath({ client_id: 'spa', redirect_uri: SPA_CALLBACK, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }));
    const spaTokens = (await (await b.token({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: SPA_CALLBACK, client_id: 'spa', code_verifier: verifier })).json()) as Record<string, string>;
    expect(decodeProtectedHeader(spaTokens.id_token!).alg).toBe('ES256');
    await jwtVerify(spaTokens.id_token!, createLocalJWKSet(await jwks(b)), { audience: 'spa', algorithms: ['ES256'], currentDate: new Date(b.clock.now * 1000) });

    const plain = await startProvider();
    const es = await tokensOf(plain);
    expect(decodeProtectedHeader(es.id_token!).alg).toBe('ES256');
    await jwtVerify(es.id_token!, createLocalJWKSet(await jwks(plain)), { algorithms: ['ES256'], currentDate: new Date(plain.clock.now * 1000) });
    // No client asked for RS256: no RSA key is made or published.
    expect((await jwks(plain)).keys.every((k) => k.kty === 'EC')).toBe(true);
  });

  it('an RS256 ID token is the broker’s own: accepted as id_token_hint at logout', async () => {
    const b = await startProvider({ clients: [rsaApp, spa], settings: registerRs256 });
    const browser = b.browser();
    const params = await codeFor(browser, webAppRequest());
    const tokens = (await (await redeem(b, params.get('code')!)).json()) as Record<string, string>;
    const res = await browser.get(`/logout?${new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP_LOGOUT, state: 'bye' })}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${APP_LOGOUT}?state=bye`);
  });

  it('keeps the RSA keys in the store: a second broker on the same database publishes and uses the same ones', async () => {
    const first = await startProvider({ clients: [rsaApp, spa], settings: registerRs256 });
    const second = await startProvider({ clients: [rsaApp, spa], settings: registerRs256, db: first.db });
    const kidsOf = async (b: ProviderBroker) => (await jwks(b)).keys.filter((k) => k.kty === 'RSA').map((k) => k.kid).sort();
    expect(await kidsOf(second)).toEqual(await kidsOf(first));
    expect(second.services.keys.signingKey('RS256').kid).toBe(first.services.keys.signingKey('RS256').kid);
    const tokens = await tokensOf(second);
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(first.services.keys.signingKey('RS256').kid);
  });

  it('discovery lists RS256 among id_token_signing_alg_values_supported even when no client uses it', async () => {
    const b = await startProvider();
    const metadata = (await (await b.fetch('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
  });
});

describe('the RSA key rotates with rotate-keys', () => {
  /** What `rotate-keys` does: a key ring on the same store, built as the broker builds its own, rotating once. */
  async function rotateKeys(b: ProviderBroker) {
    const ring = new KeyRing(b.services.store.keys, 'ES256', undefined, { algs: ['RS256'], secrets: b.services.store.secrets });
    await ring.init(b.clock.now);
    return ring.rotate(b.clock.now);
  }
  const kids = async (b: ProviderBroker, kty: string) => (await jwks(b)).keys.filter((k) => k.kty === kty).map((k) => k.kid!);
  const verifyAt = async (b: ProviderBroker, token: string) =>
    jwtVerify(token, createLocalJWKSet(await jwks(b)), { issuer: BROKER, audience: webApp.client_id, algorithms: ['RS256'], currentDate: new Date(b.clock.now * 1000) });

  it('after a rotation a new RS256 ID token has a new kid; the previous RSA key stays published for the EC keys\' grace, old tokens verify, then it is gone', async () => {
    const b = await startProvider({ clients: [rsaApp, spa], settings: registerRs256 });
    b.clock.now += NEXT_KEY_MIN_AGE;
    const before = (await tokensOf(b)).id_token!;
    const oldKid = decodeProtectedHeader(before).kid!;
    const oldEc = b.services.keys.signingKey().kid;
    const rotatedAt = b.clock.now;
    await rotateKeys(b);
    b.clock.now += KEY_RELOAD_INTERVAL;

    // (a) a new RS256 ID token is signed by a new RSA key.
    const after = (await tokensOf(b)).id_token!;
    expect(decodeProtectedHeader(after)).toMatchObject({ alg: 'RS256' });
    const newKid = decodeProtectedHeader(after).kid!;
    expect(newKid).not.toBe(oldKid);
    // (b) the JWKS publishes the new RSA key and still the previous one; (c) a token signed before verifies.
    expect(await kids(b, 'RSA')).toEqual(expect.arrayContaining([oldKid, newKid]));
    await verifyAt(b, before);
    await verifyAt(b, after);

    // The same grace as the EC keys: at its last second both old keys are published, after it neither.
    b.clock.now = rotatedAt + RETIRED_KEY_GRACE - 1;
    expect(await kids(b, 'RSA')).toContain(oldKid);
    expect(await kids(b, 'EC')).toContain(oldEc);
    // (d) after the grace the old RSA key is gone from the JWKS (with the retired EC key).
    b.clock.now = rotatedAt + RETIRED_KEY_GRACE + KEY_RELOAD_INTERVAL + 1;
    const rsaNow = await kids(b, 'RSA');
    expect(rsaNow).not.toContain(oldKid);
    expect(rsaNow).toContain(newKid);
    expect(await kids(b, 'EC')).not.toContain(oldEc);
  });
});

describe('id_token_signed_response_alg configuration', () => {
  async function files(alg: unknown): Promise<ConfigFiles> {
    const settings = await testSettings((s) => {
      registerRs256(s);
      (s.clients!.find((c) => c.client_id === webApp.client_id)!.oidc as Record<string, unknown>).id_token_signed_response_alg = alg;
    });
    return {
      broker: { path: 'broker.config.yaml', text: stringify(settings) },
      mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
      policies: [{ path: 'policies/test.cedar', text: TEST_POLICIES }],
    };
  }

  it('accepts ES256 and RS256', async () => {
    for (const alg of ['ES256', 'RS256']) {
      expect(loadConfig(await files(alg)).settings.clients.find((c) => c.client_id === webApp.client_id)!.oidc!.id_token_signed_response_alg).toBe(alg);
    }
  });

  it.each(['HS256', 'none', 'PS256', 'rs256', ''])('refuses %j, naming the client', async (alg) => {
    const problems = problemsOf(await files(alg));
    expect(problems).toContainEqual(expect.objectContaining({ file: 'broker.config.yaml', message: expect.stringMatching(/client "wiki-agent".*id_token_signed_response_alg/) }));
  });

  it('is checked for the provider’s clients too', async () => {
    const b = await startProvider();
    const problems = providerConfigProblems({ ...b.deps, clients: new Map([[webApp.client_id, { ...webApp, id_token_signed_response_alg: 'HS256' as never }]]) });
    expect(problems).toContainEqual(expect.stringMatching(/provider client wiki-agent: id_token_signed_response_alg HS256/));
  });
});
