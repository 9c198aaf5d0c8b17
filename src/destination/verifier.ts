import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  errors,
  type CompactVerifyGetKey,
  type CompactVerifyResult,
  type JSONWebKeySet,
} from 'jose';
import { clockedRemoteJwks } from '../http/remote-jwks.js';
import { IdJagRejected } from './errors.js';
import { DEFAULT_CLOCK_TOLERANCE, DEFAULT_ID_JAG_ALGORITHMS } from './limits.js';
import type { ReplayStore } from './replay.js';
import { exceedsAssertionLimit } from './request.js';
import { isForbiddenAlgorithm, validateIdJagClaims, type IdJagClaims, type IdJagExpectations } from './validate.js';

/** A broker whose ID-JAGs this destination accepts, and where its public keys come from. */
export interface TrustedIssuer {
  /** The broker's issuer identifier, compared exactly with `iss`. */
  issuer: string;
  /** Inline key set, or the broker's `jwks_uri` (fetched, cached for 10 minutes and refetched on an unknown `kid`, timed by `now`). */
  jwks: JSONWebKeySet | URL;
}

export interface IdJagVerifierOptions
  extends Pick<IdJagExpectations, 'audience' | 'algorithms' | 'clockTolerance' | 'maxLifetime'> {
  trustedIssuers: readonly TrustedIssuer[];
  /** Remembers redeemed `jti`s. Shared and strongly consistent when the AS runs on several nodes. */
  replayStore: ReplayStore;
  now?: () => Date;
  /** For the brokers' JWKS; the global fetch by default. */
  fetch?: typeof fetch;
}

/** Per-request input: who presented the ID-JAG, and with which key. */
export interface IdJagVerificationContext {
  /** The client authenticated at the token endpoint. */
  clientId: string;
  /**
   * The thumbprint of the key of the request's DPoP proof, once {@link createDpopVerifier} has
   * validated it. An ID-JAG bound to a key (`cnf.jkt`) is refused without it, or with another.
   */
  dpop?: { jkt: string };
}

/**
 * Verifies one presented ID-JAG and consumes its `jti`. Resolves to the validated claims;
 * rejects with {@link IdJagRejected} (an `InvalidGrant`) on any failure.
 */
export type IdJagVerifier = (assertion: string, context: IdJagVerificationContext) => Promise<IdJagClaims>;

/** Marks a failure to obtain keys, as opposed to a token the keys do not verify. */
class KeySourceUnavailable extends Error {}

/** Errors that say the token names no usable key, rather than that the key set could not be had. */
function isVerdictOnToken(error: unknown): boolean {
  return (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSENotSupported
  );
}

function keySetFor(jwks: JSONWebKeySet | URL, clock: () => number, fetchImpl: typeof fetch | undefined): CompactVerifyGetKey {
  if (!(jwks instanceof URL)) return createLocalJWKSet(jwks);
  const remote = clockedRemoteJwks(jwks, { clock, fetch: fetchImpl });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (isVerdictOnToken(error)) throw error;
      throw new KeySourceUnavailable('JWKS unavailable', { cause: error });
    }
  };
}

function keySetsByIssuer(trustedIssuers: readonly TrustedIssuer[], clock: () => number, fetchImpl: typeof fetch | undefined): Map<string, CompactVerifyGetKey> {
  const keySets = new Map<string, CompactVerifyGetKey>();
  for (const { issuer, jwks } of trustedIssuers) {
    if (keySets.has(issuer)) throw new TypeError(`trusted issuer listed twice: ${issuer}`);
    keySets.set(issuer, keySetFor(jwks, clock, fetchImpl));
  }
  return keySets;
}

/**
 * Verifies with every key a kid-less header matches, as jose documents for
 * `JWKSMultipleMatchingKeys`: during a rotation a broker may publish two keys of one type.
 */
async function verifySignature(
  assertion: string,
  getKey: CompactVerifyGetKey,
  algorithms: string[],
): Promise<CompactVerifyResult> {
  try {
    return await compactVerify(assertion, getKey, { algorithms });
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return await compactVerify(assertion, key, { algorithms });
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

function toRejection(error: unknown): IdJagRejected {
  if (error instanceof IdJagRejected) return error;
  if (error instanceof KeySourceUnavailable) return new IdJagRejected('jwks_unavailable');
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new IdJagRejected('alg_not_allowed');
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new IdJagRejected('key_unknown');
  if (error instanceof errors.JWSSignatureVerificationFailed) return new IdJagRejected('signature_invalid');
  if (error instanceof errors.JOSEError) return new IdJagRejected('malformed', error.code);
  throw error;
}

/** The issuer is read before the signature is checked, only to choose whose keys to check it with. */
function unverifiedIssuer(assertion: string): string {
  let iss: unknown;
  try {
    ({ iss } = decodeJwt(assertion));
  } catch {
    throw new IdJagRejected('malformed');
  }
  if (iss === undefined) throw new IdJagRejected('claim_missing', 'iss');
  if (typeof iss !== 'string') throw new IdJagRejected('claim_invalid', 'iss');
  return iss;
}

function parsePayload(bytes: Uint8Array): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new IdJagRejected('malformed', 'payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new IdJagRejected('malformed', 'payload is not a JSON object');
  }
  return payload as Record<string, unknown>;
}

/**
 * Builds the verifier a destination's token endpoint calls for
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`. In order: size, issuer pinned,
 * signature against that issuer's keys with the algorithm allow-list, every rule of
 * {@link validateIdJagClaims}, the key binding (`cnf.jkt` against the request's DPoP proof), then
 * single use of `jti`.
 */
export function createIdJagVerifier(options: IdJagVerifierOptions): IdJagVerifier {
  const now = options.now ?? (() => new Date());
  const keySets = keySetsByIssuer(options.trustedIssuers, () => now().getTime() / 1000, options.fetch);
  const issuers = [...keySets.keys()];
  const algorithms = (options.algorithms ?? DEFAULT_ID_JAG_ALGORITHMS).filter((alg) => !isForbiddenAlgorithm(alg));
  const clockTolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE;
  const { replayStore } = options;

  return async function verifyIdJag(assertion, { clientId, dpop }) {
    try {
      if (exceedsAssertionLimit(assertion)) throw new IdJagRejected('too_large');
      const getKey = keySets.get(unverifiedIssuer(assertion));
      if (getKey === undefined) throw new IdJagRejected('issuer_untrusted');

      const { protectedHeader, payload } = await verifySignature(assertion, getKey, algorithms);
      const result = validateIdJagClaims(
        protectedHeader,
        parsePayload(payload),
        { audience: options.audience, clientId, issuers, algorithms, clockTolerance, maxLifetime: options.maxLifetime },
        now(),
      );
      if (!result.ok) throw new IdJagRejected(result.reason, result.detail);

      const { claims } = result;
      // ID-JAG draft, "Proof-of-Possession During ID-JAG Exchange": thumbprints compared exactly.
      // Before the jti is spent: whoever stole a bound ID-JAG cannot burn it for its holder.
      if (claims.cnf !== undefined) {
        if (dpop === undefined) throw new IdJagRejected('dpop_proof_missing');
        if (dpop.jkt !== claims.cnf.jkt) throw new IdJagRejected('dpop_key_mismatch');
      }
      // Remember the jti for as long as the token could still pass the `exp` check.
      if (!(await replayStore.consume(claims.jti, claims.iss, claims.exp + clockTolerance))) {
        throw new IdJagRejected('replayed');
      }
      return claims;
    } catch (error) {
      throw toRejection(error);
    }
  };
}
