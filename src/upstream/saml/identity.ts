import type { SamlAttribute, SamlNameId } from '../../identity/types.js';
import { refused } from './errors.js';
import { SAML_MAX_ATTRIBUTE_VALUES, SAML_MAX_ATTRIBUTES, SAML_MAX_NAMEID_CHARS } from './limits.js';
import type { PrincipalKey } from '../../config/saml-connection.js';
import { attr, children, is, NS, simpleText } from './xml.js';

/**
 * From a verified assertion to the broker's vocabulary: attributes read (keyed by Name and
 * NameFormat, multi-valued kept, duplicates refused), the principal key chosen (never a transient
 * or email NameID), a minimal default translation of common attribute names to OIDC claims, and
 * amr from the authentication context class.
 */

export const NAMEID_FORMAT = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  entity: 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity',
} as const;


/** AuthnContextClassRef → RFC 8176 amr, only where the mapping is obvious. */
const AMR_BY_CLASS: Readonly<Record<string, readonly string[]>> = {
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Password': ['pwd'],
  'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport': ['pwd'],
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken': ['otp'],
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard': ['sc'],
  'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI': ['sc', 'pin'],
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos': ['wia'],
  'http://schemas.microsoft.com/claims/multipleauthn': ['mfa'],
  'https://refeds.org/profile/mfa': ['mfa'],
};

export function amrFor(classRef: string | undefined): string[] {
  return classRef === undefined ? [] : [...(AMR_BY_CLASS[classRef] ?? [])];
}

function attributeValue(value: Element, name: string): string | undefined {
  if (value.getAttributeNS(NS.xsi, 'nil') === 'true' || value.getAttributeNS(NS.xsi, 'nil') === '1') return undefined;
  const text = simpleText(value);
  if (text !== undefined) return text;
  // eduPersonTargetedID and the like carry a NameID as the value.
  const elements = children(value);
  if (elements.length === 1 && is(elements[0], NS.assertion, 'NameID')) {
    const nameId = simpleText(elements[0]!);
    if (nameId !== undefined) return nameId;
  }
  refused({ code: 'attribute_value_unsupported', detail: `attribute ${name} has a complex value` });
}

/** Every Attribute of every AttributeStatement, in document order. A Name seen twice is refused. */
export function readAttributes(assertion: Element): SamlAttribute[] {
  const out: SamlAttribute[] = [];
  const seen = new Set<string>();
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    for (const el of children(statement, NS.assertion, 'Attribute')) {
      const name = attr(el, 'Name') ?? '';
      // The same Name twice (even with another NameFormat or in another statement) is ambiguous:
      // which values would a claim, a policy or the principal key take? Refuse.
      if (seen.has(name)) refused({ code: 'attribute_duplicated', detail: name });
      seen.add(name);
      if (out.length >= SAML_MAX_ATTRIBUTES) refused({ code: 'too_many_attributes' });
      const valueEls = children(el, NS.assertion, 'AttributeValue');
      if (valueEls.length > SAML_MAX_ATTRIBUTE_VALUES) refused({ code: 'too_many_attributes', detail: `${name} has ${valueEls.length} values` });
      const values = valueEls.map((v) => attributeValue(v, name)).filter((v): v is string => v !== undefined);
      const attribute: SamlAttribute = { name, values };
      const nameFormat = attr(el, 'NameFormat');
      if (nameFormat !== undefined) attribute.nameFormat = nameFormat;
      const friendlyName = attr(el, 'FriendlyName');
      if (friendlyName !== undefined) attribute.friendlyName = friendlyName;
      out.push(attribute);
    }
  }
  return out;
}

export function readNameId(subject: Element): SamlNameId {
  if (children(subject, NS.assertion, 'EncryptedID').length > 0 || children(subject, NS.assertion, 'BaseID').length > 0) {
    refused({ code: 'nameid_unsupported', detail: 'EncryptedID and BaseID are not supported' });
  }
  const nameIds = children(subject, NS.assertion, 'NameID');
  if (nameIds.length !== 1) refused({ code: 'nameid_missing' });
  const el = nameIds[0]!;
  const value = simpleText(el);
  if (value === undefined || value.length === 0) refused({ code: 'nameid_invalid', detail: 'empty or not simple text' });
  const nameId: SamlNameId = { value };
  const format = attr(el, 'Format');
  if (format !== undefined) nameId.format = format;
  const nq = attr(el, 'NameQualifier');
  if (nq !== undefined) nameId.nameQualifier = nq;
  const spnq = attr(el, 'SPNameQualifier');
  if (spnq !== undefined) nameId.spNameQualifier = spnq;
  return nameId;
}

/** The subject the principal is keyed on, per `principal_key`. */
export function principalSubject(key: PrincipalKey, nameId: SamlNameId, attributes: readonly SamlAttribute[]): string {
  if (key.kind === 'nameid') {
    // Only a persistent NameID is a stable, non-reassignable identifier: a transient one changes
    // every login, and an email address can be reassigned to another person.
    if (nameId.format !== NAMEID_FORMAT.persistent) refused({ code: 'principal_nameid_format', detail: nameId.format ?? '(no Format)' });
    if (nameId.value.length > SAML_MAX_NAMEID_CHARS) refused({ code: 'principal_invalid', detail: 'persistent NameID longer than 256 characters' });
    return nameId.value;
  }
  const attribute = attributes.find((a) => a.name === key.name);
  if (!attribute || attribute.values.length === 0) refused({ code: 'principal_attribute_missing', detail: key.name });
  if (attribute.values.length !== 1) refused({ code: 'principal_attribute_ambiguous', detail: `${key.name} has ${attribute.values.length} values` });
  const value = attribute.values[0]!;
  if (value.length === 0 || value.length > SAML_MAX_NAMEID_CHARS) refused({ code: 'principal_invalid', detail: `${key.name} is empty or longer than 256 characters` });
  return value;
}

