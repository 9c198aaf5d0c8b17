/**
 * Limits of upstream SAML logins. Times are in seconds unless the name says ms. They live beside
 * the code that enforces them until they move into src/constants.ts with the rest.
 */

/** A login transaction lives at most this long (the same figure as an OIDC login's). */
export const SAML_LOGIN_TRANSACTION_LIFETIME = 600;

/**
 * The `SAMLResponse` form field, base64 as posted (72 KB of XML). Entra ID, Okta, ADFS and
 * Shibboleth responses are 5–30 KB: Entra's largest (150 groups, both signatures, certificate in
 * KeyInfo) is about 20 KB, an encrypted one a third more. The cap leaves twice the largest; what
 * it bounds is the parser's and the canonicalizer's work on a response nobody has verified yet.
 * The ACS route's body limit follows it (src/provider/limits.ts).
 */
export const SAML_MAX_RESPONSE_BASE64_CHARS = 96 * 1024;

/** Our RelayState values are 43 characters; SAML bindings §3.5.3 caps RelayState at 80 bytes. */
export const SAML_MAX_RELAY_STATE_CHARS = 80;

/**
 * A SAML response is 7 levels deep (Response > Assertion > AttributeStatement > Attribute >
 * AttributeValue > NameID; Signature > KeyInfo > X509Data > X509Certificate under the Assertion;
 * EncryptedData > KeyInfo > EncryptedKey > EncryptionMethod > DigestMethod): twice that is hostile.
 * Elements: Entra's largest (150 groups) has about 250, a typical one 60–120. xmldom parses about
 * 10 µs per element, so the element cap is what keeps an unverified response at a few ms.
 */
export const SAML_MAX_XML_DEPTH = 16;
export const SAML_MAX_XML_ELEMENTS = 1_000;

/**
 * Elements of a Response outside its assertion: Issuer, the Response's own Signature (14 elements
 * with KeyInfo), Status (2 to 4), Extensions where an IdP sends them: about 20 in the responses of
 * every IdP above. An unsigned Response can be built around someone's genuine signed assertion (the
 * attacker's own login), and what surrounds it is never read, only parsed and searched by the
 * signature check: padded to the element cap, such a post cost ten times a login's CPU
 * (docs/workers.md). Three times what IdPs send.
 */
export const SAML_MAX_ELEMENTS_BESIDE_ASSERTION = 64;

/** XML IDs (Response, Assertion) longer than this are refused; they key the replay cache. */
export const SAML_MAX_ID_CHARS = 256;

/** SAML core §8.3.7: a persistent NameID is at most 256 characters. */
export const SAML_MAX_NAMEID_CHARS = 256;

/**
 * Attributes in one assertion (IdPs send 5–30), and values of one attribute (groups: Entra sends
 * at most 150 and an overage claim beyond; Okta and ADFS are configured to filter them).
 */
export const SAML_MAX_ATTRIBUTES = 100;
export const SAML_MAX_ATTRIBUTE_VALUES = 500;

/** IdP metadata, from a URL or a file. */
export const SAML_METADATA_MAX_BYTES = 1024 * 1024;
export const SAML_METADATA_FETCH_TIMEOUT_MS = 5_000;

/** RSA keys (IdP signing certificates, SP keys) shorter than this are refused. */
export const SAML_MIN_RSA_BITS = 2048;

/** Detail strings in refusals (they may quote attacker-chosen values) are bounded for the audit log. */
export const SAML_MAX_DETAIL_CHARS = 200;

/**
 * The Node runtime verifies ACS posts on worker threads (src/runtime/node-saml-pool.ts), at most
 * this many (and no more than the machine's cores), so one response never blocks the event loop
 * for its parse and signature checks. The ACS route's in-flight cap still bounds what waits.
 */
export const SAML_VERIFIER_MAX_THREADS = 2;

/**
 * A verification taking longer than this (a good one takes ~10 ms) is refused and its thread
 * replaced: a bug or a pathological input cannot hold a thread forever.
 */
export const SAML_VERIFIER_TIMEOUT_MS = 5_000;

/** Heap of a verification thread: a response at the caps needs a few MB; a runaway one kills only its thread. */
export const SAML_VERIFIER_HEAP_MB = 128;

/**
 * Single Logout (logout.ts). A LogoutRequest or LogoutResponse is under 1 KB of XML (3–4 KB with a
 * POST signature and its certificate): the XML is bounded at 8 KiB (after inflating, for
 * HTTP-Redirect: a deflate bomb stops there), the message as received (base64, URL-encoded for
 * HTTP-Redirect) at 12 KiB. Logout messages are verified on the main thread, and what an
 * unauthenticated one costs (parse, walk, one public-key operation per key) grows with its size.
 */
export const SAML_MAX_LOGOUT_MESSAGE_CHARS = 12 * 1024;
export const SAML_MAX_LOGOUT_XML_BYTES = 8 * 1024;

/**
 * A LogoutRequest is refused once its IssueInstant is older than this (with the clock skew), even
 * without a NotOnOrAfter or with a later one: its ID is remembered (replay) for no longer.
 */
export const SAML_LOGOUT_REQUEST_MAX_AGE = 300;

/** The broker's own LogoutRequest lifetime (NotOnOrAfter) and how long it waits for the answer. */
export const SAML_LOGOUT_REQUEST_LIFETIME = 300;
export const SAML_LOGOUT_TRANSACTION_LIFETIME = 600;

/** SessionIndex elements in one LogoutRequest, and broker sessions one request may end. */
export const SAML_MAX_SESSION_INDEXES = 16;
export const SAML_LOGOUT_MAX_SESSIONS = 100;
