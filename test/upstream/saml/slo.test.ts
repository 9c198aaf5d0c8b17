import { X509Certificate } from 'node:crypto';
import * as samlify from 'samlify';
import { createSamlSingleLogout } from '../../../src/upstream/saml/logout.js';
import { parseIdpMetadata } from '../../../src/upstream/saml/metadata.js';
import { describe, expect, it } from 'vitest';
import { verifyEnvelopedSignature } from '../../../src/upstream/saml/signature.js';
import { children, NS, parseStrict } from '../../../src/upstream/saml/xml.js';
import { deflateRawSync } from 'node:zlib';
import { inThreadVerifier } from '../../../src/upstream/saml/verifier.js';
import type { SamlLogoutError, SamlLogoutReceived } from '../../../src/upstream/saml/logout.js';
import { createSamlConnection, MemoryLoginTransactionStore, samlConnectionSchema, type SamlRefusalCode } from '../../../src/upstream/saml/index.js';
import { SAML_METADATA_DEFAULT_REFRESH } from '../../../src/constants.js';
import { SAML_LOGOUT_REQUEST_MAX_AGE, SAML_MAX_LOGOUT_MESSAGE_CHARS, SAML_MAX_LOGOUT_XML_BYTES } from '../../../src/upstream/saml/limits.js';
import { ACS, BROWSER, IDP_ENTITY, MemoryReplayStore, NOW, PERSISTENT, SP_ENTITY, defaultSpec, expectRefusal, harness, idpResponse, testKeys, type Harness } from './helpers.js';
import {
  BOTH_BINDINGS,
  IDP_SLO,
  IDP_SLO_POST,
  IDP_SLO_RESPONSES,
  NAME_ID,
  POST,
  REQUESTER,
  RSA_SHA1,
  SESSION_INDEX,
  SUCCESS,
  attrOf,
  deflated,
  logoutRequestSpec,
  logoutRequestXml,
  logoutResponse,
  logoutResponseXml,
  postLogoutRequest,
  readRedirect,
  redirectLogoutRequest,
  sloIdpMetadata,
} from './slo-helpers.js';

/**
 * SAML Single Logout at the connection (upstream/saml/logout.ts): every check on an IdP's
 * LogoutRequest and LogoutResponse has a test that breaks exactly that rule, and what the broker
 * sends is what SAML says (NameID and SessionIndex of the login, signed, times from the clock).
 */

const SLO = 'https://broker.example.test/saml/slo/corp';

async function sloHarness(slo = BOTH_BINDINGS): Promise<Harness & { sp: string }> {
  const keys = await testKeys();
  const h = await harness(
    {
      slo_url: SLO,
      idp_metadata_xml: sloIdpMetadata(keys.idp.cert, slo),
      sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert },
    },
    undefined,
    inThreadVerifier,
  );
  return { ...h, sp: h.conn.spMetadata() };
}

async function refusal(promise: Promise<unknown>, code: SamlRefusalCode): Promise<SamlLogoutError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a refusal ${code}`).toBeInstanceOf(Error);
  expect((err as SamlLogoutError).name).toBe('SamlLogoutError');
  expect((err as SamlLogoutError).reason.code).toBe(code);
  return err as SamlLogoutError;
}

const receivePost = (h: Harness, form: { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string }, browserBinding?: string) =>
  h.conn.logout!.receive({ binding: 'post', form }, browserBinding ? { browserBinding } : {});
const receiveRedirect = (h: Harness, query: string, browserBinding?: string) => h.conn.logout!.receive({ binding: 'redirect', query }, browserBinding ? { browserBinding } : {});

describe('SAML SLO: the SP metadata and the IdP endpoints', () => {
  it('the broker advertises its SingleLogoutService (both bindings) in its SP metadata', async () => {
    const h = await sloHarness();
    expect(h.sp).toContain(`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${SLO}"`);
    expect(h.sp).toContain(`<SingleLogoutService Binding="${POST}" Location="${SLO}"`);
    expect(h.conn.logout!.url).toBe(SLO);
  });

  it('by default the SLO URL is the ACS URL with acs made slo; without either nothing is advertised', async () => {
    const keys = await testKeys();
    const signing = { sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } };
    const derived = await harness({ acs_url: 'https://broker.example.test/login/saml/corp/acs', idp_metadata_xml: sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS), ...signing }, undefined, inThreadVerifier);
    expect(derived.conn.logout!.url).toBe('https://broker.example.test/login/saml/corp/slo');
    const none = await harness(signing, undefined, inThreadVerifier);
    expect(none.conn.logout).toBeUndefined();
    expect(none.conn.spMetadata()).not.toContain('SingleLogoutService');
  });

  it('no SLO without sp_signing (logout messages over the browser bindings must be signed, SAML profiles §4.4.4.1)', async () => {
    const keys = await testKeys();
    // An ACS URL ending in /acs and an IdP offering SLO, but no key to sign with: no SLO at all.
    const unsigned = await harness({ acs_url: 'https://broker.example.test/login/saml/corp/acs', idp_metadata_xml: sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS) }, undefined, inThreadVerifier);
    expect(unsigned.conn.logout).toBeUndefined();
    expect(unsigned.conn.spMetadata()).not.toContain('SingleLogoutService');
    // Asking for it explicitly without a key is a configuration error.
    await expect(harness({ slo_url: SLO, idp_metadata_xml: sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS) }, undefined, inThreadVerifier)).rejects.toThrow(
      'SAML connection corp: slo_url needs sp_signing: logout messages over the browser bindings must be signed (SAML profiles §4.4.4.1)',
    );
  });

  it('slo_url follows the ACS rules: https (http only on loopback with the flag), no query', () => {
    const base = { id: 'corp', sp_entity_id: SP_ENTITY, acs_url: 'https://broker.example.test/acs', idp_metadata_xml: '<x/>' };
    const issues = (slo_url: string) => samlConnectionSchema.safeParse({ ...base, slo_url }).error?.issues.filter((i) => i.path[0] === 'slo_url').map((i) => i.message) ?? [];
    expect(issues('http://broker.example.test/slo')).toEqual(['must be https']);
    expect(issues('https://broker.example.test/slo?x=1')).toEqual(['must not contain a query']);
    expect(issues('https://broker.example.test/slo')).toEqual([]);
  });

  it('follows the IdP metadata in use: after a refresh with a new signing key, that key verifies (rollover without restart)', async () => {
    const keys = await testKeys();
    const h = await sloHarness();
    let current = parseIdpMetadata(sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS));
    const logout = createSamlSingleLogout({
      connectionId: 'corp',
      spEntityId: SP_ENTITY,
      url: SLO,
      idp: () => current,
      skew: 60,
      sp: samlify.ServiceProvider({ entityID: SP_ENTITY }),
      sign: false,
      replay: h.replay,
      transactions: h.transactions,
      clock: () => NOW,
    });
    const signedByNext = () => ({ binding: 'post' as const, form: postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO)), { key: keys.idp2 }) });
    await refusal(logout.receive(signedByNext(), {}), 'signature_untrusted');
    current = parseIdpMetadata(sloIdpMetadata(keys.idp2.cert, BOTH_BINDINGS));
    expect(await logout.receive(signedByNext(), {})).toMatchObject({ kind: 'request' });
    // And without SLO in the refreshed metadata, there is none.
    current = parseIdpMetadata(sloIdpMetadata(keys.idp2.cert, []));
    expect(logout.offered).toBe(false);
  });

  it('a connection verifies logout messages against metadata a maintenance-run refresh brought, with no login in between', async () => {
    const keys = await testKeys();
    let served = sloIdpMetadata(keys.idp.cert, BOTH_BINDINGS);
    const clock = { now: NOW };
    const conn = await createSamlConnection(
      { id: 'corp', sp_entity_id: SP_ENTITY, acs_url: ACS, slo_url: SLO, idp_metadata_url: 'https://idp.example.test/metadata', sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } },
      { replay: new MemoryReplayStore(), transactions: new MemoryLoginTransactionStore(), clock: () => clock.now, verifier: inThreadVerifier, fetch: (async () => new Response(served)) as unknown as typeof fetch },
    );
    const sp = conn.spMetadata();
    const signedByNext = () => ({ binding: 'post' as const, form: postLogoutRequest(sp, logoutRequestXml(logoutRequestSpec(SLO, { issueInstant: clock.now - 1, notOnOrAfter: clock.now + 300 })), { key: keys.idp2 }) });
    await refusal(conn.logout!.receive(signedByNext(), {}), 'signature_untrusted');
    served = sloIdpMetadata(keys.idp2.cert, BOTH_BINDINGS);
    clock.now += SAML_METADATA_DEFAULT_REFRESH;
    expect(await conn.metadata.refreshIfDue(clock.now)).toMatchObject({ state: 'current' });
    expect(await conn.logout!.receive(signedByNext(), {})).toMatchObject({ kind: 'request' });
  });

  it('an IdP without SingleLogoutService: not offered, and a message is refused (slo_unsupported)', async () => {
    const h = await sloHarness([]);
    expect(h.conn.logout!.offered).toBe(false);
    await refusal(h.conn.logout!.start({ nameId: { value: NAME_ID }, browserBinding: BROWSER }), 'slo_unsupported');
    const keys = await testKeys();
    await refusal(receivePost(h, postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO)), { key: keys.idp })), 'slo_unsupported');
  });
});

describe('SAML SLO, SP-initiated: the LogoutRequest the broker sends', () => {
  it('HTTP-Redirect when offered: NameID (format, qualifiers) and SessionIndex of the login, times from the clock, query-signed by the SP key', async () => {
    const h = await sloHarness();
    h.clock.now = NOW + 1000;
    const keys = await testKeys();
    const out = await h.conn.logout!.start({
      nameId: { value: NAME_ID, format: PERSISTENT, nameQualifier: IDP_ENTITY, spNameQualifier: SP_ENTITY },
      sessionIndex: SESSION_INDEX,
      browserBinding: BROWSER,
      continuation: 'next',
    });
    if (!('redirectUrl' in out)) throw new Error('expected a redirect');
    expect(out.redirectUrl.startsWith(`${IDP_SLO}?SAMLRequest=`)).toBe(true);
    const sent = readRedirect(out.redirectUrl, keys.spSigning.cert);
    expect(sent.signed && sent.verified).toBe(true);
    expect(sent.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(sent.xml).toContain(`<saml:NameID Format="${PERSISTENT}" NameQualifier="${IDP_ENTITY}" SPNameQualifier="${SP_ENTITY}">${NAME_ID}</saml:NameID>`);
    expect(sent.xml).toContain(`<samlp:SessionIndex>${SESSION_INDEX}</samlp:SessionIndex>`);
    expect(sent.xml).toContain(`<saml:Issuer>${SP_ENTITY}</saml:Issuer>`);
    expect(attrOf(sent.xml, 'Destination')).toBe(IDP_SLO);
    expect(attrOf(sent.xml, 'IssueInstant')).toBe(new Date((NOW + 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    // The transaction (RelayState) waits for the answer, bound to the browser and the request ID.
    const tx = await h.transactions.take(sent.relayState!, h.clock.now);
    expect(tx).toMatchObject({ purpose: 'logout', requestId: attrOf(sent.xml, 'ID'), browserBinding: BROWSER, continuation: 'next' });
  });

  it('HTTP-POST when that is all the IdP offers: an enveloped-signed LogoutRequest in a form', async () => {
    const h = await sloHarness([{ Binding: POST, Location: IDP_SLO_POST }]);
    const out = await h.conn.logout!.start({ nameId: { value: NAME_ID, format: PERSISTENT }, browserBinding: BROWSER });
    if (!('postForm' in out)) throw new Error('expected a form');
    expect(out.postForm.action).toBe(IDP_SLO_POST);
    const xml = Buffer.from(out.postForm.fields.SAMLRequest!, 'base64').toString('utf8');
    // The enveloped signature verifies under the SP's certificate (by the broker's own verifier, as an IdP would).
    const keys = await testKeys();
    const root = parseStrict(xml).documentElement;
    const signed = verifyEnvelopedSignature(xml, children(root, NS.dsig, 'Signature')[0]!, root, 'logout_request', [{ key: new X509Certificate(keys.spSigning.cert).publicKey, certBase64: '' }]);
    expect(signed).toContain(`>${NAME_ID}</saml:NameID>`);
    expect(attrOf(xml, 'Destination')).toBe(IDP_SLO_POST);
    expect(out.postForm.fields.RelayState).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('SAML SLO, SP-initiated: the LogoutResponse that comes back', () => {
  async function started(h: Harness) {
    const out = await h.conn.logout!.start({ nameId: { value: NAME_ID, format: PERSISTENT }, sessionIndex: SESSION_INDEX, browserBinding: BROWSER, continuation: 'back-to-app' });
    if (!('redirectUrl' in out)) throw new Error('expected a redirect');
    const sent = readRedirect(out.redirectUrl);
    return { requestId: attrOf(sent.xml, 'ID')!, relayState: sent.relayState! };
  }
  const spec = (inResponseTo: string | null, over: Partial<Parameters<typeof logoutResponseXml>[0]> = {}) => ({
    id: `_lr${Math.random().toString(16).slice(2)}`,
    issuer: IDP_ENTITY,
    issueInstant: NOW - 1,
    destination: SLO,
    inResponseTo,
    status: SUCCESS,
    ...over,
  });

  it('a signed Success answering the request (POST) finishes the logout: its continuation, transaction gone', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(requestId)), 'post', { key: keys.idp, relayState });
    expect(await receivePost(h, form, BROWSER)).toEqual({ kind: 'response', continuation: 'back-to-app' } satisfies SamlLogoutReceived);
    expect(h.transactions.has(relayState)).toBe(false);
  });

  it('the same by HTTP-Redirect (query signature)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { query } = logoutResponse(h.sp, logoutResponseXml(spec(requestId)), 'redirect', { key: keys.idp, relayState });
    expect(await receiveRedirect(h, query, BROWSER)).toMatchObject({ kind: 'response', continuation: 'back-to-app' });
  });

  it('InResponseTo of another request: refused (in_response_to_mismatch)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec('_some-other-request')), 'post', { key: keys.idp, relayState });
    await refusal(receivePost(h, form, BROWSER), 'in_response_to_mismatch');
  });

  it('no InResponseTo: refused (in_response_to_missing), the transaction untouched', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(null)), 'post', { key: keys.idp, relayState });
    await refusal(receivePost(h, form, BROWSER), 'in_response_to_missing');
    expect(h.transactions.has(relayState)).toBe(true);
  });

  it('a failure status: refused (status_not_success)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(requestId, { status: REQUESTER })), 'post', { key: keys.idp, relayState });
    const err = await refusal(receivePost(h, form, BROWSER), 'status_not_success');
    expect(err.reason).toMatchObject({ status: REQUESTER });
  });

  it('unsigned: refused (message_unsigned), the transaction untouched', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(requestId)), 'post', { key: keys.idp, relayState, signed: false });
    await refusal(receivePost(h, form, BROWSER), 'message_unsigned');
    expect(h.transactions.has(relayState)).toBe(true);
  });

  it('signed by a key not in the IdP metadata: refused (signature_untrusted)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(requestId)), 'post', { key: keys.attacker, relayState });
    await refusal(receivePost(h, form, BROWSER), 'signature_untrusted');
  });

  it('from another browser: refused (browser_mismatch); a second use: logout_transaction_unknown', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const { requestId, relayState } = await started(h);
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(requestId)), 'post', { key: keys.idp, relayState });
    await refusal(receivePost(h, form, 'another-browser'), 'browser_mismatch');
    await refusal(receivePost(h, form, BROWSER), 'logout_transaction_unknown');
  });

  it('and a logout transaction is not a login transaction: the ACS refuses it (transaction_unknown)', async () => {
    const h = await sloHarness();
    const { requestId, relayState } = await started(h);
    const SAMLResponse = await idpResponse(defaultSpec({ inResponseTo: requestId, destination: ACS, recipient: ACS }));
    await expectRefusal(h.conn.consumeResponse({ SAMLResponse, RelayState: relayState }, { browserBinding: BROWSER }), 'transaction_unknown');
  });

  it('a login transaction is not a logout transaction (logout_transaction_unknown)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const login = await h.conn.startLogin({ binding: 'redirect', browserBinding: BROWSER });
    const { form } = logoutResponse(h.sp, logoutResponseXml(spec(login.requestId)), 'post', { key: keys.idp, relayState: login.transactionId });
    await refusal(receivePost(h, form, BROWSER), 'logout_transaction_unknown');
  });
});

describe('SAML SLO, IdP-initiated: the LogoutRequest is checked as strictly as the ACS checks a Response', () => {
  const post = async (h: Harness & { sp: string }, over: Parameters<typeof logoutRequestSpec>[1] = {}, o: { signed?: boolean; attacker?: boolean; relayState?: string } = {}) => {
    const keys = await testKeys();
    // Awaited here, not handed up: a refusal then always has a handler (workerd reports a rejection
    // that waits a microtask for one as unhandled).
    return await receivePost(h, postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO, over)), { key: o.attacker ? keys.attacker : keys.idp, ...(o.signed === false ? { signed: false } : {}), ...(o.relayState ? { relayState: o.relayState } : {}) }));
  };
  const redirect = async (h: Harness & { sp: string }, over: Parameters<typeof logoutRequestSpec>[1] = {}, o: { signed?: boolean; attacker?: boolean; sigAlg?: string; relayState?: string } = {}) => {
    const keys = await testKeys();
    return redirectLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO, over)), {
      key: o.attacker ? keys.attacker : keys.idp,
      ...(o.signed === false ? { signed: false } : {}),
      ...(o.sigAlg ? { sigAlg: o.sigAlg } : {}),
      relayState: o.relayState ?? 'idp-relay',
    });
  };

  it('a signed request by HTTP-POST passes: NameID, SessionIndex, RelayState', async () => {
    const h = await sloHarness();
    const got = await post(h, { id: '_req-post-1' }, { relayState: 'idp-state' });
    expect(got).toEqual({
      kind: 'request',
      request: { id: '_req-post-1', nameId: { value: NAME_ID, format: PERSISTENT, nameQualifier: IDP_ENTITY, spNameQualifier: SP_ENTITY }, sessionIndexes: [SESSION_INDEX], relayState: 'idp-state' },
    } satisfies SamlLogoutReceived);
  });

  it('a signed request by HTTP-Redirect passes (query signature over the parameters as received)', async () => {
    const h = await sloHarness();
    expect(await receiveRedirect(h, await redirect(h, { id: '_req-redirect-1' }))).toMatchObject({ kind: 'request', request: { id: '_req-redirect-1', relayState: 'idp-relay' } });
  });

  it('POST without a signature: refused (message_unsigned), not answerable', async () => {
    const h = await sloHarness();
    const err = await refusal(post(h, {}, { signed: false }), 'message_unsigned');
    expect(err.answerTo).toBeUndefined();
  });

  it('Redirect without Signature and SigAlg: refused (message_unsigned)', async () => {
    const h = await sloHarness();
    await refusal(receiveRedirect(h, await redirect(h, {}, { signed: false })), 'message_unsigned');
  });

  it('POST signed by a key not in the metadata: refused (signature_untrusted)', async () => {
    const h = await sloHarness();
    await refusal(post(h, {}, { attacker: true }), 'signature_untrusted');
  });

  it('Redirect signed by a key not in the metadata: refused (signature_untrusted)', async () => {
    const h = await sloHarness();
    await refusal(receiveRedirect(h, await redirect(h, {}, { attacker: true })), 'signature_untrusted');
  });

  it('Redirect with a parameter changed after signing (RelayState): refused (signature_untrusted)', async () => {
    const h = await sloHarness();
    const query = (await redirect(h, {}, { relayState: 'original' })).replace('RelayState=original', 'RelayState=changed');
    await refusal(receiveRedirect(h, query), 'signature_untrusted');
  });

  it('Redirect with the message swapped for another one: refused (signature_untrusted)', async () => {
    const h = await sloHarness();
    const query = (await redirect(h)).replace(/SAMLRequest=[^&]+/, `SAMLRequest=${deflated(logoutRequestXml(logoutRequestSpec(SLO, { nameId: 'someone-else' })))}`);
    await refusal(receiveRedirect(h, query), 'signature_untrusted');
  });

  it('Redirect signed with RSA-SHA1: refused (signature_algorithm_refused)', async () => {
    const h = await sloHarness();
    const err = await refusal(receiveRedirect(h, await redirect(h, {}, { sigAlg: RSA_SHA1 })), 'signature_algorithm_refused');
    expect(err.reason).toMatchObject({ algorithm: RSA_SHA1 });
  });

  it('POST with the signed request wrapped in another root: refused (not_a_logout_request)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const signed = Buffer.from(postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO)), { key: keys.idp }).SAMLRequest, 'base64').toString('utf8');
    const wrapped = `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_w">${signed.replace(/^<\?xml[^>]*>/, '')}</samlp:LogoutResponse>`;
    await refusal(receivePost(h, { SAMLRequest: Buffer.from(wrapped).toString('base64') }), 'not_a_logout_request');
  });

  it('POST with the signed content altered (another NameID): refused (signature_digest_mismatch)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const signed = Buffer.from(postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO)), { key: keys.idp }).SAMLRequest, 'base64').toString('utf8');
    await refusal(receivePost(h, { SAMLRequest: Buffer.from(signed.replace(NAME_ID, 'bob-persistent')).toString('base64') }), 'signature_digest_mismatch');
  });

  it('a Redirect message carrying an XML Signature: refused (signature_misplaced)', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const signedXml = Buffer.from(postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO)), { key: keys.idp }).SAMLRequest, 'base64').toString('utf8');
    await refusal(receiveRedirect(h, `SAMLRequest=${deflated(signedXml)}`), 'signature_misplaced');
  });

  it('Issuer other than the IdP entity id: refused (issuer_mismatch), not answerable', async () => {
    const h = await sloHarness();
    const err = await refusal(post(h, { issuer: 'https://other-idp.example.test' }), 'issuer_mismatch');
    expect(err.answerTo).toBeUndefined();
  });

  it('Destination other than the broker SLO URL: refused (destination_mismatch), answered', async () => {
    const h = await sloHarness();
    const err = await refusal(post(h, { id: '_dest-1', destination: 'https://broker.example.test/saml/slo/other' }, { relayState: 'rs' }), 'destination_mismatch');
    expect(err.answerTo).toEqual({ requestId: '_dest-1', relayState: 'rs' });
  });

  it('no Destination: refused (destination_missing)', async () => {
    const h = await sloHarness();
    await refusal(post(h, { destination: null }), 'destination_missing');
  });

  it('NotOnOrAfter passed beyond the clock skew: refused (logout_request_expired); within the skew: accepted', async () => {
    const h = await sloHarness();
    const skew = h.conn.config.clock_skew;
    await refusal(post(h, { notOnOrAfter: NOW - skew }), 'logout_request_expired');
    expect(await post(h, { notOnOrAfter: NOW - skew + 1 })).toMatchObject({ kind: 'request' });
  });

  it('IssueInstant in the future beyond the skew: refused (issue_instant_invalid); within it: accepted', async () => {
    const h = await sloHarness();
    const skew = h.conn.config.clock_skew;
    await refusal(post(h, { issueInstant: NOW + skew + 1 }), 'issue_instant_invalid');
    expect(await post(h, { issueInstant: NOW + skew })).toMatchObject({ kind: 'request' });
  });

  it('IssueInstant older than the maximum age (even with a later NotOnOrAfter): refused (logout_request_stale)', async () => {
    const h = await sloHarness();
    const skew = h.conn.config.clock_skew;
    await refusal(post(h, { issueInstant: NOW - SAML_LOGOUT_REQUEST_MAX_AGE - skew - 1, notOnOrAfter: NOW + 3600 }), 'logout_request_stale');
  });

  it('the same request ID twice: the second is refused (logout_request_replayed), through the replay store', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    const form = postLogoutRequest(h.sp, logoutRequestXml(logoutRequestSpec(SLO, { id: '_once' })), { key: keys.idp });
    expect(await receivePost(h, form)).toMatchObject({ kind: 'request' });
    expect(h.replay.size).toBe(1);
    const err = await refusal(receivePost(h, form), 'logout_request_replayed');
    expect(err.answerTo).toEqual({ requestId: '_once' });
  });

  it('a replay record lasts until the request could no longer be accepted', async () => {
    const h = await sloHarness();
    await post(h, { id: '_timed', notOnOrAfter: NOW + 60 });
    const [until] = [...h.replay.records.values()];
    expect(until).toBe(NOW + 60 + h.conn.config.clock_skew);
  });

  it('a message above the size bound: refused before parsing (logout_message_too_large)', async () => {
    const h = await sloHarness();
    await refusal(receivePost(h, { SAMLRequest: 'A'.repeat(SAML_MAX_LOGOUT_MESSAGE_CHARS + 4) }), 'logout_message_too_large');
  });

  it('a deflate bomb: inflating stops at the bound (logout_message_too_large)', async () => {
    const h = await sloHarness();
    const bomb = deflateRawSync(Buffer.alloc(SAML_MAX_LOGOUT_XML_BYTES * 64, 0x20));
    expect(bomb.length).toBeLessThan(SAML_MAX_LOGOUT_MESSAGE_CHARS);
    await refusal(receiveRedirect(h, `SAMLRequest=${deflated(Buffer.alloc(SAML_MAX_LOGOUT_XML_BYTES * 64, 0x20))}`), 'logout_message_too_large');
  });

  it('a Redirect message in another SAMLEncoding than DEFLATE, or not deflated: refused (logout_message_not_deflated)', async () => {
    const h = await sloHarness();
    const query = await redirect(h);
    await refusal(receiveRedirect(h, `${query}&SAMLEncoding=${encodeURIComponent('urn:example:other-encoding')}`), 'logout_message_not_deflated');
    expect(await receiveRedirect(h, `${await redirect(h)}&SAMLEncoding=${encodeURIComponent('urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE')}`)).toMatchObject({ kind: 'request' });
    await refusal(receiveRedirect(h, `SAMLRequest=${encodeURIComponent(Buffer.from(logoutRequestXml(logoutRequestSpec(SLO))).toString('base64'))}`), 'logout_message_not_deflated');
  });

  it('a DOCTYPE: refused (doctype_present)', async () => {
    const h = await sloHarness();
    const xml = `<!DOCTYPE x [<!ENTITY e "x">]>${logoutRequestXml(logoutRequestSpec(SLO))}`;
    await refusal(receivePost(h, { SAMLRequest: Buffer.from(xml).toString('base64') }), 'doctype_present');
  });

  it('SAMLRequest and SAMLResponse together, or a parameter twice: refused (logout_message_ambiguous)', async () => {
    const h = await sloHarness();
    await refusal(receivePost(h, { SAMLRequest: 'AAAA', SAMLResponse: 'AAAA' }), 'logout_message_ambiguous');
    await refusal(receiveRedirect(h, 'SAMLRequest=AAAA&SAMLRequest=BBBB'), 'logout_message_ambiguous');
  });

  it('answer: a LogoutResponse to the ResponseLocation, InResponseTo the request, RelayState back, signed by the SP', async () => {
    const h = await sloHarness();
    const keys = await testKeys();
    h.clock.now = NOW + 7;
    const out = h.conn.logout!.answer({ requestId: '_req-9', relayState: 'idp-state' }, 'success');
    if (!('redirectUrl' in out)) throw new Error('expected a redirect');
    expect(out.redirectUrl.startsWith(`${IDP_SLO_RESPONSES}?SAMLResponse=`)).toBe(true);
    const sent = readRedirect(out.redirectUrl, keys.spSigning.cert);
    expect(sent.verified).toBe(true);
    expect(sent.relayState).toBe('idp-state');
    expect(attrOf(sent.xml, 'InResponseTo')).toBe('_req-9');
    expect(attrOf(sent.xml, 'Destination')).toBe(IDP_SLO_RESPONSES);
    expect(sent.xml).toContain(`StatusCode Value="${SUCCESS}"`);
    const failed = h.conn.logout!.answer({ requestId: '_req-10' }, 'requester');
    expect(readRedirect((failed as { redirectUrl: string }).redirectUrl).xml).toContain(`StatusCode Value="${REQUESTER}"`);
  });

  it('answer to a POST-only IdP: an auto-submitted form with the signed LogoutResponse and the RelayState', async () => {
    const h = await sloHarness([{ Binding: POST, Location: IDP_SLO_POST }]);
    const out = h.conn.logout!.answer({ requestId: '_req-11', relayState: 'rs-11' }, 'success');
    if (!('postForm' in out)) throw new Error('expected a form');
    expect(out.postForm.action).toBe(IDP_SLO_POST);
    expect(out.postForm.fields.RelayState).toBe('rs-11');
    const xml = Buffer.from(out.postForm.fields.SAMLResponse!, 'base64').toString('utf8');
    expect(xml).toContain('<ds:Signature');
    expect(attrOf(xml, 'InResponseTo')).toBe('_req-11');
    expect(attrOf(xml, 'Destination')).toBe(IDP_SLO_POST);
  });

  it('covers: the same NameID value and format, qualifiers defaulted, the SessionIndex if the request names any', async () => {
    const h = await sloHarness();
    const request = { id: '_r', nameId: { value: NAME_ID, format: PERSISTENT }, sessionIndexes: [SESSION_INDEX] };
    const asserted = { nameId: { value: NAME_ID, format: PERSISTENT, nameQualifier: IDP_ENTITY, spNameQualifier: SP_ENTITY }, sessionIndex: SESSION_INDEX };
    const covers = h.conn.logout!.covers;
    expect(covers(asserted, request)).toBe(true);
    expect(covers({ ...asserted, sessionIndex: '_other' }, request)).toBe(false);
    expect(covers({ ...asserted, sessionIndex: '_other' }, { ...request, sessionIndexes: [] })).toBe(true);
    expect(covers({ ...asserted, nameId: { ...asserted.nameId, format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' } }, request)).toBe(false);
    expect(covers({ ...asserted, nameId: { ...asserted.nameId, nameQualifier: 'https://elsewhere' } }, request)).toBe(false);
  });
});
