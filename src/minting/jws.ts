import { CompactSign, compactVerify, type CompactVerifyResult, type JWTVerifyGetKey } from 'jose';

/**
 * The two JWS operations on the mint path, behind one interface so each runtime can use its
 * fastest primitive: jose over WebCrypto everywhere (the default, and the Workers path), node:crypto
 * on Node (runtime/node-jws.ts: ES256 signing is several times cheaper there, and no thread-pool hop).
 * Claims are never checked here: callers check them with their own pure validators.
 */
export interface JwsCrypto {
  /** A signer for one private key: compact JWS of `payload` (JSON) with header {alg, typ, kid}. */
  signer(key: CryptoKey, alg: string, kid: string): (payload: object, typ: string) => Promise<string>;
  /**
   * jose's `compactVerify` contract (same errors for the same failures): header shape, `alg` in
   * `algorithms`, the key from `getKey`, the signature. Returns the payload bytes and the header.
   */
  compactVerify(token: string, getKey: JWTVerifyGetKey | CryptoKey, options: { algorithms: string[] }): Promise<Pick<CompactVerifyResult, 'payload' | 'protectedHeader'>>;
}

const encoder = new TextEncoder();

/** jose over WebCrypto: the portable implementation. */
export const webJws: JwsCrypto = {
  signer: (key, alg, kid) => (payload, typ) => new CompactSign(encoder.encode(JSON.stringify(payload))).setProtectedHeader({ alg, typ, kid }).sign(key),
  compactVerify: async (token, getKey, options) => {
    // Two calls because jose's overloads take a key or a key function, never their union.
    const { payload, protectedHeader } = typeof getKey === 'function' ? await compactVerify(token, getKey, options) : await compactVerify(token, getKey, options);
    return { payload, protectedHeader };
  },
};
