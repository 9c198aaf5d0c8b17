import { accessTokenHash, DPOP_ALGORITHMS, dpopReplayUntil, validateDpopProof } from '../dpop/proof.js';
import { InvalidDpopProof } from '../oauth/errors.js';
import type { ReplayStore } from './replay.js';

/**
 * DPoP proofs (RFC 9449) at a destination: at its token endpoint, where a key-bound ID-JAG is
 * redeemed, and at its API, where a DPoP-bound access token is used. The checks are the broker's
 * own (dpop/proof.ts); single use of the proof's `jti` goes through the destination's replay store.
 */

export interface DpopVerifierOptions {
  /** Remembers proof `jti`s (per key) for their acceptance window. The ID-JAG verifier's store will do. */
  replayStore: ReplayStore;
  now?: () => Date;
  /** Proof algorithms accepted; default every asymmetric one {@link DPOP_ALGORITHMS} lists. */
  algorithms?: readonly string[];
}

/** One request's proof, and what it must name. */
export interface DpopRequest {
  /** The request's `DPoP` header (`headers.get('dpop')`), or null. */
  header: string | null | undefined;
  method: string;
  /** The endpoint's public URL (this AS's issuer + path), not whatever a proxy forwarded. */
  url: string;
  /** At an API: the access token presented with the proof, which `ath` must hash. */
  accessToken?: string;
}

/** Validates a request's DPoP proof and spends its `jti`; resolves to the key's thumbprint. */
export type DpopVerifier = (request: DpopRequest) => Promise<{ jkt: string }>;

/** Tells a proof's single-use record apart from ID-JAG `jti`s in a shared replay store. */
const REPLAY_SCOPE = 'dpop:';

/**
 * @throws {InvalidDpopProof} (`invalid_dpop_proof`) with the precise reason, for a missing,
 *   invalid or replayed proof. A server nonce (RFC 9449 §8) is not required here.
 */
export function createDpopVerifier(options: DpopVerifierOptions): DpopVerifier {
  const now = options.now ?? (() => new Date());
  const algorithms = options.algorithms ?? DPOP_ALGORITHMS;
  return async function verifyDpop(request) {
    const result = await validateDpopProof({
      header: request.header,
      method: request.method,
      url: request.url,
      now: Math.floor(now().getTime() / 1000),
      algorithms,
      ...(request.accessToken !== undefined ? { accessTokenHash: await accessTokenHash(request.accessToken) } : {}),
    });
    if (!result.ok) throw new InvalidDpopProof(result.reason, 'the DPoP proof is invalid', result.detail);
    if (!(await options.replayStore.consume(result.jti, `${REPLAY_SCOPE}${result.jkt}`, dpopReplayUntil(result.iat)))) {
      throw new InvalidDpopProof('dpop_replayed', 'the DPoP proof is invalid');
    }
    return { jkt: result.jkt };
  };
}
