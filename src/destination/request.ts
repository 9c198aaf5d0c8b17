import { InvalidRequest, UnsupportedGrantType } from '../oauth/errors.js';
import { JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE, MAX_ASSERTION_BYTES } from './limits.js';

/** The grant parameters of an RFC 7523 §2.1 token request. */
export interface JwtBearerRequest {
  assertion: string;
  /** jwt-bearer, or jwt-dpop: then the request must carry a DPoP proof (the destination checks it). */
  grantType: typeof JWT_BEARER_GRANT_TYPE | typeof JWT_DPOP_GRANT_TYPE;
  /** Requested scope, if the client narrowed it at the destination. */
  scope?: string;
}

const encoder = new TextEncoder();

/** True when `assertion` is over the size cap; counts UTF-8 bytes, as the wire does. */
export function exceedsAssertionLimit(assertion: string): boolean {
  // Every UTF-16 unit is at least one byte, so a long string needs no encoding to be refused.
  return assertion.length > MAX_ASSERTION_BYTES || encoder.encode(assertion).byteLength > MAX_ASSERTION_BYTES;
}

/** RFC 6749 §3.2: a parameter sent more than once makes the request invalid, not ambiguous. */
export function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw new InvalidRequest('duplicate_parameter', `${name} must appear once`);
  return values[0];
}

/**
 * Reads the jwt-bearer grant parameters from a token request body. It does not authenticate
 * the client and does not look inside the assertion; that is {@link createIdJagVerifier}'s job.
 *
 * @throws {UnsupportedGrantType} unless `grant_type` is `urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   or the ID-JAG draft's `urn:ietf:params:oauth:grant-type:jwt-dpop`.
 * @throws {InvalidRequest} when a parameter repeats, `assertion` is missing or empty, or it
 *   exceeds 16 KiB.
 */
export function parseJwtBearerRequest(form: URLSearchParams): JwtBearerRequest {
  const grantType = single(form, 'grant_type');
  if (grantType === undefined) throw new InvalidRequest('missing_parameter', 'grant_type is required');
  if (grantType !== JWT_BEARER_GRANT_TYPE && grantType !== JWT_DPOP_GRANT_TYPE) throw new UnsupportedGrantType('unsupported_grant_type');

  const assertion = single(form, 'assertion');
  if (!assertion) throw new InvalidRequest('missing_parameter', 'assertion is required');
  if (exceedsAssertionLimit(assertion)) {
    throw new InvalidRequest('token_too_large', 'assertion is too large');
  }

  const scope = single(form, 'scope');
  return scope === undefined ? { assertion, grantType } : { assertion, grantType, scope };
}
