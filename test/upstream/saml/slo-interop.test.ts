import { inflateRawSync } from 'node:zlib';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSamlIdp, PASSWORD_PROTECTED_TRANSPORT, type SamlIdp, type SamlIdpUser } from '../../../examples/saml-idp.js';
import { hashSecret } from '../../../src/clients/secrets.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../../src/config/schema.js';
import { Browser, buildBroker, listen, type E2eBroker, type Listener } from '../../e2e/helpers.js';
import { testKeys } from './helpers.js';

/**
 * SAML Single Logout with real libraries on both sides, over HTTP: an openid-client app logs in
 * at the broker through the samlify demo IdP (examples/saml-idp.ts), then logs out at the broker's
 * /logout. The broker sends the demo IdP a LogoutRequest (HTTP-Redirect) that samlify parses; the
 * IdP's samlify-signed LogoutResponse comes back to the broker's SingleLogoutService, and the
 * browser lands on the app's post_logout_redirect_uri with its state.
 */

const HR = { client_id: 'hr-portal', secret: 'hr-portal-secret-slo', redirect_uri: 'http://hr.localhost/oidc/callback', logout: 'http://hr.localhost/signed-out' };
const ALICE: SamlIdpUser = {
  nameId: 'c2d7e1f0-slo-persistent-alice',
  email: 'alice@corp.example',
  givenName: 'Alice',
  familyName: 'Liddell',
  displayName: 'Alice Liddell',
  affiliation: ['staff'],
};

let idpHttp: Listener;
let brokerHttp: Listener;
let idp: SamlIdp;
let broker: E2eBroker;
let rp: client.Configuration;

beforeAll(async () => {
  [idpHttp, brokerHttp] = await Promise.all([listen(), listen()]);
  const BROKER = brokerHttp.origin;
  idp = await createSamlIdp({ baseUrl: idpHttp.origin });
  idpHttp.serve(idp.app.fetch);
  const { spSigning } = await testKeys();
  const settings: BrokerConfigInput = {
    issuer: BROKER,
    connections: [
      {
        type: 'saml',
        id: 'corp-saml',
        display_name: 'Corp SAML',
        sp_entity_id: `${BROKER}/login/saml/corp-saml/metadata`,
        acs_url: `${BROKER}/login/saml/corp-saml/acs`,
        idp_metadata_xml: idp.metadata,
        allow_insecure_http_for_loopback: true,
        // Logout messages over the browser bindings are signed (SAML profiles §4.4.4.1): no key, no SLO.
        sp_signing: { private_key: spSigning.key, certificate: spSigning.cert },
        authority: { email: { domains: ['corp.example'], verified: 'always' }, acr: [PASSWORD_PROTECTED_TRANSPORT], amr: ['pwd'] },
      },
    ],
    clients: [
      {
        client_id: HR.client_id,
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(HR.secret, 10_000),
        oidc: { redirect_uris: [HR.redirect_uri], post_logout_redirect_uris: [HR.logout], subject_namespace: 'hr-users', scopes: ['openid', 'email'] },
      },
    ],
  };
  const namespaces: NamespaceConfig[] = [{ namespace: 'hr-users', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } }];
  broker = await buildBroker(settings, namespaces);
  brokerHttp.serve(broker.app.fetch);
  idp.trustSp(await (await fetch(`${BROKER}/login/saml/corp-saml/metadata`)).text());
  rp = await client.discovery(new URL(BROKER), HR.client_id, undefined, client.ClientSecretPost(HR.secret), { execute: [client.allowInsecureRequests] });
});

afterAll(async () => {
  await Promise.all([idpHttp?.close(), brokerHttp?.close()]);
});

describe('SAML Single Logout: broker ⇄ samlify demo IdP, over HTTP', () => {
  it('the broker advertises its SingleLogoutService; logout at the broker goes through the IdP and back to the app', async () => {
    const BROKER = brokerHttp.origin;
    const spMetadata = await (await fetch(`${BROKER}/login/saml/corp-saml/metadata`)).text();
    expect(spMetadata).toContain(`Location="${BROKER}/login/saml/corp-saml/slo"`);

    const browser = new Browser();
    idp.signIn(ALICE);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(rp, { redirect_uri: HR.redirect_uri, scope: 'openid email', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await browser.navigate(url, (u) => u.href.startsWith(HR.redirect_uri));
    const tokens = await client.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });

    const hopsBefore = browser.hops.length;
    const end = client.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: HR.logout, state: 'after-slo' });
    const landed = await browser.navigate(end, (u) => u.href.startsWith(HR.logout));
    expect(landed.searchParams.get('state')).toBe('after-slo');

    // broker /logout → IdP /slo (a LogoutRequest for Alice's NameID) → broker /slo (the IdP's LogoutResponse) → app.
    const [logout, slo, back, ...rest] = browser.hops.slice(hopsBefore);
    expect(rest).toEqual([]);
    expect(`${logout!.method} ${logout!.url.origin}${logout!.url.pathname}`).toBe(`GET ${BROKER}/logout`);
    expect(`${slo!.method} ${slo!.url.origin}${slo!.url.pathname}`).toBe(`GET ${idpHttp.origin}/slo`);
    const request = inflateRawSync(Buffer.from(slo!.url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    expect(request).toContain(`>${ALICE.nameId}</saml:NameID>`);
    expect(`${back!.method} ${back!.url.origin}${back!.url.pathname}`).toBe(`GET ${BROKER}/login/saml/corp-saml/slo`);
    expect(back!.url.searchParams.get('Signature')).not.toBeNull();
    expect(back!.status).toBe(302);

    // The broker session is over: a new /authorize goes to the IdP, whose own session is over too.
    const again = client.buildAuthorizationUrl(rp, { redirect_uri: HR.redirect_uri, scope: 'openid email', state: 's2', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await expect(browser.navigate(again, (u) => u.href.startsWith(HR.redirect_uri))).rejects.toThrow(/401 at .*\/sso/);
  });
});
