import { createHash, randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';
import { constantTimeEqual } from '../../clients/secrets.js';
import type { LoginTransaction, LoginTransactionStore, SamlNameId } from '../../identity/types.js';
import type { ReplayGuard } from '../../store/ports.js';
import { Refused, refused, boundedReason, type SamlRefusal, type SamlSignedPart } from './errors.js';
import { NAMEID_FORMAT, readNameId } from './identity.js';
import {
  SAML_LOGOUT_REQUEST_LIFETIME,
  SAML_LOGOUT_REQUEST_MAX_AGE,
  SAML_LOGOUT_TRANSACTION_LIFETIME,
  SAML_MAX_ID_CHARS,
  SAML_MAX_LOGOUT_MESSAGE_CHARS,
  SAML_MAX_LOGOUT_XML_BYTES,
  SAML_MAX_NAMEID_CHARS,
  SAML_MAX_RELAY_STATE_CHARS,
  SAML_MAX_SESSION_INDEXES,
} from './limits.js';
import type { IdpMetadata } from './metadata.js';
import { base64Bytes, checkIds, checkIssuer, instant, utf8 } from './response.js';
import { verifyEnvelopedSignature, verifyRedirectSignature } from './signature.js';
import type { SingleLogoutEndpoint } from './slo-metadata.js';
import type { SamlBinding, SamlLogoutAnswerTo, SamlLogoutMessage, SamlLogoutReceived, SamlLogoutStatus, SamlOutgoing, SamlSingleLogout, VerifiedLogoutRequest } from './logout-types.js';

export type { SamlBinding, SamlLogoutAnswerTo, SamlLogoutMessage, SamlLogoutReceived, SamlLogoutStatus, SamlOutgoing, SamlSingleLogout, VerifiedLogoutRequest } from './logout-types.js';
import { attr, children, escapeXml, is, isoInstant, NS, parseStrict, refuseDoctype, refuseForbiddenCharacters, refuseForeignEncoding, refuseTooMuchMarkup, simpleText, walk } from './xml.js';

/**
 * SAML Single Logout (SAML profiles §4.4) with the broker as SP, over HTTP-Redirect and HTTP-POST:
 *
 * - SP-initiated: `start` builds the LogoutRequest (NameID and SessionIndex of the login) with
 *   samlify, signed when the SP has a signing key, and keeps a transaction (RelayState) bound to
 *   the browser; the LogoutResponse that comes back is `receive`d: signature, Issuer, Destination,
 *   time, then the transaction taken (single use), InResponseTo matched, status checked.
 * - IdP-initiated: `receive` checks a LogoutRequest as strictly as the ACS checks a Response
 *   (bounds, structure, a required signature by a metadata key, Issuer, Destination, IssueInstant,
 *   NotOnOrAfter, ID single use through the replay store); the caller ends the sessions and
 *   `answer`s with a LogoutResponse built and signed by samlify.
 *
 * Building and signing is samlify's; verifying is signature.ts's (the query signature of
 * HTTP-Redirect, the enveloped signature of HTTP-POST), never samlify's own checks, which trust
 * its looser metadata reader. Every time comes from the injected clock.
 */

const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;
const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
} as const;
const DEFLATE_ENCODING = 'urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE';
const encoder = new TextEncoder();

/** A refused logout message. The message names the connection and the reason code only. */
export class SamlLogoutError extends Error {
  readonly reason: SamlRefusal;
  constructor(
    readonly connectionId: string,
    reason: SamlRefusal,
    /** Set when the refused message was an authentic LogoutRequest: answer it with a failure status. */
    readonly answerTo?: SamlLogoutAnswerTo,
  ) {
    super(`SAML logout refused (${connectionId}): ${reason.code}`);
    this.name = 'SamlLogoutError';
    this.reason = boundedReason(reason);
  }
}

export interface SamlSingleLogoutSetup {
  connectionId: string;
  spEntityId: string;
  url: string;
  /** The IdP's metadata as in use now: read on every message, so a refreshed copy (new keys, endpoints) applies at once. */
  idp: () => IdpMetadata;
  skew: number;
  /** The connection's samlify SP: it holds the signing key (if any) and the signature algorithm. */
  sp: samlify.ServiceProviderInstance;
  /** Sign what the broker sends (the SP has a signing key). */
  sign: boolean;
  replay: ReplayGuard;
  transactions: LoginTransactionStore;
  clock: () => number;
}

/** The broker's SLO URL: configured, or the ACS URL with its last segment `acs` made `slo`. */
export function singleLogoutUrl(config: { acs_url: string; slo_url?: string | undefined; sp_signing?: unknown }): string | undefined {
  // Logout messages over the browser bindings MUST be signed (SAML profiles §4.4.4.1): no key, no SLO.
  if (config.sp_signing === undefined) return undefined;
  if (config.slo_url !== undefined) return config.slo_url;
  return /\/acs$/.test(config.acs_url) ? `${config.acs_url.slice(0, -3)}slo` : undefined;
}

/** Request IDs are unique per issuer: the replay scope is the IdP's, hashed to bound its length. */
function replayScope(idpEntityId: string): string {
  return `saml-logout:${createHash('sha256').update(idpEntityId, 'utf8').digest('base64url')}`;
}

/** A samlify IdP for sending: only the SingleLogoutService endpoints (requests to Location, responses to ResponseLocation). */
function samlifyIdp(idp: IdpMetadata, use: 'request' | 'response', sign: boolean): samlify.IdentityProviderInstance {
  const services = (['redirect', 'post'] as const)
    .filter((b) => idp.singleLogout[b])
    .map((b) => {
      const e = idp.singleLogout[b]!;
      const location = use === 'response' ? (e.responseLocation ?? e.location) : e.location;
      return `<md:SingleLogoutService Binding="${BINDING[b]}" Location="${escapeXml(location)}"/>`;
    })
    .join('');
  // samlify refuses IdP metadata without SingleSignOnService; it is not used here.
  const sso = (['redirect', 'post'] as const)
    .filter((b) => idp.singleSignOn[b])
    .map((b) => `<md:SingleSignOnService Binding="${BINDING[b]}" Location="${escapeXml(idp.singleSignOn[b]!)}"/>`)
    .join('');
  const metadata =
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" entityID="${escapeXml(idp.entityId)}">` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="${NS.protocol}">${services}${sso}</md:IDPSSODescriptor></md:EntityDescriptor>`;
  return samlify.IdentityProvider({ metadata, wantLogoutRequestSigned: sign, wantLogoutResponseSigned: sign });
}

function nameIdXml(n: SamlNameId): string {
  const attrs = [
    n.format !== undefined ? ` Format="${escapeXml(n.format)}"` : '',
    n.nameQualifier !== undefined ? ` NameQualifier="${escapeXml(n.nameQualifier)}"` : '',
    n.spNameQualifier !== undefined ? ` SPNameQualifier="${escapeXml(n.spNameQualifier)}"` : '',
  ].join('');
  return `<saml:NameID${attrs}>${escapeXml(n.value)}</saml:NameID>`;
}

function logoutRequestXml(o: { id: string; now: number; destination: string; spEntityId: string; nameId: SamlNameId; sessionIndex?: string }): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${o.id}" Version="2.0" IssueInstant="${isoInstant(o.now)}"` +
    ` Destination="${escapeXml(o.destination)}" NotOnOrAfter="${isoInstant(o.now + SAML_LOGOUT_REQUEST_LIFETIME)}">` +
    `<saml:Issuer>${escapeXml(o.spEntityId)}</saml:Issuer>${nameIdXml(o.nameId)}` +
    (o.sessionIndex !== undefined ? `<samlp:SessionIndex>${escapeXml(o.sessionIndex)}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`
  );
}

function logoutResponseXml(o: { id: string; now: number; destination: string; spEntityId: string; inResponseTo: string; status: string }): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${o.id}" Version="2.0" IssueInstant="${isoInstant(o.now)}"` +
    ` Destination="${escapeXml(o.destination)}" InResponseTo="${escapeXml(o.inResponseTo)}">` +
    `<saml:Issuer>${escapeXml(o.spEntityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${o.status}"/></samlp:Status>` +
    `</samlp:LogoutResponse>`
  );
}

/** HTTP-Redirect prefers, HTTP-POST if that is all the IdP offers. */
function preferredBinding(idp: IdpMetadata): SamlBinding | undefined {
  return idp.singleLogout.redirect ? 'redirect' : idp.singleLogout.post ? 'post' : undefined;
}

function destinationOf(e: SingleLogoutEndpoint, use: 'request' | 'response'): string {
  return use === 'response' ? (e.responseLocation ?? e.location) : e.location;
}

/** samlify's built message as the browser carries it. */
function outgoing(built: { context: string }, binding: SamlBinding, action: string, field: 'SAMLRequest' | 'SAMLResponse', relayState?: string): SamlOutgoing {
  if (binding === 'redirect') return { redirectUrl: built.context };
  return { postForm: { action, fields: { [field]: built.context, ...(relayState !== undefined ? { RelayState: relayState } : {}) } } };
}

// ---------------------------------------------------------------------------------------------
// Reading a received message: the binding, then the XML, then the signature, then the content.

interface Decoded {
  type: 'SAMLRequest' | 'SAMLResponse';
  xml: string;
  relayState?: string;
  /** HTTP-Redirect: the query signature as received. */
  query?: { signedOctets: string; sigAlg?: string; signature?: string };
}

function checkRelayState(relayState: string | undefined): void {
  if (relayState !== undefined && (relayState.length > SAML_MAX_RELAY_STATE_CHARS || !/^[\x20-\x7E]*$/.test(relayState))) refused({ code: 'relay_state_invalid' });
}

function decodeUri(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    refused({ code: 'response_not_base64', detail: 'not URL-encoded' });
  }
}

/**
 * HTTP-Redirect (bindings §3.4.4): each parameter once; the message inflated within a bound; the
 * signed octets rebuilt from the parameters exactly as received (re-encoding them would change them).
 */
function decodeRedirect(query: string): Decoded {
  if (query.length > 3 * SAML_MAX_LOGOUT_MESSAGE_CHARS) refused({ code: 'logout_message_too_large' });
  const raw = new Map<string, string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (raw.has(name)) refused({ code: 'logout_message_ambiguous', detail: `${name} repeated` });
    raw.set(name, eq === -1 ? '' : part.slice(eq + 1));
  }
  const type = messageType(raw.has('SAMLRequest'), raw.has('SAMLResponse'));
  // DEFLATE is the only encoding bindings §3.4.4 defines (and the default when none is named).
  const encoding = raw.get('SAMLEncoding');
  if (encoding !== undefined && decodeUri(encoding) !== DEFLATE_ENCODING) refused({ code: 'logout_message_not_deflated', detail: 'SAMLEncoding is not DEFLATE' });
  const message = raw.get(type)!;
  if (message.length === 0) refused({ code: 'logout_message_missing' });
  if (message.length > SAML_MAX_LOGOUT_MESSAGE_CHARS) refused({ code: 'logout_message_too_large' });
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(base64Bytes(decodeUri(message)), { maxOutputLength: SAML_MAX_LOGOUT_XML_BYTES });
  } catch (err) {
    if (err instanceof Refused) throw err;
    if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') refused({ code: 'logout_message_too_large', detail: 'inflated' });
    refused({ code: 'logout_message_not_deflated' });
  }
  const relayStateRaw = raw.get('RelayState');
  const relayState = relayStateRaw === undefined ? undefined : decodeUri(relayStateRaw);
  checkRelayState(relayState);
  const sigAlgRaw = raw.get('SigAlg');
  const signatureRaw = raw.get('Signature');
  const signedOctets = `${type}=${message}${relayStateRaw !== undefined ? `&RelayState=${relayStateRaw}` : ''}&SigAlg=${sigAlgRaw ?? ''}`;
  return {
    type,
    xml: utf8(inflated),
    ...(relayState !== undefined ? { relayState } : {}),
    query: { signedOctets, ...(sigAlgRaw !== undefined ? { sigAlg: decodeUri(sigAlgRaw) } : {}), ...(signatureRaw !== undefined ? { signature: decodeUri(signatureRaw) } : {}) },
  };
}

/** HTTP-POST (bindings §3.5.4): base64 of the XML itself. */
function decodePost(form: { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string }): Decoded {
  const type = messageType(form.SAMLRequest !== undefined, form.SAMLResponse !== undefined);
  const message = form[type]!;
  if (message.length === 0) refused({ code: 'logout_message_missing' });
  if (message.length > SAML_MAX_LOGOUT_MESSAGE_CHARS) refused({ code: 'logout_message_too_large' });
  checkRelayState(form.RelayState);
  const bytes = base64Bytes(message);
  if (bytes.length > SAML_MAX_LOGOUT_XML_BYTES) refused({ code: 'logout_message_too_large' });
  return { type, xml: utf8(bytes), ...(form.RelayState !== undefined ? { relayState: form.RelayState } : {}) };
}

function messageType(request: boolean, response: boolean): 'SAMLRequest' | 'SAMLResponse' {
  if (request && response) refused({ code: 'logout_message_ambiguous', detail: 'both SAMLRequest and SAMLResponse' });
  if (!request && !response) refused({ code: 'logout_message_missing' });
  return request ? 'SAMLRequest' : 'SAMLResponse';
}

/**
 * The text and structure checks of the ACS, for a logout message: no DTD, UTF-8, bounded markup and
 * depth, unique bounded IDs, the expected root, and a signature only directly on the root (HTTP-POST)
 * or none at all (HTTP-Redirect, whose signature is in the query). Returns the root as received.
 */
function parseMessage(d: Decoded, binding: SamlBinding): Element {
  refuseDoctype(d.xml);
  refuseForeignEncoding(d.xml);
  refuseForbiddenCharacters(d.xml);
  refuseTooMuchMarkup(d.xml);
  const root = parseStrict(d.xml).documentElement;
  const expected = d.type === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
  if (!is(root, NS.protocol, expected)) refused({ code: d.type === 'SAMLRequest' ? 'not_a_logout_request' : 'not_a_logout_response', detail: `${root.namespaceURI ?? ''} ${root.localName}` });
  const all = walk(root);
  checkIds(all);
  const signatures = all.filter((e) => e.localName === 'Signature');
  for (const sig of signatures) {
    if (binding === 'redirect') refused({ code: 'signature_misplaced', detail: 'an XML Signature in an HTTP-Redirect message (bindings §3.4.4.1 removes it)' });
    if (sig.namespaceURI !== NS.dsig || sig.parentNode !== root) refused({ code: 'signature_misplaced', detail: `Signature inside ${(sig.parentNode as Element | null)?.localName ?? '(none)'}` });
  }
  if (signatures.length > 1) refused({ code: 'signature_misplaced', detail: `two Signatures on ${expected}` });
  const id = attr(root, 'ID');
  if (!id || id.length > SAML_MAX_ID_CHARS) refused({ code: 'id_invalid', detail: `${expected} ID` });
  return root;
}

/**
 * The signature the message must carry, by a key of the IdP's metadata. Returns what is read from
 * here on: for HTTP-POST the signed bytes xml-crypto returned, for HTTP-Redirect the message itself
 * (the query signature covers all of it).
 */
function verifySignature(d: Decoded, root: Element, binding: SamlBinding, idp: IdpMetadata): Element {
  const where: SamlSignedPart = d.type === 'SAMLRequest' ? 'logout_request' : 'logout_response';
  if (binding === 'redirect') {
    const q = d.query!;
    if (q.signature === undefined || q.sigAlg === undefined) refused({ code: 'message_unsigned', where, detail: 'no query Signature and SigAlg' });
    verifyRedirectSignature(q.signedOctets, q.sigAlg, q.signature, where, idp.signingKeys);
    return root;
  }
  const signature = children(root, NS.dsig, 'Signature')[0];
  if (!signature) refused({ code: 'message_unsigned', where });
  return parseStrict(verifyEnvelopedSignature(d.xml, signature, root, where, idp.signingKeys)).documentElement;
}

/** Version, Destination (required: the message is signed) and IssueInstant, on the signed message. */
function checkEnvelope(msg: Element, url: string, now: number, skew: number): number {
  if (attr(msg, 'Version') !== '2.0') refused({ code: 'version_unsupported' });
  const destination = attr(msg, 'Destination');
  if (destination === undefined) refused({ code: 'destination_missing' });
  if (destination !== url) refused({ code: 'destination_mismatch', detail: destination });
  const issued = instant(attr(msg, 'IssueInstant'), 'issue_instant_invalid', 'IssueInstant');
  if (issued > now + skew) refused({ code: 'issue_instant_invalid', detail: 'issued in the future' });
  return issued;
}

function readSessionIndexes(msg: Element): string[] {
  const els = children(msg, NS.protocol, 'SessionIndex');
  if (els.length > SAML_MAX_SESSION_INDEXES) refused({ code: 'schema_invalid', detail: `${els.length} SessionIndex elements` });
  return els.map((e) => {
    const v = simpleText(e);
    if (v === undefined || v.length === 0 || v.length > SAML_MAX_ID_CHARS) refused({ code: 'schema_invalid', detail: 'SessionIndex empty, complex or too long' });
    return v;
  });
}

function statusOf(msg: Element): { value: string; sub?: string } {
  const status = children(msg, NS.protocol, 'Status')[0];
  const code = status && children(status, NS.protocol, 'StatusCode')[0];
  if (!code) refused({ code: 'schema_invalid', detail: 'LogoutResponse without StatusCode' });
  const sub = children(code, NS.protocol, 'StatusCode')[0];
  const subValue = sub && attr(sub, 'Value');
  return { value: attr(code, 'Value') ?? '', ...(subValue ? { sub: subValue } : {}) };
}

/**
 * Whether a LogoutRequest's NameID names the NameID a session's login asserted (SAML core §3.7.3.2):
 * the same value and Format; a qualifier the request omits defaults as SAML core §8.3 says (the
 * IdP's and the SP's entity ids).
 */
export function sameNameId(asserted: SamlNameId, requested: SamlNameId, idpEntityId: string, spEntityId: string): boolean {
  const format = (n: SamlNameId) => n.format ?? NAMEID_FORMAT.unspecified;
  return (
    asserted.value === requested.value &&
    format(asserted) === format(requested) &&
    (asserted.nameQualifier ?? idpEntityId) === (requested.nameQualifier ?? idpEntityId) &&
    (asserted.spNameQualifier ?? spEntityId) === (requested.spNameQualifier ?? spEntityId)
  );
}

export function createSamlSingleLogout(s: SamlSingleLogoutSetup): SamlSingleLogout {
  const { connectionId: id, skew } = s;
  // samlify's view of the IdP's SLO endpoints, built once per metadata copy.
  const entities = new WeakMap<IdpMetadata, { request: samlify.IdentityProviderInstance; response: samlify.IdentityProviderInstance }>();
  const samlifyFor = (idp: IdpMetadata, use: 'request' | 'response'): samlify.IdentityProviderInstance => {
    let built = entities.get(idp);
    if (!built) entities.set(idp, (built = { request: samlifyIdp(idp, 'request', s.sign), response: samlifyIdp(idp, 'response', s.sign) }));
    return built[use];
  };
  const newId = () => `_${randomBytes(20).toString('hex')}`;
  const fail = (reason: SamlRefusal, answerTo?: SamlLogoutAnswerTo) => new SamlLogoutError(id, reason, answerTo);

  async function start(input: { nameId: SamlNameId; sessionIndex?: string; browserBinding: string; continuation?: string }): Promise<SamlOutgoing> {
    const idp = s.idp();
    const binding = preferredBinding(idp);
    if (!binding) throw fail({ code: 'slo_unsupported', detail: 'the IdP metadata has no SingleLogoutService' });
    if (!input.browserBinding) throw fail({ code: 'invalid_request', detail: 'browserBinding is empty' });
    const now = s.clock();
    const destination = destinationOf(idp.singleLogout[binding]!, 'request');
    const tx: LoginTransaction = {
      id: randomBytes(32).toString('base64url'),
      connectionId: id,
      purpose: 'logout',
      requestId: newId(),
      browserBinding: input.browserBinding,
      createdAt: now,
      expiresAt: now + SAML_LOGOUT_TRANSACTION_LIFETIME,
    };
    if (input.continuation !== undefined) tx.continuation = input.continuation;
    const xml = logoutRequestXml({
      id: tx.requestId!,
      now,
      destination,
      spEntityId: s.spEntityId,
      nameId: input.nameId,
      ...(input.sessionIndex !== undefined ? { sessionIndex: input.sessionIndex } : {}),
    });
    const built = s.sp.createLogoutRequest(samlifyFor(idp, 'request'), binding, { logoutNameID: input.nameId.value, sessionIndex: input.sessionIndex }, {
      relayState: tx.id,
      customTagReplacement: () => ({ id: tx.requestId!, context: xml }),
    });
    if (built.id !== tx.requestId) throw new Error('samlify built a LogoutRequest with another ID');
    await s.transactions.put(tx);
    return outgoing(built, binding, destination, 'SAMLRequest', tx.id);
  }

  function answer(to: SamlLogoutAnswerTo, status: SamlLogoutStatus): SamlOutgoing {
    const idp = s.idp();
    const binding = preferredBinding(idp);
    if (!binding) throw fail({ code: 'slo_unsupported', detail: 'the IdP metadata has no SingleLogoutService' });
    const destination = destinationOf(idp.singleLogout[binding]!, 'response');
    const responseId = newId();
    const xml = logoutResponseXml({ id: responseId, now: s.clock(), destination, spEntityId: s.spEntityId, inResponseTo: to.requestId, status: STATUS[status] });
    const built = s.sp.createLogoutResponse(samlifyFor(idp, 'response'), null as unknown as Parameters<samlify.ServiceProviderInstance["createLogoutResponse"]>[1], binding, {
      ...(to.relayState !== undefined ? { relayState: to.relayState } : {}),
      customTagReplacement: () => ({ id: responseId, context: xml }),
    });
    return outgoing(built, binding, destination, 'SAMLResponse', to.relayState);
  }

  /** An IdP's LogoutRequest. From the verified Issuer on, a refusal is answered (`answerTo`). */
  async function receiveRequest(idp: IdpMetadata, d: Decoded, msg: Element, now: number): Promise<SamlLogoutReceived> {
    const to: SamlLogoutAnswerTo = { requestId: attr(msg, 'ID')!, ...(d.relayState !== undefined ? { relayState: d.relayState } : {}) };
    checkIssuer(children(msg, NS.assertion, 'Issuer')[0], idp.entityId, 'LogoutRequest');
    try {
      const issued = checkEnvelope(msg, s.url, now, skew);
      if (issued < now - SAML_LOGOUT_REQUEST_MAX_AGE - skew) refused({ code: 'logout_request_stale', detail: `issued ${Math.round(now - issued)} s ago` });
      const notOnOrAfterText = attr(msg, 'NotOnOrAfter');
      const notOnOrAfter = notOnOrAfterText === undefined ? Infinity : instant(notOnOrAfterText, 'logout_request_expired', 'NotOnOrAfter');
      if (now - skew >= notOnOrAfter) refused({ code: 'logout_request_expired', detail: notOnOrAfterText });
      const nameId = readNameId(msg);
      if (nameId.value.length > SAML_MAX_NAMEID_CHARS) refused({ code: 'nameid_invalid', detail: 'longer than 256 characters' });
      const sessionIndexes = readSessionIndexes(msg);
      // Remembered for as long as the request could be accepted: until it is stale or expired.
      const until = Math.ceil(Math.min(notOnOrAfter, issued + SAML_LOGOUT_REQUEST_MAX_AGE) + skew);
      if (!(await s.replay.consume(replayScope(idp.entityId), to.requestId, until, now))) refused({ code: 'logout_request_replayed' });
      const request: VerifiedLogoutRequest = { id: to.requestId, nameId, sessionIndexes, ...(to.relayState !== undefined ? { relayState: to.relayState } : {}) };
      return { kind: 'request', request };
    } catch (err) {
      if (err instanceof Refused) throw fail(err.reason, to);
      throw err;
    }
  }

  /**
   * The answer to the broker's own LogoutRequest: stateless checks first (a forged post cancels no
   * logout in flight), then the transaction taken (single use), bound to the browser, matched.
   */
  async function receiveResponse(idp: IdpMetadata, d: Decoded, msg: Element, now: number, ctx: { browserBinding?: string }): Promise<SamlLogoutReceived> {
    checkIssuer(children(msg, NS.assertion, 'Issuer')[0], idp.entityId, 'LogoutResponse');
    checkEnvelope(msg, s.url, now, skew);
    const inResponseTo = attr(msg, 'InResponseTo');
    if (!inResponseTo) refused({ code: 'in_response_to_missing' });
    const status = statusOf(msg);
    if (d.relayState === undefined || d.relayState.length === 0) refused({ code: 'relay_state_missing' });
    const tx = await s.transactions.take(d.relayState, now);
    if (!tx || tx.purpose !== 'logout' || tx.connectionId !== id) refused({ code: 'logout_transaction_unknown' });
    if (!ctx.browserBinding || !constantTimeEqual(encoder.encode(tx.browserBinding), encoder.encode(ctx.browserBinding))) refused({ code: 'browser_mismatch' });
    if (tx.requestId !== inResponseTo) refused({ code: 'in_response_to_mismatch' });
    if (status.value !== STATUS.success) refused({ code: 'status_not_success', status: status.value, ...(status.sub ? { subStatus: status.sub } : {}) });
    return { kind: 'response', ...(tx.continuation !== undefined ? { continuation: tx.continuation } : {}) };
  }

  async function receive(message: SamlLogoutMessage, ctx: { browserBinding?: string }): Promise<SamlLogoutReceived> {
    const now = s.clock();
    const idp = s.idp();
    try {
      if (!preferredBinding(idp)) refused({ code: 'slo_unsupported', detail: 'the IdP metadata has no SingleLogoutService' });
      const d = message.binding === 'redirect' ? decodeRedirect(message.query) : decodePost(message.form);
      const received = parseMessage(d, message.binding);
      const msg = verifySignature(d, received, message.binding, idp);
      const where: SamlSignedPart = d.type === 'SAMLRequest' ? 'logout_request' : 'logout_response';
      if (attr(msg, 'ID') !== attr(received, 'ID')) refused({ code: 'signature_reference_invalid', where, detail: 'the signed message is not the one received' });
      return d.type === 'SAMLRequest' ? await receiveRequest(idp, d, msg, now) : await receiveResponse(idp, d, msg, now, ctx);
    } catch (err) {
      if (err instanceof Refused) throw fail(err.reason);
      throw err;
    }
  }

  // No SessionIndex in the request: every session of the NameID (SAML core §3.7.1).
  const covers = (asserted: { nameId: SamlNameId; sessionIndex?: string }, request: VerifiedLogoutRequest) =>
    sameNameId(asserted.nameId, request.nameId, s.idp().entityId, s.spEntityId) &&
    (request.sessionIndexes.length === 0 || (asserted.sessionIndex !== undefined && request.sessionIndexes.includes(asserted.sessionIndex)));

  return {
    url: s.url,
    get offered() {
      return preferredBinding(s.idp()) !== undefined;
    },
    start,
    receive,
    answer,
    covers,
  };
}
