import crypto from 'node:crypto';
import { env } from 'cloudflare:workers';
import * as samlify from 'samlify';
import { inThreadVerifier, type SamlVerifierFactory } from '../../src/upstream/saml/verifier.js';
import type { KeyPair } from '../upstream/saml/helpers.js';

/**
 * The workerd suite's stand-in for test/upstream/saml/runtime.ts: responses are verified in the
 * isolate, as the Worker does, and key pairs are the ones vitest.workers.config.ts made on Node
 * (binding SAML_TEST_KEYS) with the same generator, by common name and key type.
 *
 * Two things only the test IdP (samlify, run inside workerd here; a real IdP runs elsewhere) needs:
 * - workerd's `publicEncrypt` defaults OAEP to SHA-256 where Node defaults to SHA-1, and samlify's
 *   encryption library relies on the default while declaring `rsa-oaep-mgf1p` (SHA-1): without
 *   Node's default back, the test IdP would encrypt what it does not declare. (The broker always
 *   names the OAEP hash: src/upstream/saml/decrypt.ts.)
 * - samlify parses the broker's AuthnRequests only with a schema validator registered; libxml2's
 *   (Node's, src/runtime/node-saml-schema.ts) cannot be compiled inside workerd, so the test IdP
 *   parses without one: what those tests check is the signature, which samlify still verifies.
 */
export const RUNTIME = 'workerd' as const;

export const runtimeVerifier = (): SamlVerifierFactory => inThreadVerifier;

export async function makeKeyPair(cn: string, options: { keyType?: 'rsa' | 'ec' } = {}): Promise<KeyPair> {
  const name = `${cn}|${options.keyType ?? 'rsa'}`;
  const pair = env.SAML_TEST_KEYS[name];
  if (!pair) throw new Error(`no pre-made key pair "${name}": add it to SAML_TEST_KEY_NAMES in vitest.workers.config.ts`);
  return pair;
}

const workerdPublicEncrypt = crypto.publicEncrypt;
type EncryptKey = Parameters<typeof crypto.publicEncrypt>[0];
const defaultsToSha256 = (key: EncryptKey): boolean => {
  const options = key as { padding?: number; oaepHash?: string };
  return typeof key === 'object' && options.padding === crypto.constants.RSA_PKCS1_OAEP_PADDING && options.oaepHash === undefined;
};
crypto.publicEncrypt = ((key: EncryptKey, buffer: NodeJS.ArrayBufferView) =>
  workerdPublicEncrypt(defaultsToSha256(key) ? ({ ...(key as object), oaepHash: 'sha1' } as EncryptKey) : key, buffer)) as typeof crypto.publicEncrypt;

samlify.setSchemaValidator({ validate: async () => 'not validated: the workerd test IdP' });
