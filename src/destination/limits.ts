import { CLOCK_SKEW, ID_JAG_MAX_LIFETIME, MAX_TOKEN_BYTES } from '../constants.js';

/** The `typ` an ID-JAG carries (draft-ietf-oauth-identity-assertion-authz-grant). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** RFC 7523 §2.1 grant type under which an ID-JAG is redeemed. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Asymmetric algorithms accepted unless the destination narrows the list. */
export const DEFAULT_ID_JAG_ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'PS256', 'EdDSA', 'ES384'];

/** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
export const DEFAULT_CLOCK_TOLERANCE = CLOCK_SKEW;

/** Longest `exp - iat` accepted: an ID-JAG is a short-lived grant, not a session. */
export const DEFAULT_ID_JAG_MAX_LIFETIME = ID_JAG_MAX_LIFETIME;

/** An `assertion` larger than this is refused before any parsing. */
export const MAX_ASSERTION_BYTES = MAX_TOKEN_BYTES;

/** Upper bound on live entries in {@link MemoryReplayStore}; beyond it the store fails closed. */
export const DEFAULT_REPLAY_STORE_MAX_ENTRIES = 100_000;
