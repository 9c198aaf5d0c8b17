import { createSamlConnection } from '../upstream/saml/connection.js';
import type { RegistryDeps } from '../upstream/build-registry.js';
import { SamlVerifierPool } from './node-saml-pool.js';

type SamlFactory = NonNullable<RegistryDeps['saml']>;

/**
 * The Node runtime's SAML factory for the upstream registry (samlify, node:crypto), with the ACS's
 * stateless checks on a pool of worker threads (node-saml-pool.ts) shared by every connection.
 */
export function createNodeSamlFactory(pool: () => SamlVerifierPool): SamlFactory {
  return async (config, common, deps) => {
    const connection = await createSamlConnection(config, {
      replay: deps.store.replay,
      transactions: deps.store.logins,
      clock: deps.clock,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      verifier: pool().factory,
    });
    return {
      ...common,
      kind: 'saml',
      spMetadata: () => connection.spMetadata(),
      startLogin: (input) => connection.startLogin(input),
      consumeResponse: (body, ctx) => connection.consumeResponse(body, ctx),
      metadata: connection.metadata,
      ...(connection.logout ? { logout: connection.logout } : {}),
    };
  };
}

let shared: SamlVerifierPool | undefined;

/** The process's pool, started on first use; its idle threads do not keep the process alive. */
export function sharedSamlVerifierPool(): SamlVerifierPool {
  return (shared ??= new SamlVerifierPool());
}

export const nodeSamlFactory: SamlFactory = createNodeSamlFactory(sharedSamlVerifierPool);
