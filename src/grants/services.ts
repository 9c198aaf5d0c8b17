import type { BrokerSettings, NamespaceConfig, DestinationConfig } from '../config/schema.js';
import type { ClientAuthenticator } from '../clients/authenticate.js';
import type { IdTokenVerifier } from '../upstream/id-token.js';
import type { SubjectResolver } from '../mapping/resolve.js';
import type { KeyRing } from '../minting/keys.js';
import type { GrantRequest } from './grant.js';
import type { PolicyEngine } from '../policy/types.js';
import type { BrokerStore, SubjectBinding } from '../store/ports.js';
import type { Logger } from '../logger.js';
import type { UpstreamTrust } from '../trust/registry.js';
import type { RefusalSummaries } from '../audit/summary.js';

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
  /** Counts refusals of requests whose client never authenticated (audit/summary.ts). */
  refusals: RefusalSummaries;
  /** Writes a mint's binding (if new) and its audit record, atomically. */
  commitMint(request: GrantRequest, binding?: SubjectBinding): Promise<void>;
}
