import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import { beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { createSamlConnection, MemoryLoginTransactionStore, samlConnectionSchema, SamlConfigError } from '../../src/upstream/saml/index.js';

import { APP, authorizeUrl, CookieJar, readPostForm, SAML_ACS, SAML_SP, samlBroker } from '../upstream/saml/broker.js';
import { decode, defaultSpec, IDP_ENTITY, idpResponse, MemoryReplayStore, NOW, parseXml, SSO_POST, SSO_REDIRECT, testKeys } from '../upstream/saml/helpers.js';

/**
 * Issue 10 item 2: an IdP that offers only HTTP-POST single sign-on is usable. The login start
 * sends the AuthnRequest by HTTP-POST (an auto-submitting form under a nonce CSP) when that is all
 * the IdP offers, by HTTP-Redirect when it offers both, and as `sso_binding` says when set.
 */

const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
type Offered = 'redirect' | 'post' | 'both';

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

/** IdP metadata offering the given SSO bindings (samlify writes it, as an IdP product would). */
function metadataOffering(offered: Offered, options: { wantAuthnRequestsSigned?: boolean } = {}): string {
  const services = [
    ...(offered !== 'post' ? [{ Binding: REDIRECT_BINDING, Location: SSO_REDIRECT }] : []),
    ...(offered !== 'redirect' ? [{ Binding: POST_BINDING, Location: SSO_POST }] : []),
  ];
  return samlify.IdentityProvider({ entityID: IDP_ENTITY, signingCert: keys.idp.cert, wantAuthnRequestsSigned: options.wantAuthnRequestsSigned ?? false, singleSignOnService: services }).getMetadata();
}

const signing = () => ({ authn_requests_signed: true, sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } });

describe('login start picks the binding the IdP offers', () => {
  it('POST-only IdP: an auto-submitting form to the SSO URL carrying SAMLRequest and RelayState, under a nonce CSP', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('post') });
    const browser = new CookieJar(b);
    const res = await browser.get(authorizeUrl());
    expect(res.status).toBe(200);
    const html = await res.text();
    const form = readPostForm(html);
    expect(form.action).toBe(SSO_POST);
    expect(Object.keys(form.fields).sort()).toEqual(['RelayState', 'SAMLRequest']);
    const request = parseXml(decode(form.fields.SAMLRequest!)).documentElement;
    expect(request.localName).toBe('AuthnRequest');
    expect(request.getAttribute('Destination')).toBe(SSO_POST);
    expect(request.getAttribute('AssertionConsumerServiceURL')).toBe(SAML_ACS);
    // RelayState names the login transaction the ACS will take.
    expect(form.fields.RelayState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.db.prepare('SELECT count(*) FROM login_transactions').pluck().get()).toBe(1);

    // The script runs only by the per-response nonce the CSP names; without script, a button.
    const csp = res.headers.get('content-security-policy')!;
    expect(form.scriptNonces).toHaveLength(1);
    expect(form.scriptNonces[0]).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(csp.split(';').map((d) => d.trim())).toEqual(expect.arrayContaining(["default-src 'none'", `script-src 'nonce-${form.scriptNonces[0]}'`, "base-uri 'none'", "frame-ancestors 'none'"]));
    // Only that nonce: no 'unsafe-inline' for scripts, no other source.
    expect(csp.split(';').map((d) => d.trim()).filter((d) => d.startsWith('script-src'))).toEqual([`script-src 'nonce-${form.scriptNonces[0]}'`]);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(form.noscriptButton).toBe(true);
    // Not cacheable, never framed, as every broker page.
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // The browser-binding cookie (the only SameSite=None one: the ACS post is cross-site) comes with the page, as with a redirect.
    expect(res.headers.getSetCookie().filter((c) => c.includes('SameSite=None'))).toHaveLength(1);

    // A second start gets another nonce.
    const again = readPostForm(await (await browser.get(authorizeUrl('state-2'))).text());
    expect(again.scriptNonces[0]).not.toBe(form.scriptNonces[0]);
  });

  it('Redirect-only IdP: a redirect to the SSO URL with the deflated AuthnRequest', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('redirect') });
    const res = await new CookieJar(b).get(authorizeUrl());
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(SSO_REDIRECT);
    const request = parseXml(inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8')).documentElement;
    expect(request.getAttribute('Destination')).toBe(SSO_REDIRECT);
    expect(to.searchParams.get('RelayState')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('an IdP offering both: HTTP-Redirect by default', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('both') });
    const res = await new CookieJar(b).get(authorizeUrl());
    expect(res.status).toBe(302);
    expect(res.headers.get('location')!.startsWith(`${SSO_REDIRECT}?SAMLRequest=`)).toBe(true);
  });

  it('an IdP offering both, with sso_binding: post: the form', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('both'), sso_binding: 'post' });
    const res = await new CookieJar(b).get(authorizeUrl());
    expect(res.status).toBe(200);
    expect(readPostForm(await res.text()).action).toBe(SSO_POST);
  });

  it('an IdP offering both, with sso_binding: redirect: the redirect', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('both'), sso_binding: 'redirect' });
    const res = await new CookieJar(b).get(authorizeUrl());
    expect(res.status).toBe(302);
    expect(res.headers.get('location')!.startsWith(`${SSO_REDIRECT}?SAMLRequest=`)).toBe(true);
  });
});

describe('sso_binding is refused at load when the IdP does not offer it', () => {
  const base = { id: 'corp', sp_entity_id: SAML_SP, acs_url: SAML_ACS };
  const deps = () => ({ replay: new MemoryReplayStore(), transactions: new MemoryLoginTransactionStore(), clock: () => NOW });

  it('sso_binding: post against a Redirect-only IdP', async () => {
    const err = await createSamlConnection({ ...base, idp_metadata_xml: metadataOffering('redirect'), sso_binding: 'post' }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SamlConfigError);
    expect((err as Error).message).toBe('SAML connection corp: sso_binding is post but the IdP metadata offers no HTTP-POST SingleSignOnService');
  });

  it('sso_binding: redirect against a POST-only IdP', async () => {
    const err = await createSamlConnection({ ...base, idp_metadata_xml: metadataOffering('post'), sso_binding: 'redirect' }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SamlConfigError);
    expect((err as Error).message).toBe('SAML connection corp: sso_binding is redirect but the IdP metadata offers no HTTP-Redirect SingleSignOnService');
  });

  it('an unknown sso_binding value', () => {
    expect(() => samlConnectionSchema.parse({ ...base, idp_metadata_xml: 'x', sso_binding: 'artifact' })).toThrow(ZodError);
  });
});

describe('signed AuthnRequests by binding', () => {
  it('HTTP-POST carries the enveloped XML signature, which the IdP (samlify) verifies', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('post', { wantAuthnRequestsSigned: true }), ...signing() });
    const form = readPostForm(await (await new CookieJar(b).get(authorizeUrl())).text());
    const doc = parseXml(decode(form.fields.SAMLRequest!));
    const signature = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature');
    expect(signature.length).toBe(1);
    expect(signature.item(0)!.parentNode).toBe(doc.documentElement);
    const idp = samlify.IdentityProvider({ metadata: metadataOffering('post', { wantAuthnRequestsSigned: true }), privateKey: keys.idp.key });
    const sp = samlify.ServiceProvider({ metadata: await (await b.request('/login/saml/corp/metadata')).text() });
    const parsed = await idp.parseLoginRequest(sp, 'post', { body: form.fields });
    expect(parsed.extract.request?.id).toBe(doc.documentElement.getAttribute('ID'));
    // samlify checks the signature: a changed byte fails it.
    const tampered = Buffer.from(decode(form.fields.SAMLRequest!).replace(SAML_ACS, `${SAML_ACS}x`)).toString('base64');
    await expect(idp.parseLoginRequest(sp, 'post', { body: { ...form.fields, SAMLRequest: tampered } })).rejects.toBeDefined();
  });

  it('HTTP-Redirect keeps the query-string signature (no XML signature inside)', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('redirect', { wantAuthnRequestsSigned: true }), ...signing() });
    const to = new URL((await new CookieJar(b).get(authorizeUrl())).headers.get('location')!);
    expect(to.searchParams.get('Signature')).toBeTruthy();
    expect(to.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const xml = inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    expect(xml).not.toContain('Signature');
  });
});

describe('the ACS after a POST-started login', () => {
  it('the signed response to the posted AuthnRequest completes the login and returns the code to the app', async () => {
    const b = await samlBroker({ idp_metadata_xml: metadataOffering('post') });
    const browser = new CookieJar(b);
    const form = readPostForm(await (await browser.get(authorizeUrl())).text());
    const requestId = parseXml(decode(form.fields.SAMLRequest!)).documentElement.getAttribute('ID')!;
    const response = await idpResponse(defaultSpec({ inResponseTo: requestId, destination: SAML_ACS, recipient: SAML_ACS, audience: SAML_SP, spNameQualifier: SAML_SP, issueInstant: b.clock.now - 5, notBefore: b.clock.now - 5, authnInstant: b.clock.now - 10, notOnOrAfter: b.clock.now + 300, scdNotOnOrAfter: b.clock.now + 300 }));
    const acs = await browser.post('/login/saml/corp/acs', { SAMLResponse: response, RelayState: form.fields.RelayState! });
    expect(acs.status).toBe(303);
    const back = new URL(acs.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(APP.redirect_uri);
    expect(back.searchParams.get('state')).toBe('state-1');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(b.db.prepare('SELECT count(*) FROM login_transactions').pluck().get()).toBe(0);
  });
});
