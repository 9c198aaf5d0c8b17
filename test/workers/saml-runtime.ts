import { env } from 'cloudflare:workers';
import { inThreadVerifier, type SamlVerifierFactory } from '../../src/upstream/saml/verifier.js';
import type { KeyPair } from '../upstream/saml/helpers.js';

/**
 * The workerd suite's stand-in for test/upstream/saml/runtime.ts: responses are verified in the
 * isolate, as the Worker does, and key pairs are the ones vitest.workers.config.ts made on Node
 * (binding SAML_TEST_KEYS) with the same generator, by common name and key type.
 */
export const RUNTIME = 'workerd' as const;

export const runtimeVerifier = (): SamlVerifierFactory => inThreadVerifier;

export async function makeKeyPair(cn: string, options: { keyType?: 'rsa' | 'ec' } = {}): Promise<KeyPair> {
  const name = `${cn}|${options.keyType ?? 'rsa'}`;
  const pair = env.SAML_TEST_KEYS[name];
  if (!pair) throw new Error(`no pre-made key pair "${name}": add it to SAML_TEST_KEY_NAMES in vitest.workers.config.ts`);
  return pair;
}
