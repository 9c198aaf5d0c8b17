import * as oidc from 'openid-client';
import type { OidcLoginErrorDetails, OidcLoginReason } from './errors.js';

/** Which step talked to the OP when the error happened: the same library code means different things. */
export type OidcStep = 'discovery' | 'grant' | 'userinfo';

export interface Classified extends OidcLoginErrorDetails {
  reason: OidcLoginReason;
}

/** What oauth4webapi puts on the inner cause: the claim or attribute a comparison was about, or the signature that failed. */
interface LibraryCause {
  claim?: unknown;
  attribute?: unknown;
  /** Present when a JWS signature did not verify. */
  signature?: unknown;
}

/** oauth4webapi's error codes, as openid-client passes them on (it does not re-export the constants). */
const CODE = {
  jsonAttributeComparison: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  jwtClaimComparison: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  jwtTimestampCheck: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  keySelection: 'OAUTH_KEY_SELECTION_FAILED',
  invalidResponse: 'OAUTH_INVALID_RESPONSE',
} as const;
const TRANSPORT_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT']);

/** The innermost library message: static text, never a token (the tokens sit on `cause`, which is dropped). */
function innerMessage(err: Error): string {
  return err.cause instanceof Error ? err.cause.message : err.message;
}

function innerCause(err: Error): LibraryCause {
  const inner = err.cause instanceof Error ? err.cause.cause : err.cause;
  return (inner ?? {}) as LibraryCause;
}

function fallback(step: OidcStep): OidcLoginReason {
  if (step === 'discovery') return 'discovery_failed';
  if (step === 'userinfo') return 'userinfo_failed';
  return 'token_response_invalid';
}

/** An OperationProcessingError (rewrapped as ClientError by openid-client), by its code and step. */
function classifyCoded(code: string, err: Error, step: OidcStep): OidcLoginReason {
  if (TRANSPORT_CODES.has(code)) return 'upstream_unavailable';
  const cause = innerCause(err);
  const name = cause.claim ?? cause.attribute;
  if (code === CODE.jsonAttributeComparison) {
    if (step === 'discovery') return 'issuer_mismatch';
    if (step === 'userinfo') return 'userinfo_subject_mismatch';
  }
  if (code === CODE.jwtClaimComparison) {
    if (name === 'nonce') return 'nonce_mismatch';
    if (name === 'iss') return 'issuer_mismatch';
    return 'id_token_invalid';
  }
  if (code === CODE.jwtTimestampCheck) return name === 'auth_time' ? 'auth_time_too_old' : 'id_token_invalid';
  if (code === CODE.keySelection) return 'id_token_invalid';
  // A required ID token claim missing (`auth_time` under max_age, `iat`…) names the claim; a bad
  // signature carries the signature.
  if (code === CODE.invalidResponse && step === 'grant' && (typeof name === 'string' || cause.signature !== undefined)) return 'id_token_invalid';
  return fallback(step);
}

/**
 * Maps what openid-client throws to a precise refusal reason. Only codes and static library
 * messages are kept: the errors' `cause` and `response` carry token responses and are dropped.
 */
export function classifyOidcError(err: unknown, step: OidcStep): Classified {
  if (err instanceof oidc.AuthorizationResponseError) {
    return { reason: 'upstream_error', upstreamError: err.error, detail: 'authorization response is an error' };
  }
  if (err instanceof oidc.ResponseBodyError) {
    const reason = step === 'userinfo' ? 'userinfo_failed' : step === 'grant' ? 'token_request_failed' : 'discovery_failed';
    return { reason, upstreamError: err.error, detail: `HTTP ${err.status}` };
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const error = err.cause[0]?.parameters.error;
    return { reason: step === 'userinfo' ? 'userinfo_failed' : 'token_request_failed', ...(error ? { upstreamError: error } : {}), detail: `HTTP ${err.status}` };
  }
  if (err instanceof oidc.ClientError) {
    const code = err.code ?? '';
    return { reason: classifyCoded(code, err, step), detail: `${code || 'client_error'}: ${innerMessage(err)}` };
  }
  // fetch() itself rejects with a TypeError when the connection fails.
  if (err instanceof TypeError) return { reason: 'upstream_unavailable', detail: `${step}: ${err.message}` };
  return { reason: fallback(step), detail: err instanceof Error ? `${step}: ${err.name}` : step };
}
