import type { DestinationConfig } from '../config/schema.js';
import type { SubjectIdentifier } from '../destination/index.js';
import type { Identity } from '../mapping/resolve.js';
import { NAMEID_FORMAT, PERSISTENT_NAMEID_MAX } from '../migration/subject.js';
import { InvalidGrant } from '../oauth/errors.js';

/**
 * `sub_id` (RFC 9493 §4.1) for a destination that still keys users on SAML NameIDs: the person's
 * persistent NameID, with who issued it and its qualifiers, so the destination can find the
 * account it created from SAML logins. It names the same person as `sub` (RFC 9493 §4.1 requires
 * that); `sub` stays the destination-namespace subject. Web standards only.
 *
 * Shape (the destination kit checks only that `format` is a string; these are its members):
 *
 *   { format: 'saml-nameid', issuer: <IdP entity id>, nameid: <value>,
 *     nameid_format: <NameID Format URI>, name_qualifier?: …, sp_name_qualifier?: … }
 *
 * `format` is RFC 9493's identifier-format member, so the NameID's own Format travels as
 * `nameid_format`.
 */

export const SAML_NAMEID_SUB_ID = 'saml-nameid';

function refuse(reason: 'sub_id_evidence_missing' | 'sub_id_nameid_not_persistent', detail: string): InvalidGrant {
  return new InvalidGrant(reason, 'the subject cannot be named at this audience', detail);
}

/**
 * The `sub_id` a destination asks for, from the SAML evidence of the person (the presented
 * assertion, or the principal's latest SAML login). Refused, never omitted, when there is none or
 * the NameID is not persistent: a transient NameID changes every login and an email can be
 * reassigned, so neither may name an account.
 */
export function subjectIdentifierFor(format: NonNullable<DestinationConfig['sub_id']>, identity: Identity): SubjectIdentifier {
  const saml = identity.saml;
  if (!saml) throw refuse('sub_id_evidence_missing', `${format}: no SAML login evidence for this person`);
  const { nameId } = saml;
  if (nameId.format !== NAMEID_FORMAT.persistent) throw refuse('sub_id_nameid_not_persistent', `${format}: NameID Format ${nameId.format ?? '(none)'}`);
  if (nameId.value.length === 0 || nameId.value.length > PERSISTENT_NAMEID_MAX) throw refuse('sub_id_nameid_not_persistent', `${format}: NameID of ${nameId.value.length} characters`);
  return {
    format: SAML_NAMEID_SUB_ID,
    issuer: identity.upstreamIssuer,
    nameid: nameId.value,
    nameid_format: nameId.format,
    ...(nameId.nameQualifier !== undefined ? { name_qualifier: nameId.nameQualifier } : {}),
    ...(nameId.spNameQualifier !== undefined ? { sp_name_qualifier: nameId.spNameQualifier } : {}),
  };
}
