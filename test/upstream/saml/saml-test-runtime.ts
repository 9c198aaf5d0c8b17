import { sharedSamlVerifierPool } from '../../../src/runtime/node-saml.js';
import type { SamlVerifierFactory } from '../../../src/upstream/saml/verifier.js';

/**
 * What the SAML test helpers take from the runtime they run on. This is Node's: the harness
 * verifies on the runtime's pool of worker threads, as the broker does, and key pairs are made
 * on the spot. The workerd suite (vitest.workers.config.ts) swaps this module for
 * test/workers/saml-test-runtime.ts, so the same SAML test files run on both runtimes.
 */
export const runtimeVerifier = (): SamlVerifierFactory => sharedSamlVerifierPool().factory;

export { makeKeyPair } from './key-pairs.js';

/** The test IdP (samlify) encrypting: on Node, node:crypto's defaults are what samlify expects. */
export function asTestIdp<T>(encrypt: () => Promise<T>): Promise<T> {
  return encrypt();
}

/** The test IdP (samlify) parsing what the broker sent: on Node, with the validator the Node runtime registers (libxml2). */
export function testIdpParses(): void {}
