import { OAuthError } from '../oauth/errors.js';

/**
 * Error codes only the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) and the
 * protected resource /userinfo (RFC 6750 §3.1) use. One class per code, like src/oauth/errors.ts.
 */

export class UnsupportedResponseType extends OAuthError {
  readonly code = 'unsupported_response_type';
}

export class LoginRequired extends OAuthError {
  readonly code = 'login_required';
}

export class ConsentRequired extends OAuthError {
  readonly code = 'consent_required';
}

export class InteractionRequired extends OAuthError {
  readonly code = 'interaction_required';
}

export class AccountSelectionRequired extends OAuthError {
  readonly code = 'account_selection_required';
}

export class RequestNotSupported extends OAuthError {
  readonly code = 'request_not_supported';
}

export class RequestUriNotSupported extends OAuthError {
  readonly code = 'request_uri_not_supported';
}

/** RFC 6750 §3.1: the access token is expired, revoked, malformed or not for this resource. */
export class InvalidToken extends OAuthError {
  readonly code = 'invalid_token';
  override readonly status = 401;
}

/** RFC 6750 §3.1: the token lacks the scope the resource needs. */
export class InsufficientScope extends OAuthError {
  readonly code = 'insufficient_scope';
  override readonly status = 403;
}
