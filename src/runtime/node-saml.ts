import { createSamlConnection } from '../upstream/saml/connection.js';
import type { RegistryDeps } from '../upstream/build-registry.js';

/** The Node runtime's SAML factory for the upstream registry (samlify, node:crypto, xmllint-wasm). */
export const nodeSamlFactory: NonNullable<RegistryDeps['saml']> = async (config, common, deps) => {
  const connection = await createSamlConnection(config, {
    replay: deps.store.replay,
    transactions: deps.store.logins,
    clock: deps.clock,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  return {
    ...common,
    kind: 'saml',
    spMetadata: () => connection.spMetadata(),
    startLogin: (input) => connection.startLogin(input),
    consumeResponse: (body, ctx) => connection.consumeResponse(body, ctx),
  };
};
