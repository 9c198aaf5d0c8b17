import { DOMParser } from '@xmldom/xmldom';
import { children, is, isElement } from '../../xml/dom.js';
import { refused } from './errors.js';
import { SAML_MAX_XML_DEPTH, SAML_MAX_XML_ELEMENTS } from './limits.js';

/**
 * XML plumbing shared by the SAML checks: namespace-aware lookups (never `local-name()` alone),
 * a strict parser, the DOCTYPE refusal, text reading that cannot be split by a comment, and
 * xs:dateTime parsing. Nothing here trusts anything.
 */

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xenc11: 'http://www.w3.org/2009/xmlenc11#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;

/**
 * Refuses a document type declaration (and so any entity declaration) before any parser sees the
 * text: no DTD, no internal or external entities, no entity expansion. SAML never needs one.
 */
export function refuseDoctype(xml: string): void {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) refused({ code: 'doctype_present' });
}

/**
 * The text was decoded as UTF-8; an XML declaration naming another encoding would make the schema
 * validator (libxml2) read different characters than the DOM parser does. Refuse it.
 */
export function refuseForeignEncoding(xml: string): void {
  const decl = /^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']/.exec(xml);
  if (decl && !/^utf-?8$/i.test(decl[1]!)) refused({ code: 'xml_encoding_unsupported', detail: decl[1]! });
}

/**
 * Bounds the parser's work before it runs: every element costs at least one `<`, and a document
 * within SAML_MAX_XML_ELEMENTS has at most two per element (start and end tag) plus a few for the
 * XML declaration, comments and CDATA. The exact count is checked after parsing (`walk`).
 */
export function refuseTooMuchMarkup(xml: string): void {
  let tags = 0;
  for (let i = xml.indexOf('<'); i !== -1; i = xml.indexOf('<', i + 1)) {
    if (++tags > 2 * SAML_MAX_XML_ELEMENTS + 16) refused({ code: 'xml_malformed', detail: `more than ${SAML_MAX_XML_ELEMENTS} elements` });
  }
}

/**
 * Parses with every xmldom warning and error fatal, and refuses what xmldom lets through but XML
 * does not: content beside the document element (trailing text, a second root). Undeclared
 * prefixes are refused by `walk`.
 */
export function parseStrict(xml: string): Document {
  const problems: string[] = [];
  const onProblem = (msg: string) => {
    problems.push(msg);
  };
  const doc = new DOMParser({
    errorHandler: { warning: onProblem, error: onProblem, fatalError: onProblem },
  }).parseFromString(xml, 'text/xml');
  if (problems.length > 0 || !doc || !doc.documentElement) {
    refused({ code: 'xml_malformed', detail: (problems[0] ?? 'no document element').replace(/\s+/g, ' ') });
  }
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n === doc.documentElement || n.nodeType === COMMENT_NODE || n.nodeType === PROCESSING_INSTRUCTION_NODE) continue;
    if (n.nodeType === TEXT_NODE && /^[ \t\r\n]*$/.test((n as CharacterData).data)) continue;
    refused({ code: 'xml_malformed', detail: 'content outside the document element' });
  }
  return doc;
}

export { children, is, isElement } from '../../xml/dom.js';

export function firstChild(el: Element, ns: string, localName: string): Element | undefined {
  return children(el, ns, localName)[0];
}

/**
 * Every element below `root` (itself included), in document order, in one bounded walk without
 * recursion (canonicalization recurses later, and must not meet a hostile depth), refusing on the
 * way what no SAML response contains:
 * - more than SAML_MAX_XML_DEPTH levels or SAML_MAX_XML_ELEMENTS elements;
 * - a prefix bound to no namespace (xmldom reads it as no namespace; XML Namespaces forbids it);
 * - a comment or processing instruction inside a SAML assertion element (NameID, AttributeValue,
 *   Issuer, Audience…): canonicalization drops comments, so one can be added after signing, and
 *   any reader that stops at it would see a prefix of the signed value. IdPs never send them.
 */
export function walk(root: Element): Element[] {
  const out: Element[] = [];
  const stack: { el: Element; depth: number }[] = [{ el: root, depth: 1 }];
  while (stack.length > 0) {
    const { el, depth } = stack.pop()!;
    if (depth > SAML_MAX_XML_DEPTH) refused({ code: 'xml_malformed', detail: `nested deeper than ${SAML_MAX_XML_DEPTH} elements` });
    out.push(el);
    if (out.length > SAML_MAX_XML_ELEMENTS) refused({ code: 'xml_malformed', detail: `more than ${SAML_MAX_XML_ELEMENTS} elements` });
    if (el.prefix && !el.namespaceURI) refused({ code: 'xml_malformed', detail: `undeclared prefix ${el.prefix}` });
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes.item(i)!;
      if (a.prefix && a.prefix !== 'xmlns' && !a.namespaceURI) refused({ code: 'xml_malformed', detail: `undeclared prefix ${a.prefix}` });
    }
    const kids: Element[] = [];
    for (let n = el.firstChild; n; n = n.nextSibling) {
      if (isElement(n)) kids.push(n);
      else if ((n.nodeType === COMMENT_NODE || n.nodeType === PROCESSING_INSTRUCTION_NODE) && el.namespaceURI === NS.assertion) {
        refused({ code: 'xml_comment_refused', detail: `${n.nodeType === COMMENT_NODE ? 'comment' : 'processing instruction'} inside ${el.localName}` });
      }
    }
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ el: kids[i]!, depth: depth + 1 });
  }
  return out;
}

/**
 * Characters XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF). The DOM
 * parser lets them through, the schema validator does not; refusing them up front keeps the two
 * parsers reading the same text.
 */
export function refuseForbiddenCharacters(xml: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(xml)) refused({ code: 'xml_malformed', detail: 'a character XML does not allow' });
}

export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name)! : undefined;
}

/**
 * The character data of a simple-content element: every text and CDATA node, concatenated, so a
 * comment cannot cut a value short (`alice@example.com<!---->.evil.com` reads as the whole string
 * the signature covers). An element child means the content is not simple: undefined.
 */
export function simpleText(el: Element): string | undefined {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === TEXT_NODE || n.nodeType === CDATA_SECTION_NODE) text += (n as CharacterData).data;
    else if (n.nodeType === COMMENT_NODE) continue;
    else if (isElement(n)) return undefined;
  }
  return text;
}

/**
 * xs:dateTime in UTC, as SAML core §1.3.3 requires ("Z", no offset), to seconds since epoch
 * (fractions kept). Anything else is undefined.
 */
export function parseInstant(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) {
    return undefined;
  }
  return ms / 1000 + (m[7] ? Number(m[7]) : 0);
}

export function isoInstant(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Escapes text for an XML attribute value or element content. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
