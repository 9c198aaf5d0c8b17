import type { RefusalReason } from './reasons.js';

/**
 * One class per OAuth error code (RFC 6749 §5.2, RFC 8693 §2.2.2). Each carries the internal
 * reason that produced it; `toResponse` in http/errors.ts is the only place that turns it into
 * a wire response, and it never sends the reason.
 */
export abstract class OAuthError extends Error {
  abstract readonly code: string;
  readonly status: number = 400;
  /** Safe for the wire: no token material, no internals, only the characters errorDescription keeps. */
  readonly description?: string;
  constructor(
    readonly reason: RefusalReason,
    description?: string,
    /** For the audit log only. */
    readonly detail?: string,
  ) {
    super(description ?? reason);
    if (description !== undefined) this.description = errorDescription(description);
  }
}

/**
 * RFC 6749 §4.1.2.1, §5.2 (and RFC 6750 §3): error_description is %x20-21 / %x23-5B / %x5D-7E,
 * no `"` and no `\`, which strict clients refuse. Quotes become apostrophes, anything else outside
 * the set a `?`. Pure.
 */
export function errorDescription(text: string): string {
  return text.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request';
}

export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client';
  override readonly status = 401;
  /** When the client tried HTTP Basic, the 401 must carry a Basic challenge (RFC 6749 §5.2). */
  usedBasic = false;
}

export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant';
}

export class UnauthorizedClient extends OAuthError {
  readonly code = 'unauthorized_client';
}

export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type';
}

export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope';
}

export class InvalidTarget extends OAuthError {
  readonly code = 'invalid_target';
}

export class UnsupportedTokenType extends OAuthError {
  readonly code = 'unsupported_token_type';
}

/** RFC 9470 §3 hints: what authentication would satisfy the request. */
export interface StepUpHints {
  /** Space-separated acr values, any of which would do. */
  acr_values?: string;
  /** The maximum age, in seconds, of an authentication that would do. */
  max_age?: number;
}

/**
 * The subject authenticated, but not strongly or recently enough (RFC 9470 §3; ID-JAG draft,
 * "Step-Up Authentication"): the client sends the user back to log in and retries. The hints go on
 * the wire beside `error` (http/errors.ts).
 */
export class InsufficientUserAuthentication extends OAuthError {
  readonly code = 'insufficient_user_authentication';
  constructor(
    reason: RefusalReason,
    description: string,
    readonly hints: StepUpHints,
    detail?: string,
  ) {
    super(reason, description, detail);
  }
}

/**
 * Members an error carries on the wire beside `error` and `error_description` (http/errors.ts):
 * a requestable denial's `access_request`, a deferral's `deferral_code` and `interval`. Never
 * internal reasons.
 */
export type WireMembers = Readonly<Record<string, unknown>>;

/**
 * The subject is not entitled (policy said no), as opposed to a grant that failed validation
 * (invalid_grant). A requestable denial says how to ask (`access_request`). 400 at the token
 * endpoint (RFC 6749 §5.2; RFC 8628 §3.5 uses the same code for a denied wait).
 */
export class AccessDenied extends OAuthError {
  readonly code = 'access_denied';
  constructor(
    reason: RefusalReason,
    description?: string,
    detail?: string,
    readonly members: WireMembers = {},
  ) {
    super(reason, description, detail);
  }
}

/** A wait, not a refusal (RFC 8628 §3.5 codes): its members (`interval`, a deferral) ride beside `error`. */
abstract class Waiting extends OAuthError {
  constructor(
    reason: RefusalReason,
    description: string,
    readonly members: WireMembers = {},
  ) {
    super(reason, description);
  }
}

/** Deferred completion: nothing to give yet; poll again with the deferral code after `interval`. */
export class AuthorizationPending extends Waiting {
  readonly code = 'authorization_pending';
}

/** Polled too soon: still pending, and the interval is now `members.interval` seconds. */
export class SlowDown extends Waiting {
  readonly code = 'slow_down';
}

/** The deferral (or the access request it waited on) expired: start again with a new exchange. */
export class ExpiredToken extends OAuthError {
  readonly code = 'expired_token';
}

export class ServerError extends OAuthError {
  readonly code = 'server_error';
  override readonly status = 500;
}

/**
 * The broker could not do its part (an upstream's keys could not be fetched): not the client's
 * fault, so not invalid_grant. 503 with the code RFC 6749 §4.1.2.1 defines for this condition.
 */
export class TemporarilyUnavailable extends OAuthError {
  readonly code = 'temporarily_unavailable';
  override readonly status = 503;
}

export class PayloadTooLarge extends OAuthError {
  readonly code = 'invalid_request';
  override readonly status = 413;
}

/** RFC 9449 §7.1 / §12.2: the DPoP proof is missing where required by the binding, or invalid. */
export class InvalidDpopProof extends OAuthError {
  readonly code = 'invalid_dpop_proof';
}

/** RFC 9449 §8: the proof must carry a server nonce; `nonce` goes out in the `DPoP-Nonce` header. */
export class UseDpopNonce extends OAuthError {
  readonly code = 'use_dpop_nonce';
  constructor(
    reason: RefusalReason,
    description: string,
    readonly nonce: string,
  ) {
    super(reason, description);
  }
}
