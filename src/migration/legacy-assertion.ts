import type { SamlAttribute, SamlNameId } from '../identity/types.js';
import { attr, children, is, MigrationInputError, NS, parseXml, simpleText } from './xml.js';

/**
 * Reads what a SAML app used to receive, from an assertion or response an operator saved (a SAML
 * tracer capture, an SP debug log), for `contract-report`. CLI only.
 *
 * It does NOT verify signatures, conditions or audience: it reads a document the operator chose
 * to trust as a record of the past, and says nothing about its authenticity. Never feed its output
 * into a login.
 */

export interface LegacyAssertion {
  /** Always false: nothing here was verified. */
  verified: false;
  issuer?: string;
  assertionId?: string;
  /** Absent when the subject has no plaintext NameID (EncryptedID, BaseID, none). */
  nameId?: SamlNameId;
  /** In document order; multi-valued attributes keep every value. */
  attributes: SamlAttribute[];
  /** What was read with reservations (skipped values, duplicates, whitespace). */
  warnings: string[];
}

/**
 * Accepts a `saml:Assertion` or a `samlp:Response` carrying exactly one plaintext assertion, as XML
 * or as the base64 `SAMLResponse` form value (URL-encoded or not).
 */
export function parseLegacyAssertion(input: string): LegacyAssertion {
  const root = parseXml(decodeInput(input), 'legacy assertion');
  const assertion = findAssertion(root);
  const warnings: string[] = [];
  const result: LegacyAssertion = { verified: false, attributes: [], warnings };
  const issuer = children(assertion, NS.assertion, 'Issuer')[0];
  const issuerText = issuer ? simpleText(issuer) : undefined;
  if (issuerText !== undefined) result.issuer = issuerText.trim();
  const id = attr(assertion, 'ID');
  if (id !== undefined) result.assertionId = id;

  const subject = children(assertion, NS.assertion, 'Subject')[0];
  const nameIdEl = subject ? children(subject, NS.assertion, 'NameID')[0] : undefined;
  if (nameIdEl) {
    const value = simpleText(nameIdEl);
    if (value === undefined) warnings.push('NameID has element content; ignored');
    else result.nameId = nameIdOf(nameIdEl, value);
  } else if (subject && children(subject, NS.assertion, 'EncryptedID').length > 0) {
    warnings.push('the NameID is encrypted (EncryptedID): decrypt the assertion first to compare the subject');
  } else {
    warnings.push('the assertion has no NameID');
  }

  const seen = new Set<string>();
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    if (children(statement, NS.assertion, 'EncryptedAttribute').length > 0) warnings.push('some attributes are encrypted (EncryptedAttribute) and were not read');
    for (const el of children(statement, NS.assertion, 'Attribute')) {
      const name = attr(el, 'Name') ?? '';
      if (name === '') warnings.push('an Attribute without a Name was read as ""');
      if (seen.has(name)) warnings.push(`attribute ${name} appears more than once (the broker refuses that upstream)`);
      seen.add(name);
      const attribute: SamlAttribute = { name, values: [] };
      const nameFormat = attr(el, 'NameFormat');
      if (nameFormat !== undefined) attribute.nameFormat = nameFormat;
      const friendlyName = attr(el, 'FriendlyName');
      if (friendlyName !== undefined) attribute.friendlyName = friendlyName;
      for (const valueEl of children(el, NS.assertion, 'AttributeValue')) {
        const value = attributeValue(valueEl);
        if (value === undefined) {
          if (!isNil(valueEl)) warnings.push(`attribute ${name} has a complex value; it was skipped`);
          continue;
        }
        if (value !== value.trim()) warnings.push(`attribute ${name} has a value with surrounding whitespace (was the XML pretty-printed?)`);
        attribute.values.push(value);
      }
      result.attributes.push(attribute);
    }
  }
  return result;
}

function decodeInput(input: string): string {
  const trimmed = input.trim();
  if (trimmed.startsWith('<')) return trimmed;
  let text = trimmed;
  if (/%[0-9A-Fa-f]{2}/.test(text)) {
    try {
      text = decodeURIComponent(text.replace(/\+/g, ' ')).replace(/ /g, '+');
    } catch {
      throw new MigrationInputError('legacy assertion: neither XML nor a (URL-encoded) base64 SAMLResponse');
    }
  }
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new MigrationInputError('legacy assertion: neither XML nor a base64 SAMLResponse');
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(compact), (c) => c.charCodeAt(0));
  } catch {
    throw new MigrationInputError('legacy assertion: not valid base64');
  }
  let xml: string;
  try {
    xml = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MigrationInputError('legacy assertion: the base64 does not decode to UTF-8 text');
  }
  if (!xml.trim().startsWith('<')) throw new MigrationInputError('legacy assertion: the base64 does not decode to XML');
  return xml.trim();
}

function findAssertion(root: Element): Element {
  if (is(root, NS.assertion, 'Assertion')) return root;
  if (!is(root, NS.protocol, 'Response')) throw new MigrationInputError(`legacy assertion: expected a saml:Assertion or samlp:Response, found ${root.localName} (${root.namespaceURI ?? 'no namespace'})`);
  const assertions = children(root, NS.assertion, 'Assertion');
  const encrypted = children(root, NS.assertion, 'EncryptedAssertion');
  if (assertions.length + encrypted.length > 1) throw new MigrationInputError('legacy assertion: the response carries more than one assertion; save the one the app used');
  if (assertions.length === 1) return assertions[0]!;
  if (encrypted.length === 1) throw new MigrationInputError('legacy assertion: the assertion is encrypted; save the decrypted assertion (the SP or a SAML tracer shows it)');
  throw new MigrationInputError('legacy assertion: the response carries no assertion');
}

function nameIdOf(el: Element, value: string): SamlNameId {
  const nameId: SamlNameId = { value };
  const format = attr(el, 'Format');
  if (format !== undefined) nameId.format = format;
  const nameQualifier = attr(el, 'NameQualifier');
  if (nameQualifier !== undefined) nameId.nameQualifier = nameQualifier;
  const spNameQualifier = attr(el, 'SPNameQualifier');
  if (spNameQualifier !== undefined) nameId.spNameQualifier = spNameQualifier;
  return nameId;
}

function isNil(el: Element): boolean {
  const nil = el.getAttributeNS(NS.xsi, 'nil');
  return nil === 'true' || nil === '1';
}

function attributeValue(el: Element): string | undefined {
  if (isNil(el)) return undefined;
  const text = simpleText(el);
  if (text !== undefined) return text;
  // eduPersonTargetedID and the like carry a NameID as the value: its text, as the broker reads it.
  const elements = children(el);
  if (elements.length === 1 && is(elements[0], NS.assertion, 'NameID')) return simpleText(elements[0]!);
  return undefined;
}
