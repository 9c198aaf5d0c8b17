/**
 * Limits of upstream SAML logins. Times are in seconds unless the name says ms. They live beside
 * the code that enforces them until they move into src/constants.ts with the rest.
 */

/** A login transaction lives at most this long (the same figure as an OIDC login's). */
export const SAML_LOGIN_TRANSACTION_LIFETIME = 600;

/**
 * The `SAMLResponse` form field, base64 as posted. A response with a few hundred attributes and two
 * certificates fits comfortably; the ACS route must allow a body at least this large.
 */
export const SAML_MAX_RESPONSE_BASE64_CHARS = 512 * 1024;

/** Our RelayState values are 43 characters; SAML bindings §3.5.3 caps RelayState at 80 bytes. */
export const SAML_MAX_RELAY_STATE_CHARS = 80;

/** A SAML response is a dozen levels deep and a few hundred elements; far beyond is hostile. */
export const SAML_MAX_XML_DEPTH = 64;
export const SAML_MAX_XML_ELEMENTS = 20_000;

/** XML IDs (Response, Assertion) longer than this are refused; they key the replay cache. */
export const SAML_MAX_ID_CHARS = 256;

/** SAML core §8.3.7: a persistent NameID is at most 256 characters. */
export const SAML_MAX_NAMEID_CHARS = 256;

/** Attributes in one assertion, and values of one attribute. */
export const SAML_MAX_ATTRIBUTES = 256;
export const SAML_MAX_ATTRIBUTE_VALUES = 1_000;

/** IdP metadata, from a URL or a file. */
export const SAML_METADATA_MAX_BYTES = 1024 * 1024;
export const SAML_METADATA_FETCH_TIMEOUT_MS = 5_000;

/** RSA keys (IdP signing certificates, SP keys) shorter than this are refused. */
export const SAML_MIN_RSA_BITS = 2048;

/** Detail strings in refusals (they may quote attacker-chosen values) are bounded for the audit log. */
export const SAML_MAX_DETAIL_CHARS = 200;
