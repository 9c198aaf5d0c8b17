import type { RefusalReason } from '../oauth/reasons.js';

/**
 * Why an ID-JAG was refused. Precise, for logs and audit; callers see only `invalid_grant`
 * on the wire, so that a presenter cannot probe which check it tripped.
 */
export type IdJagRejectionReason =
  // shape
  | 'too_large'
  | 'malformed'
  | 'typ_invalid'
  | 'crit_unsupported'
  | 'claim_missing'
  | 'claim_invalid'
  // trust
  | 'alg_not_allowed'
  | 'issuer_untrusted'
  | 'key_unknown'
  | 'jwks_unavailable'
  | 'signature_invalid'
  // binding
  | 'aud_mismatch'
  | 'aud_multiple'
  | 'client_id_mismatch'
  // time
  | 'expired'
  | 'not_yet_valid'
  | 'iat_in_future'
  | 'lifetime_too_long'
  // proof of possession
  | 'key_binding_unsupported'
  /** The ID-JAG is bound (`cnf.jkt`) and the request carried no DPoP proof. */
  | 'dpop_proof_missing'
  /** The request's DPoP proof was made with another key than the one the ID-JAG is bound to. */
  | 'dpop_key_mismatch'
  // single use
  | 'replayed';

/**
 * The nearest broker-wide {@link RefusalReason} for each rejection, so that an `InvalidGrant`
 * raised here fits the broker's audit vocabulary. The precise reason travels alongside it.
 */
const REFUSAL_REASON: Record<IdJagRejectionReason, RefusalReason> = {
  too_large: 'token_too_large',
  malformed: 'token_malformed',
  typ_invalid: 'token_malformed',
  crit_unsupported: 'crit_unsupported',
  claim_missing: 'claim_missing',
  claim_invalid: 'token_malformed',
  alg_not_allowed: 'alg_not_allowed',
  issuer_untrusted: 'issuer_untrusted',
  key_unknown: 'key_unknown',
  jwks_unavailable: 'jwks_unavailable',
  signature_invalid: 'signature_invalid',
  aud_mismatch: 'aud_mismatch',
  aud_multiple: 'aud_mismatch',
  client_id_mismatch: 'client_id_mismatch',
  expired: 'expired',
  not_yet_valid: 'not_yet_valid',
  iat_in_future: 'iat_in_future',
  lifetime_too_long: 'token_malformed',
  key_binding_unsupported: 'key_binding_unsupported',
  dpop_proof_missing: 'dpop_missing',
  dpop_key_mismatch: 'dpop_key_mismatch',
  replayed: 'id_jag_replayed',
};

export function toRefusalReason(reason: IdJagRejectionReason): RefusalReason {
  return REFUSAL_REASON[reason];
}
