import { KeyObject, sign, verify, constants, type SignKeyObjectInput, type VerifyKeyObjectInput } from 'node:crypto';
import { base64url, errors, type CompactJWSHeaderParameters, type ProtectedHeaderParameters } from 'jose';
import type { JwsCrypto } from '../minting/jws.js';

/**
 * JWS on Node through node:crypto (docs/benchmark.md: ES256 signing ≈ 35 µs here against ≈ 220 µs
 * through WebCrypto, verification about half). Only the framing is done here (base64url segments,
 * the signing input, the JSON header); the signature primitives are node:crypto's. Verification
 * keeps jose's contract, its checks and its error classes (runtime-independent callers map them).
 */

interface Primitive {
  digest: string | null;
  options: { dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number };
  /** What the key must be: a key of another type or curve never verifies (no algorithm confusion). */
  keyType: string[];
  curve?: string;
}

const PRIMITIVES: Record<string, Primitive> = {
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' }, keyType: ['ec'], curve: 'prime256v1' },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' }, keyType: ['ec'], curve: 'secp384r1' },
  ES512: { digest: 'sha512', options: { dsaEncoding: 'ieee-p1363' }, keyType: ['ec'], curve: 'secp521r1' },
  RS256: { digest: 'sha256', options: {}, keyType: ['rsa'] },
  RS384: { digest: 'sha384', options: {}, keyType: ['rsa'] },
  RS512: { digest: 'sha512', options: {}, keyType: ['rsa'] },
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, keyType: ['rsa', 'rsa-pss'] },
  PS384: { digest: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, keyType: ['rsa', 'rsa-pss'] },
  PS512: { digest: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, keyType: ['rsa', 'rsa-pss'] },
  EdDSA: { digest: null, options: {}, keyType: ['ed25519', 'ed448'] },
};

/** CryptoKey → KeyObject, converted once per key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();
function keyObjectOf(key: CryptoKey): KeyObject {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = KeyObject.from(key)));
  return k;
}

function primitiveFor(alg: string, key: KeyObject): Primitive {
  const p = Object.hasOwn(PRIMITIVES, alg) ? PRIMITIVES[alg]! : undefined;
  if (!p) throw new errors.JOSENotSupported(`unsupported "alg" ${alg}`);
  const type = key.asymmetricKeyType ?? '';
  if (!p.keyType.includes(type) || (p.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== p.curve)) {
    throw new TypeError(`the key is not a ${alg} key`);
  }
  if (type.startsWith('rsa') && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TypeError(`${alg} keys must be 2048 bits or larger`);
  return p;
}

/**
 * node:crypto's callback forms run on libuv's thread pool: the event loop only frames the JWS while
 * the curve arithmetic runs beside it (docs/benchmark.md: the main thread is what saturates).
 */
function signOffThread(digest: string | null, data: Buffer, key: SignKeyObjectInput): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(digest, data, key, (error, signature) => (error ? reject(error) : resolve(signature))));
}
function verifyOffThread(digest: string | null, data: Buffer, key: VerifyKeyObjectInput, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => verify(digest, data, key, signature, (error, ok) => (error ? reject(error) : resolve(ok))));
}

const decoder = new TextDecoder('utf-8', { fatal: true });
// Buffer's base64url is native; jose's portable encoder loops in JavaScript.
const segment = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

function decodeSegment(text: string): Uint8Array {
  // base64url without padding, nothing else (jose refuses the same).
  // A length of 4n+1 cannot be base64 (jose's decoder throws on it; Buffer would drop the char).
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new errors.JWSInvalid('Failed to base64url decode');
  const bytes = Buffer.from(text, 'base64url');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export const nodeJws: JwsCrypto = {
  signer(key, alg, kid) {
    const keyObject = keyObjectOf(key);
    const p = primitiveFor(alg, keyObject);
    return async (payload, typ) => {
      const input = `${segment({ alg, typ, kid })}.${segment(payload)}`;
      const signature = await signOffThread(p.digest, Buffer.from(input), { key: keyObject, ...p.options });
      return `${input}.${signature.toString('base64url')}`;
    };
  },

  async compactVerify(token, getKey, options) {
    if (typeof token !== 'string') throw new errors.JWSInvalid('Compact JWS must be a string');
    const parts = token.split('.');
    if (parts.length !== 3) throw new errors.JWSInvalid('Invalid Compact JWS');
    const [h, p, s] = parts as [string, string, string];
    let header: ProtectedHeaderParameters;
    try {
      header = JSON.parse(decoder.decode(decodeSegment(h))) as ProtectedHeaderParameters;
    } catch {
      throw new errors.JWSInvalid('JWS Protected Header is invalid');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new errors.JWSInvalid('JWS Protected Header is invalid');
    // No critical extension is understood here; so, as in jose, `b64` (meaningful only when listed
    // in `crit`, RFC 7797 §6) never takes effect: the payload segment is always base64url.
    if (header.crit !== undefined) throw new errors.JOSENotSupported('no "crit" Header Parameter is supported');
    const { alg } = header;
    if (typeof alg !== 'string' || alg === '') throw new errors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
    if (!options.algorithms.includes(alg)) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
    const signature = decodeSegment(s);
    const verified = header as CompactJWSHeaderParameters;
    const key = typeof getKey === 'function' ? await getKey(verified, { payload: p, signature: s, protected: h }) : getKey;
    const keyObject = keyObjectOf(key as CryptoKey);
    const prim = primitiveFor(alg, keyObject);
    let ok = false;
    try {
      ok = await verifyOffThread(prim.digest, Buffer.from(`${h}.${p}`), { key: keyObject, ...prim.options }, signature);
    } catch {
      ok = false;
    }
    if (!ok) throw new errors.JWSSignatureVerificationFailed();
    // As in jose, the payload segment is decoded only once the signature over it holds.
    return { payload: decodeSegment(p), protectedHeader: verified };
  },
};

