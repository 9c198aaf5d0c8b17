import { constants, createCipheriv, publicEncrypt, randomBytes, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import * as samlify from 'samlify';
import { expect } from 'vitest';
import { SignedXml } from 'xml-crypto';
import type { ReplayGuard } from '../../../src/store/ports.js';
import type { SamlVerifierFactory } from '../../../src/upstream/saml/verifier.js';
import { asTestIdp, makeKeyPair, runtimeVerifier } from './saml-test-runtime.js';
import { createSamlConnection, MemoryLoginTransactionStore, SamlLoginError, type SamlConnection, type SamlConnectionInput, type SamlRefusalCode } from '../../../src/upstream/saml/index.js';

/**
 * A test IdP built with samlify: it signs (and encrypts) real responses with keys made here. The
 * response XML comes from `responseXml()` so every field and time is under the test's control;
 * samlify then signs and encrypts it exactly as it would its own template.
 */

export const NOW = Math.floor(Date.now() / 1000);
export const IDP_ENTITY = 'https://idp.example.test/metadata';
export const SP_ENTITY = 'https://broker.example.test/saml/sp';
export const ACS = 'https://broker.example.test/saml/acs/corp';
export const SSO_REDIRECT = 'https://idp.example.test/sso/redirect';
export const SSO_POST = 'https://idp.example.test/sso/post';
export const BROWSER = 'browser-binding-A';

export const NS_P = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
export const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
export const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
export const URI_FORMAT = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

export const ALG = {
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  oaep: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  rsa15: 'http://www.w3.org/2001/04/xmlenc#rsa-1_5',
  aes256cbc: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  aes128gcm: 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
} as const;

export interface KeyPair {
  key: string;
  cert: string;
}

export { makeKeyPair };

let keysPromise: Promise<{ idp: KeyPair; idp2: KeyPair; attacker: KeyPair; spSigning: KeyPair; spEncryption: KeyPair }> | undefined;

/** The keys every test file shares (generated once per file). */
export function testKeys() {
  keysPromise ??= (async () => ({
    idp: await makeKeyPair('Test IdP'),
    idp2: await makeKeyPair('Test IdP (next key)'),
    attacker: await makeKeyPair('Attacker'),
    spSigning: await makeKeyPair('Broker SP signing'),
    spEncryption: await makeKeyPair('Broker SP encryption'),
  }))();
  return keysPromise;
}

/** IdP metadata as samlify writes it, listing one or more signing certificates. */
export function idpMetadata(certs: string[], options: { wantAuthnRequestsSigned?: boolean; entityId?: string } = {}): string {
  return samlify
    .IdentityProvider({
      entityID: options.entityId ?? IDP_ENTITY,
      signingCert: certs,
      wantAuthnRequestsSigned: options.wantAuthnRequestsSigned ?? false,
      nameIDFormat: [PERSISTENT],
      singleSignOnService: [
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: SSO_REDIRECT },
        { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: SSO_POST },
      ],
      singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://idp.example.test/slo' }],
    })
    .getMetadata();
}

/** A replay guard in memory that can be inspected. */
export class MemoryReplayStore implements ReplayGuard {
  readonly records = new Map<string, number>();
  async consume(scope: string, id: string, expiresAt: number, now: number): Promise<boolean> {
    const key = `${scope}\u0000${id}`;
    const until = this.records.get(key);
    if (until !== undefined && until > now) return false;
    this.records.set(key, expiresAt);
    return true;
  }
  get size(): number {
    return this.records.size;
  }
}

export interface Harness {
  conn: SamlConnection;
  replay: MemoryReplayStore;
  transactions: MemoryLoginTransactionStore;
  clock: { now: number };
}

/**
 * A connection with in-memory stores, a settable clock and the test IdP's metadata (first IdP
 * key), verifying where the runtime running the test verifies (runtime.ts).
 */
export async function harness(overrides: Partial<SamlConnectionInput> = {}, metadataCerts?: string[], verifier: SamlVerifierFactory = runtimeVerifier()): Promise<Harness> {
  const keys = await testKeys();
  const replay = new MemoryReplayStore();
  const transactions = new MemoryLoginTransactionStore();
  const clock = { now: NOW };
  const input: SamlConnectionInput = {
    id: 'corp',
    sp_entity_id: SP_ENTITY,
    acs_url: ACS,
    idp_metadata_xml: idpMetadata(metadataCerts ?? [keys.idp.cert]),
    ...overrides,
  };
  const conn = await createSamlConnection(input, { replay, transactions, clock: () => clock.now, verifier });
  return { conn, replay, transactions, clock };
}

export interface AttributeSpec {
  name: string;
  nameFormat?: string;
  friendlyName?: string;
  values: string[];
}

export interface ResponseSpec {
  responseId: string;
  assertionId: string;
  /** Omit for an unsolicited response. */
  inResponseTo?: string;
  destination?: string | null;
  issuer: string;
  responseIssuer?: string | null;
  issueInstant: number;
  audience: string;
  recipient: string;
  nameId: string;
  nameIdFormat: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  notBefore: number;
  notOnOrAfter: number;
  scdNotOnOrAfter: number;
  authnInstant: number;
  sessionIndex: string;
  classRef: string;
  attributes: AttributeSpec[];
  status?: string;
  subStatus?: string;
}

let counter = 0;
export function newId(prefix = '_id'): string {
  counter += 1;
  return `${prefix}${counter}${Math.random().toString(16).slice(2, 10)}`;
}

export function defaultSpec(overrides: Partial<ResponseSpec> = {}): ResponseSpec {
  return {
    responseId: newId('_resp'),
    assertionId: newId('_assert'),
    destination: ACS,
    issuer: IDP_ENTITY,
    issueInstant: NOW - 5,
    audience: SP_ENTITY,
    recipient: ACS,
    nameId: 'a1b2c3d4-persistent-alice',
    nameIdFormat: PERSISTENT,
    nameQualifier: IDP_ENTITY,
    spNameQualifier: SP_ENTITY,
    notBefore: NOW - 5,
    notOnOrAfter: NOW + 300,
    scdNotOnOrAfter: NOW + 300,
    authnInstant: NOW - 10,
    sessionIndex: '_session-42',
    classRef: PPT,
    attributes: [
      { name: 'urn:oid:0.9.2342.19200300.100.1.3', nameFormat: URI_FORMAT, friendlyName: 'mail', values: ['alice@example.com'] },
      { name: 'urn:oid:2.5.4.42', nameFormat: URI_FORMAT, friendlyName: 'givenName', values: ['Alice'] },
      { name: 'urn:oid:2.5.4.4', nameFormat: URI_FORMAT, friendlyName: 'sn', values: ['Liddell'] },
      { name: 'urn:oid:2.16.840.1.113730.3.1.241', nameFormat: URI_FORMAT, friendlyName: 'displayName', values: ['Alice Liddell'] },
      { name: 'groups', values: ['staff', 'engineering', 'oncall'] },
    ],
    ...overrides,
  };
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The unsigned Response XML for a spec (the shape of samlify's own template, with every field set). */
export function responseXml(s: ResponseSpec): string {
  const irt = s.inResponseTo === undefined ? '' : ` InResponseTo="${esc(s.inResponseTo)}"`;
  const destination = s.destination === null || s.destination === undefined ? '' : ` Destination="${esc(s.destination)}"`;
  const responseIssuer = s.responseIssuer === null ? '' : `<saml:Issuer>${esc(s.responseIssuer ?? s.issuer)}</saml:Issuer>`;
  const status = s.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success';
  const statusXml = s.subStatus
    ? `<samlp:Status><samlp:StatusCode Value="${status}"><samlp:StatusCode Value="${s.subStatus}"/></samlp:StatusCode><samlp:StatusMessage>The user said no</samlp:StatusMessage></samlp:Status>`
    : `<samlp:Status><samlp:StatusCode Value="${status}"/></samlp:Status>`;
  const attributes = s.attributes.length
    ? `<saml:AttributeStatement>${s.attributes
        .map(
          (a) =>
            `<saml:Attribute Name="${esc(a.name)}"${a.nameFormat ? ` NameFormat="${esc(a.nameFormat)}"` : ''}${a.friendlyName ? ` FriendlyName="${esc(a.friendlyName)}"` : ''}>` +
            a.values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
            `</saml:Attribute>`,
        )
        .join('')}</saml:AttributeStatement>`
    : '';
  const qualifiers = `${s.nameQualifier ? ` NameQualifier="${esc(s.nameQualifier)}"` : ''}${s.spNameQualifier ? ` SPNameQualifier="${esc(s.spNameQualifier)}"` : ''}`;
  const assertion =
    status !== 'urn:oasis:names:tc:SAML:2.0:status:Success'
      ? ''
      : `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="${NS_A}" ID="${s.assertionId}" Version="2.0" IssueInstant="${iso(s.issueInstant)}">` +
        `<saml:Issuer>${esc(s.issuer)}</saml:Issuer>` +
        `<saml:Subject><saml:NameID Format="${esc(s.nameIdFormat)}"${qualifiers}>${esc(s.nameId)}</saml:NameID>` +
        `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(s.scdNotOnOrAfter)}" Recipient="${esc(s.recipient)}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
        `<saml:Conditions NotBefore="${iso(s.notBefore)}" NotOnOrAfter="${iso(s.notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${esc(s.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
        `<saml:AuthnStatement AuthnInstant="${iso(s.authnInstant)}" SessionIndex="${esc(s.sessionIndex)}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(s.classRef)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
        attributes +
        `</saml:Assertion>`;
  return (
    `<samlp:Response xmlns:samlp="${NS_P}" xmlns:saml="${NS_A}" ID="${s.responseId}" Version="2.0" IssueInstant="${iso(s.issueInstant)}"${destination}${irt}>` +
    responseIssuer +
    statusXml +
    assertion +
    `</samlp:Response>`
  );
}

export interface SignOptions {
  /** Sign the Assertion (default true). */
  signAssertion?: boolean;
  /** Sign the Response (default false). */
  signResponse?: boolean;
  /** Encrypt the assertion to the SP's encryption certificate. */
  encrypt?: boolean;
  keyEncryptionAlgorithm?: string;
  dataEncryptionAlgorithm?: string;
  /** IdP key (default the first test IdP key). */
  key?: KeyPair;
  signatureAlgorithm?: string;
  /** Edits the unsigned XML before samlify signs it (for content the template cannot express). */
  transform?: (xml: string) => string;
}

/**
 * samlify as the IdP: signs the spec's XML (assertion and/or response) and encrypts the assertion,
 * returning the base64 SAMLResponse the browser would post.
 */
export async function idpResponse(spec: ResponseSpec, options: SignOptions = {}): Promise<string> {
  const keys = await testKeys();
  const key = options.key ?? keys.idp;
  const signAssertion = options.signAssertion ?? true;
  const signResponse = options.signResponse ?? false;
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY,
    privateKey: key.key,
    signingCert: key.cert,
    requestSignatureAlgorithm: options.signatureAlgorithm ?? ALG.rsaSha256,
    isAssertionEncrypted: options.encrypt ?? false,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: SSO_POST }],
    singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://idp.example.test/slo' }],
    ...({
      keyEncryptionAlgorithm: options.keyEncryptionAlgorithm ?? ALG.oaep,
      dataEncryptionAlgorithm: options.dataEncryptionAlgorithm ?? ALG.aes256cbc,
    } as object),
  });
  // The SP as this IdP sees it: what to sign comes from WantAssertionsSigned and wantMessageSigned.
  const sp = samlify.ServiceProvider({
    entityID: SP_ENTITY,
    assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: ACS }],
    wantAssertionsSigned: signAssertion,
    wantMessageSigned: signResponse,
    ...(options.encrypt ? { encryptCert: keys.spEncryption.cert } : {}),
  });
  const xml = (options.transform ?? ((x: string) => x))(responseXml(spec));
  if (!signAssertion && !signResponse) return Buffer.from(xml).toString('base64');
  const result = await asTestIdp(() =>
    idp.createLoginResponse(sp, { extract: { request: { id: spec.inResponseTo ?? '' } } }, 'post', {}, {
      customTagReplacement: () => ({ id: spec.responseId, context: xml }),
      // Sign the message over the ciphertext (the order the SAML bindings assume).
      encryptThenSign: options.encrypt === true,
    }),
  );
  return result.context;
}

export const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
export const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

export function parseXml(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

export function serialize(doc: Document | Node): string {
  return new XMLSerializer().serializeToString(doc);
}

/** Edits the decoded response's DOM and re-encodes it. */
export function mutate(b64: string, edit: (doc: Document) => void): string {
  const doc = parseXml(decode(b64));
  edit(doc);
  return encode(serialize(doc));
}

export function el(parent: Document | Element, ns: string, localName: string, index = 0): Element {
  const found = parent.getElementsByTagNameNS(ns, localName).item(index);
  if (!found) throw new Error(`no ${localName}[${index}]`);
  return found;
}

/** Direct child (by namespace and local name). */
export function child(parent: Element, ns: string, localName: string): Element | undefined {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName) return n as Element;
  }
  return undefined;
}

/** A started SP-initiated login with the request ID read back from the AuthnRequest. */
export async function startLogin(h: Harness, binding: 'redirect' | 'post' = 'redirect', browserBinding = BROWSER) {
  const started = await h.conn.startLogin({ binding, browserBinding, continuation: '{"authorize":"pending-1"}' });
  return started;
}

/** Asserts a refusal with this code, and returns it. */
export async function expectRefusal(promise: Promise<unknown>, code: SamlRefusalCode): Promise<SamlLoginError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a refusal with ${code}`).toBeInstanceOf(SamlLoginError);
  const error = caught as SamlLoginError;
  expect(error.reason.code, `refusal detail: ${'detail' in error.reason ? error.reason.detail : ''}`).toBe(code);
  return error;
}

export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const INCLUSIVE_C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
export const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';
export const DIGEST = {
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
} as const;

class EcdsaSha256Signer {
  getSignature(signedInfo: string, privateKey: string): string {
    return cryptoSign('sha256', Buffer.from(signedInfo), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  verifySignature(): boolean {
    return false;
  }
  getAlgorithmName(): string {
    return ECDSA_SHA256;
  }
}

/**
 * Signs an element of a response with xml-crypto directly, for what samlify cannot produce
 * (ECDSA, a SHA-1 digest under an RSA-SHA256 signature). Enveloped, exclusive c14n, KeyInfo with
 * the certificate, placed after the element's Issuer.
 */
export function xmlCryptoSign(xml: string, o: { key: KeyPair; target: 'assertion' | 'response'; signatureAlgorithm: string; digestAlgorithm: string; transforms?: string[] }): string {
  const path = o.target === 'assertion' ? "/*[local-name(.)='Response']/*[local-name(.)='Assertion']" : "/*[local-name(.)='Response']";
  const sig = new SignedXml({ privateKey: o.key.key, publicCert: o.key.cert, signatureAlgorithm: o.signatureAlgorithm, canonicalizationAlgorithm: EXC_C14N });
  if (o.signatureAlgorithm === ECDSA_SHA256) sig.SignatureAlgorithms[ECDSA_SHA256] = EcdsaSha256Signer as never;
  sig.addReference({ xpath: path, transforms: o.transforms ?? [ENVELOPED, EXC_C14N], digestAlgorithm: o.digestAlgorithm });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${path}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

const XENC = 'http://www.w3.org/2001/04/xmlenc#';

/**
 * Encrypts an assertion's XML to a certificate, by hand (node:crypto), so tests can choose the
 * key transport and put anything in the plaintext.
 */
export function encryptedAssertionXml(plaintext: string, certPem: string, o: { keyTransport?: 'mgf1p' | 'oaep11-sha256' | 'rsa-1_5'; content?: 'aes128-gcm' | 'aes256-cbc' } = {}): string {
  const content = o.content ?? 'aes128-gcm';
  const key = randomBytes(content === 'aes128-gcm' ? 16 : 32);
  let cipherValue: Buffer;
  if (content === 'aes128-gcm') {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-128-gcm', key, iv);
    const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    cipherValue = Buffer.concat([iv, body, c.getAuthTag()]);
  } else {
    const iv = randomBytes(16);
    const c = createCipheriv('aes-256-cbc', key, iv);
    cipherValue = Buffer.concat([iv, c.update(plaintext, 'utf8'), c.final()]);
  }
  // As PEM: workerd's node:crypto refuses a KeyObject inside publicEncrypt's options.
  const publicKey = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'pem' });
  const transport = o.keyTransport ?? 'mgf1p';
  const wrapped =
    transport === 'rsa-1_5'
      ? publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key)
      : publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: transport === 'oaep11-sha256' ? 'sha256' : 'sha1' }, key);
  const keyMethod =
    transport === 'rsa-1_5'
      ? `<xenc:EncryptionMethod Algorithm="${XENC}rsa-1_5"/>`
      : transport === 'mgf1p'
        ? `<xenc:EncryptionMethod Algorithm="${XENC}rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>`
        : `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod>`;
  const contentUri = content === 'aes128-gcm' ? 'http://www.w3.org/2009/xmlenc11#aes128-gcm' : `${XENC}aes256-cbc`;
  return (
    `<saml:EncryptedAssertion xmlns:saml="${NS_A}"><xenc:EncryptedData xmlns:xenc="${XENC}" Type="${XENC}Element">` +
    `<xenc:EncryptionMethod Algorithm="${contentUri}"/>` +
    `<ds:KeyInfo xmlns:ds="${NS_DS}"><xenc:EncryptedKey>${keyMethod}<xenc:CipherData><xenc:CipherValue>${wrapped.toString('base64')}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>` +
    `<xenc:CipherData><xenc:CipherValue>${cipherValue.toString('base64')}</xenc:CipherValue></xenc:CipherData>` +
    `</xenc:EncryptedData></saml:EncryptedAssertion>`
  );
}

/** Replaces the response's Assertion with an EncryptedAssertion (string surgery, the rest untouched). */
export function withEncryptedAssertion(responseB64: string, encrypt: (assertionXml: string) => string): string {
  const xml = decode(responseB64);
  const match = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml);
  if (!match) throw new Error('no assertion');
  return encode(xml.replace(match[0], encrypt(match[0])));
}
