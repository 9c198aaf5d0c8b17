import { z } from 'zod';
import type { SamlAttribute, UpstreamIdentity } from '../identity/types.js';
import { EMAIL_ATTRIBUTE_NAMES, NAME_FORMAT } from './claims.js';

/**
 * Where a migrated SAML app's `sub` comes from. A pure function of the SAML evidence of one login:
 * it says which value is the subject, or why none is. The namespace strategy that calls it keeps
 * the bind-once rule (a principal's value that changes is refused until an operator remaps).
 *
 * The fourth source in the design, "the broker's pairwise value", is the existing `pairwise`
 * namespace strategy: it needs the broker's secret, not the assertion.
 *
 * Web standards only (no Node APIs).
 */

export const NAMEID_FORMAT = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

export const SUBJECT_ID_ATTRIBUTE = 'urn:oasis:names:tc:SAML:attribute:subject-id';
export const PAIRWISE_ID_ATTRIBUTE = 'urn:oasis:names:tc:SAML:attribute:pairwise-id';

/** SAML core §8.3.7: a persistent NameID value is at most 256 characters. */
export const PERSISTENT_NAMEID_MAX = 256;
/** OIDC Core §2: `sub` "MUST NOT exceed 255 ASCII characters in length". */
export const OIDC_SUB_MAX = 255;

export type SubjectSource =
  | {
      kind: 'persistent_nameid';
      /** When set, the NameID's SPNameQualifier, if present, must equal it. */
      sp_name_qualifier?: string;
      /** When set, the NameID's NameQualifier, if present, must equal it. */
      name_qualifier?: string;
      /**
       * Also accept Format `unspecified` (or no Format, which SAML core §8.3 makes the same thing).
       * The operator vouches that this IdP's unspecified NameID is persistent and never reassigned.
       * A value that looks like an email address is refused, with this Format or any other.
       */
      accept_unspecified?: boolean;
    }
  | { kind: 'attribute'; name: string }
  | {
      kind: 'subject_id' | 'pairwise_id';
      /** Scopes this IdP may assert (its shibmd:Scope values); when set, the value's scope must be one (case-insensitive). */
      scopes?: string[];
      /**
       * Keep the value's case. By default it is lowercased: the profile makes values that differ
       * only by case the same subject, and `sub` is compared exactly.
       */
      preserve_case?: boolean;
    };

/** Why a login yields no subject for the app; each is distinct, for the audit record. */
export const SUBJECT_REFUSAL_REASONS = [
  'saml_evidence_missing',
  // persistent_nameid
  'nameid_format_missing',
  'nameid_transient',
  'nameid_email',
  'nameid_unspecified',
  'nameid_format_not_persistent',
  'nameid_empty',
  'nameid_too_long',
  'nameid_name_qualifier_mismatch',
  'nameid_sp_name_qualifier_mismatch',
  'nameid_looks_like_email',
  // attribute
  'attribute_is_email',
  'attribute_missing',
  'attribute_duplicated',
  'attribute_no_value',
  'attribute_multi_valued',
  'attribute_empty_value',
  // subject-id / pairwise-id
  'subject_id_missing',
  'subject_id_duplicated',
  'subject_id_name_format',
  'subject_id_multi_valued',
  'subject_id_syntax',
  'subject_id_scope_not_allowed',
  // every source: what may be an OIDC sub
  'subject_not_oidc_compatible',
] as const;

export type SubjectRefusalReason = (typeof SUBJECT_REFUSAL_REASONS)[number];

export type SubjectResult = { ok: true; subject: string } | { ok: false; reason: SubjectRefusalReason; detail: string };

type SamlEvidence = UpstreamIdentity['saml'];

const EMAIL_LIKE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** OASIS SAML V2.0 Subject Identifier Attributes Profile §3.3.1 / §3.4.1: uniqueID "@" scope. */
const UNIQUE_ID = /^[a-zA-Z0-9][a-zA-Z0-9=-]{0,126}$/;
const SCOPE = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,126}$/;
/** Printable ASCII, no leading or trailing space. */
const OIDC_SUB = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

const refuse = (reason: SubjectRefusalReason, detail: string): SubjectResult => ({ ok: false, reason, detail: bounded(detail) });

/** Details may quote values from the assertion; keep them short and printable for the audit log. */
function bounded(detail: string): string {
  // eslint-disable-next-line no-control-regex
  const printable = detail.replace(/[\x00-\x1F\x7F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return printable.length > 200 ? `${printable.slice(0, 199)}…` : printable;
}

/** The subject this login yields for an app whose subject source is `source`. */
export function subjectFromSaml(evidence: SamlEvidence, source: SubjectSource): SubjectResult {
  if (!evidence) return refuse('saml_evidence_missing', 'the login carries no SAML evidence (not a SAML upstream)');
  const result = rawSubject(evidence, source);
  if (!result.ok) return result;
  if (!OIDC_SUB.test(result.subject) || result.subject.length > OIDC_SUB_MAX) {
    return refuse('subject_not_oidc_compatible', `an OIDC sub is 1 to ${OIDC_SUB_MAX} printable ASCII characters without surrounding spaces; this value is ${result.subject.length} characters${/[^\x20-\x7E]/.test(result.subject) ? ' with non-ASCII or control characters' : ''}`);
  }
  return result;
}

function rawSubject(evidence: NonNullable<SamlEvidence>, source: SubjectSource): SubjectResult {
  switch (source.kind) {
    case 'persistent_nameid':
      return fromNameId(evidence.nameId, source);
    case 'attribute':
      return fromAttribute(evidence.attributes, source.name);
    case 'subject_id':
      return fromSubjectIdentifier(evidence.attributes, SUBJECT_ID_ATTRIBUTE, source);
    case 'pairwise_id':
      return fromSubjectIdentifier(evidence.attributes, PAIRWISE_ID_ATTRIBUTE, source);
  }
}

function fromNameId(nameId: NonNullable<SamlEvidence>['nameId'], source: Extract<SubjectSource, { kind: 'persistent_nameid' }>): SubjectResult {
  const format = nameId.format;
  const unspecified = format === undefined || format === NAMEID_FORMAT.unspecified;
  if (format === NAMEID_FORMAT.transient) return refuse('nameid_transient', 'a transient NameID is a one-time value: it changes every login');
  if (format === NAMEID_FORMAT.email) return refuse('nameid_email', 'an email-address NameID can be reassigned to another person and changes when the address does');
  if (unspecified && !source.accept_unspecified) {
    return format === undefined
      ? refuse('nameid_format_missing', 'the NameID has no Format (which means unspecified): nothing says it is persistent')
      : refuse('nameid_unspecified', 'an unspecified NameID carries no promise of stability or non-reassignment (set accept_unspecified only if this IdP guarantees both)');
  }
  if (!unspecified && format !== NAMEID_FORMAT.persistent) return refuse('nameid_format_not_persistent', `NameID Format ${format} is not persistent`);
  if (nameId.value.length === 0) return refuse('nameid_empty', 'the NameID is empty');
  if (nameId.value.length > PERSISTENT_NAMEID_MAX) return refuse('nameid_too_long', `a persistent NameID is at most ${PERSISTENT_NAMEID_MAX} characters (SAML core §8.3.7)`);
  if (source.name_qualifier !== undefined && nameId.nameQualifier !== undefined && nameId.nameQualifier !== source.name_qualifier) {
    return refuse('nameid_name_qualifier_mismatch', `NameQualifier ${nameId.nameQualifier}, expected ${source.name_qualifier}`);
  }
  if (source.sp_name_qualifier !== undefined && nameId.spNameQualifier !== undefined && nameId.spNameQualifier !== source.sp_name_qualifier) {
    return refuse('nameid_sp_name_qualifier_mismatch', `SPNameQualifier ${nameId.spNameQualifier}, expected ${source.sp_name_qualifier}`);
  }
  // Some IdPs let an administrator label any source "persistent" (e.g. the mail attribute): a
  // NameID that is an address in substance is an email NameID, whatever its Format says.
  if (EMAIL_LIKE.test(nameId.value)) {
    return refuse('nameid_looks_like_email', 'the NameID value looks like an email address (or a UPN): reassignable, whatever its Format says');
  }
  return { ok: true, subject: nameId.value };
}

function only(attributes: readonly SamlAttribute[], name: string): SamlAttribute[] {
  return attributes.filter((a) => a.name === name);
}

function fromAttribute(attributes: readonly SamlAttribute[], name: string): SubjectResult {
  if (EMAIL_ATTRIBUTE_NAMES.has(name)) return refuse('attribute_is_email', `${name} is an email address: it can be reassigned and must not become sub`);
  const found = only(attributes, name);
  if (found.length === 0) return refuse('attribute_missing', `no attribute ${name}`);
  if (found.length > 1) return refuse('attribute_duplicated', `attribute ${name} appears ${found.length} times`);
  const values = found[0]!.values;
  if (values.length === 0) return refuse('attribute_no_value', `attribute ${name} has no value`);
  if (values.length > 1) return refuse('attribute_multi_valued', `attribute ${name} has ${values.length} values; a subject is exactly one`);
  if (values[0]!.length === 0) return refuse('attribute_empty_value', `attribute ${name} is empty`);
  return { ok: true, subject: values[0]! };
}

function fromSubjectIdentifier(attributes: readonly SamlAttribute[], name: string, source: Extract<SubjectSource, { kind: 'subject_id' | 'pairwise_id' }>): SubjectResult {
  const label = name === SUBJECT_ID_ATTRIBUTE ? 'subject-id' : 'pairwise-id';
  const found = only(attributes, name);
  if (found.length === 0) return refuse('subject_id_missing', `no ${label} attribute`);
  if (found.length > 1) return refuse('subject_id_duplicated', `${label} appears ${found.length} times`);
  const attribute = found[0]!;
  // The profile fixes NameFormat to uri; an absent NameFormat is tolerated (some IdPs omit it).
  if (attribute.nameFormat !== undefined && attribute.nameFormat !== NAME_FORMAT.uri) {
    return refuse('subject_id_name_format', `${label} must have NameFormat ${NAME_FORMAT.uri}, not ${attribute.nameFormat}`);
  }
  if (attribute.values.length !== 1) return refuse('subject_id_multi_valued', `${label} is single-valued; it has ${attribute.values.length} values`);
  const value = attribute.values[0]!;
  const at = value.indexOf('@');
  if (at < 0 || value.indexOf('@', at + 1) >= 0) return refuse('subject_id_syntax', `${label} must be uniqueID@scope with exactly one "@"`);
  const uniqueId = value.slice(0, at);
  const scope = value.slice(at + 1);
  if (!UNIQUE_ID.test(uniqueId)) {
    return refuse('subject_id_syntax', `${label} uniqueID must be 1 to 127 of A-Z a-z 0-9 "=" "-", starting alphanumeric`);
  }
  if (!SCOPE.test(scope)) return refuse('subject_id_syntax', `${label} scope must be 1 to 127 of A-Z a-z 0-9 "-" ".", starting alphanumeric`);
  if (source.scopes !== undefined && !source.scopes.some((s) => s.toLowerCase() === scope.toLowerCase())) {
    return refuse('subject_id_scope_not_allowed', `${label} scope ${scope} is not one this IdP may assert`);
  }
  return { ok: true, subject: source.preserve_case ? value : value.toLowerCase() };
}

const scopeSyntax = z.string().regex(SCOPE, 'a scope is 1 to 127 of A-Z a-z 0-9 "-" ".", starting alphanumeric');

/** Config: an app's subject source. Refuses an email attribute as the subject. */
export const subjectSourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('persistent_nameid'),
      sp_name_qualifier: z.string().min(1).max(1024).optional(),
      name_qualifier: z.string().min(1).max(1024).optional(),
      accept_unspecified: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('attribute'),
      name: z
        .string()
        .min(1)
        .max(1024)
        .refine((n) => !EMAIL_ATTRIBUTE_NAMES.has(n), 'an email attribute must not become sub (it can be reassigned); use pairwise or a table'),
    })
    .strict(),
  z.object({ kind: z.literal('subject_id'), scopes: z.array(scopeSyntax).min(1).optional(), preserve_case: z.boolean().optional() }).strict(),
  z.object({ kind: z.literal('pairwise_id'), scopes: z.array(scopeSyntax).min(1).optional(), preserve_case: z.boolean().optional() }).strict(),
]);

// The schema's output is a SubjectSource (checked at compile time).
const _sourceCheck: (s: z.output<typeof subjectSourceSchema>) => SubjectSource = (s) => s;
void _sourceCheck;
