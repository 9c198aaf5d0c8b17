import { describe, expect, it } from 'vitest';
import { nodeSecretMac, nodeTokenDigest } from '../../src/runtime/node-crypto.js';
import { randomToken, sha256Base64url } from '../../src/provider/crypto.js';

describe('node:crypto helpers match the portable ones', () => {
  it('nodeTokenDigest is the WebCrypto SHA-256 base64url, so either runtime finds what the other stored', async () => {
    const values = ['', 'a', randomToken(), 'é€😀 and spaces', 'x'.repeat(10_000)];
    for (const value of values) expect(nodeTokenDigest(value)).toBe(await sha256Base64url(value));
  });

  it('nodeSecretMac is keyed per authenticator: the same secret gives the same MAC under one key, another under the next', async () => {
    const a = nodeSecretMac();
    const b = nodeSecretMac();
    expect(Buffer.from(await a.mac('s3cret'))).toEqual(Buffer.from(await a.mac('s3cret')));
    expect(Buffer.from(await a.mac('s3cret'))).not.toEqual(Buffer.from(await b.mac('s3cret')));
    expect(Buffer.from(await a.mac('s3cret'))).not.toEqual(Buffer.from(await a.mac('s3cres')));
  });
});
