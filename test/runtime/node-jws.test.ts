/**
 * Issue 8: the Node runtime signs and verifies JWS through node:crypto (src/runtime/node-jws.ts).
 * It must be indistinguishable from jose over WebCrypto (src/minting/jws.ts webJws): what one
 * signs the other verifies, and every refusal is the same error class from both.
 */
import { base64url, CompactSign, compactVerify, errors, exportJWK, generateKeyPair, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { webJws, type JwsCrypto } from '../../src/minting/jws.js';
import { nodeJws } from '../../src/runtime/node-jws.js';

const enc = new TextEncoder();
const ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'PS256', 'EdDSA'] as const;
const keyPairs = new Map<string, Awaited<ReturnType<typeof generateKeyPair>>>();
async function keys(alg: string) {
  if (!keyPairs.has(alg)) keyPairs.set(alg, await generateKeyPair(alg, { extractable: true }));
  return keyPairs.get(alg)!;
}
const joseSigned = async (alg: string, header: Record<string, unknown> = {}, payload: object = { sub: 'alice' }) =>
  new CompactSign(enc.encode(JSON.stringify(payload))).setProtectedHeader({ alg, ...header }).sign((await keys(alg)).privateKey);

async function failure(jws: JwsCrypto, token: string, key: CryptoKey, algorithms: string[]): Promise<string> {
  try {
    await jws.compactVerify(token, key, { algorithms });
  } catch (err) {
    return (err as Error).constructor.name === 'TypeError' ? 'TypeError' : (err as { code?: string }).code ?? (err as Error).name;
  }
  return 'verified';
}

describe('node:crypto JWS', () => {
  it.each(['ES256', 'RS256'])('%s: what Node signs, jose verifies (header alg, typ, kid)', async (alg) => {
    const { privateKey, publicKey } = await keys(alg);
    const token = await nodeJws.signer(privateKey, alg, 'k1')({ sub: 'alice', n: 1 }, 'oauth-id-jag+jwt');
    const { payload, protectedHeader } = await compactVerify(token, publicKey);
    expect(protectedHeader).toEqual({ alg, typ: 'oauth-id-jag+jwt', kid: 'k1' });
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ sub: 'alice', n: 1 });
    // And the same bytes as the WebCrypto signer apart from the signature.
    const web = await webJws.signer(privateKey, alg, 'k1')({ sub: 'alice', n: 1 }, 'oauth-id-jag+jwt');
    expect(token.split('.').slice(0, 2)).toEqual(web.split('.').slice(0, 2));
  });

  it.each(ALGS)('%s: what jose signs, Node verifies, to the same payload', async (alg) => {
    const token = await joseSigned(alg, { kid: 'x' });
    const node = await nodeJws.compactVerify(token, (await keys(alg)).publicKey, { algorithms: [alg] });
    const web = await webJws.compactVerify(token, (await keys(alg)).publicKey, { algorithms: [alg] });
    expect(node.protectedHeader).toEqual(web.protectedHeader);
    expect(node.payload).toEqual(web.payload);
  });

  it('resolves the key through a key-set function, as jose does', async () => {
    const token = await joseSigned('ES256', { kid: 'x' });
    const { publicKey } = await keys('ES256');
    const seen: unknown[] = [];
    await nodeJws.compactVerify(token, async (header) => (seen.push(header.kid), publicKey), { algorithms: ['ES256'] });
    expect(seen).toEqual(['x']);
  });

  describe('refuses exactly what jose refuses, with the same error', () => {
    const cases: Array<[string, () => Promise<[string, CryptoKey, string[]]>]> = [
      ['an alg outside the allowed list', async () => [await joseSigned('ES256'), (await keys('ES256')).publicKey, ['RS256']]],
      ['a tampered payload', async () => {
        const [h, , s] = (await joseSigned('ES256')).split('.');
        return [`${h}.${base64url.encode(enc.encode('{"sub":"mallory"}'))}.${s}`, (await keys('ES256')).publicKey, ['ES256']];
      }],
      ['a signature by another key', async () => [await joseSigned('ES256'), (await generateKeyPair('ES256')).publicKey, ['ES256']]],
      ['a crit header', async () => {
        const token = await new CompactSign(enc.encode('{}')).setProtectedHeader({ alg: 'ES256', crit: ['exp'], exp: 1 } as never).sign((await keys('ES256')).privateKey).catch(() => undefined);
        const h = base64url.encode(enc.encode(JSON.stringify({ alg: 'ES256', crit: ['x'], x: 1 })));
        return [token ?? `${h}.e30.AAAA`, (await keys('ES256')).publicKey, ['ES256']];
      }],
      ['two segments', async () => ['a.b', (await keys('ES256')).publicKey, ['ES256']]],
      ['a header that is not JSON', async () => [`${base64url.encode(enc.encode('not json'))}.e30.AAAA`, (await keys('ES256')).publicKey, ['ES256']]],
      ['alg none', async () => [`${base64url.encode(enc.encode('{"alg":"none"}'))}.e30.`, (await keys('ES256')).publicKey, ['ES256']]],
      // 'e30AA' and the header + 'A' are 4n+1 characters long: no base64 string has that length.
      ['a payload segment of 4n+1 characters (not base64)', async () => [`${base64url.encode(enc.encode('{"alg":"ES256"}'))}.e30AA.AAAA`, (await keys('ES256')).publicKey, ['ES256']]],
      ['a header segment of 4n+1 characters', async () => [`${base64url.encode(enc.encode('{"alg":"ES256"}'))}A.e30.AAAA`, (await keys('ES256')).publicKey, ['ES256']]],
      ['b64 false without crit (ignored, as RFC 7797 says; the signature then fails)', async () => [`${base64url.encode(enc.encode('{"alg":"ES256","b64":false}'))}.e30.AAAA`, (await keys('ES256')).publicKey, ['ES256']]],
    ];
    it.each(cases)('%s', async (_, make) => {
      const [token, key, algorithms] = await make();
      const node = await failure(nodeJws, token, key, algorithms);
      expect(node).not.toBe('verified');
      expect(node).toBe(await failure(webJws, token, key, algorithms));
    });
  });

  it('a key of another type or curve never verifies (no algorithm confusion)', async () => {
    const token = await joseSigned('ES256');
    expect(await failure(nodeJws, token, (await keys('ES384')).publicKey, ['ES256'])).not.toBe('verified');
    expect(await failure(nodeJws, token, (await keys('RS256')).publicKey, ['ES256'])).not.toBe('verified');
    // An RSA token checked against an EC key, with both algorithms allowed.
    expect(await failure(nodeJws, await joseSigned('RS256'), (await keys('ES256')).publicKey, ['RS256', 'ES256'])).not.toBe('verified');
  });

  it('keys imported from JWKs (as the key ring and JWKS fetches produce them) work', async () => {
    const { privateKey, publicKey } = await keys('ES256');
    const priv = (await importJWK(await exportJWK(privateKey), 'ES256')) as CryptoKey;
    const pub = (await importJWK(await exportJWK(publicKey), 'ES256')) as CryptoKey;
    const token = await nodeJws.signer(priv, 'ES256', 'k')({ a: 1 }, 'JWT');
    await expect(nodeJws.compactVerify(token, pub, { algorithms: ['ES256'] })).resolves.toBeTruthy();
  });
});

void errors;
