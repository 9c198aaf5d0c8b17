import { base64url } from 'jose';
import { constantTimeEqual } from '../clients/secrets.js';
import { RANDOM_BYTES } from './limits.js';

const encoder = new TextEncoder();

/** 256 random bits, base64url (43 characters). */
export function randomToken(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(RANDOM_BYTES)));
}

/** True for a value randomToken() could have produced: anything else is refused unhashed. */
export function isRandomToken(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value);
}

async function sha256(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value)));
}

/** SHA-256, base64url: how codes, refresh tokens and session ids are stored. */
export async function sha256Base64url(value: string): Promise<string> {
  return base64url.encode(await sha256(value));
}

/** SHA-256, lower-case hex: the `browserBinding` handed to upstream connections. */
export async function sha256Hex(value: string): Promise<string> {
  return Array.from(await sha256(value), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export function s256(verifier: string): Promise<string> {
  return sha256Base64url(verifier);
}

/** OIDC Core §3.1.3.6 at_hash: the left half of SHA-256 of the access token, base64url. */
export async function atHash(accessToken: string): Promise<string> {
  return base64url.encode((await sha256(accessToken)).slice(0, 16));
}

/** HMAC-SHA256(key, message), base64url. */
export async function hmac(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', encoder.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return base64url.encode(new Uint8Array(await crypto.subtle.sign('HMAC', k, encoder.encode(message))));
}

export function sameString(a: string, b: string): boolean {
  return constantTimeEqual(encoder.encode(a), encoder.encode(b));
}
