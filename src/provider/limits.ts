import { SAML_MAX_LOGOUT_MESSAGE_CHARS, SAML_MAX_RESPONSE_BASE64_CHARS } from '../upstream/saml/limits.js';

/**
 * Limits and names of the broker's OpenID Provider. Times are in seconds. They live beside the
 * code that enforces them; the lifetimes may move into src/constants.ts with the rest.
 */

/** An authorization code is redeemed within a minute, once. */
export const CODE_LIFETIME = 60;
/** Access tokens (RFC 9068 JWTs for /userinfo) and ID tokens. */
export const ACCESS_TOKEN_LIFETIME = 300;
export const ID_TOKEN_LIFETIME = 300;
/** A refresh token lives 30 days, and never longer than the broker session it came from. */
export const REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600;
/**
 * A refresh token just rotated may still be presented for this long without counting as a replay:
 * as a token-exchange subject token it is accepted (it is looked up, never redeemed), and a
 * duplicate refresh grant is refused without revoking the family. The client's own concurrent
 * requests race like this; a copy replayed later than this revokes the family (RFC 9700 §4.14.2).
 */
export const REFRESH_TOKEN_REUSE_GRACE = 10;
/** A broker session: one upstream login, twelve hours at most (less when a SAML IdP sets SessionNotOnOrAfter). */
export const SESSION_LIFETIME = 12 * 3600;
/** The browser-binding cookie of upstream logins lives as long as a login transaction may. */
export const LOGIN_TRANSACTION_LIFETIME = 600;
/** A consent or logout confirmation form must be submitted within this long. */
export const FORM_LIFETIME = 600;

/** Cookie names: `__Host-` (Secure, Path=/, no Domain) on https, plain names on http loopback. */
export const SESSION_COOKIE = 'xaa-session';
export const LOGIN_BINDING_COOKIE = 'xaa-login';
export const HOST_PREFIX = '__Host-';

/** Random values (session ids, codes, refresh tokens, binding cookies): 256 bits. */
export const RANDOM_BYTES = 32;

/** Request parameter bounds (characters). */
export const MAX_AUTHORIZE_QUERY_CHARS = 8 * 1024;
export const MAX_STATE_CHARS = 512;
export const MAX_NONCE_CHARS = 512;
export const MAX_LOGIN_HINT_CHARS = 256;
export const MAX_CONNECTION_ID_CHARS = 64;
export const MAX_SCOPE_CHARS = 1024;
export const MAX_MAX_AGE = 10 * 365 * 24 * 3600;
/** The pending authorization request carried through an upstream login. */
export const MAX_CONTINUATION_CHARS = 4 * 1024;
/** Bodies of the broker's own forms (consent, logout) and of RP-initiated logout posts. */
export const MAX_FORM_BYTES = 16 * 1024;
/**
 * The SAML ACS body: the largest SAMLResponse the SAML connection accepts, form-encoded (`+`, `/`
 * and `=` become `%XX`: about 1/32 of base64 characters each, so a quarter more is ample), plus
 * room for RelayState.
 */
export const MAX_ACS_BODY_BYTES = Math.ceil(SAML_MAX_RESPONSE_BASE64_CHARS * 1.25) + 4 * 1024;
/**
 * ACS posts handled at once by one broker process, counted from before the body is read. The
 * verification itself is synchronous (a few ms), so this bounds what waits on I/O: bodies being
 * received and logins being stored, at most this many times MAX_ACS_BODY_BYTES of memory. Posts
 * beyond it get 503 with Retry-After (seconds) at once, unread. 100 logins/s at ~5 ms each keeps
 * one or two in flight; 32 leaves room for slow uplinks.
 */
export const SAML_ACS_MAX_IN_FLIGHT = 32;
export const SAML_ACS_RETRY_AFTER = 2;
/** A presented access token or id_token_hint larger than this is refused unparsed. */
export const MAX_PRESENTED_TOKEN_CHARS = 16 * 1024;

/** Remembered consents (in memory, per broker instance). */
export const CONSENT_MEMORY_MAX = 10_000;

/** A SAML logout message posted to the SingleLogoutService: its cap plus the RelayState and form overhead. */
export const MAX_SLO_BODY_BYTES = SAML_MAX_LOGOUT_MESSAGE_CHARS + 2 * 1024;

/** How long a browser may cache a CORS preflight answer (seconds). */
export const CORS_MAX_AGE = 600;
