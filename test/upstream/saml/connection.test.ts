import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import { beforeAll, describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { CLOCK_SKEW } from '../../../src/constants.js';
import {
  createSamlConnection,
  MemoryLoginTransactionStore,
  SAML_LOGIN_TRANSACTION_LIFETIME,
  SAML_METADATA_MAX_BYTES,
  samlConnectionSchema,
  SamlConfigError,
  samlReplayScope,
} from '../../../src/upstream/saml/index.js';
import {
  ACS,
  ALG,
  BROWSER,
  child,
  decode,
  defaultSpec,
  DIGEST,
  ECDSA_SHA256,
  encode,
  harness,
  IDP_ENTITY,
  idpMetadata,
  idpResponse,
  makeKeyPair,
  MemoryReplayStore,
  NOW,
  NS_A,
  NS_P,
  parseXml,
  PERSISTENT,
  responseXml,
  SP_ENTITY,
  SSO_POST,
  SSO_REDIRECT,
  startLogin,
  testKeys,
  URI_FORMAT,
  xmlCryptoSign,
  type KeyPair,
} from './helpers.js';
import { testIdpParses } from './saml-test-runtime.js';

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

const NS_MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

/** The AuthnRequest as the IdP receives it over HTTP-Redirect. */
function redirectRequest(url: string): { xml: Document; query: Record<string, string>; octetString: string } {
  const u = new URL(url);
  const raw = u.search.slice(1).split('&');
  const octetString = raw.filter((p) => !p.startsWith('Signature=')).join('&');
  const query = Object.fromEntries(u.searchParams.entries());
  const xml = parseXml(inflateRawSync(Buffer.from(query.SAMLRequest!, 'base64')).toString('utf8'));
  return { xml, query, octetString };
}

/** samlify as the IdP, wanting signed AuthnRequests, to parse and verify what the broker sent. */
function verifyingIdp(): samlify.IdentityProviderInstance {
  testIdpParses();
  return samlify.IdentityProvider({
    metadata: idpMetadata([keys.idp.cert], { wantAuthnRequestsSigned: true }),
    privateKey: keys.idp.key,
  });
}

describe('SP metadata and AuthnRequests', () => {
  it('publishes the SP metadata: entityID, ACS over HTTP-POST, signing flags and both certificates', async () => {
    const h = await harness({
      want_response_signed: true,
      authn_requests_signed: true,
      sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert },
      sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert },
    });
    const md = parseXml(h.conn.spMetadata()).documentElement;
    expect(md.localName).toBe('EntityDescriptor');
    expect(md.getAttribute('entityID')).toBe(SP_ENTITY);
    const sso = md.getElementsByTagNameNS(NS_MD, 'SPSSODescriptor').item(0)!;
    expect(sso.getAttribute('AuthnRequestsSigned')).toBe('true');
    expect(sso.getAttribute('WantAssertionsSigned')).toBe('true');
    const acs = sso.getElementsByTagNameNS(NS_MD, 'AssertionConsumerService').item(0)!;
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(acs.getAttribute('Location')).toBe(ACS);
    const uses = Array.from({ length: sso.getElementsByTagNameNS(NS_MD, 'KeyDescriptor').length }, (_, i) => sso.getElementsByTagNameNS(NS_MD, 'KeyDescriptor').item(i)!.getAttribute('use'));
    expect(uses.sort()).toEqual(['encryption', 'signing']);
    expect(h.conn.idpEntityId).toBe(IDP_ENTITY);
  });

  it('publishes no encryption certificate when none is configured', async () => {
    const h = await harness();
    const sso = parseXml(h.conn.spMetadata()).getElementsByTagNameNS(NS_MD, 'SPSSODescriptor').item(0)!;
    expect(sso.getElementsByTagNameNS(NS_MD, 'KeyDescriptor').length).toBe(0);
    expect(sso.getAttribute('AuthnRequestsSigned')).toBe('false');
  });

  it('HTTP-Redirect: a signed AuthnRequest that samlify (as the IdP) verifies, and a stored transaction', async () => {
    const h = await harness({ authn_requests_signed: true, sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } });
    const started = await h.conn.startLogin({ binding: 'redirect', browserBinding: BROWSER, continuation: 'cont-1' });
    expect(started.redirectUrl!.startsWith(`${SSO_REDIRECT}?SAMLRequest=`)).toBe(true);
    const { xml, query, octetString } = redirectRequest(started.redirectUrl!);
    expect(query.RelayState).toBe(started.transactionId);
    expect(query.SigAlg).toBe(ALG.rsaSha256);
    const req = xml.documentElement;
    expect(req.getAttribute('ID')).toBe(started.requestId);
    expect(req.getAttribute('Destination')).toBe(SSO_REDIRECT);
    expect(req.getAttribute('AssertionConsumerServiceURL')).toBe(ACS);
    expect(req.getAttribute('IssueInstant')).toBe(new Date(NOW * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(child(req, NS_A, 'Issuer')!.textContent).toBe(SP_ENTITY);
    expect(child(req, NS_P, 'NameIDPolicy')!.getAttribute('Format')).toBe(PERSISTENT);

    const parsed = await verifyingIdp().parseLoginRequest(samlify.ServiceProvider({ metadata: h.conn.spMetadata() }), 'redirect', { query, octetString });
    expect(parsed.extract.request?.id).toBe(started.requestId);

    expect(started.transactionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(h.transactions.has(started.transactionId)).toBe(true);
    const tx = await h.transactions.take(started.transactionId, NOW);
    expect(tx).toMatchObject({ connectionId: 'corp', requestId: started.requestId, browserBinding: BROWSER, continuation: 'cont-1', createdAt: NOW, expiresAt: NOW + SAML_LOGIN_TRANSACTION_LIFETIME });
  });

  it('HTTP-POST: a form with a signed AuthnRequest that samlify verifies', async () => {
    const h = await harness({ authn_requests_signed: true, sp_signing: { private_key: keys.spSigning.key, certificate: keys.spSigning.cert } });
    const started = await h.conn.startLogin({ binding: 'post', browserBinding: BROWSER });
    expect(started.postForm!.action).toBe(SSO_POST);
    expect(started.postForm!.fields.RelayState).toBe(started.transactionId);
    const xml = parseXml(decode(started.postForm!.fields.SAMLRequest!));
    expect(xml.documentElement.getAttribute('ID')).toBe(started.requestId);
    expect(xml.documentElement.getAttribute('Destination')).toBe(SSO_POST);
    expect(xml.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature').length).toBe(1);
    const parsed = await verifyingIdp().parseLoginRequest(samlify.ServiceProvider({ metadata: h.conn.spMetadata() }), 'post', { body: started.postForm!.fields });
    expect(parsed.extract.request?.id).toBe(started.requestId);
  });

  it('requests the configured authentication context, and ForceAuthn on demand', async () => {
    const h = await harness({ authn_context: [PPT_CLASS, 'https://refeds.org/profile/mfa'] });
    const started = await h.conn.startLogin({ binding: 'redirect', browserBinding: BROWSER, forceAuthn: true });
    const req = redirectRequest(started.redirectUrl!).xml.documentElement;
    expect(req.getAttribute('ForceAuthn')).toBe('true');
    const requested = child(req, NS_P, 'RequestedAuthnContext')!;
    expect(requested.getAttribute('Comparison')).toBe('exact');
    expect(requested.getElementsByTagNameNS(NS_A, 'AuthnContextClassRef').length).toBe(2);
  });

  it('signs requests when the IdP metadata asks, and refuses to start without a signing key', async () => {
    await expect(
      createSamlConnection(
        { id: 'c', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: idpMetadata([keys.idp.cert], { wantAuthnRequestsSigned: true }) },
        { replay: new MemoryReplayStore(), transactions: new MemoryLoginTransactionStore(), clock: () => NOW },
      ),
    ).rejects.toThrow(SamlConfigError);
  });

  it('refuses to start with an empty browser binding', async () => {
    const h = await harness();
    await expect(h.conn.startLogin({ binding: 'redirect', browserBinding: '' })).rejects.toMatchObject({ reason: { code: 'invalid_request' } });
    expect(h.transactions.size).toBe(0);
  });
});

const PPT_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

describe('happy paths', () => {
  it('SP-initiated over HTTP-Redirect, assertion signed: the identity, the transaction consumed, the assertion remembered', async () => {
    const h = await harness();
    const started = await startLogin(h, 'redirect');
    const spec = defaultSpec({ inResponseTo: started.requestId });
    const finished = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(spec), RelayState: started.transactionId }, { browserBinding: BROWSER });

    expect(finished.initiatedBy).toBe('sp');
    expect(finished.continuation).toBe('{"authorize":"pending-1"}');
    expect(finished.identity).toEqual({
      connectionId: 'corp',
      protocol: 'saml',
      issuer: IDP_ENTITY,
      subject: 'a1b2c3d4-persistent-alice',
      // Translated through the default claim table (src/migration/claims.ts); multi-valued attributes stay arrays.
      claims: { email: 'alice@example.com', given_name: 'Alice', family_name: 'Liddell', name: 'Alice Liddell', groups: ['staff', 'engineering', 'oncall'] },
      authTime: NOW - 10,
      acr: PPT_CLASS,
      amr: ['pwd'],
      sessionIndex: '_session-42',
      saml: {
        assertionId: spec.assertionId,
        nameId: { value: 'a1b2c3d4-persistent-alice', format: PERSISTENT, nameQualifier: IDP_ENTITY, spNameQualifier: SP_ENTITY },
        attributes: [
          { name: 'urn:oid:0.9.2342.19200300.100.1.3', nameFormat: URI_FORMAT, friendlyName: 'mail', values: ['alice@example.com'] },
          { name: 'urn:oid:2.5.4.42', nameFormat: URI_FORMAT, friendlyName: 'givenName', values: ['Alice'] },
          { name: 'urn:oid:2.5.4.4', nameFormat: URI_FORMAT, friendlyName: 'sn', values: ['Liddell'] },
          { name: 'urn:oid:2.16.840.1.113730.3.1.241', nameFormat: URI_FORMAT, friendlyName: 'displayName', values: ['Alice Liddell'] },
          { name: 'groups', values: ['staff', 'engineering', 'oncall'] },
        ],
      },
    });
    expect(h.transactions.has(started.transactionId)).toBe(false);
    // Remembered until the assertion could no longer be accepted: its expiry plus the skew.
    expect([...h.replay.records]).toEqual([[`${samlReplayScope(IDP_ENTITY)}\u0000${spec.assertionId}`, NOW + 300 + CLOCK_SKEW]]);
  });

  it('SP-initiated over HTTP-POST', async () => {
    const h = await harness();
    const started = await startLogin(h, 'post');
    const finished = await h.conn.consumeResponse(
      { SAMLResponse: await idpResponse(defaultSpec({ inResponseTo: started.requestId })), RelayState: started.postForm!.fields.RelayState },
      { browserBinding: BROWSER },
    );
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('response signed only, when the connection wants the response signed', async () => {
    const h = await harness({ want_response_signed: true, want_assertions_signed: false });
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { signAssertion: false, signResponse: true });
    const doc = parseXml(decode(b64));
    expect(child(doc.documentElement, 'http://www.w3.org/2000/09/xmldsig#', 'Signature')).toBeDefined();
    expect(child(child(doc.documentElement, NS_A, 'Assertion')!, 'http://www.w3.org/2000/09/xmldsig#', 'Signature')).toBeUndefined();
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('assertion signed only, when the connection wants the assertion signed', async () => {
    const h = await harness({ want_response_signed: false, want_assertions_signed: true });
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { signAssertion: true, signResponse: false });
    expect(child(parseXml(decode(b64)).documentElement, 'http://www.w3.org/2000/09/xmldsig#', 'Signature')).toBeUndefined();
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('both signed, when the connection wants both', async () => {
    const h = await harness({ want_response_signed: true, want_assertions_signed: true });
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { signAssertion: true, signResponse: true });
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('encrypted assertion (RSA-OAEP key transport, AES-256-CBC), signed inside', async () => {
    const h = await harness({ sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert } });
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { encrypt: true });
    const received = parseXml(decode(b64)).documentElement;
    expect(child(received, NS_A, 'EncryptedAssertion')).toBeDefined();
    expect(child(received, NS_A, 'Assertion')).toBeUndefined();
    expect(decode(b64)).toContain(ALG.oaep);
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    expect(finished.identity.claims.email).toBe('alice@example.com');
  });

  it('encrypted assertion (RSA-OAEP, AES-128-GCM) in a response signed over the ciphertext', async () => {
    const h = await harness({
      want_response_signed: true,
      want_assertions_signed: false,
      sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert },
    });
    const started = await startLogin(h);
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { encrypt: true, signAssertion: false, signResponse: true, dataEncryptionAlgorithm: ALG.aes128gcm });
    expect(decode(b64)).toContain(ALG.aes128gcm);
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('IdP key rollover: metadata with two signing certificates, the response signed by the second (and still by the first)', async () => {
    const h = await harness({}, [keys.idp.cert, keys.idp2.cert]);
    for (const key of [keys.idp2, keys.idp]) {
      const started = await startLogin(h);
      const finished = await h.conn.consumeResponse(
        { SAMLResponse: await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { key }), RelayState: started.transactionId },
        { browserBinding: BROWSER },
      );
      expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    }
  });

  it('IdP-initiated, when the connection allows it: no transaction, no continuation, and its RelayState is not used', async () => {
    const h = await harness({ allow_idp_initiated: true });
    const pending = await startLogin(h);
    const finished = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(defaultSpec()), RelayState: pending.transactionId }, {});
    expect(finished.initiatedBy).toBe('idp');
    expect(finished.continuation).toBeUndefined();
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    // The pending SP-initiated login is untouched by an unsolicited response naming it.
    expect(h.transactions.has(pending.transactionId)).toBe(true);
    expect(h.replay.size).toBe(1);
  });

  it('multi-valued attributes stay arrays, keyed by Name with their NameFormat; Microsoft claim URIs translate', async () => {
    const h = await harness();
    const started = await startLogin(h);
    const spec = defaultSpec({
      inResponseTo: started.requestId,
      attributes: [
        { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', nameFormat: URI_FORMAT, values: ['alice@corp.example'] },
        { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', values: ['Alice'] },
        { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', values: ['Liddell'] },
        { name: 'http://schemas.microsoft.com/identity/claims/displayname', values: ['Alice L.'] },
        { name: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', nameFormat: URI_FORMAT, values: ['g1', 'g2', 'g3', ''] },
        { name: 'empty', values: [] },
      ],
    });
    const { identity } = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(spec), RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(identity.claims).toEqual({ email: 'alice@corp.example', given_name: 'Alice', family_name: 'Liddell', name: 'Alice L.', groups: ['g1', 'g2', 'g3', ''] });
    expect(identity.saml!.attributes.find((a) => a.name.endsWith('/groups'))).toEqual({
      name: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
      nameFormat: URI_FORMAT,
      values: ['g1', 'g2', 'g3', ''],
    });
    expect(identity.saml!.attributes.find((a) => a.name === 'empty')).toEqual({ name: 'empty', values: [] });
  });

  it('principal_key attribute:<Name> keys the principal on that attribute, whatever the NameID', async () => {
    const h = await harness({ principal_key: 'attribute:urn:oid:0.9.2342.19200300.100.1.1' });
    const started = await startLogin(h);
    const req = redirectRequest(started.redirectUrl!).xml.documentElement;
    expect(child(req, NS_P, 'NameIDPolicy')!.hasAttribute('Format')).toBe(false);
    const spec = defaultSpec({
      inResponseTo: started.requestId,
      nameId: '_transient-9f8e',
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      attributes: [{ name: 'urn:oid:0.9.2342.19200300.100.1.1', nameFormat: URI_FORMAT, values: ['alice.uid'] }],
    });
    const { identity } = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(spec), RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(identity.subject).toBe('alice.uid');
    expect(identity.saml!.nameId.format).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:transient');
  });

  it('an ECDSA P-256 / SHA-256 signature from a metadata EC certificate verifies', async () => {
    const ec = await makeKeyPair('EC IdP', { keyType: 'ec' });
    const h = await harness({}, [ec.cert]);
    const started = await startLogin(h);
    const xml = xmlCryptoSign(responseXml(defaultSpec({ inResponseTo: started.requestId })), { key: ec, target: 'assertion', signatureAlgorithm: ECDSA_SHA256, digestAlgorithm: DIGEST.sha256 });
    expect(xml).toContain(ECDSA_SHA256);
    const { identity } = await h.conn.consumeResponse({ SAMLResponse: encode(xml), RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('accepts validity windows at the edge of the configured skew', async () => {
    const h = await harness({ clock_skew: 30 });
    const started = await startLogin(h);
    const spec = defaultSpec({ inResponseTo: started.requestId, notBefore: NOW + 30, issueInstant: NOW + 30, authnInstant: NOW + 30, notOnOrAfter: NOW - 29, scdNotOnOrAfter: NOW - 29 });
    const { identity } = await h.conn.consumeResponse({ SAMLResponse: await idpResponse(spec), RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(identity.authTime).toBe(NOW + 30);
    // Remembered until the last instant it could be accepted.
    expect([...h.replay.records.values()]).toEqual([NOW - 29 + 30]);
  });
});

describe('configuration', () => {
  const base = { id: 'corp', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: '<x/>' };

  it('applies defaults: assertions signed, response not, IdP-initiated off, the shared clock skew, nameid principal', () => {
    expect(samlConnectionSchema.parse(base)).toMatchObject({
      want_assertions_signed: true,
      want_response_signed: false,
      allow_idp_initiated: false,
      clock_skew: CLOCK_SKEW,
      authn_requests_signed: false,
      principal_key: { kind: 'nameid' },
    });
    expect(samlConnectionSchema.parse({ ...base, principal_key: 'attribute:uid' }).principal_key).toEqual({ kind: 'attribute', name: 'uid' });
  });

  it.each([
    ['no metadata source', { ...base, idp_metadata_xml: undefined }],
    ['two metadata sources', { ...base, idp_metadata_url: 'https://idp.example.test/md' }],
    ['no signature wanted at all', { ...base, want_assertions_signed: false, want_response_signed: false }],
    ['an http ACS URL', { ...base, acs_url: 'http://broker.example.test/acs' }],
    ['an http loopback ACS URL without the flag', { ...base, acs_url: 'http://localhost:8787/acs' }],
    ['an http metadata URL', { ...base, idp_metadata_xml: undefined, idp_metadata_url: 'http://idp.example.test/md' }],
    ['a clock skew over the bound', { ...base, clock_skew: 301 }],
    ['a negative clock skew', { ...base, clock_skew: -1 }],
    ['signed requests without a signing key', { ...base, authn_requests_signed: true }],
    ['an unknown principal key', { ...base, principal_key: 'email' }],
    ['an unknown key', { ...base, want_signed: true }],
    ['a bad connection id', { ...base, id: 'has space' }],
    ['a PEM that is not a key', { ...base, sp_signing: { private_key: 'nope', certificate: 'nope' } }],
  ])('refuses %s', (_label, input) => {
    expect(() => samlConnectionSchema.parse(input)).toThrow(ZodError);
  });

  it('allows http only on loopback with the flag', () => {
    expect(samlConnectionSchema.parse({ ...base, acs_url: 'http://localhost:8787/acs', allow_insecure_http_for_loopback: true }).acs_url).toBe('http://localhost:8787/acs');
  });

  const deps = () => ({ replay: new MemoryReplayStore(), transactions: new MemoryLoginTransactionStore(), clock: () => NOW });

  it('fetches metadata from a URL, without following redirects', async () => {
    const seen: RequestInit[] = [];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      seen.push(init);
      return new Response(idpMetadata([keys.idp.cert]), { headers: { 'content-type': 'application/samlmetadata+xml' } });
    }) as unknown as typeof fetch;
    const conn = await createSamlConnection({ id: 'u', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_url: 'https://idp.example.test/md' }, { ...deps(), fetch: fetchImpl });
    expect(conn.idpEntityId).toBe(IDP_ENTITY);
    expect(seen[0]!.redirect).toBe('error');
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
  });

  it('refuses metadata over the size cap, and a failed fetch', async () => {
    const big = (async () => new Response(`<x>${' '.repeat(SAML_METADATA_MAX_BYTES)}</x>`)) as unknown as typeof fetch;
    await expect(createSamlConnection({ id: 'u', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_url: 'https://idp.example.test/md' }, { ...deps(), fetch: big })).rejects.toThrow(/larger than/);
    const notFound = (async () => new Response('nope', { status: 404 })) as unknown as typeof fetch;
    await expect(createSamlConnection({ id: 'u', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_url: 'https://idp.example.test/md' }, { ...deps(), fetch: notFound })).rejects.toThrow(SamlConfigError);
  });

  it('picks the IdP out of an aggregate by idp_entity_id, and refuses an ambiguous aggregate', async () => {
    const one = idpMetadata([keys.idp.cert]);
    const two = idpMetadata([keys.idp2.cert], { entityId: 'https://other-idp.example.test' });
    const strip = (x: string) => x.replace(/^<\?xml[^>]*>/, '');
    const aggregate = `<md:EntitiesDescriptor xmlns:md="${NS_MD}">${strip(one)}${strip(two)}</md:EntitiesDescriptor>`;
    const conn = await createSamlConnection({ id: 'a', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: aggregate, idp_entity_id: 'https://other-idp.example.test' }, deps());
    expect(conn.idpEntityId).toBe('https://other-idp.example.test');
    await expect(createSamlConnection({ id: 'a', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: aggregate }, deps())).rejects.toThrow(/expected one IdP entity/);
  });

  it('refuses metadata with a DOCTYPE or without signing certificates', async () => {
    const withDoctype = `<!DOCTYPE x [<!ENTITY e "x">]>${idpMetadata([keys.idp.cert]).replace(/^<\?xml[^>]*>/, '')}`;
    await expect(createSamlConnection({ id: 'm', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: withDoctype }, deps())).rejects.toThrow(/doctype_present/);
    const noCerts = idpMetadata([keys.idp.cert]).replace(/<KeyDescriptor[\s\S]*?<\/KeyDescriptor>/g, '');
    await expect(createSamlConnection({ id: 'm', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: noCerts }, deps())).rejects.toThrow(/no signing certificate/);
  });

  it('refuses an SP certificate that does not match its key', async () => {
    const mismatched = { private_key: keys.spSigning.key, certificate: keys.spEncryption.cert };
    await expect(
      createSamlConnection({ id: 'k', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: mismatched }, deps()),
    ).rejects.toThrow(/does not match/);
  });

  it('reads an SP private key from the secret private_key_env names, and refuses one unset or not a key without saying its value', async () => {
    const pair = { private_key_env: 'SAML_CORP_ENCRYPTION_KEY', certificate: keys.spEncryption.cert };
    const input = { id: 'k', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_encryption: pair };
    const asked: string[] = [];
    const conn = await createSamlConnection(input, { ...deps(), secret: (name) => (asked.push(name), name === 'SAML_CORP_ENCRYPTION_KEY' ? keys.spEncryption.key : undefined) });
    expect(asked).toEqual(['SAML_CORP_ENCRYPTION_KEY']);
    // The key read is the one that decrypts: a login with an encrypted assertion completes.
    const started = await conn.startLogin({ binding: 'redirect', browserBinding: BROWSER });
    const SAMLResponse = await idpResponse(defaultSpec({ inResponseTo: started.requestId }), { encrypt: true });
    expect(decode(SAMLResponse)).toContain('EncryptedAssertion');
    const finished = await conn.consumeResponse({ SAMLResponse, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    await expect(createSamlConnection(input, deps())).rejects.toThrow('SAML connection k: sp_encryption.private_key_env: SAML_CORP_ENCRYPTION_KEY is not set');
    const notAKey = await createSamlConnection(input, { ...deps(), secret: () => 'hunter2-not-a-pem' }).catch((e: unknown) => e);
    expect(notAKey).toBeInstanceOf(SamlConfigError);
    expect((notAKey as Error).message).toBe('SAML connection k: sp_encryption.private_key_env: SAML_CORP_ENCRYPTION_KEY is not an unencrypted PEM private key');
    // The secret's key must still be the certificate's.
    await expect(createSamlConnection(input, { ...deps(), secret: () => keys.spSigning.key })).rejects.toThrow(/does not match/);
  });

  it('wants exactly one of private_key and private_key_env, and a variable name', () => {
    const base = { id: 'k', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: '<x/>' };
    const issues = (pair: Record<string, string>) => {
      const result = samlConnectionSchema.safeParse({ ...base, sp_signing: { certificate: keys.spSigning.cert, ...pair } });
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ private_key: keys.spSigning.key })).toEqual([]);
    expect(issues({ private_key_env: 'SP_KEY' })).toEqual([]);
    expect(issues({})).toEqual(['sp_signing.private_key: exactly one of private_key or private_key_env is required']);
    expect(issues({ private_key: keys.spSigning.key, private_key_env: 'SP_KEY' })).toEqual(['sp_signing.private_key: exactly one of private_key or private_key_env is required']);
    expect(issues({ private_key_env: 'not a name' })).toEqual(['sp_signing.private_key_env: expected an environment variable name']);
  });

  it('refuses an EC SP signing key (samlify signs redirect requests with RSA only)', async () => {
    const ec: KeyPair = await makeKeyPair('EC SP', { keyType: 'ec' });
    await expect(
      createSamlConnection({ id: 'k', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: idpMetadata([keys.idp.cert]), sp_signing: { private_key: ec.key, certificate: ec.cert } }, deps()),
    ).rejects.toThrow(/must be RSA/);
  });
});
