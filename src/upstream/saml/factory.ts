import type { RegistryDeps } from '../build-registry.js';
import { createSamlConnection } from './connection.js';
import type { SecretSource } from '../../config/saml-connection.js';
import type { SamlVerifierFactory } from './verifier.js';

export type SamlFactory = NonNullable<RegistryDeps['saml']>;

/**
 * The upstream registry's SAML factory, for any runtime: a runtime only chooses where the ACS's
 * stateless checks run (`verifier`, asked once per connection): a pool of worker threads on Node
 * (runtime/node-saml-pool.ts), the request's own isolate on Workers (verifier.ts inThreadVerifier).
 * Every check is the same code on both. `secret` reads what `private_key_env` names.
 */
export function createSamlFactory(verifier: () => SamlVerifierFactory, secret?: SecretSource): SamlFactory {
  return async (config, common, deps) => {
    const connection = await createSamlConnection(config, {
      replay: deps.store.replay,
      transactions: deps.store.logins,
      clock: deps.clock,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      verifier: verifier(),
      ...(secret ? { secret } : {}),
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
