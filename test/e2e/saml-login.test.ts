import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDestinationAs } from '../../examples/destination-as/app.js';
import { createSamlIdp, PASSWORD_PROTECTED_TRANSPORT, PERSISTENT, type SamlIdp, type SamlIdpUser } from '../../examples/saml-idp.js';
import { hashSecret } from '../../src/clients/secrets.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { sha256Base64url } from '../../src/provider/crypto.js';
import { Browser, buildBroker, listen, type E2eBroker, type Listener } from './helpers.js';

/**
 * A migrated SAML app logging in over OIDC at the broker, with real libraries on both sides:
 *
 *   openid-client (the app) ──OIDC──▶ broker ──SAML (Redirect → signed POST)──▶ samlify IdP
 *   app ── token exchange ──▶ broker ── ID-JAG ──▶ app ── jwt-bearer ──▶ reference destination AS
 *
 * The app used to receive the persistent NameID as its user key: it keeps it as `sub`, and its
 * authorization server (in the same namespace) gets the same subject in the ID-JAG.
 */

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';

const HR = { client_id: 'hr-portal', secret: 'hr-portal-secret-e2e', redirect_uri: 'http://hr.localhost/oidc/callback' };
const HR_AT_API = { client_id: 'hr-portal-at-api', client_secret: 'hr-at-api-secret' };
const ALICE: SamlIdpUser = {
  nameId: 'a7f3c9e2-5b1d-4e8a-9c6f-persistent-alice',
  email: 'alice@corp.example',
  givenName: 'Alice',
  familyName: 'Liddell',
  displayName: 'Alice Liddell',
  affiliation: ['staff', 'member'],
};
const AUTHN_INSTANT = Math.floor(Date.now() / 1000) - 60;

let idpHttp: Listener;
let brokerHttp: Listener;
let apiHttp: Listener;
let idp: SamlIdp;
let broker: E2eBroker;
let rp: client.Configuration;
const browser = new Browser();

beforeAll(async () => {
  [idpHttp, brokerHttp, apiHttp] = await Promise.all([listen(), listen(), listen()]);
  const BROKER = brokerHttp.origin;
  const API = apiHttp.origin;

  // The IdP's own key and certificate are generated here; its metadata goes to the broker inline.
  idp = await createSamlIdp({ baseUrl: idpHttp.origin });
  idpHttp.serve(idp.app.fetch);

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
        // A SAML IdP sends no email_verified: its directory is the authority for corp.example.
        authority: {
          email: { domains: ['corp.example'], verified: 'always' },
          acr: [PASSWORD_PROTECTED_TRANSPORT],
          amr: ['pwd'],
          claims: ['name', 'given_name', 'family_name'],
        },
      },
    ],
    clients: [
      {
        client_id: HR.client_id,
        name: 'HR portal (migrated from SAML)',
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(HR.secret, 10_000),
        destinations: { 'hr-api': { client_id: HR_AT_API.client_id, scopes: ['todos.read'], default_scopes: ['todos.read'] } },
        oidc: { redirect_uris: [HR.redirect_uri], subject_namespace: 'hr-users', scopes: ['openid', 'email', 'profile'] },
      },
    ],
    destinations: [
      {
        id: 'hr-api',
        issuer: API,
        resources: [`${API}/api`],
        namespace: 'hr-users',
        scope_translation: { 'todos.read': ['todos.read'] },
      },
    ],
  };
  const namespaces: NamespaceConfig[] = [{ namespace: 'hr-users', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } }];
  broker = await buildBroker(settings, namespaces);
  brokerHttp.serve(broker.app.fetch);

  // The IdP is given the broker's SP metadata, as an operator would upload it.
  const spMetadata = await fetch(`${BROKER}/login/saml/corp-saml/metadata`);
  expect(spMetadata.status).toBe(200);
  idp.trustSp(await spMetadata.text());

  const api = await createDestinationAs({
    issuer: API,
    brokers: [{ issuer: BROKER, jwksUri: `${BROKER}/jwks`, todos: { [ALICE.nameId]: [{ id: '7', title: 'Approve leave requests', done: false }] } }],
    clients: [HR_AT_API],
  });
  apiHttp.serve(api.fetch);

  rp = await client.discovery(new URL(BROKER), HR.client_id, undefined, client.ClientSecretPost(HR.secret), {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
});

afterAll(async () => {
  await Promise.all([idpHttp?.close(), brokerHttp?.close(), apiHttp?.close()]);
});

function xml(text: string): Document {
  return new DOMParser().parseFromString(text, 'text/xml');
}

describe('SAML upstream (samlify IdP) → broker → openid-client', () => {
  let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  let nonce: string;

  it('logs in over SAML (HTTP-Redirect out, signed HTTP-POST back) and issues the app an OIDC ID token', async () => {
    idp.signIn(ALICE, AUTHN_INSTANT);
    const BROKER = brokerHttp.origin;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: HR.redirect_uri,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await browser.navigate(url, (u) => u.href.startsWith(HR.redirect_uri));

    // broker /authorize → IdP SSO (AuthnRequest in the query) → ACS (the IdP's auto-post form) → app.
    const [authorize, sso, acs, ...rest] = browser.hops;
    expect(rest).toEqual([]);
    expect(`${authorize!.method} ${authorize!.url.origin}${authorize!.url.pathname}`).toBe(`GET ${BROKER}/authorize`);
    expect(`${sso!.method} ${sso!.url.origin}${sso!.url.pathname}`).toBe(`GET ${idp.ssoUrl}`);
    expect(`${acs!.method} ${acs!.url.href}`).toBe(`POST ${BROKER}/login/saml/corp-saml/acs`);
    expect(acs!.status).toBe(303);

    // The AuthnRequest the broker sent, and the Response the IdP signed for it.
    const relayState = sso!.url.searchParams.get('RelayState')!;
    const request = xml(inflateRawSync(Buffer.from(sso!.url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')).documentElement!;
    expect(request.getAttribute('AssertionConsumerServiceURL')).toBe(`${BROKER}/login/saml/corp-saml/acs`);
    expect(acs!.form!.RelayState).toBe(relayState);
    const response = xml(Buffer.from(acs!.form!.SAMLResponse!, 'base64').toString('utf8')).documentElement!;
    expect(response.getAttribute('InResponseTo')).toBe(request.getAttribute('ID'));
    const assertion = response.getElementsByTagNameNS(NS_A, 'Assertion').item(0)!;
    const signature = assertion.getElementsByTagNameNS(NS_DS, 'Signature').item(0)!;
    expect(signature.parentNode).toBe(assertion);
    expect(signature.getElementsByTagNameNS(NS_DS, 'SignatureMethod').item(0)!.getAttribute('Algorithm')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const nameId = assertion.getElementsByTagNameNS(NS_A, 'NameID').item(0)!;
    expect(nameId.getAttribute('Format')).toBe(PERSISTENT);
    expect(nameId.textContent).toBe(ALICE.nameId);
    expect(idp.exchanges.at(-1)!.request).toMatchObject({ id: request.getAttribute('ID'), relayState });

    tokens = await client.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${BROKER}/jwks`)), { issuer: BROKER, audience: HR.client_id, typ: 'JWT' });
    expect(payload).toEqual(tokens.claims());

    // The identity contract the app had over SAML: the persistent NameID is its `sub`, the
    // attributes arrive under OIDC claim names.
    expect(payload).toMatchObject({
      iss: BROKER,
      aud: HR.client_id,
      sub: ALICE.nameId,
      nonce,
      email: ALICE.email,
      given_name: ALICE.givenName,
      family_name: ALICE.familyName,
      name: ALICE.displayName,
      auth_time: AUTHN_INSTANT,
      acr: PASSWORD_PROTECTED_TRANSPORT,
      amr: ['pwd'],
    });
    expect(payload.sid).toBe(await sha256Base64url(browser.cookies(BROKER).get('xaa-session')!));

    const audit = broker.db.prepare("SELECT record FROM audit_log WHERE event = 'login'").pluck().all() as string[];
    expect(audit.map((r) => JSON.parse(r) as { detail: string })).toEqual([expect.objectContaining({ upstreamIssuer: idp.entityId, detail: expect.stringContaining('protocol=saml') })]);
  });

  it('answers userinfo with the translated claims', async () => {
    const userinfo = await client.fetchUserInfo(rp, tokens.access_token, ALICE.nameId);
    // email_verified: the connection's authority vouches for corp.example addresses (verified: always).
    expect(userinfo).toEqual({ sub: ALICE.nameId, email: ALICE.email, email_verified: true, given_name: ALICE.givenName, family_name: ALICE.familyName, name: ALICE.displayName });
  });

  it('refuses the same SAMLResponse posted again', async () => {
    // By the same browser (its cookies sent): the login transaction was consumed by the first post.
    const acs = browser.hops.find((h) => h.method === 'POST')!;
    const cookie = [...browser.cookies(acs.url.origin)].map(([k, v]) => `${k}=${v}`).join('; ');
    const replay = await fetch(acs.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams(acs.form).toString(), redirect: 'manual' });
    expect(replay.status).toBe(400);
    const page = await replay.text();
    expect(page).not.toContain(ALICE.nameId);
    const last = JSON.parse(broker.db.prepare('SELECT record FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get() as string) as Record<string, unknown>;
    expect(last).toMatchObject({ event: 'refusal', reason: 'login_failed', detail: 'connection=corp-saml reason=transaction_unknown' });
    expect(page).toContain(String(last.requestId));
  });

  it('exchanges the ID token for an ID-JAG naming the same subject and redeems it at the destination AS', async () => {
    const BROKER = brokerHttp.origin;
    const API = apiHttp.origin;
    const exchanged = await client.genericGrantRequest(rp, TOKEN_EXCHANGE, {
      requested_token_type: ID_JAG,
      subject_token: tokens.id_token!,
      subject_token_type: ID_TOKEN,
      audience: API,
      resource: `${API}/api`,
    });
    expect(exchanged).toMatchObject({ issued_token_type: ID_JAG, token_type: 'n_a', scope: 'todos.read' });
    const { payload } = await jwtVerify(exchanged.access_token, createRemoteJWKSet(new URL(`${BROKER}/jwks`)), { issuer: BROKER, audience: API, typ: 'oauth-id-jag+jwt' });
    // One subject model: the app's `sub` and the ID-JAG's for its AS are the same NameID.
    expect(payload).toMatchObject({ sub: ALICE.nameId, client_id: HR_AT_API.client_id, scope: 'todos.read', acr: PASSWORD_PROTECTED_TRANSPORT, amr: ['pwd'], auth_time: AUTHN_INSTANT, email: ALICE.email });

    const destination = await client.discovery(new URL(API), HR_AT_API.client_id, undefined, client.ClientSecretBasic(HR_AT_API.client_secret), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const grant = await client.genericGrantRequest(destination, JWT_BEARER, { assertion: exchanged.access_token });
    expect(decodeJwt(grant.access_token)).toMatchObject({ iss: API, sub: ALICE.nameId, client_id: HR_AT_API.client_id, scope: 'todos.read' });
    const res = await client.fetchProtectedResource(destination, grant.access_token, new URL(`${API}/api/todos`), 'GET');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: ALICE.nameId, todos: [{ id: '7', title: 'Approve leave requests', done: false }] });
  });
});
