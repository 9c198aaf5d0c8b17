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
/**
 * Verified client secrets are remembered in memory (as an HMAC under a per-process random key, never
 * the secret) so that a request with an already-verified secret costs no PBKDF2. The expiry is
 * sliding: an entry is dropped only after this long without use, so steady traffic never falls
 * back to PBKDF2 all at once.
 */
export const CLIENT_SECRET_CACHE_MAX = 1_000;
export const CLIENT_SECRET_CACHE_IDLE_TTL = 300;
/**
 * PBKDF2 work is budgeted per request source (an IPv4 address, or an IPv6 /64), never per client:
 * a source that has had this many failed secret checks within the window is refused without
 * hashing until the window ends, and no other source is affected. A secret already verified in
 * this process is accepted from any source.
 */
export const CLIENT_AUTH_MAX_FAILURES = 10;
export const CLIENT_AUTH_FAILURE_WINDOW = 60;
/** Sources whose failures are remembered; the least recently seen are forgotten first. */
export const CLIENT_AUTH_SOURCES_MAX = 10_000;
/**
 * At most this many PBKDF2 runs at once per process (Node's libuv pool has four threads); others
 * wait their turn in order. Beyond the queue length the request gets 503 temporarily_unavailable.
 */
export const CLIENT_AUTH_MAX_CONCURRENT_HASHES = 4;
export const CLIENT_AUTH_MAX_QUEUED_HASHES = 1_000;
/**
 * Seconds a 503 `temporarily_unavailable` from the token endpoint (a full hashing queue, an
 * upstream's keys unreachable) asks the caller to wait in `Retry-After`: a full queue of PBKDF2
 * runs drains in a few seconds, and clients that retry at once only keep it full.
 */
export const TEMPORARILY_UNAVAILABLE_RETRY_AFTER = 5;

/** Client secret hashing: PBKDF2-SHA256 via WebCrypto (workerd caps iterations at 100k). */
export const PBKDF2_ITERATIONS = 100_000;
export const PBKDF2_MIN_ITERATIONS = 10_000;

/** Each broker node re-reads the key ring this often, so a rotation reaches every node. */
export const KEY_RELOAD_INTERVAL = 60;
/** `Cache-Control: max-age` of the broker's /jwks: how long any HTTP cache may serve an old key set. */
export const JWKS_PUBLIC_MAX_AGE = 300;
/**
 * A `next` key may start signing only once it has been published this long: every node serves it
 * (KEY_RELOAD_INTERVAL), no HTTP cache still holds a JWKS without it (JWKS_PUBLIC_MAX_AGE), and a
 * destination that refetched just before is past its refetch cooldown (JWKS_REFETCH_COOLDOWN_MS).
 */
export const NEXT_KEY_MIN_AGE = JWKS_PUBLIC_MAX_AGE + JWKS_REFETCH_COOLDOWN_MS / 1000 + KEY_RELOAD_INTERVAL;
/**
 * Signing keys, of every algorithm (the RS256 keys of clients' ID tokens get the same grace). A
 * retired key stays published until every token it signed has expired, counting a node that has
 * not yet reloaded and still signs with it. ID-JAGs bound it; the provider's ID and access tokens
 * (provider/limits.ts) live no longer (test/minting/keys.test.ts checks).
 */
export const RETIRED_KEY_GRACE = ID_JAG_MAX_LIFETIME + CLOCK_SKEW + KEY_RELOAD_INTERVAL;

/** Stores purge expired replay records on every n-th write from one process or isolate; the primary key serves lookups meanwhile. */
export const REPLAY_PURGE_EVERY = 256;
/** Stores purge expired login transactions on every n-th write from one process or isolate. */
export const LOGIN_PURGE_EVERY = 128;
/**
 * A revoked refresh-token family is remembered this long, so that a token issued into it afterwards
 * (an authorization code replayed while its first redemption was still being answered) is refused.
 * Longer than any request takes; the code itself lives a minute.
 */
export const REVOKED_FAMILY_MEMORY = 3600;

/**
 * A write to the SQLite file waits this long for another process's write lock (two brokers, or a
 * broker and the CLI, on one file) before failing with SQLITE_BUSY.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/**
 * WAL checkpoints on Node run on a thread of their own (runtime/node-wal-checkpoint.ts) every
 * interval; the serving connection checkpoints by itself only past the backstop (about 40 MB of
 * WAL), or at SQLite's default if that thread ends.
 */
export const SQLITE_WAL_CHECKPOINT_INTERVAL_MS = 1_000;
export const SQLITE_WAL_BACKSTOP_PAGES = 10_000;
export const SQLITE_WAL_AUTOCHECKPOINT_PAGES = 1_000;

/**
 * PostgreSQL (Node, `XAA_DATABASE=postgres://…`): connections per broker process. Every request
 * holds one for a statement or a short transaction only; N instances need N × this on the server
 * (its `max_connections` is 100 by default).
 */
export const PG_POOL_SIZE = 10;
/** A statement (or lock wait) running longer than this is cancelled: a request fails rather than hangs. */
export const PG_STATEMENT_TIMEOUT_MS = 5_000;
/** How long a request waits for a free pooled connection, or a new one to be opened, before failing. */
export const PG_CONNECT_TIMEOUT_MS = 5_000;

/** Audit records are bounded so a hostile input cannot bloat the log. */
export const AUDIT_MAX_FIELD_CHARS = 512;

/** Default timeout of every request to an upstream OP (discovery, JWKS, token, userinfo); a connection may set up to the max. */
export const OIDC_HTTP_TIMEOUT = 5;
export const OIDC_HTTP_TIMEOUT_MAX = 30;

/** A SAML connection's `clock_skew` may be configured up to this; more would stretch every validity window. */
export const SAML_MAX_CLOCK_SKEW = 300;

/**
 * IdP metadata from `idp_metadata_url` is fetched again after its `cacheDuration`, held between
 * these bounds (seconds): a document cannot make the broker fetch it every few seconds, nor keep a
 * copy (and the certificates in it) for weeks. Without a cacheDuration: the default (as
 * Shibboleth's maxRefreshDelay). After a failed refresh the next attempt waits the retry delay,
 * so a login does not wait for a dead metadata host more than once per retry delay.
 */
export const SAML_METADATA_MIN_REFRESH = 300;
export const SAML_METADATA_MAX_REFRESH = 24 * 3600;
export const SAML_METADATA_DEFAULT_REFRESH = 4 * 3600;
export const SAML_METADATA_RETRY_AFTER = 60;

/** The largest `max_auth_age` a destination may configure (seconds): one year. */
export const MAX_AUTH_AGE_LIMIT = 365 * 24 * 3600;

/** Retention defaults (broker.config.yaml `retention:` overrides them; see docs/operations.md). */
export const AUDIT_DEFAULT_MAX_AGE_DAYS = 90;
export const AUDIT_DEFAULT_MAX_ROWS = 1_000_000;
export const REFUSAL_SUMMARY_DEFAULT_INTERVAL = 60;
/** Pruning deletes in chunks of this many rows, at most this many chunks per table per run. */
export const PRUNE_CHUNK_ROWS = 5_000;
export const PRUNE_MAX_CHUNKS = 20;
/** How often a Node broker prunes (Workers: the cron trigger in wrangler.toml). */
export const PRUNE_INTERVAL = 300;
/**
 * An access request (task) is kept this long after it is over (its expiry, or its approval's
 * `approved_until` if later) before pruning, so its status endpoint still answers `expired`,
 * `denied` or `cancelled` to a requester that comes back late. Its audit records stay longer.
 */
export const ACCESS_REQUEST_RETAIN_AFTER = 7 * 24 * 3600;
/**
 * Distinct (reason, source) keys one process counts per summary interval; refusals beyond it are
 * counted under the source `other`. Bounds memory and the audit rows a distributed flood writes.
 */
export const REFUSAL_SUMMARY_MAX_KEYS = 256;
/** `cli audit-export` reads the audit log this many records at a time. */
export const AUDIT_EXPORT_PAGE = 1_000;

/**
 * Resource-pulled profile (docs/profiles/pulled.md): an ID-JAG reference lives this long at most.
 * Long enough for a client to hand it to the destination and the destination to redeem it over its
 * back channel; short enough that a leaked reference is worth little.
 */
export const ID_JAG_REFERENCE_LIFETIME = 60;
/** A presented reference longer than this is refused unhashed (the broker's are 43 characters). */
export const MAX_REFERENCE_CHARS = 256;

/**
 * Governance (docs/access-requests.md). A requestable denial's hint (its signed request_context)
 * may be submitted as an access request for this long; a submitted task waits this long for an
 * approver before it expires; no `@requestable` policy may allow approvals longer than the cap.
 */
export const REQUESTABLE_DENIAL_LIFETIME = 600;
export const ACCESS_REQUEST_PENDING_LIFETIME = 3 * 24 * 3600;
export const MAX_APPROVAL_DURATION = 90 * 24 * 3600;
/** Free text an access request or a decision carries is bounded (characters). */
export const MAX_JUSTIFICATION_CHARS = 1_000;
export const MAX_DECISION_REASON_CHARS = 500;
/** An Idempotency-Key longer than this is refused (characters). */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;
/**
 * Deferred completion: a deferral code can be polled for this long; polls come at least
 * `DEFERRAL_INTERVAL` seconds apart, and each too-early poll adds `DEFERRAL_SLOW_DOWN_STEP`
 * (RFC 8628 §3.5's 5 seconds) to the interval.
 */
export const DEFERRAL_LIFETIME = 3600;
export const DEFERRAL_INTERVAL = 5;
export const DEFERRAL_SLOW_DOWN_STEP = 5;
/** The approval console lists at most this many pending requests. */
export const CONSOLE_MAX_PENDING = 200;

/** On Workers, after a failed broker build, requests are answered 500 without rebuilding for this long (seconds). */
export const WORKER_BUILD_RETRY_SECONDS = 10;

// --- Issue 9, part 3: DPoP (RFC 9449; src/dpop, docs/dpop.md) ---
/**
 * A DPoP proof is accepted this long (seconds) after its `iat`, and up to `DPOP_IAT_FUTURE_SKEW`
 * before it: RFC 9449 §11.1 wants a short window, so a proof is made for one request, just before.
 */
export const DPOP_PROOF_MAX_AGE = 60;
export const DPOP_IAT_FUTURE_SKEW = 5;
/** A `DPoP` header longer than this is refused unparsed (characters; an RSA-4096 proof is ~2 KiB). */
export const DPOP_MAX_PROOF_CHARS = 8 * 1024;
/** A proof's `jti` longer than this is refused (characters): it is stored for single use. */
export const DPOP_MAX_JTI_CHARS = 256;
/**
 * Server nonces (RFC 9449 §8) are stateless: an HMAC of the current window of this many seconds.
 * The current and the previous window's nonces are accepted, so a nonce lives 1–2 windows.
 */
export const DPOP_NONCE_WINDOW = 300;

// ── Issue 9 §6: the installable package (the `xaa-broker start` command) ──
/**
 * V8's semi-space for the serving process, in MB (`--max-semi-space-size`, a start-up flag: the
 * `start` command re-runs node with it). Same value as `npm start` (package.json); docs/benchmark.md, *Memory*.
 */
export const NODE_MAX_SEMI_SPACE_MB = 4;
/** V8's WebAssembly tiering budget, set before Cedar is compiled; same value as scripts/start.mjs. */
export const WASM_TIERING_BUDGET = 180_000_000;
