import { beforeAll, describe, expect, it } from 'vitest';
import { SAML_MAX_RESPONSE_BASE64_CHARS, samlConnectionSchema } from '../../../src/upstream/saml/index.js';
import type { SamlRefusalCode } from '../../../src/upstream/saml/index.js';
import {
  ACS,
  ALG,
  BROWSER,
  child,
  decode,
  defaultSpec,
  DIGEST,
  el,
  EMAIL,
  encode,
  encryptedAssertionXml,
  expectRefusal,
  harness,
  idpResponse,
  mutate,
  NOW,
  NS_A,
  NS_DS,
  NS_P,
  parseXml,
  responseXml,
  SP_ENTITY,
  startLogin,
  testKeys,
  TRANSIENT,
  withEncryptedAssertion,
  xmlCryptoSign,
  type Harness,
  type ResponseSpec,
  type SignOptions,
} from './helpers.js';

/**
 * The attack battery: every response here is built from a good one that samlify (as the IdP)
 * signed, then altered. Each is refused with its precise reason, and nothing is stored: the login
 * transaction is still waiting (unless the refusal comes after it was taken, which the test says)
 * and the replay cache is untouched.
 */

let keys: Awaited<ReturnType<typeof testKeys>>;
beforeAll(async () => {
  keys = await testKeys();
});

interface Attempt {
  h: Harness;
  started: Awaited<ReturnType<typeof startLogin>>;
  b64: string;
}

/** A login started at the broker and the IdP's good, signed answer to it. */
async function attempt(config: Parameters<typeof harness>[0] = {}, spec: Partial<ResponseSpec> = {}, sign: SignOptions = {}): Promise<Attempt> {
  const h = await harness(config);
  const started = await startLogin(h);
  // A non-Success response carries no assertion: the IdP signs the response, if anything.
  const signing = spec.status ? { signAssertion: false, signResponse: true, ...sign } : sign;
  const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId, ...spec }), signing);
  return { h, started, b64 };
}

/** Refused with `code` before any state was touched: the transaction still waits, no replay record. */
async function refusedStatelessly(a: Attempt, b64: string, code: SamlRefusalCode, relayState: unknown = a.started.transactionId) {
  const error = await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: b64, RelayState: relayState }, { browserBinding: BROWSER }), code);
  expect(error.transactionConsumed).toBe(false);
  expect(a.h.transactions.has(a.started.transactionId)).toBe(true);
  expect(a.h.replay.size).toBe(0);
  return error;
}

/** The good response is still accepted afterwards: the refused post cancelled nothing. */
async function stillAccepted(a: Attempt) {
  const finished = await a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER });
  expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
}

const assertionOf = (doc: Document) => el(doc, NS_A, 'Assertion');
const signatureOf = (parent: Element) => child(parent, NS_DS, 'Signature')!;

describe('the posted form and the XML text', () => {
  it('refuses a missing SAMLResponse', async () => {
    const a = await attempt();
    await refusedStatelessly(a, undefined as unknown as string, 'response_missing');
  });

  it('refuses something that is not base64', async () => {
    const a = await attempt();
    await refusedStatelessly(a, 'PHNhbWxwOlJlc3BvbnNl$$$', 'response_not_base64');
  });

  it('refuses an oversized response before decoding it', async () => {
    const a = await attempt();
    await refusedStatelessly(a, 'A'.repeat(SAML_MAX_RESPONSE_BASE64_CHARS + 4), 'response_too_large');
  });

  it('refuses a DOCTYPE, even a harmless one, before any parser runs', async () => {
    const a = await attempt();
    await refusedStatelessly(a, encode(`<!DOCTYPE samlp:Response>${decode(a.b64)}`), 'doctype_present');
    await stillAccepted(a);
  });

  it('refuses an external entity (XXE) reference', async () => {
    const a = await attempt();
    const xml = decode(a.b64).replace('a1b2c3d4-persistent-alice', '&xxe;');
    await refusedStatelessly(a, encode(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${xml}`), 'doctype_present');
  });

  it('refuses entity expansion (billion laughs)', async () => {
    const a = await attempt();
    const dtd = '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>';
    await refusedStatelessly(a, encode(dtd + decode(a.b64).replace('alice@example.com', '&c;')), 'doctype_present');
  });

  it('refuses a DOCTYPE inside a decrypted assertion', async () => {
    const a = await attempt({ sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert } });
    const b64 = withEncryptedAssertion(a.b64, (assertion) => encryptedAssertionXml(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${assertion}`, keys.spEncryption.cert));
    await refusedStatelessly(a, b64, 'doctype_present');
  });

  it('refuses an XML declaration naming another encoding than UTF-8', async () => {
    const a = await attempt();
    await refusedStatelessly(a, encode(`<?xml version="1.0" encoding="ISO-8859-1"?>${decode(a.b64)}`), 'xml_encoding_unsupported');
  });

  it('refuses a document the schema does not allow', async () => {
    const a = await attempt();
    // The Response envelope is not signed here (only the assertion is): an unknown attribute on it
    // would not break a signature, the schema validator refuses it.
    const b64 = mutate(a.b64, (doc) => doc.documentElement.setAttribute('Extra', 'x'));
    const error = await refusedStatelessly(a, b64, 'schema_invalid');
    expect('detail' in error.reason && error.reason.detail).toMatch(/Extra/);
  });

  it('checks the content model before any signature: an unsigned response with an undeclared attribute is refused for it', async () => {
    const a = await attempt({}, {}, { signAssertion: false, signResponse: false });
    const b64 = mutate(a.b64, (doc) => doc.documentElement.setAttribute('Extra', 'x'));
    await refusedStatelessly(a, b64, 'schema_invalid');
  });

  it('refuses children of the Response or Assertion out of the schema\u2019s order, and content beside the root', async () => {
    const a = await attempt();
    const swapped = encode(decode(a.b64).replace(/(<samlp:Status>[\s\S]*?<\/samlp:Status>)([\s\S]*<\/saml:Assertion>)/, '$2$1'));
    const error = await refusedStatelessly(a, swapped, 'schema_invalid');
    expect('detail' in error.reason && error.reason.detail).toMatch(/Status/);
    await refusedStatelessly(a, encode(`${decode(a.b64)}trailing`), 'xml_malformed');
    await refusedStatelessly(a, encode(decode(a.b64).replace('<saml:Issuer>', '<saml:Issuer><u:x/>').replace('</saml:Issuer>', '</saml:Issuer>')), 'xml_malformed');
    await stillAccepted(a);
  });

  it('refuses XML that is not well-formed', async () => {
    const a = await attempt();
    await refusedStatelessly(a, encode(decode(a.b64).replace('</samlp:Response>', '')), 'xml_malformed');
  });

  it('refuses characters XML forbids, which one parser would accept and the other not', async () => {
    const a = await attempt();
    await refusedStatelessly(a, encode(decode(a.b64).replace('Alice Liddell', 'Alice\u0000Liddell')), 'xml_malformed');
  });

  it('refuses hostile nesting depth before anything recursive runs', async () => {
    const a = await attempt();
    const deep = `<samlp:Extensions>${'<x:a xmlns:x="urn:x">'.repeat(800)}${'</x:a>'.repeat(800)}</samlp:Extensions>`;
    await refusedStatelessly(a, encode(decode(a.b64).replace('<samlp:Status>', `${deep}<samlp:Status>`)), 'xml_malformed');
  });

  it('refuses another SAML message in place of a Response', async () => {
    const a = await attempt();
    const logout = `<samlp:LogoutResponse xmlns:samlp="${NS_P}" ID="_l1" Version="2.0" IssueInstant="2020-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    await refusedStatelessly(a, encode(logout), 'not_a_response');
  });
});

describe('signatures', () => {
  it('refuses an unsigned response when the assertion must be signed', async () => {
    const a = await attempt({}, {}, { signAssertion: false, signResponse: false });
    const error = await refusedStatelessly(a, a.b64, 'assertion_unsigned');
    expect(error.reason).toMatchObject({ where: 'assertion' });
  });

  it('refuses an unsigned response when the response must be signed', async () => {
    const a = await attempt({ want_response_signed: true, want_assertions_signed: false }, {}, { signAssertion: false, signResponse: false });
    await refusedStatelessly(a, a.b64, 'response_unsigned');
  });

  it('refuses a response whose assertion signature was stripped', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      const assertion = assertionOf(doc);
      assertion.removeChild(signatureOf(assertion));
    });
    await refusedStatelessly(a, b64, 'assertion_unsigned');
    await stillAccepted(a);
  });

  it('refuses a response whose response signature was stripped, when it must be signed', async () => {
    const a = await attempt({ want_response_signed: true, want_assertions_signed: true }, {}, { signAssertion: true, signResponse: true });
    const b64 = mutate(a.b64, (doc) => doc.documentElement.removeChild(signatureOf(doc.documentElement)));
    await refusedStatelessly(a, b64, 'response_unsigned');
  });

  it('refuses an assertion only signed when the response must be signed too', async () => {
    const a = await attempt({ want_response_signed: true, want_assertions_signed: true }, {}, { signAssertion: true, signResponse: false });
    await refusedStatelessly(a, a.b64, 'response_unsigned');
  });

  it('refuses a response signed only over the envelope when the assertion must be signed', async () => {
    const a = await attempt({ want_response_signed: false, want_assertions_signed: true }, {}, { signAssertion: false, signResponse: true });
    await refusedStatelessly(a, a.b64, 'assertion_unsigned');
  });

  it('refuses content changed after signing (the NameID swapped for a victim)', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      el(doc, NS_A, 'NameID').textContent = 'victim-persistent-id';
    });
    const error = await refusedStatelessly(a, b64, 'signature_digest_mismatch');
    expect(error.reason).toMatchObject({ where: 'assertion' });
  });

  it('refuses an assertion signed by an unknown certificate carried in KeyInfo', async () => {
    const a = await attempt({}, {}, { key: keys.attacker });
    const error = await refusedStatelessly(a, a.b64, 'signature_untrusted');
    expect('detail' in error.reason && error.reason.detail).toMatch(/KeyInfo carries a certificate that is not in the metadata/);
    // The attacker's certificate really was in KeyInfo.
    expect(decode(a.b64)).toContain(keys.attacker.cert.replace(/-----[^-]+-----|\s/g, '').slice(0, 60));
  });

  it('refuses a trusted certificate in KeyInfo over a signature made with another key', async () => {
    const a = await attempt({}, {}, { key: keys.attacker });
    const trusted = keys.idp.cert.replace(/-----[^-]+-----|\s/g, '');
    const b64 = mutate(a.b64, (doc) => {
      el(doc, NS_DS, 'X509Certificate').textContent = trusted;
    });
    const error = await refusedStatelessly(a, b64, 'signature_untrusted');
    expect('detail' in error.reason && error.reason.detail).not.toMatch(/KeyInfo/);
  });

  it('refuses an RSA-SHA1 signature', async () => {
    const a = await attempt({}, {}, { signatureAlgorithm: ALG.rsaSha1 });
    expect(decode(a.b64)).toContain(ALG.rsaSha1);
    const error = await refusedStatelessly(a, a.b64, 'signature_algorithm_refused');
    expect(error.reason).toMatchObject({ algorithm: ALG.rsaSha1 });
  });

  it('refuses a SHA-1 digest under an RSA-SHA256 signature', async () => {
    const a = await attempt();
    const xml = xmlCryptoSign(responseXml(defaultSpec({ inResponseTo: a.started.requestId })), { key: keys.idp, target: 'assertion', signatureAlgorithm: ALG.rsaSha256, digestAlgorithm: DIGEST.sha1 });
    const error = await refusedStatelessly(a, encode(xml), 'digest_algorithm_refused');
    expect(error.reason).toMatchObject({ algorithm: DIGEST.sha1 });
  });

  it('refuses HMAC (the public key as a shared secret)', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => el(doc, NS_DS, 'SignatureMethod').setAttribute('Algorithm', 'http://www.w3.org/2000/09/xmldsig#hmac-sha1'));
    await refusedStatelessly(a, b64, 'signature_algorithm_refused');
  });

  it('refuses canonicalization with comments', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => el(doc, NS_DS, 'CanonicalizationMethod').setAttribute('Algorithm', 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments'));
    await refusedStatelessly(a, b64, 'canonicalization_refused');
  });

  it('refuses a reference to anything but the enveloping element (here, the whole document)', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => el(doc, NS_DS, 'Reference').setAttribute('URI', ''));
    await refusedStatelessly(a, b64, 'signature_reference_invalid');
  });

  it('refuses a signature placed anywhere but on the Response or the Assertion', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      const assertion = assertionOf(doc);
      el(doc, NS_A, 'Subject').appendChild(assertion.removeChild(signatureOf(assertion)));
    });
    await refusedStatelessly(a, b64, 'signature_misplaced');
  });
});

describe('document structure', () => {
  it('refuses two assertions, even both genuinely signed', async () => {
    const a = await attempt();
    const other = await idpResponse(defaultSpec({ inResponseTo: a.started.requestId, nameId: 'mallory-persistent' }));
    const b64 = mutate(a.b64, (doc) => {
      const otherAssertion = el(parseXml(decode(other)), NS_A, 'Assertion');
      doc.documentElement.appendChild(doc.importNode(otherAssertion, true));
    });
    await refusedStatelessly(a, b64, 'multiple_assertions');
  });

  it('refuses an assertion hidden inside SubjectConfirmationData', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      const copy = assertionOf(doc).cloneNode(true) as Element;
      copy.setAttribute('ID', '_hidden');
      el(doc, NS_A, 'SubjectConfirmationData').appendChild(copy);
    });
    await refusedStatelessly(a, b64, 'multiple_assertions');
  });

  it('refuses an assertion hidden inside Extensions', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      const extensions = doc.createElementNS(NS_P, 'samlp:Extensions');
      const copy = assertionOf(doc).cloneNode(true) as Element;
      copy.setAttribute('ID', '_hidden');
      extensions.appendChild(copy);
      doc.documentElement.insertBefore(extensions, child(doc.documentElement, NS_P, 'Status')!);
    });
    await refusedStatelessly(a, b64, 'multiple_assertions');
  });

  it('refuses another element carrying the signed assertion ID', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => {
      const extensions = doc.createElementNS(NS_P, 'samlp:Extensions');
      const decoy = doc.createElementNS('urn:example:decoy', 'd:Decoy');
      decoy.setAttribute('ID', assertionOf(doc).getAttribute('ID')!);
      extensions.appendChild(decoy);
      doc.documentElement.insertBefore(extensions, child(doc.documentElement, NS_P, 'Status')!);
    });
    await refusedStatelessly(a, b64, 'duplicate_id');
  });

  it('refuses a response without an assertion', async () => {
    const a = await attempt();
    const b64 = mutate(a.b64, (doc) => doc.documentElement.removeChild(assertionOf(doc)));
    await refusedStatelessly(a, b64, 'assertion_missing');
  });
});

describe('who, to whom, when', () => {
  it.each<[string, Partial<ResponseSpec>, SamlRefusalCode]>([
    ['the wrong Audience', { audience: 'https://some-other-sp.example' }, 'audience_mismatch'],
    ['the wrong Destination', { destination: 'https://evil.example/acs' }, 'destination_mismatch'],
    ['no Destination', { destination: null }, 'destination_missing'],
    ['the wrong Recipient', { recipient: 'https://evil.example/acs' }, 'recipient_mismatch'],
    ['another Issuer (signed with the trusted key)', { issuer: 'https://other-idp.example', responseIssuer: null }, 'issuer_mismatch'],
    ['a Response Issuer that differs from the assertion\u2019s', { responseIssuer: 'https://other-idp.example' }, 'issuer_mismatch'],
    ['an expired assertion (Conditions)', { notOnOrAfter: NOW - 61 }, 'expired'],
    ['an expired bearer confirmation', { scdNotOnOrAfter: NOW - 61 }, 'confirmation_expired'],
    ['a not-yet-valid assertion', { notBefore: NOW + 61 }, 'not_yet_valid'],
    ['an assertion issued in the future', { issueInstant: NOW + 61 }, 'issue_instant_invalid'],
    ['an authentication in the future', { authnInstant: NOW + 61 }, 'authn_instant_invalid'],
    ['a transient NameID as the principal key', { nameIdFormat: TRANSIENT }, 'principal_nameid_format'],
    ['an email NameID as the principal key', { nameId: 'alice@example.com', nameIdFormat: EMAIL }, 'principal_nameid_format'],
    ['a non-Success status', { status: 'urn:oasis:names:tc:SAML:2.0:status:Responder', subStatus: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed' }, 'status_not_success'],
  ])('refuses %s', async (_label, spec, code) => {
    const a = await attempt({}, spec);
    await refusedStatelessly(a, a.b64, code);
  });

  it('reports a non-Success status with its codes', async () => {
    const a = await attempt({}, { status: 'urn:oasis:names:tc:SAML:2.0:status:Responder', subStatus: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed' });
    const error = await refusedStatelessly(a, a.b64, 'status_not_success');
    expect(error.reason).toEqual({
      code: 'status_not_success',
      status: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
      subStatus: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
      detail: 'The user said no',
    });
  });

  it('refuses a bearer confirmation with NotBefore', async () => {
    const a = await attempt({}, {}, { transform: (x) => x.replace('<saml:SubjectConfirmationData ', `<saml:SubjectConfirmationData NotBefore="${new Date((NOW - 5) * 1000).toISOString()}" `) });
    await refusedStatelessly(a, a.b64, 'confirmation_not_before_present');
  });

  it('refuses a subject confirmed only by holder-of-key', async () => {
    const a = await attempt({}, {}, { transform: (x) => x.replace('urn:oasis:names:tc:SAML:2.0:cm:bearer', 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key') });
    await refusedStatelessly(a, a.b64, 'bearer_confirmation_missing');
  });

  it('refuses a bearer confirmation without NotOnOrAfter', async () => {
    const a = await attempt({}, {}, { transform: (x) => x.replace(/<saml:SubjectConfirmationData NotOnOrAfter="[^"]*"/, '<saml:SubjectConfirmationData') });
    await refusedStatelessly(a, a.b64, 'confirmation_expiry_missing');
  });

  it('refuses an assertion without an AudienceRestriction', async () => {
    const a = await attempt({}, {}, { transform: (x) => x.replace(/<saml:AudienceRestriction>.*?<\/saml:AudienceRestriction>/, '<saml:OneTimeUse/>') });
    await refusedStatelessly(a, a.b64, 'audience_missing');
  });

  it('refuses when any of several AudienceRestrictions leaves the SP out', async () => {
    const a = await attempt({}, {}, {
      transform: (x) => x.replace('</saml:AudienceRestriction>', `</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>https://other-sp.example</saml:Audience></saml:AudienceRestriction>`),
    });
    await refusedStatelessly(a, a.b64, 'audience_mismatch');
  });

  it('refuses an authentication context other than the one required', async () => {
    const a = await attempt({ authn_context: ['https://refeds.org/profile/mfa'] });
    const error = await refusedStatelessly(a, a.b64, 'authn_context_mismatch');
    expect('detail' in error.reason && error.reason.detail).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
  });

  it('refuses an expired IdP session (SessionNotOnOrAfter)', async () => {
    const a = await attempt({}, {}, { transform: (x) => x.replace('<saml:AuthnStatement ', `<saml:AuthnStatement SessionNotOnOrAfter="${new Date((NOW - 120) * 1000).toISOString()}" `) });
    await refusedStatelessly(a, a.b64, 'session_expired');
  });

  it('refuses a Response InResponseTo that differs from the signed confirmation\u2019s', async () => {
    const a = await attempt();
    // Only the assertion is signed: the envelope's InResponseTo can be changed, the confirmation's cannot.
    const b64 = mutate(a.b64, (doc) => doc.documentElement.setAttribute('InResponseTo', '_someone-elses-request'));
    await refusedStatelessly(a, b64, 'in_response_to_inconsistent');
  });
});

describe('attributes and NameID', () => {
  it('refuses a duplicated attribute Name', async () => {
    const a = await attempt({}, {
      attributes: [
        { name: 'role', values: ['user'] },
        { name: 'role', values: ['admin'] },
      ],
    });
    const error = await refusedStatelessly(a, a.b64, 'attribute_duplicated');
    expect('detail' in error.reason && error.reason.detail).toBe('role');
  });

  it('refuses a duplicated Name even under another NameFormat', async () => {
    const a = await attempt({}, {
      attributes: [
        { name: 'mail', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', values: ['alice@example.com'] },
        { name: 'mail', nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', values: ['root@example.com'] },
      ],
    });
    await refusedStatelessly(a, a.b64, 'attribute_duplicated');
  });

  it('comment injection in the NameID is refused, not read through', async () => {
    // The IdP signed a NameID for an account the attacker registered, `alice@example.com.evil.com`.
    // Comments are outside the canonical form, so a comment inserted after signing leaves the
    // signature valid; a reader taking only the first text node would see `alice@example.com`.
    const a = await attempt({}, { nameId: 'alice@example.com.evil.com' });
    const b64 = encode(decode(a.b64).replace('alice@example.com.evil.com</saml:NameID>', 'alice@example.com<!---->.evil.com</saml:NameID>'));
    expect(decode(b64)).toContain('alice@example.com<!---->.evil.com');
    await refusedStatelessly(a, b64, 'xml_comment_refused');
  });

  it('comment injection in an attribute value is refused', async () => {
    const a = await attempt({}, { attributes: [{ name: 'mail', values: ['alice@example.com.evil.com'] }] });
    const b64 = encode(decode(a.b64).replace('>alice@example.com.evil.com<', '>alice@example.com<!-- x -->.evil.com<'));
    await refusedStatelessly(a, b64, 'xml_comment_refused');
  });

  it('refuses a principal attribute that is missing or multi-valued', async () => {
    const missing = await attempt({ principal_key: 'attribute:uid' });
    await refusedStatelessly(missing, missing.b64, 'principal_attribute_missing');
    const ambiguous = await attempt({ principal_key: 'attribute:uid' }, { attributes: [{ name: 'uid', values: ['alice', 'bob'] }] });
    await refusedStatelessly(ambiguous, ambiguous.b64, 'principal_attribute_ambiguous');
  });
});

describe('encryption', () => {
  const withKey = () => ({ sp_encryption: { private_key: keys.spEncryption.key, certificate: keys.spEncryption.cert } });

  it('refuses RSA PKCS#1 v1.5 key transport (samlify as the IdP)', async () => {
    const a = await attempt(withKey(), {}, { encrypt: true, keyEncryptionAlgorithm: ALG.rsa15 });
    expect(decode(a.b64)).toContain(ALG.rsa15);
    const error = await refusedStatelessly(a, a.b64, 'key_transport_refused');
    expect(error.reason).toMatchObject({ algorithm: ALG.rsa15 });
  });

  it('refuses RSA PKCS#1 v1.5 key transport (hand-made)', async () => {
    const a = await attempt(withKey());
    const b64 = withEncryptedAssertion(a.b64, (assertion) => encryptedAssertionXml(assertion, keys.spEncryption.cert, { keyTransport: 'rsa-1_5' }));
    await refusedStatelessly(a, b64, 'key_transport_refused');
  });

  it('accepts xmlenc11 RSA-OAEP with SHA-256 and MGF1-SHA256 (hand-made)', async () => {
    const a = await attempt(withKey());
    const b64 = withEncryptedAssertion(a.b64, (assertion) => encryptedAssertionXml(assertion, keys.spEncryption.cert, { keyTransport: 'oaep11-sha256', content: 'aes256-cbc' }));
    const { identity } = await a.h.conn.consumeResponse({ SAMLResponse: b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER });
    expect(identity.subject).toBe('a1b2c3d4-persistent-alice');
  });

  it('refuses 3DES content encryption', async () => {
    const a = await attempt(withKey(), {}, { encrypt: true, dataEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc' });
    await refusedStatelessly(a, a.b64, 'encryption_algorithm_refused');
  });

  it('refuses an encrypted assertion when the connection has no decryption key', async () => {
    const a = await attempt({}, {}, { encrypt: true });
    await refusedStatelessly(a, a.b64, 'encrypted_assertion_unexpected');
  });

  it('refuses a tampered ciphertext', async () => {
    const a = await attempt(withKey());
    const b64 = withEncryptedAssertion(a.b64, (assertion) => {
      const enc = encryptedAssertionXml(assertion, keys.spEncryption.cert);
      // Flip one character of the content CipherValue (the last one in the document).
      const i = enc.lastIndexOf('</xenc:CipherValue>') - 5;
      return enc.slice(0, i) + (enc[i] === 'A' ? 'B' : 'A') + enc.slice(i + 1);
    });
    await refusedStatelessly(a, b64, 'decryption_failed');
  });

  it('refuses a decrypted assertion that wraps another assertion', async () => {
    const a = await attempt(withKey());
    const b64 = withEncryptedAssertion(a.b64, (assertion) => {
      const nested = assertion.replace('</saml:Subject>', `</saml:Subject><saml:Advice>${assertion.replace(/ID="[^"]+"/, 'ID="_inner"')}</saml:Advice>`);
      return encryptedAssertionXml(nested, keys.spEncryption.cert);
    });
    await refusedStatelessly(a, b64, 'multiple_assertions');
  });
});

describe('state: InResponseTo, the browser, replay', () => {
  it('refuses an unsolicited response when IdP-initiated login is off', async () => {
    const a = await attempt();
    const unsolicited = await idpResponse(defaultSpec());
    await refusedStatelessly(a, unsolicited, 'unsolicited');
    await stillAccepted(a);
  });

  it('refuses a response to another login of the same browser (mismatched InResponseTo), consuming the named transaction', async () => {
    const h = await harness();
    const first = await startLogin(h);
    const second = await startLogin(h);
    const forFirst = await idpResponse(defaultSpec({ inResponseTo: first.requestId }));
    const error = await expectRefusal(h.conn.consumeResponse({ SAMLResponse: forFirst, RelayState: second.transactionId }, { browserBinding: BROWSER }), 'in_response_to_mismatch');
    expect(error.transactionConsumed).toBe(true);
    expect(h.transactions.has(second.transactionId)).toBe(false);
    expect(h.transactions.has(first.transactionId)).toBe(true);
    expect(h.replay.size).toBe(0);
  });

  it('refuses a response presented by another browser, consuming the transaction', async () => {
    const a = await attempt();
    const error = await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: 'browser-binding-B' }), 'browser_mismatch');
    expect(error.transactionConsumed).toBe(true);
    expect(a.h.transactions.has(a.started.transactionId)).toBe(false);
    expect(a.h.replay.size).toBe(0);
    // The login is over for the right browser too: it starts again.
    await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER }), 'transaction_unknown');
  });

  it('refuses a solicited response without a browser binding', async () => {
    const a = await attempt();
    await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, {}), 'browser_mismatch');
  });

  it('refuses a solicited response without RelayState, or with one that is not ours', async () => {
    const a = await attempt();
    await refusedStatelessly(a, a.b64, 'relay_state_missing', null);
    await refusedStatelessly(a, a.b64, 'relay_state_invalid', 'x'.repeat(81));
    await refusedStatelessly(a, a.b64, 'relay_state_invalid', 'https://evil.example/');
    await refusedStatelessly(a, a.b64, 'transaction_unknown', 'A'.repeat(43));
    await stillAccepted(a);
  });

  it('refuses a transaction started at another connection', async () => {
    const a = await attempt();
    await a.h.transactions.put({ id: 'T'.repeat(43), connectionId: 'other', requestId: a.started.requestId, browserBinding: BROWSER, createdAt: NOW, expiresAt: NOW + 60 });
    const error = await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: 'T'.repeat(43) }, { browserBinding: BROWSER }), 'transaction_connection_mismatch');
    expect(error.transactionConsumed).toBe(true);
  });

  it('refuses a replayed assertion (SP-initiated: the transaction is gone, and the replay cache holds it anyway)', async () => {
    const a = await attempt();
    await stillAccepted(a);
    expect(a.h.replay.size).toBe(1);
    await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER }), 'transaction_unknown');
    // Even if the transaction came back (a store restored from backup), the assertion ID does not.
    const tx = { id: a.started.transactionId, connectionId: 'corp', requestId: a.started.requestId, browserBinding: BROWSER, createdAt: NOW, expiresAt: NOW + 600 };
    await a.h.transactions.put(tx);
    const error = await expectRefusal(a.h.conn.consumeResponse({ SAMLResponse: a.b64, RelayState: a.started.transactionId }, { browserBinding: BROWSER }), 'assertion_replayed');
    expect(error.transactionConsumed).toBe(true);
    expect(a.h.replay.size).toBe(1);
  });

  it('refuses a replayed assertion (IdP-initiated)', async () => {
    const h = await harness({ allow_idp_initiated: true });
    const b64 = await idpResponse(defaultSpec());
    await h.conn.consumeResponse({ SAMLResponse: b64 }, {});
    const error = await expectRefusal(h.conn.consumeResponse({ SAMLResponse: b64 }, {}), 'assertion_replayed');
    expect(error.transactionConsumed).toBe(false);
    expect(h.replay.size).toBe(1);
  });

  it('a refused response leaves the replay cache alone: the genuine assertion is accepted afterwards', async () => {
    const h = await harness({ allow_idp_initiated: true });
    const spec = defaultSpec();
    const good = await idpResponse(spec);
    const tampered = mutate(good, (doc) => {
      el(doc, NS_A, 'Audience').textContent = 'https://evil.example';
    });
    await expectRefusal(h.conn.consumeResponse({ SAMLResponse: tampered }, {}), 'signature_digest_mismatch');
    expect(h.replay.size).toBe(0);
    await h.conn.consumeResponse({ SAMLResponse: good }, {});
    expect(h.replay.size).toBe(1);
  });
});

describe('the error itself', () => {
  it('says only the connection and the reason code in its message, and bounds attacker-chosen details', async () => {
    const a = await attempt({}, { audience: `https://x.example/${'A'.repeat(500)}\t` });
    const error = await refusedStatelessly(a, a.b64, 'audience_mismatch');
    expect(error.message).toBe('upstream SAML login refused (corp): audience_mismatch');
    const detail = 'detail' in error.reason ? error.reason.detail! : '';
    expect(detail.length).toBeLessThanOrEqual(200);
    expect(detail).not.toMatch(/\t/);
  });

  it('keeps SP entity and ACS in the config as given', () => {
    const parsed = samlConnectionSchema.parse({ id: 'x', sp_entity_id: SP_ENTITY, acs_url: ACS, idp_metadata_xml: '<x/>' });
    expect([parsed.sp_entity_id, parsed.acs_url]).toEqual([SP_ENTITY, ACS]);
  });
});
