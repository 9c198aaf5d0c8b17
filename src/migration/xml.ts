import { DOMParser } from '@xmldom/xmldom';
import { children, is, isElement } from '../xml/dom.js';

/**
 * XML reading for the migration tools (CLI only: `contract-report`, `import-sp-metadata`). They read
 * files an operator saved, not requests from the network, but the same hygiene applies: no DTD,
 * namespace-aware lookups, text read whole across comments.
 *
 * `@xmldom/xmldom` (0.8) is a dependency of the broker (and of samlify); src/upstream/saml uses it
 * too, with the same rules. These helpers are kept separate so the CLI tools do not depend on the
 * login path's error types.
 */

export const NS = {
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  mdui: 'urn:oasis:names:tc:SAML:metadata:ui',
  mdattr: 'urn:oasis:names:tc:SAML:metadata:attribute',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

/** Input the migration tools will not read, with the reason. */
export class MigrationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationInputError';
  }
}

/** Largest document the tools read (metadata aggregates of a few SPs, a response with hundreds of attributes). */
export const MIGRATION_XML_MAX_CHARS = 4 * 1024 * 1024;

const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

/**
 * Parses with every xmldom warning and error fatal, after refusing any DOCTYPE (and so every
 * entity declaration): no internal or external entities, no expansion.
 */
export function parseXml(xml: string, what: string): Element {
  if (xml.length > MIGRATION_XML_MAX_CHARS) throw new MigrationInputError(`${what}: larger than ${MIGRATION_XML_MAX_CHARS} characters`);
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) throw new MigrationInputError(`${what}: a DOCTYPE or ENTITY declaration is refused`);
  const problems: string[] = [];
  const onProblem = (msg: string) => {
    problems.push(msg);
  };
  const doc = new DOMParser({ errorHandler: { warning: onProblem, error: onProblem, fatalError: onProblem } }).parseFromString(xml, 'text/xml');
  if (problems.length > 0 || !doc || !doc.documentElement) {
    throw new MigrationInputError(`${what}: not well-formed XML (${(problems[0] ?? 'no document element').replace(/\s+/g, ' ').slice(0, 200)})`);
  }
  return doc.documentElement;
}

export { children, is, isElement } from '../xml/dom.js';

/** Every element below `root` with this name (root included), in document order. */
export function descendantsNamed(root: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  const walk = (el: Element) => {
    if (is(el, ns, localName)) out.push(el);
    for (let n = el.firstChild; n; n = n.nextSibling) if (isElement(n)) walk(n);
  };
  walk(root);
  return out;
}

export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name)! : undefined;
}

/**
 * The character data of a simple-content element: every text and CDATA node concatenated,
 * comments skipped, so `alice@example.com<!---->.evil.com` reads as the whole string. An element
 * child means the content is not simple: undefined.
 */
export function simpleText(el: Element): string | undefined {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === TEXT_NODE || n.nodeType === CDATA_SECTION_NODE) text += (n as CharacterData).data;
    else if (isElement(n)) return undefined;
  }
  return text;
}
