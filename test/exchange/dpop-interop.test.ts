/**
 * Issue 9 part 3, item 4 (at the broker): an off-the-shelf DPoP client, openid-client v6 (proofs
 * made by oauth4webapi), against the broker's token exchange. Nothing here builds a proof by hand.
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { BROKER, exchangeParams, ID_JAG_TYPE, SECRET, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';

/** openid-client configured for the broker from its own discovery document, over the in-process app. */
async function clientFor(b: TestBroker, seen: Request[] = []) {
  const fetchThroughApp: client.CustomFetch = async (url, init) => {
    const request = new Request(url, init as RequestInit);
    seen.push(request.clone());
    return b.app.request(request);
  };
  return client.discovery(new URL(BROKER), 'wiki-agent', undefined, client.ClientSecretPost(SECRET), { [client.customFetch]: fetchThroughApp });
}

async function exchangeWith(b: TestBroker, config: client.Configuration, dpop?: client.DPoPHandle) {
  const { grant_type: grantType, client_id: _id, client_secret: _secret, ...params } = await exchangeParams(b);
  return client.genericGrantRequest(config, grantType as string, params as Record<string, string>, dpop ? { DPoP: dpop } : undefined);
}

describe('openid-client v6 DPoP against the token exchange', () => {
  it('its proof mints an ID-JAG bound to its key (cnf.jkt), and the broker advertises what it accepts', async () => {
    const b = await startTestBroker({ now: Math.floor(Date.now() / 1000) });
    const seen: Request[] = [];
    const config = await clientFor(b, seen);
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const response = await exchangeWith(b, config, client.getDPoPHandle(config, keyPair));
    expect(response.issued_token_type).toBe(ID_JAG_TYPE);
    expect(response.token_type).toBe('n_a');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');
    expect(decodeJwt(response.access_token).cnf).toEqual({ jkt });
    expect(seen.at(-1)!.headers.get('dpop')).toMatch(/^ey/);
  });

  it('follows the broker’s use_dpop_nonce: the library retries with the DPoP-Nonce it was given', async () => {
    const settings = await testSettings((s) => void (s.clients![0] = { ...s.clients![0]!, dpop_nonce: true }));
    const b = await startTestBroker({ settings, now: Math.floor(Date.now() / 1000) });
    const seen: Request[] = [];
    const config = await clientFor(b, seen);
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const response = await exchangeWith(b, config, client.getDPoPHandle(config, keyPair));
    expect(decodeJwt(response.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256') });
    const tokenCalls = seen.filter((r) => new URL(r.url).pathname === '/token');
    expect(tokenCalls).toHaveLength(2);
    expect(decodeJwt(tokenCalls[0]!.headers.get('dpop')!)).not.toHaveProperty('nonce');
    expect(decodeJwt(tokenCalls[1]!.headers.get('dpop')!).nonce).toEqual(expect.any(String));
  });

  it('a client required to use DPoP is refused by the library call without a handle', async () => {
    const settings = await testSettings((s) => void (s.clients![0] = { ...s.clients![0]!, require_dpop: true }));
    const b = await startTestBroker({ settings, now: Math.floor(Date.now() / 1000) });
    const config = await clientFor(b);
    await expect(exchangeWith(b, config)).rejects.toMatchObject({ error: 'invalid_request' });
  });

  it.each(['PS256', 'EdDSA'] as const)('works with %s keys too', async (alg) => {
    const b = await startTestBroker({ now: Math.floor(Date.now() / 1000) });
    const config = await clientFor(b);
    const keyPair = await client.randomDPoPKeyPair(alg);
    const response = await exchangeWith(b, config, client.getDPoPHandle(config, keyPair));
    expect(decodeJwt(response.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256') });
  });
});
