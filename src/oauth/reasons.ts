import type { DpopRejectionReason } from '../dpop/proof.js';

/**
 * Internal reasons for a refusal. They are logged and audited, never sent on the wire:
 * the wire carries only the generic OAuth error code they map to (see errors.ts).
 */
export type RefusalReason =
  // request shape
  | 'body_too_large'
  | 'body_incomplete'
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
  | 'client_auth_busy'
  | 'client_assertion_invalid'
  | 'client_assertion_replayed'
  // JWS shape shared by every signed token the broker reads (RFC 7515 §4.1.11)
  | 'crit_unsupported'
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
  | 'subject_token_not_id_token'
  | 'claim_missing'
  | 'session_ended'
  | 'subject_token_replayed'
  | 'saml_assertion_invalid'
  | 'saml_connection_ambiguous'
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
  | 'mapping_upstream_not_accepted'
  // sub_id (RFC 9493) for a destination that keys users on SAML NameIDs
  | 'sub_id_evidence_missing'
  | 'sub_id_nameid_not_persistent'
  // policy and scope
  | 'scope_untranslatable'
  | 'scope_not_permitted_for_client'
  | 'policy_denied'
  | 'no_scope_granted'
  | 'scope_exceeds_subject_grant'
  // authentication strength (insufficient_user_authentication)
  | 'authentication_too_old'
  | 'authentication_insufficient'
  // the broker as OpenID provider: /authorize
  | 'redirect_uri_missing'
  | 'redirect_uri_unregistered'
  | 'request_too_large'
  | 'unsupported_response_type'
  | 'unsupported_response_mode'
  | 'request_object_unsupported'
  | 'openid_scope_missing'
  | 'pkce_required'
  | 'pkce_method_unsupported'
  | 'pkce_challenge_invalid'
  | 'prompt_invalid'
  | 'grant_type_not_allowed'
  | 'connection_unknown'
  | 'no_connections'
  | 'login_required'
  | 'id_token_hint_mismatch'
  | 'consent_required'
  | 'consent_denied'
  | 'form_token_invalid'
  // upstream logins
  | 'login_failed'
  | 'upstream_refused'
  | 'connection_kind_mismatch'
  | 'continuation_invalid'
  // token endpoint: authorization_code and refresh_token
  | 'not_a_provider_client'
  | 'code_unknown'
  | 'code_reused'
  | 'code_client_mismatch'
  | 'redirect_uri_mismatch'
  | 'pkce_verifier_missing'
  | 'pkce_verifier_unexpected'
  | 'pkce_mismatch'
  | 'session_inactive'
  | 'principal_missing'
  | 'refresh_token_invalid'
  | 'refresh_token_reused'
  | 'refresh_token_superseded'
  | 'refresh_token_client_mismatch'
  | 'scope_widened'
  // /userinfo
  | 'access_token_missing'
  | 'access_token_invalid'
  | 'insufficient_scope'
  // RP-initiated logout
  | 'id_token_hint_invalid'
  | 'logout_client_mismatch'
  | 'post_logout_redirect_uri_unregistered'
  // SAML Single Logout (provider/saml-logout.ts): the precise SAML reason travels in the detail
  | 'saml_logout_request_refused'
  | 'saml_logout_response_refused'
  // resource-pulled profile: ID-JAG references (exchange/pulled.ts, docs/profiles/pulled.md)
  | 'reference_malformed'
  | 'reference_unknown'
  | 'reference_expired'
  | 'reference_replayed'
  | 'reference_wrong_destination'
  | 'reference_parameter_not_allowed'
  | 'destination_not_pulled'
  // the destination kit redeeming a reference at its broker
  | 'reference_refused_by_broker'
  | 'broker_redemption_failed'
  | 'broker_issuer_mismatch'
  // ID-JAGs redeemed at a destination (the destination kit; its precise reason travels in the detail)
  | 'id_jag_replayed'
  | 'key_binding_unsupported'
  // governance: requestable denials and deferred completion (docs/access-requests.md)
  | 'approval_required'
  | 'deferral_pending'
  | 'deferral_slow_down'
  | 'deferral_malformed'
  | 'deferral_unknown'
  | 'deferral_replayed'
  | 'deferral_foreign'
  | 'deferral_expired'
  | 'access_request_denied'
  | 'access_request_cancelled'
  | 'access_request_expired'
  | 'deferral_parameter_invalid'
  // the OpenID Provider's revocation (RFC 7009) and introspection (RFC 7662), /userinfo's revocation list
  | 'token_client_mismatch'
  | 'access_token_revoked'
  // internal
  | 'internal_error'
  // DPoP (RFC 9449; docs/dpop.md): a proof's precise refusal (dpop/proof.ts), and the token endpoint's own
  | DpopRejectionReason
  | 'dpop_required'
  | 'dpop_not_supported_for_grant'
  | 'dpop_not_supported_for_profile';

/** A reason plus safe, token-free detail for the audit log. */
export interface Refusal {
  reason: RefusalReason;
  detail?: string;
}
