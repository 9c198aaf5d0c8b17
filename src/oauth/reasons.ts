/**
 * Internal reasons for a refusal. They are logged and audited, never sent on the wire:
 * the wire carries only the generic OAuth error code they map to (see errors.ts).
 */
export type RefusalReason =
  // request shape
  | 'body_too_large'
  | 'bad_content_type'
  | 'malformed_body'
  | 'duplicate_parameter'
  | 'missing_parameter'
  | 'invalid_parameter'
  | 'unknown_parameter'
  | 'authorization_details_unsupported'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  // client authentication
  | 'client_unknown'
  | 'client_auth_missing'
  | 'client_auth_multiple'
  | 'client_auth_method_mismatch'
  | 'client_id_mismatch'
  | 'client_secret_mismatch'
  | 'client_auth_throttled'
  | 'client_assertion_invalid'
  | 'client_assertion_replayed'
  | 'public_client'
  // subject token
  | 'token_malformed'
  | 'token_too_large'
  | 'issuer_untrusted'
  | 'signature_invalid'
  | 'alg_not_allowed'
  | 'key_unknown'
  | 'jwks_unavailable'
  | 'expired'
  | 'not_yet_valid'
  | 'iat_in_future'
  | 'aud_mismatch'
  | 'subject_token_is_id_jag'
  | 'claim_missing'
  // destination
  | 'audience_unknown'
  | 'audience_ambiguous'
  | 'resource_unknown'
  | 'resource_audience_mismatch'
  | 'client_not_enabled_for_destination'
  // mapping
  | 'mapping_missing'
  | 'mapping_ambiguous'
  | 'mapping_changed'
  | 'mapping_claim_missing'
  // policy and scope
  | 'scope_untranslatable'
  | 'scope_not_permitted_for_client'
  | 'policy_denied'
  | 'no_scope_granted'
  // internal
  | 'internal_error';

/** A reason plus safe, token-free detail for the audit log. */
export interface Refusal {
  reason: RefusalReason;
  detail?: string;
}
