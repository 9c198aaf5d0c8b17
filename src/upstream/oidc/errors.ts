import { MAX_ERROR_DETAIL_CHARS, MAX_UPSTREAM_ERROR_CHARS } from './limits.js';

/**
 * Why an upstream OIDC login was refused. Precise, for logs and audit; the user sees a plain error
 * page with a correlation id, never these.
 */
export type OidcLoginReason =
  // the broker's own input
  | 'invalid_request'
  // the callback and its transaction
  | 'callback_malformed'
  | 'transaction_unknown'
  | 'transaction_expired'
  | 'connection_mismatch'
  | 'browser_mismatch'
  // the upstream said no
  | 'upstream_error'
  | 'token_request_failed'
  // the upstream is not who or what it should be
  | 'discovery_failed'
  | 'issuer_mismatch'
  | 'pkce_unsupported'
  | 'upstream_unavailable'
  // the ID token
  | 'token_response_invalid'
  | 'id_token_invalid'
  | 'nonce_mismatch'
  | 'auth_time_too_old'
  // userinfo
  | 'userinfo_failed'
  | 'userinfo_subject_mismatch';

export interface OidcLoginErrorDetails {
  /** The upstream's own OAuth error code (`access_denied`, `invalid_grant`…), when it sent one. */
  upstreamError?: string;
  /** What the library or the check said; never a token, a code or a secret. */
  detail?: string;
  /** True once the callback's `state` named a stored transaction: it is gone, whatever followed. */
  transactionConsumed?: boolean;
}

/** A refused upstream login. The message names the connection and the reason, nothing else. */
export class OidcLoginError extends Error {
  readonly upstreamError?: string;
  readonly detail?: string;
  readonly transactionConsumed: boolean;
  /**
   * The pending request of the login the upstream refused (its `upstream_error`), set only once the
   * callback was shown to be this browser's own transaction: the app that asked can then be told
   * (OIDC Core §3.1.2.6) instead of the person being left on a page.
   */
  continuation?: string;

  constructor(
    readonly connectionId: string,
    readonly reason: OidcLoginReason,
    details: OidcLoginErrorDetails = {},
  ) {
    super(`upstream OIDC login refused (${connectionId}): ${reason}`);
    this.name = 'OidcLoginError';
    if (details.upstreamError !== undefined) this.upstreamError = boundedErrorCode(details.upstreamError);
    if (details.detail !== undefined) this.detail = details.detail.slice(0, MAX_ERROR_DETAIL_CHARS);
    this.transactionConsumed = details.transactionConsumed ?? false;
  }
}

/**
 * An upstream error code goes to the audit log; RFC 6749 §4.1.2.1 limits its characters, so
 * anything else is replaced rather than trusted.
 */
function boundedErrorCode(code: string): string {
  return code.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, MAX_UPSTREAM_ERROR_CHARS);
}
