import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { SecretMac } from '../clients/authenticate.js';
import type { TokenDigest } from '../grants/services.js';

/**
 * The client authenticator's keyed MAC on Node: node:crypto HMAC-SHA-256, synchronous (no
 * WebCrypto thread-pool hop on every authenticated request), under 256 random bits made per
 * authenticator and never exported.
 */
export function nodeSecretMac(): SecretMac {
  const key = randomBytes(32);
  return { mac: (secret) => new Uint8Array(createHmac('sha256', key).update(secret, 'utf8').digest()) };
}

/** SHA-256 base64url of a stored token, synchronously (grants/services.ts TokenDigest). */
export const nodeTokenDigest: TokenDigest = (value) => createHash('sha256').update(value, 'utf8').digest('base64url');
