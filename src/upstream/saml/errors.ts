import { SAML_MAX_DETAIL_CHARS } from './limits.js';

/**
 * Why an upstream SAML login was refused: precise, for the log and the audit record. The user
 * sees a plain error page with a correlation id, never these. docs/saml.md lists every check.
 */

/** Refusals that carry nothing but an optional detail. */
export type SamlSimpleRefusalCode =
  // the broker's own input (a bug, not an attack)
  | 'invalid_request'
  | 'binding_unsupported'
  // the IdP metadata in use passed its validUntil and no fresh copy could be had (metadata-source.ts)
  | 'metadata_expired'
  // the verifier itself: a verification thread crashed or overran its time (fail closed)
  | 'verifier_failed'
  // the POSTed form, before any XML parsing
  | 'response_missing'
  | 'response_too_large'
  | 'response_not_base64'
  | 'response_not_utf8'
  | 'xml_encoding_unsupported'
  | 'doctype_present'
  | 'xml_malformed'
  | 'xml_comment_refused'
  | 'schema_invalid'
  // document structure (signature wrapping defences)
  | 'not_a_response'
  | 'multiple_responses'
  | 'assertion_missing'
  | 'multiple_assertions'
  | 'assertion_misplaced'
  | 'signature_misplaced'
  | 'duplicate_id'
  | 'id_invalid'
  | 'version_unsupported'
  // encryption
  | 'encrypted_assertion_unexpected'
  | 'encrypted_assertion_malformed'
  | 'decryption_failed'
  // who sent it, to whom
  | 'issuer_mismatch'
  | 'destination_missing'
  | 'destination_mismatch'
  | 'issue_instant_invalid'
  // conditions
  | 'conditions_missing'
  | 'not_yet_valid'
  | 'expired'
  | 'condition_unsupported'
  | 'audience_missing'
  | 'audience_mismatch'
  // subject and confirmation
  | 'subject_missing'
  | 'nameid_missing'
  | 'nameid_unsupported'
  | 'nameid_invalid'
  | 'bearer_confirmation_missing'
  | 'confirmation_data_missing'
  | 'confirmation_not_before_present'
  | 'confirmation_expiry_missing'
  | 'confirmation_expired'
  | 'recipient_missing'
  | 'recipient_mismatch'
  | 'in_response_to_inconsistent'
  // authentication statement
  | 'authn_statement_missing'
  | 'authn_instant_invalid'
  | 'session_expired'
  | 'authn_context_mismatch'
  // attributes and the principal key
  | 'attribute_duplicated'
  | 'attribute_value_unsupported'
  | 'too_many_attributes'
  | 'principal_nameid_format'
  | 'principal_attribute_missing'
  | 'principal_attribute_ambiguous'
  | 'principal_invalid'
  // state: transaction, browser, replay
  | 'unsolicited'
  | 'relay_state_missing'
  | 'relay_state_invalid'
  | 'transaction_unknown'
  | 'transaction_expired'
  | 'transaction_connection_mismatch'
  | 'in_response_to_mismatch'
  | 'browser_mismatch'
  | 'assertion_replayed'
  // Single Logout (logout.ts): the message, its age, its subject, the state of a logout in flight
  | 'slo_unsupported'
  | 'logout_message_missing'
  | 'logout_message_ambiguous'
  | 'logout_message_too_large'
  | 'logout_message_not_deflated'
  | 'not_a_logout_request'
  | 'not_a_logout_response'
  | 'logout_request_expired'
  | 'logout_request_stale'
  | 'logout_request_replayed'
  | 'in_response_to_missing'
  | 'logout_transaction_unknown';

/** Which signed message or element a signature refusal is about: a login's Response or Assertion, a logout message, an IdP metadata document (metadata-source.ts). */
export type SamlSignedPart = 'response' | 'assertion' | 'logout_request' | 'logout_response' | 'metadata';

/** Refusals about a signature; `where` says which one (the Response's, the Assertion's, a logout message's). */
export type SamlSignatureRefusalCode =
  | 'message_unsigned'
  | 'response_unsigned'
  | 'assertion_unsigned'
  | 'signature_reference_invalid'
  | 'signature_digest_mismatch'
  | 'signature_untrusted'
  | 'signature_invalid';

/** Refusals of an algorithm outside the allow-lists; `algorithm` is the URI the message named. */
export type SamlAlgorithmRefusalCode =
  | 'signature_algorithm_refused'
  | 'digest_algorithm_refused'
  | 'canonicalization_refused'
  | 'key_transport_refused'
  | 'encryption_algorithm_refused';

/** A tagged union: switch on `code`. */
export type SamlRefusal =
  | { code: SamlSimpleRefusalCode; detail?: string }
  | { code: SamlSignatureRefusalCode; where: SamlSignedPart; detail?: string }
  | { code: SamlAlgorithmRefusalCode; algorithm: string; detail?: string }
  | { code: 'status_not_success'; status: string; subStatus?: string; detail?: string };

export type SamlRefusalCode = SamlRefusal['code'];

/** Control characters out, length bounded: details may quote values an attacker chose. */
export function boundedDetail(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, SAML_MAX_DETAIL_CHARS);
}

export function boundedReason<R extends SamlRefusal>(reason: R): R {
  const out = { ...reason };
  for (const key of ['detail', 'algorithm', 'status', 'subStatus'] as const) {
    const value = (out as Record<string, unknown>)[key];
    if (typeof value === 'string') (out as Record<string, unknown>)[key] = boundedDetail(value);
  }
  return out;
}

/** A refused upstream SAML login. The message names the connection and the reason code, nothing else. */
export class SamlLoginError extends Error {
  readonly reason: SamlRefusal;
  /** True once the response named a stored login transaction that was taken: it is gone, whatever followed. */
  readonly transactionConsumed: boolean;

  constructor(
    readonly connectionId: string,
    reason: SamlRefusal,
    options: { transactionConsumed?: boolean } = {},
  ) {
    super(`upstream SAML login refused (${connectionId}): ${reason.code}`);
    this.name = 'SamlLoginError';
    this.reason = boundedReason(reason);
    this.transactionConsumed = options.transactionConsumed ?? false;
  }
}

/** A connection that cannot be built from its configuration (bad key, unusable metadata…). */
export class SamlConfigError extends Error {
  constructor(
    readonly connectionId: string,
    /** The problem, without the connection's name. */
    readonly problem: string,
  ) {
    super(`SAML connection ${connectionId}: ${problem}`);
    this.name = 'SamlConfigError';
  }
}

/** Internal: thrown by the verification steps, turned into a SamlLoginError by the connection. */
export class Refused extends Error {
  constructor(readonly reason: SamlRefusal) {
    super(reason.code);
    this.name = 'Refused';
  }
}

export function refused(reason: SamlRefusal): never {
  throw new Refused(reason);
}
