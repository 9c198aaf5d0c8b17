import { createSamlFactory, type SamlFactory } from '../upstream/saml/factory.js';
import { registerSamlifyValidator } from './node-saml-schema.js';
import { nodeSecret } from './node-secrets.js';
import { SamlVerifierPool } from './node-saml-pool.js';

/**
 * The Node runtime's SAML factory for the upstream registry, with the ACS's stateless checks on a
 * pool of worker threads (node-saml-pool.ts) shared by every connection.
 */
export function createNodeSamlFactory(pool: () => SamlVerifierPool): SamlFactory {
  // samlify validates only in its parsing flows, which the broker does not use; should one ever
  // run, it gets libxml2's schema validation here (on Workers, samlify has no validator: it refuses).
  registerSamlifyValidator();
  return createSamlFactory(() => pool().factory, nodeSecret);
}

let shared: SamlVerifierPool | undefined;

/** The process's pool, started on first use; its idle threads do not keep the process alive. */
export function sharedSamlVerifierPool(): SamlVerifierPool {
  return (shared ??= new SamlVerifierPool());
}

export const nodeSamlFactory: SamlFactory = createNodeSamlFactory(sharedSamlVerifierPool);
