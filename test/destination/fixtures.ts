import {
  SignJWT,
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';

export const BROKER = 'https://broker.example';
export const DESTINATION = 'https://todo.example';
export const CLIENT_ID = 'agent-at-todo';
export const SUBJECT = 'user-42';

/** A fixed instant: every test states time relative to it. */
export const NOW = new Date('2026-03-01T12:00:00Z');
export const NOW_S = Math.floor(NOW.getTime() / 1000);

export interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
  jwks: JSONWebKeySet;
}

export async function signingKey(alg = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { privateKey, publicJwk, kid, jwks: { keys: [{ ...publicJwk, kid, alg, use: 'sig' }] } };
}

/** A complete, valid ID-JAG payload as the broker would mint it at {@link NOW}. */
export function idJagPayload(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: BROKER,
    sub: SUBJECT,
    aud: DESTINATION,
    client_id: CLIENT_ID,
    jti: crypto.randomUUID(),
    iat: NOW_S,
    exp: NOW_S + 300,
    scope: 'todos.read todos.write',
    ...overrides,
  };
}

export const ID_JAG_HEADER = { alg: 'ES256', typ: 'oauth-id-jag+jwt' } as const;

/** Drops the named members, to test what happens when each one is missing. */
export function without<T extends object>(value: T, ...names: string[]): T {
  const copy = { ...value } as Record<string, unknown>;
  for (const name of names) delete copy[name];
  return copy as T;
}

export interface SignOptions {
  payload?: JWTPayload;
  header?: Record<string, unknown>;
  alg?: string;
}

/** Signs an ID-JAG with `key`; the header carries the key's `kid` unless overridden. */
export async function signIdJag(key: SigningKey, options: SignOptions = {}): Promise<string> {
  const alg = options.alg ?? 'ES256';
  return new SignJWT(options.payload ?? idJagPayload())
    .setProtectedHeader({ alg, typ: 'oauth-id-jag+jwt', kid: key.kid, ...options.header })
    .sign(key.privateKey);
}

/** Builds a JWS by hand, for what no honest library will sign (e.g. `alg: none`). */
export function craftJws(header: Record<string, unknown>, payload: unknown, signature = ''): string {
  const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
  return `${encode(header)}.${encode(payload)}.${signature}`;
}
