import crypto from 'node:crypto';
import { env } from 'cloudflare:workers';
import * as samlify from 'samlify';
import { inThreadVerifier, type SamlVerifierFactory } from '../../src/upstream/saml/verifier.js';
import type { KeyPair } from '../upstream/saml/helpers.js';

/**
 * The workerd suite's stand-in for test/upstream/saml/saml-test-runtime.ts: responses are verified
 * in the isolate, as the Worker does, and key pairs are the ones vitest.workers.config.ts made on
 * Node (binding SAML_TEST_KEYS) with the same generator, by common name and key type.
 */
export const runtimeVerifier = (): SamlVerifierFactory => inThreadVerifier;

export async function makeKeyPair(cn: string, options: { keyType?: 'rsa' | 'ec' } = {}): Promise<KeyPair> {
  const name = `${cn}|${options.keyType ?? 'rsa'}`;
  const pair = env.SAML_TEST_KEYS[name];
  if (!pair) throw new Error(`no pre-made key pair "${name}": add it to SAML_TEST_KEY_NAMES in vitest.workers.config.ts`);
  return pair;
}

type EncryptKey = Parameters<typeof crypto.publicEncrypt>[0];
const workerdPublicEncrypt = crypto.publicEncrypt;
const leavesOaepHashOut = (key: EncryptKey): boolean => {
  const options = key as { padding?: number; oaepHash?: string };
  return typeof key === 'object' && options.padding === crypto.constants.RSA_PKCS1_OAEP_PADDING && options.oaepHash === undefined;
};
const withNodeDefault = ((key: EncryptKey, buffer: NodeJS.ArrayBufferView) =>
  workerdPublicEncrypt(leavesOaepHashOut(key) ? ({ ...(key as object), oaepHash: 'sha1' } as EncryptKey) : key, buffer)) as typeof crypto.publicEncrypt;

/**
 * The test IdP (samlify, run inside workerd here; a real IdP runs elsewhere) encrypting. workerd's
 * `publicEncrypt` defaults OAEP to SHA-256 where Node defaults to SHA-1, and samlify's encryption
 * library relies on the default while declaring `rsa-oaep-mgf1p` (SHA-1): for the IdP's encryption
 * only, and restored after it, `publicEncrypt` gets Node's default. The Worker under test never
 * runs with it (the broker names the OAEP hash: src/upstream/saml/decrypt.ts).
 */
export async function asTestIdp<T>(encrypt: () => Promise<T>): Promise<T> {
  crypto.publicEncrypt = withNodeDefault;
  try {
    return await encrypt();
  } finally {
    crypto.publicEncrypt = workerdPublicEncrypt;
  }
}

/**
 * The test IdP parsing the broker's AuthnRequests (connection.test.ts): samlify parses only with a
 * schema validator registered, and libxml2's (Node's, src/runtime/node-saml-schema.ts) cannot be
 * compiled inside workerd, so the IdP parses without schema validation: what those tests check is
 * the signature, which samlify still verifies. Called by the test that parses; every file starts
 * with a validator that refuses, as a Worker has none (test/workers/setup.ts), and
 * test/workers/saml.test.ts registers one that throws, so the Worker is shown never to parse
 * through samlify.
 */
export function testIdpParses(): void {
  samlify.setSchemaValidator({ validate: async () => 'not validated: the workerd test IdP' });
}
