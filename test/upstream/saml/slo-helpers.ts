import { verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import { IDP_ENTITY, NOW, PERSISTENT, SP_ENTITY, SSO_POST, SSO_REDIRECT, newId, type KeyPair } from './helpers.js';

/**
 * Single Logout test kit: a samlify IdP that sends LogoutRequests and LogoutResponses to the
 * broker, with XML written here so every field and time is under the test's control (samlify
 * then signs it exactly as it signs its own templates), and readers for what the broker sends.
 */

export const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
export const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const IDP_SLO = 'https://idp.example.test/slo';
export const IDP_SLO_RESPONSES = 'https://idp.example.test/slo/return';
export const IDP_SLO_POST = 'https://idp.example.test/slo/post';
export const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
export const REQUESTER = 'urn:oasis:names:tc:SAML:2.0:status:Requester';
export const NAME_ID = 'a1b2c3d4-persistent-alice';
export const SESSION_INDEX = '_session-42';

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** IdP metadata with the given SingleLogoutService endpoints (none: the IdP offers no SLO). */
export function sloIdpMetadata(cert: string, slo: Array<{ Binding: string; Location: string; ResponseLocation?: string }>): string {
  const xml = samlify
    .IdentityProvider({
      entityID: IDP_ENTITY,
      signingCert: cert,
      nameIDFormat: [PERSISTENT],
      singleSignOnService: [
        { Binding: REDIRECT, Location: SSO_REDIRECT },
        { Binding: POST, Location: SSO_POST },
      ],
      singleLogoutService: slo.map(({ Binding, Location }) => ({ Binding, Location })),
    })
    .getMetadata();
  // samlify does not write ResponseLocation: add it where asked.
  return slo.reduce((out, s) => (s.ResponseLocation ? out.replace(`Location="${s.Location}"`, `Location="${s.Location}" ResponseLocation="${s.ResponseLocation}"`) : out), xml);
}

export const BOTH_BINDINGS = [
  { Binding: REDIRECT, Location: IDP_SLO, ResponseLocation: IDP_SLO_RESPONSES },
  { Binding: POST, Location: IDP_SLO_POST },
];

export interface LogoutRequestSpec {
  id: string;
  issuer: string;
  issueInstant: number;
  destination: string | null;
  notOnOrAfter: number | null;
  nameId: string;
  nameIdFormat: string | null;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndexes: string[];
}

export function logoutRequestSpec(sloUrl: string, overrides: Partial<LogoutRequestSpec> = {}): LogoutRequestSpec {
  return {
    id: newId('_logout'),
    issuer: IDP_ENTITY,
    issueInstant: NOW - 2,
    destination: sloUrl,
    notOnOrAfter: NOW + 120,
    nameId: NAME_ID,
    nameIdFormat: PERSISTENT,
    nameQualifier: IDP_ENTITY,
    spNameQualifier: SP_ENTITY,
    sessionIndexes: [SESSION_INDEX],
    ...overrides,
  };
}

export function logoutRequestXml(s: LogoutRequestSpec): string {
  const nameIdAttrs = [
    s.nameIdFormat !== null ? ` Format="${s.nameIdFormat}"` : '',
    s.nameQualifier !== undefined ? ` NameQualifier="${esc(s.nameQualifier)}"` : '',
    s.spNameQualifier !== undefined ? ` SPNameQualifier="${esc(s.spNameQualifier)}"` : '',
  ].join('');
  return (
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${s.id}" Version="2.0" IssueInstant="${iso(s.issueInstant)}"` +
    (s.destination !== null ? ` Destination="${esc(s.destination)}"` : '') +
    (s.notOnOrAfter !== null ? ` NotOnOrAfter="${iso(s.notOnOrAfter)}"` : '') +
    `><saml:Issuer>${esc(s.issuer)}</saml:Issuer><saml:NameID${nameIdAttrs}>${esc(s.nameId)}</saml:NameID>` +
    s.sessionIndexes.map((i) => `<samlp:SessionIndex>${esc(i)}</samlp:SessionIndex>`).join('') +
    `</samlp:LogoutRequest>`
  );
}

export interface LogoutResponseSpec {
  id: string;
  issuer: string;
  issueInstant: number;
  destination: string | null;
  inResponseTo: string | null;
  status: string;
}

export function logoutResponseXml(s: LogoutResponseSpec): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${s.id}" Version="2.0" IssueInstant="${iso(s.issueInstant)}"` +
    (s.destination !== null ? ` Destination="${esc(s.destination)}"` : '') +
    (s.inResponseTo !== null ? ` InResponseTo="${esc(s.inResponseTo)}"` : '') +
    `><saml:Issuer>${esc(s.issuer)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${s.status}"/></samlp:Status></samlp:LogoutResponse>`
  );
}

/** The test IdP (samlify) signing with `key`, and the broker as samlify sees it from its SP metadata. */
function entities(spMetadata: string, key: KeyPair, signed: boolean, sigAlg = RSA_SHA256) {
  const idp = samlify.IdentityProvider({
    entityID: IDP_ENTITY,
    signingCert: key.cert,
    privateKey: key.key,
    requestSignatureAlgorithm: sigAlg,
    singleSignOnService: [{ Binding: REDIRECT, Location: SSO_REDIRECT }],
    singleLogoutService: BOTH_BINDINGS.map(({ Binding, Location }) => ({ Binding, Location })),
  });
  const sp = samlify.ServiceProvider({ metadata: spMetadata, wantLogoutRequestSigned: signed, wantLogoutResponseSigned: signed });
  return { idp, sp };
}

export interface SendOptions {
  key: KeyPair;
  /** Default true. */
  signed?: boolean;
  relayState?: string;
  sigAlg?: string;
}

/** A LogoutRequest by HTTP-POST: the form fields. */
export function postLogoutRequest(spMetadata: string, xml: string, o: SendOptions): { SAMLRequest: string; RelayState?: string } {
  const { idp, sp } = entities(spMetadata, o.key, o.signed ?? true, o.sigAlg);
  const id = /ID="([^"]+)"/.exec(xml)![1]!;
  const built = idp.createLogoutRequest(sp, 'post', { logoutNameID: NAME_ID }, { ...(o.relayState ? { relayState: o.relayState } : {}), customTagReplacement: () => ({ id, context: xml }) });
  return { SAMLRequest: built.context, ...(o.relayState ? { RelayState: o.relayState } : {}) };
}

/** A LogoutRequest by HTTP-Redirect: the query string (without `?`). */
export function redirectLogoutRequest(spMetadata: string, xml: string, o: SendOptions): string {
  const { idp, sp } = entities(spMetadata, o.key, o.signed ?? true, o.sigAlg);
  const id = /ID="([^"]+)"/.exec(xml)![1]!;
  const built = idp.createLogoutRequest(sp, 'redirect', { logoutNameID: NAME_ID }, { ...(o.relayState ? { relayState: o.relayState } : {}), customTagReplacement: () => ({ id, context: xml }) });
  return new URL(built.context).search.slice(1);
}

/** A LogoutResponse by HTTP-POST or HTTP-Redirect. */
export function logoutResponse(spMetadata: string, xml: string, binding: 'post' | 'redirect', o: SendOptions): { form: { SAMLResponse: string; RelayState?: string }; query: string } {
  const { idp, sp } = entities(spMetadata, o.key, o.signed ?? true, o.sigAlg);
  const id = /ID="([^"]+)"/.exec(xml)![1]!;
  const built = idp.createLogoutResponse(sp, null as never, binding, { ...(o.relayState ? { relayState: o.relayState } : {}), customTagReplacement: () => ({ id, context: xml }) });
  if (binding === 'redirect') return { form: { SAMLResponse: '' }, query: new URL(built.context).search.slice(1) };
  return { form: { SAMLResponse: built.context, ...(o.relayState ? { RelayState: o.relayState } : {}) }, query: '' };
}

/** An HTTP-Redirect message the broker sent: its XML, RelayState, and whether its query signature verifies under `cert`. */
export function readRedirect(url: string, cert?: string): { xml: string; relayState: string | null; signed: boolean; verified: boolean; sigAlg: string | null } {
  const u = new URL(url);
  const type = u.searchParams.has('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
  const xml = inflateRawSync(Buffer.from(u.searchParams.get(type)!, 'base64')).toString('utf8');
  const raw = Object.fromEntries(u.search.slice(1).split('&').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const signed = raw.Signature !== undefined;
  let verified = false;
  if (signed && cert) {
    const octets = `${type}=${raw[type]}${raw.RelayState !== undefined ? `&RelayState=${raw.RelayState}` : ''}&SigAlg=${raw.SigAlg}`;
    verified = cryptoVerify('sha256', Buffer.from(octets), new X509Certificate(cert).publicKey, Buffer.from(decodeURIComponent(raw.Signature!), 'base64'));
  }
  return { xml, relayState: u.searchParams.get('RelayState'), signed, verified, sigAlg: u.searchParams.get('SigAlg') };
}

/** Deflated, base64 and URL-encoded, as the HTTP-Redirect binding carries a message. */
export function deflated(xml: string | Buffer): string {
  return encodeURIComponent(deflateRawSync(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml).toString('base64'));
}

export const attrOf = (xml: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(xml)?.[1];
