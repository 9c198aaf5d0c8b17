import type { BrokerDeps } from '../app.js';
import type { BrokerConfig } from '../config/schema.js';

/**
 * SAML on Workers: the same connection and `saml2` subject-token code as on Node (XML parsed by
 * @xmldom/xmldom, signatures checked by xml-crypto, keys and ciphers by workerd's node:crypto under
 * `nodejs_compat`), with every response verified in the request's isolate: a Worker has no threads.
 * Loaded only when a SAML connection is configured, so a Worker without one does not pay for it.
 */
export async function workerSamlDeps(config: BrokerConfig, env: object): Promise<Pick<BrokerDeps, 'saml' | 'samlSubjectTokens'>> {
  if (!config.settings.connections.some((c) => c.type === 'saml')) return {};
  const [{ createSamlFactory }, { inThreadVerifier }, { createSamlSubjectTokenVerifier }] = await Promise.all([
    import('../upstream/saml/factory.js'),
    import('../upstream/saml/verifier.js'),
    import('../upstream/saml/subject-token.js'),
  ]);
  // `private_key_env` names a secret (`wrangler secret put`) or variable of this Worker.
  const secret = (name: string) => {
    const value = Object.hasOwn(env, name) ? (env as Record<string, unknown>)[name] : undefined;
    return typeof value === 'string' ? value : undefined;
  };
  return { saml: createSamlFactory(() => inThreadVerifier, secret), samlSubjectTokens: createSamlSubjectTokenVerifier };
}
