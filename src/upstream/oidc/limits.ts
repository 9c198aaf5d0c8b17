/**
 * Limits of upstream OIDC logins. Times are in seconds unless the name says ms. They live beside
 * the code that enforces them until they move into src/constants.ts with the rest.
 */

/** A login transaction lives at most this long: ten minutes covers a slow MFA prompt, not a lunch break. */
export const LOGIN_TRANSACTION_LIFETIME = 600;

/** Discovery metadata is re-read this often, so an OP's endpoint or key changes reach the broker. */
export const OIDC_DISCOVERY_TTL = 3_600;

/**
 * Our own `state` values are 43 characters; anything much longer is not ours and is refused
 * before it reaches the transaction store.
 */
export const MAX_STATE_CHARS = 128;
export const MAX_LOGIN_HINT_CHARS = 256;
/** Upstream error codes are recorded, bounded, for the audit log. */
export const MAX_UPSTREAM_ERROR_CHARS = 64;
export const MAX_ERROR_DETAIL_CHARS = 200;
