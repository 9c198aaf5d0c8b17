import { base64url } from 'jose';
import { DpopNonces } from '../dpop/nonce.js';
import { dpopReplayUntil, validateDpopProof, type DpopRejectionReason } from '../dpop/proof.js';
import type { GrantRequest } from '../grants/grant.js';
import type { BrokerServices } from '../grants/services.js';
import { InvalidDpopProof, InvalidRequest, UseDpopNonce } from '../oauth/errors.js';
import type { BrokerStore } from '../store/ports.js';

/**
 * The exchange's DPoP step (RFC 9449; docs/dpop.md): a valid proof's key thumbprint becomes
 * `request.jkt`, which the ID-JAG then carries as `cnf.jkt`. Web standards only.
 */

const NONCE_SECRET = 'dpop-nonce';

/**
 * The server nonces (RFC 9449 §8) for clients configured with `dpop_nonce`, from the store's secret
 * (made by the first instance): every instance on that store derives the same nonces. Read when the
 * broker is built, never by a request: on workerd a request may not wait on I/O another started.
 */
export async function dpopNonceSource(store: BrokerStore): Promise<DpopNonces> {
  return DpopNonces.fromSecret(await store.secrets.getOrCreate(NONCE_SECRET, () => base64url.encode(crypto.getRandomValues(new Uint8Array(32)))));
}

const NONCE_REASONS = new Set<DpopRejectionReason>(['dpop_nonce_missing', 'dpop_nonce_invalid']);

/**
 * Step: check the request's DPoP proof, if any. A client configured with `require_dpop` must send
 * one; one configured with `dpop_nonce` must echo a current server nonce (use_dpop_nonce hands it
 * out). The proof's `jti` is then spent in the broker's replay store, so a proof serves one request.
 * After client authentication: the nonce is per client, and nobody unauthenticated writes a record.
 */
export async function proofOfPossession(request: GrantRequest, s: BrokerServices): Promise<void> {
  const { client } = request.client;
  const presented = request.dpop;
  if (!presented) {
    if (client.require_dpop) throw new InvalidRequest('dpop_required', 'this client must send a DPoP proof');
    return;
  }
  const nonces = client.dpop_nonce ? s.dpopNonces : undefined;
  if (client.dpop_nonce && !nonces) throw new Error('DPoP nonces were not prepared at start');
  const result = await validateDpopProof({
    header: presented.proof,
    method: presented.htm,
    url: presented.htu,
    now: request.now,
    ...(nonces ? { nonces: await nonces.accepted(request.now) } : {}),
  });
  if (!result.ok) {
    if (nonces && NONCE_REASONS.has(result.reason)) throw new UseDpopNonce(result.reason, 'a DPoP nonce is required: use the one in the DPoP-Nonce header', await nonces.current(request.now));
    throw new InvalidDpopProof(result.reason, 'the DPoP proof is invalid', result.detail);
  }
  const fresh = await s.store.replay.consume(`dpop:${result.jkt}`, result.jti, dpopReplayUntil(result.iat), request.now);
  if (!fresh) throw new InvalidDpopProof('dpop_replayed', 'the DPoP proof is invalid');
  request.jkt = result.jkt;
}

/**
 * Step for what cannot carry a binding (an ID-JAG reference, its redemption): a proof is refused,
 * never ignored, and a client that must use DPoP gets nothing unbound.
 */
export function refuseDpop(request: GrantRequest): void {
  if (request.dpop) throw new InvalidRequest('dpop_not_supported_for_profile', 'DPoP is not supported for ID-JAG references: they cannot be sender-constrained');
  if (request.client.client.require_dpop) throw new InvalidRequest('dpop_required', 'this client must send a DPoP proof, and ID-JAG references cannot be sender-constrained');
}
