import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/** A DPoP key pair for tests: the private key signs, the public JWK goes in the proof header. */
export interface DpopTestKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
  alg: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopTestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey), alg };
}

export interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string | null;
  nonce?: string;
  ath?: string;
  typ?: string | null;
  alg?: string;
  /** The JWK put in the header (default: the key's public JWK); null leaves it out. */
  jwk?: JWK | null;
  /** Extra header parameters. */
  header?: Record<string, unknown>;
  /** Claims to drop from the payload. */
  omit?: string[];
}

/** A DPoP proof signed by `key`, every part overridable so that a test can break exactly one rule. */
export async function proof(key: DpopTestKey, o: ProofOptions & { now: number }): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: o.jti === undefined ? crypto.randomUUID() : o.jti,
    htm: o.htm ?? 'POST',
    htu: o.htu ?? 'https://broker.test/token',
    iat: o.iat ?? o.now,
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    ...(o.ath !== undefined ? { ath: o.ath } : {}),
  };
  if (o.jti === null) delete payload.jti;
  for (const name of o.omit ?? []) delete payload[name];
  const header: Record<string, unknown> = { alg: o.alg ?? key.alg, ...(o.typ === null ? {} : { typ: o.typ ?? 'dpop+jwt' }), ...(o.jwk === null ? {} : { jwk: o.jwk ?? key.publicJwk }), ...o.header };
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** An unsigned-looking compact JWS with the given header and payload (for `alg: none` and HS256 shapes). */
export function forged(header: Record<string, unknown>, payload: Record<string, unknown>, signature = 'c2ln'): string {
  const enc = (v: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(v)));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}
