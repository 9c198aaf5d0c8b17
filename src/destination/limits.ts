import { CLOCK_SKEW, ID_JAG_MAX_LIFETIME, MAX_REFERENCE_CHARS, MAX_TOKEN_BYTES } from '../constants.js';

/** The `typ` an ID-JAG carries (draft-ietf-oauth-identity-assertion-authz-grant). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** RFC 7523 §2.1 grant type under which an ID-JAG is redeemed. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * The grant type the ID-JAG draft's DPoP text redeems a key-bound ID-JAG under
 * (draft-parecki-oauth-jwt-dpop-grant): a JWT assertion plus a DPoP proof of its key.
 */
export const JWT_DPOP_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-dpop';

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

/**
 * Resource-pulled profile (docs/profiles/pulled.md): the token type of an ID-JAG reference, as a
 * client presents it to this destination and this destination presents it to the broker.
 */
export const ID_JAG_REFERENCE_TOKEN_TYPE = 'https://xaa-broker.dev/token-type/id-jag-reference';

/** RFC 8693 §2.1 grant type under which a client presents a reference here. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** A presented reference longer than this is refused before it is sent anywhere. */
export const MAX_REFERENCE_BYTES = MAX_REFERENCE_CHARS;

/** Milliseconds the redemption at the broker may take, connection and response included. */
export const DEFAULT_REDEMPTION_TIMEOUT_MS = 5_000;

/** The broker's redemption response (or metadata) larger than this is refused unparsed. */
export const MAX_REDEMPTION_RESPONSE_BYTES = 64 * 1024;

/** Lifetime of the private_key_jwt client assertion this destination signs for the redemption. */
export const BACKCHANNEL_ASSERTION_LIFETIME = 60;
