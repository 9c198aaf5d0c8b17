import { base64url } from 'jose';
import { PBKDF2_ITERATIONS, PBKDF2_MIN_ITERATIONS } from '../constants.js';

/**
 * Client secrets are stored as PBKDF2-SHA256 hashes (`pbkdf2-sha256$iter$salt$hash`) and checked in
 * constant time. WebCrypto only, so the same code runs on Node and workerd.
 */

const encoder = new TextEncoder();

async function derive(secret: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256);
  return new Uint8Array(bits);
}

export async function hashSecret(secret: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(secret, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${base64url.encode(salt)}$${base64url.encode(hash)}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split('$');
  const iterations = Number(iter);
  if (scheme !== 'pbkdf2-sha256' || !Number.isInteger(iterations) || iterations < PBKDF2_MIN_ITERATIONS || !salt || !hash) return false;
  let expected: Uint8Array;
  let saltBytes: Uint8Array<ArrayBuffer>;
  try {
    expected = base64url.decode(hash);
    saltBytes = new Uint8Array(base64url.decode(salt));
  } catch {
    // A damaged stored hash (e.g. a base64url string of impossible length) is a mismatch, not a crash.
    return false;
  }
  const actual = await derive(secret, saltBytes, iterations);
  return constantTimeEqual(actual, expected);
}

/** Compares without an early exit, so timing does not reveal the length of a matching prefix. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i % a.length] ?? 0) ^ (b[i % b.length] ?? 0);
  return diff === 0;
}

/** A random secret suitable for a new client: 256 bits, base64url. */
export function generateSecret(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}
