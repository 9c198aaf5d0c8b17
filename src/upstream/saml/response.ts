import type { SamlAttribute, SamlNameId } from '../../identity/types.js';
import { decryptAssertion, type DecryptionKey } from './decrypt.js';
import { refused, Refused } from './errors.js';
import { NAMEID_FORMAT, principalSubject, readAttributes, readNameId } from './identity.js';
import { SAML_MAX_ELEMENTS_BESIDE_ASSERTION, SAML_MAX_ID_CHARS, SAML_MAX_RESPONSE_BASE64_CHARS } from './limits.js';
import type { IdpMetadata } from './metadata.js';
import type { PrincipalKey } from '../../config/saml-connection.js';
import { verifyEnvelopedSignature } from './signature.js';
import { attr, children, firstChild, is, NS, parseInstant, parseStrict, refuseDoctype, refuseForbiddenCharacters, refuseForeignEncoding, refuseTooMuchMarkup, simpleText, walk } from './xml.js';

/**
 * The stateless half of the Assertion Consumer Service: everything that can be decided from the
 * posted SAMLResponse, the IdP metadata, the configuration and the clock. It stores nothing and
 * reads no store, so a response refused here has consumed no login transaction and left no replay
 * record. The connection then does the stateful half (InResponseTo, browser binding, replay).
 *
 * Order matters, for safety and for cost: the text checks and a bound on the markup come before
 * the parser; one walk of the parsed tree does every structural check (size, depth, namespaces,
 * comments in values, the wrapping shapes, the schema's content model of Response and Assertion,
 * IDs); then the signatures, SignatureValue first (signature.ts), so a response no configured key
 * signed costs a parse, a walk and one RSA/ECDSA verification per key. Nothing is read from the
 * content until a signature that covers it has been verified; it is then read from the signed
 * bytes xml-crypto returned.
 *
 * There is no full XML Schema validation here (it cost 0.3–0.5 s of CPU per response in an
 * xmllint-wasm worker); docs/saml.md says what it guarded and which check does that now.
 */

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const ID_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set(['ID', 'Id', 'id']);
/** xs:ID is an NCName; the schema validator used to enforce it. */
const NCNAME = /^[\p{L}_][\p{L}\p{N}_.\-\u00B7\p{Mn}]*$/u;
const XMLNS = 'http://www.w3.org/2000/xmlns/';

export interface VerifyContext {
  spEntityId: string;
  acsUrl: string;
  idp: IdpMetadata;
  wantAssertionsSigned: boolean;
  wantResponseSigned: boolean;
  /** The SP's decryption key; without one, an EncryptedAssertion is refused. */
  decryptionKey?: DecryptionKey;
  principalKey: PrincipalKey;
  /** Required AuthnContextClassRef values, if any. */
  authnContext?: readonly string[];
  skew: number;
  /** Seconds since epoch. */
  now: number;
}

/** What a response that passed every stateless check says. */
export interface VerifiedResponse {
  responseId: string;
  assertionId: string;
  /** Absent for an unsolicited (IdP-initiated) response. */
  inResponseTo?: string;
  /** The assertion is refused as expired after this instant (seconds): how long to remember its ID. */
  replayUntil: number;
  issuer: string;
  nameId: SamlNameId;
  attributes: SamlAttribute[];
  subject: string;
  authTime: number;
  acr?: string;
  sessionIndex?: string;
  /** The AuthnStatement's SessionNotOnOrAfter (whole seconds, rounded down): the SP session ends by then. */
  sessionNotOnOrAfter?: number;
  signed: { response: boolean; assertion: boolean };
  encrypted: boolean;
}

function decodeForm(samlResponse: unknown): string {
  if (typeof samlResponse !== 'string' || samlResponse.length === 0) refused({ code: 'response_missing' });
  if (samlResponse.length > SAML_MAX_RESPONSE_BASE64_CHARS) refused({ code: 'response_too_large' });
  return utf8(base64Bytes(samlResponse));
}

/** Strict base64 of a posted or redirected message; some IdPs wrap it in lines. */
export function base64Bytes(value: string): Buffer {
  const compact = value.replace(/[\r\n\t ]+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) refused({ code: 'response_not_base64' });
  return Buffer.from(compact, 'base64');
}

/** Strict UTF-8 (a BOM is kept, and refused later by the XML checks). */
export function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    refused({ code: 'response_not_utf8' });
  }
}

/** Non-success is refused first and precisely: such responses usually carry no assertion at all. */
function checkStatus(response: Element): void {
  const status = firstChild(response, NS.protocol, 'Status');
  const code = status && firstChild(status, NS.protocol, 'StatusCode');
  if (!code) return; // the schema validator refuses a Response without one
  const value = attr(code, 'Value') ?? '';
  if (value === SUCCESS) return;
  const sub = firstChild(code, NS.protocol, 'StatusCode');
  const message = status && firstChild(status, NS.protocol, 'StatusMessage');
  const refusal: { code: 'status_not_success'; status: string; subStatus?: string; detail?: string } = { code: 'status_not_success', status: value };
  const subValue = sub && attr(sub, 'Value');
  if (subValue) refusal.subStatus = subValue;
  const text = message && simpleText(message);
  if (text) refusal.detail = text;
  refused(refusal);
}

/** IDs (of any element, under any of the names xml-crypto resolves) are unique and bounded. */
export function checkIds(elements: readonly Element[]): void {
  const seen = new Set<string>();
  for (const el of elements) {
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes.item(i)!;
      if (!ID_ATTRIBUTE_NAMES.has(a.localName ?? a.name)) continue;
      if (a.value.length === 0 || a.value.length > SAML_MAX_ID_CHARS || !NCNAME.test(a.value)) refused({ code: 'id_invalid', detail: `${el.localName}@${a.name}` });
      if (seen.has(a.value)) refused({ code: 'duplicate_id', detail: a.value });
      seen.add(a.value);
    }
  }
}

type Particle = { names: ReadonlyArray<readonly [string, string]>; max: number; min?: number };

/**
 * The part of the SAML schema the broker relies on, for the two elements it reads from: no
 * attribute the type does not declare (namespace declarations aside), and the children in the
 * schema's sequence with its cardinalities. Elements below them are read by name and count.
 */
function checkContentModel(el: Element, attributes: ReadonlySet<string>, sequence: readonly Particle[]): void {
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i)!;
    if (a.namespaceURI === XMLNS) continue;
    if (a.namespaceURI || !attributes.has(a.name)) refused({ code: 'schema_invalid', detail: `${el.localName}: attribute ${a.name} is not allowed` });
  }
  const kids = children(el);
  let k = 0;
  for (const p of sequence) {
    let n = 0;
    while (k < kids.length && n < p.max && p.names.some(([ns, name]) => is(kids[k], ns, name))) {
      k++;
      n++;
    }
    if (n < (p.min ?? 0)) refused({ code: 'schema_invalid', detail: `${el.localName}: ${p.names.map(([, name]) => name).join('|')} expected${k < kids.length ? `, found ${kids[k]!.localName}` : ''}` });
  }
  if (k < kids.length) refused({ code: 'schema_invalid', detail: `${el.localName}: ${kids[k]!.localName} is not allowed here` });
}

const RESPONSE_ATTRIBUTES: ReadonlySet<string> = new Set(['ID', 'InResponseTo', 'Version', 'IssueInstant', 'Destination', 'Consent']);
const RESPONSE_SEQUENCE: readonly Particle[] = [
  { names: [[NS.assertion, 'Issuer']], max: 1 },
  { names: [[NS.dsig, 'Signature']], max: 1 },
  { names: [[NS.protocol, 'Extensions']], max: 1 },
  { names: [[NS.protocol, 'Status']], min: 1, max: 1 },
  { names: [[NS.assertion, 'Assertion'], [NS.assertion, 'EncryptedAssertion']], max: Infinity },
];
const ASSERTION_ATTRIBUTES: ReadonlySet<string> = new Set(['ID', 'Version', 'IssueInstant']);
const ASSERTION_SEQUENCE: readonly Particle[] = [
  { names: [[NS.assertion, 'Issuer']], min: 1, max: 1 },
  { names: [[NS.dsig, 'Signature']], max: 1 },
  { names: [[NS.assertion, 'Subject']], max: 1 },
  { names: [[NS.assertion, 'Conditions']], max: 1 },
  { names: [[NS.assertion, 'Advice']], max: 1 },
  { names: [[NS.assertion, 'Statement'], [NS.assertion, 'AuthnStatement'], [NS.assertion, 'AuthzDecisionStatement'], [NS.assertion, 'AttributeStatement']], max: Infinity },
];

/**
 * The wrapping defences, on the document as received, before the signatures:
 * one Response, one assertion (plain or encrypted) anywhere in the document, as a direct child of
 * the Response, signatures only directly on the Response or on that assertion, one each, and
 * unique IDs. Every XSW variant moves or copies a signed element and so trips one of these.
 */
function checkResponseStructure(response: Element): Element {
  const all = walk(response);
  if (all.filter((e) => e.localName === 'Response').length > 1) refused({ code: 'multiple_responses' });
  const assertions = all.filter((e) => e.localName === 'Assertion' || e.localName === 'EncryptedAssertion');
  if (assertions.length === 0) refused({ code: 'assertion_missing' });
  if (assertions.length > 1) refused({ code: 'multiple_assertions', detail: `${assertions.length} assertions in the document` });
  const assertion = assertions[0]!;
  if (assertion.parentNode !== response || assertion.namespaceURI !== NS.assertion) refused({ code: 'assertion_misplaced' });
  const beside = all.length - walk(assertion).length;
  if (beside > SAML_MAX_ELEMENTS_BESIDE_ASSERTION) refused({ code: 'xml_malformed', detail: `${beside} elements outside the assertion (at most ${SAML_MAX_ELEMENTS_BESIDE_ASSERTION})` });
  checkSignaturePlacement(all, [response, ...(assertion.localName === 'Assertion' ? [assertion] : [])]);
  checkIds(all);
  checkContentModel(response, RESPONSE_ATTRIBUTES, RESPONSE_SEQUENCE);
  if (assertion.localName === 'Assertion') checkContentModel(assertion, ASSERTION_ATTRIBUTES, ASSERTION_SEQUENCE);
  return assertion;
}

function checkSignaturePlacement(all: readonly Element[], allowedParents: readonly Element[]): void {
  const signatures = all.filter((e) => e.localName === 'Signature');
  const perParent = new Map<Node, number>();
  for (const sig of signatures) {
    const parent = sig.parentNode as Element | null;
    if (sig.namespaceURI !== NS.dsig || !parent || !allowedParents.includes(parent)) {
      refused({ code: 'signature_misplaced', detail: `Signature inside ${parent?.localName ?? '(none)'}` });
    }
    const n = (perParent.get(parent) ?? 0) + 1;
    if (n > 1) refused({ code: 'signature_misplaced', detail: `two Signatures on ${parent.localName}` });
    perParent.set(parent, n);
  }
}

/** The same defences for a decrypted assertion, which is a document of its own. */
function checkDecryptedStructure(assertion: Element): void {
  if (!is(assertion, NS.assertion, 'Assertion')) refused({ code: 'encrypted_assertion_malformed', detail: 'plaintext is not a saml:Assertion' });
  const all = walk(assertion);
  const nested = all.filter((e) => e !== assertion && (e.localName === 'Assertion' || e.localName === 'EncryptedAssertion' || e.localName === 'Response'));
  if (nested.length > 0) refused({ code: 'multiple_assertions', detail: 'nested in the decrypted assertion' });
  checkSignaturePlacement(all, [assertion]);
  checkIds(all);
  checkContentModel(assertion, ASSERTION_ATTRIBUTES, ASSERTION_SEQUENCE);
}

/** An xs:dateTime in UTC as epoch seconds, or the refusal `code`. */
export function instant(
  value: string | undefined,
  code: 'issue_instant_invalid' | 'not_yet_valid' | 'expired' | 'confirmation_expired' | 'authn_instant_invalid' | 'session_expired' | 'logout_request_expired',
  what: string,
): number {
  const t = parseInstant(value);
  if (t === undefined) refused({ code, detail: `${what} is not a UTC xs:dateTime` });
  return t;
}

export function checkIssuer(issuer: Element | undefined, expected: string, what: string): void {
  if (!issuer) refused({ code: 'issuer_mismatch', detail: `${what} has no Issuer` });
  const format = attr(issuer, 'Format');
  if (format !== undefined && format !== NAMEID_FORMAT.entity) refused({ code: 'issuer_mismatch', detail: `${what} Issuer Format ${format}` });
  const value = simpleText(issuer);
  if (value !== expected) refused({ code: 'issuer_mismatch', detail: `${what} Issuer ${value ?? '(complex)'}` });
}

interface Conditions {
  notOnOrAfter?: number;
}

function checkConditions(assertion: Element, ctx: VerifyContext): Conditions {
  const all = children(assertion, NS.assertion, 'Conditions');
  if (all.length !== 1) refused({ code: 'conditions_missing' });
  const conditions = all[0]!;
  const { now, skew } = ctx;
  const out: Conditions = {};
  const notBefore = attr(conditions, 'NotBefore');
  if (notBefore !== undefined && now + skew < instant(notBefore, 'not_yet_valid', 'Conditions NotBefore')) refused({ code: 'not_yet_valid', detail: notBefore });
  const notOnOrAfter = attr(conditions, 'NotOnOrAfter');
  if (notOnOrAfter !== undefined) {
    out.notOnOrAfter = instant(notOnOrAfter, 'expired', 'Conditions NotOnOrAfter');
    if (now - skew >= out.notOnOrAfter) refused({ code: 'expired', detail: notOnOrAfter });
  }
  let audienceRestrictions = 0;
  for (const condition of children(conditions)) {
    if (is(condition, NS.assertion, 'AudienceRestriction')) {
      audienceRestrictions++;
      // Each AudienceRestriction must name us (SAML core §2.5.1.4: several restrictions all apply).
      const audiences = children(condition, NS.assertion, 'Audience').map((a) => simpleText(a));
      if (!audiences.includes(ctx.spEntityId)) refused({ code: 'audience_mismatch', detail: String(audiences[0] ?? '(none)') });
    } else if (is(condition, NS.assertion, 'OneTimeUse') || is(condition, NS.assertion, 'ProxyRestriction')) {
      // OneTimeUse is what the replay cache enforces anyway; ProxyRestriction limits re-issuing, which the broker does not do.
    } else {
      // An unknown condition makes the assertion Indeterminate (SAML core §2.5.1): refuse.
      refused({ code: 'condition_unsupported', detail: condition.getAttributeNS(NS.xsi, 'type') || condition.localName });
    }
  }
  if (audienceRestrictions === 0) refused({ code: 'audience_missing' });
  return out;
}

/**
 * SessionNotOnOrAfter (SAML core §2.7.2): when the session the SP starts for this login must end.
 * It bounds the broker session, which ends at that instant by the broker's clock, so no skew is
 * granted: a bound already reached would start a session that has ended (and send the browser
 * straight back to the IdP), and is refused. Rounded down to whole seconds, never lengthened.
 */
function checkSessionNotOnOrAfter(statement: Element, now: number): number | undefined {
  const value = attr(statement, 'SessionNotOnOrAfter');
  if (value === undefined) return undefined;
  const end = Math.floor(instant(value, 'session_expired', 'SessionNotOnOrAfter'));
  if (end <= now) refused({ code: 'session_expired', detail: `SessionNotOnOrAfter ${value} has passed: the IdP session has ended` });
  return end;
}

interface Confirmation {
  notOnOrAfter: number;
  inResponseTo?: string;
}

function checkBearer(confirmation: Element, ctx: VerifyContext): Confirmation {
  const data = children(confirmation, NS.assertion, 'SubjectConfirmationData');
  if (data.length !== 1) refused({ code: 'confirmation_data_missing' });
  const d = data[0]!;
  // SAML profiles §4.1.4.2: a bearer confirmation has NotOnOrAfter and no NotBefore.
  if (d.hasAttribute('NotBefore')) refused({ code: 'confirmation_not_before_present' });
  const notOnOrAfter = attr(d, 'NotOnOrAfter');
  if (notOnOrAfter === undefined) refused({ code: 'confirmation_expiry_missing' });
  const expiry = instant(notOnOrAfter, 'confirmation_expired', 'SubjectConfirmationData NotOnOrAfter');
  if (ctx.now - ctx.skew >= expiry) refused({ code: 'confirmation_expired', detail: notOnOrAfter });
  const recipient = attr(d, 'Recipient');
  if (recipient === undefined) refused({ code: 'recipient_missing' });
  if (recipient !== ctx.acsUrl) refused({ code: 'recipient_mismatch', detail: recipient });
  const out: Confirmation = { notOnOrAfter: expiry };
  const irt = attr(d, 'InResponseTo');
  if (irt !== undefined) out.inResponseTo = irt;
  return out;
}

/** At least one bearer SubjectConfirmation must satisfy every rule; the first one's failure is reported. */
function checkSubjectConfirmation(subject: Element, ctx: VerifyContext): Confirmation {
  const bearers = children(subject, NS.assertion, 'SubjectConfirmation').filter((c) => attr(c, 'Method') === BEARER);
  if (bearers.length === 0) refused({ code: 'bearer_confirmation_missing' });
  let firstFailure: Refused | undefined;
  for (const bearer of bearers) {
    try {
      return checkBearer(bearer, ctx);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      firstFailure ??= err;
    }
  }
  throw firstFailure!;
}

/** Runs every stateless check. Throws Refused. */
export async function verifySamlResponse(samlResponse: unknown, ctx: VerifyContext): Promise<VerifiedResponse> {
  const xml = decodeForm(samlResponse);
  refuseDoctype(xml);
  refuseForeignEncoding(xml);
  refuseForbiddenCharacters(xml);
  refuseTooMuchMarkup(xml);
  const doc = parseStrict(xml);
  const received = doc.documentElement;
  if (!is(received, NS.protocol, 'Response')) refused({ code: 'not_a_response', detail: `${received.namespaceURI ?? ''} ${received.localName}` });
  checkStatus(received);
  const receivedAssertion = checkResponseStructure(received);

  const keys = ctx.idp.signingKeys;

  // The Response's signature. When it verifies, the envelope (Destination, InResponseTo, and an
  // EncryptedAssertion's ciphertext) is read from the signed bytes, not from the received tree.
  let response = received;
  const responseSignature = children(received, NS.dsig, 'Signature')[0];
  if (responseSignature) {
    response = parseStrict(verifyEnvelopedSignature(xml, responseSignature, received, 'response', keys)).documentElement;
  } else if (ctx.wantResponseSigned) {
    refused({ code: 'response_unsigned', where: 'response' });
  }
  const responseSigned = responseSignature !== undefined;
  const holder = children(response).find((e) => is(e, NS.assertion, 'Assertion') || is(e, NS.assertion, 'EncryptedAssertion'));
  if (!holder) refused({ code: 'assertion_missing', detail: 'not in the signed response' });

  // Decryption, of the signed ciphertext when the response is signed.
  let assertionXml: string;
  let assertion: Element;
  const encrypted = is(holder, NS.assertion, 'EncryptedAssertion');
  if (encrypted) {
    if (!ctx.decryptionKey) refused({ code: 'encrypted_assertion_unexpected' });
    assertionXml = decryptAssertion(holder, ctx.decryptionKey);
    refuseDoctype(assertionXml);
    refuseForeignEncoding(assertionXml);
    refuseForbiddenCharacters(assertionXml);
    refuseTooMuchMarkup(assertionXml);
    assertion = parseStrict(assertionXml).documentElement;
    checkDecryptedStructure(assertion);
  } else {
    assertionXml = xml;
    assertion = receivedAssertion;
  }

  // The Assertion's signature. What is read from here on is `signedAssertion`: the bytes this
  // signature covers, or (with only the Response signed) the assertion inside the signed Response.
  let signedAssertion: Element;
  const assertionSignature = children(assertion, NS.dsig, 'Signature')[0];
  if (assertionSignature) {
    signedAssertion = parseStrict(verifyEnvelopedSignature(assertionXml, assertionSignature, assertion, 'assertion', keys)).documentElement;
  } else if (ctx.wantAssertionsSigned) {
    refused({ code: 'assertion_unsigned', where: 'assertion' });
  } else if (!responseSigned) {
    // Unreachable with a valid configuration (one signature is always required); kept as a guard.
    refused({ code: 'assertion_unsigned', where: 'assertion', detail: 'no signature covers the assertion' });
  } else {
    signedAssertion = encrypted ? assertion : holder;
  }
  const assertionSigned = assertionSignature !== undefined;
  if (!is(signedAssertion, NS.assertion, 'Assertion')) refused({ code: 'assertion_missing', detail: 'the signed element is not an Assertion' });
  const assertionId = attr(signedAssertion, 'ID');
  if (!assertionId || assertionId !== attr(assertion, 'ID') || (!encrypted && assertionId !== attr(holder, 'ID'))) {
    refused({ code: 'signature_reference_invalid', where: 'assertion', detail: 'the signed assertion is not the one in the response' });
  }

  if (attr(received, 'Version') !== '2.0') refused({ code: 'version_unsupported' });

  const { now, skew } = ctx;
  const idpEntityId = ctx.idp.entityId;

  // The envelope.
  const responseIssuer = firstChild(response, NS.assertion, 'Issuer');
  if (responseIssuer) checkIssuer(responseIssuer, idpEntityId, 'Response');
  const destination = attr(response, 'Destination');
  if (destination === undefined) refused({ code: 'destination_missing' });
  if (destination !== ctx.acsUrl) refused({ code: 'destination_mismatch', detail: destination });
  if (instant(attr(response, 'IssueInstant'), 'issue_instant_invalid', 'Response IssueInstant') > now + skew) refused({ code: 'issue_instant_invalid', detail: 'Response issued in the future' });

  // The assertion.
  if (attr(signedAssertion, 'Version') !== '2.0') refused({ code: 'version_unsupported', detail: 'Assertion' });
  if (instant(attr(signedAssertion, 'IssueInstant'), 'issue_instant_invalid', 'Assertion IssueInstant') > now + skew) refused({ code: 'issue_instant_invalid', detail: 'Assertion issued in the future' });
  checkIssuer(firstChild(signedAssertion, NS.assertion, 'Issuer'), idpEntityId, 'Assertion');
  const conditions = checkConditions(signedAssertion, ctx);
  const subjects = children(signedAssertion, NS.assertion, 'Subject');
  if (subjects.length !== 1) refused({ code: 'subject_missing' });
  const nameId = readNameId(subjects[0]!);
  const confirmation = checkSubjectConfirmation(subjects[0]!, ctx);

  // Solicited or not: the Response and the (signed) confirmation must agree.
  const responseIrt = attr(response, 'InResponseTo');
  if (responseIrt !== confirmation.inResponseTo) refused({ code: 'in_response_to_inconsistent' });

  const statements = children(signedAssertion, NS.assertion, 'AuthnStatement');
  if (statements.length === 0) refused({ code: 'authn_statement_missing' });
  const statement = statements[0]!;
  const authTime = instant(attr(statement, 'AuthnInstant'), 'authn_instant_invalid', 'AuthnInstant');
  if (authTime > now + skew) refused({ code: 'authn_instant_invalid', detail: 'in the future' });
  const sessionEnd = checkSessionNotOnOrAfter(statement, now);
  const context = firstChild(statement, NS.assertion, 'AuthnContext');
  const classRefEl = context && firstChild(context, NS.assertion, 'AuthnContextClassRef');
  const acr = classRefEl ? simpleText(classRefEl) : undefined;
  if (ctx.authnContext && (acr === undefined || !ctx.authnContext.includes(acr))) refused({ code: 'authn_context_mismatch', detail: acr ?? '(none)' });

  const attributes = readAttributes(signedAssertion);
  const subject = principalSubject(ctx.principalKey, nameId, attributes);

  const replayUntil = Math.ceil(Math.min(confirmation.notOnOrAfter, conditions.notOnOrAfter ?? Infinity) + skew);
  const out: VerifiedResponse = {
    responseId: attr(response, 'ID')!,
    assertionId,
    replayUntil,
    issuer: idpEntityId,
    nameId,
    attributes,
    subject,
    authTime: Math.floor(authTime),
    signed: { response: responseSigned, assertion: assertionSigned },
    encrypted,
  };
  if (confirmation.inResponseTo !== undefined) out.inResponseTo = confirmation.inResponseTo;
  if (acr !== undefined) out.acr = acr;
  const sessionIndex = attr(statement, 'SessionIndex');
  if (sessionIndex !== undefined) out.sessionIndex = sessionIndex;
  if (sessionEnd !== undefined) out.sessionNotOnOrAfter = sessionEnd;
  return out;
}
