/**
 * Every limit the broker enforces, in one place. Times are in seconds unless the name says ms.
 * Changing a value here changes behaviour everywhere; tests import these rather than repeat them.
 */

/** The draft caps nothing, but an ID-JAG is a short-lived grant: five minutes at most. */
export const ID_JAG_MAX_LIFETIME = 300;
export const ID_JAG_DEFAULT_LIFETIME = 300;

/** Clock skew tolerated on `exp`/`nbf`/`iat` of presented JWTs (subject tokens, client assertions). */
export const CLOCK_SKEW = 60;

/** A client assertion (private_key_jwt) may not live longer than this; bounds the replay store. */
export const CLIENT_ASSERTION_MAX_LIFETIME = 600;

/** Request bodies larger than this are refused before parsing (413). */
export const MAX_BODY_BYTES = 64 * 1024;
/** Any single presented token (subject token, assertion) larger than this is refused unparsed. */
export const MAX_TOKEN_BYTES = 16 * 1024;
export const MAX_SCOPE_COUNT = 50;
/** Unrecognised request parameters are logged as a count plus this many names, each cut to this length. */
export const LOG_IGNORED_PARAMS_MAX = 10;
export const LOG_PARAM_NAME_MAX = 64;

/** Upstream JWKS fetching. */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
export const JWKS_MAX_BYTES = 256 * 1024;
export const JWKS_CACHE_TTL_MS = 10 * 60_000;
/** After an unknown `kid` forced a refetch, do not refetch again for this long. */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;

/** Caches on the hot path. */
export const SUBJECT_TOKEN_CACHE_MAX = 10_000;
/** Caches are bounded in bytes (approximately: UTF-16 key length plus a per-entry allowance) as well as entries. */
export const SUBJECT_TOKEN_CACHE_MAX_BYTES = 64 * 1024 * 1024;
export const POLICY_DECISION_CACHE_MAX_BYTES = 32 * 1024 * 1024;
export const MAPPING_CACHE_MAX_BYTES = 32 * 1024 * 1024;
export const MAPPING_CACHE_MAX = 50_000;
export const MAPPING_CACHE_TTL_MS = 60_000;
/** Memoised Cedar decisions (keyed by the full request; see policy/cedar-engine.ts). */
export const POLICY_DECISION_CACHE_MAX = 20_000;
export const CLIENT_SECRET_CACHE_MAX = 1_000;
export const CLIENT_SECRET_CACHE_TTL_MS = 5 * 60_000;
/**
 * After this many failed secret checks for one client within the window, further attempts are
 * refused without running PBKDF2 until the window ends: an unauthenticated caller cannot make the
 * broker hash without bound. A client presenting its cached, verified secret is never throttled.
 */
export const CLIENT_AUTH_MAX_FAILURES = 10;
export const CLIENT_AUTH_FAILURE_WINDOW_MS = 60_000;

/** Client secret hashing: PBKDF2-SHA256 via WebCrypto (workerd caps iterations at 100k). */
export const PBKDF2_ITERATIONS = 100_000;
export const PBKDF2_MIN_ITERATIONS = 10_000;

/** Each broker node re-reads the key ring this often, so a rotation reaches every node. */
export const KEY_RELOAD_INTERVAL = 60;
/**
 * Signing keys. A retired key stays published until every token it signed has expired, counting
 * a node that has not yet reloaded and still signs with it.
 */
export const RETIRED_KEY_GRACE = ID_JAG_MAX_LIFETIME + CLOCK_SKEW + KEY_RELOAD_INTERVAL;

/** Audit records are bounded so a hostile input cannot bloat the log. */
export const AUDIT_MAX_FIELD_CHARS = 512;

/** Default timeout of every request to an upstream OP (discovery, JWKS, token, userinfo); a connection may set up to the max. */
export const OIDC_HTTP_TIMEOUT = 5;
export const OIDC_HTTP_TIMEOUT_MAX = 30;

/** A SAML connection's `clock_skew` may be configured up to this; more would stretch every validity window. */
export const SAML_MAX_CLOCK_SKEW = 300;
