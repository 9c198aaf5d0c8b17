import type { BrokerSettings, NamespaceConfig, DestinationConfig } from '../config/schema.js';
import type { ClientAuthenticator } from '../clients/authenticate.js';
import type { IdTokenVerifier } from '../upstream/id-token.js';
import type { SubjectResolver } from '../mapping/resolve.js';
import type { KeyRing } from '../minting/keys.js';
import type { DpopNonces } from '../dpop/nonce.js';
import type { GrantRequest } from './grant.js';
import type { PolicyEngine } from '../policy/types.js';
import type { BrokerStore, SubjectBinding } from '../store/ports.js';
import type { Logger } from '../logger.js';
import type { UpstreamTrust } from '../trust/registry.js';
import type { RefusalSummaries } from '../audit/summary.js';

/**
 * How the token endpoint hashes the tokens it stores and looks up (ID-JAG references, refresh
 * tokens, deferral codes, authorization codes): the same SHA-256 base64url as provider/crypto.ts
 * sha256Base64url, from whatever the runtime does fastest. WebCrypto's digest is an asynchronous thread-pool job; Node's is a
 * synchronous call (runtime/node-crypto.ts), about a tenth of the event loop's time per hash.
 */
export type TokenDigest = (value: string) => string | Promise<string>;

/** Everything a grant needs, built once by createBroker. */
export interface BrokerServices {
  settings: BrokerSettings;
  namespaces: ReadonlyMap<string, NamespaceConfig>;
  /** Audience value (issuer or alias) → destination. */
  destinations: ReadonlyMap<string, DestinationConfig>;
  store: BrokerStore;
  keys: KeyRing;
  clients: ClientAuthenticator;
  idTokens: IdTokenVerifier;
  subjects: SubjectResolver;
  /** What each upstream is believed about. */
  trust: UpstreamTrust;
  policy: PolicyEngine;
  logger: Logger;
  /** SHA-256 base64url of a stored token (TokenDigest above). */
  tokenDigest: TokenDigest;
  /** Counts refusals of requests whose client never authenticated (audit/summary.ts). */
  refusals: RefusalSummaries;
  /** DPoP server nonces, when a client is configured with `dpop_nonce` (prepared at start: exchange/dpop.ts). */
  dpopNonces?: DpopNonces;
  /** Writes a mint's binding (if new) and its audit record, atomically. */
  commitMint(request: GrantRequest, binding?: SubjectBinding): Promise<void>;
}
