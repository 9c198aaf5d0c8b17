import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidGrant } from '../../src/oauth/errors.js';
import {
  IdJagRejected,
  MAX_ASSERTION_BYTES,
  MemoryReplayStore,
  createIdJagVerifier,
  type IdJagRejectionReason,
  type IdJagVerifierOptions,
  type ReplayStore,
} from '../../src/destination/index.js';
import {
  BROKER,
  CLIENT_ID,
  DESTINATION,
  NOW,
  NOW_S,
  craftJws,
  idJagPayload,
  signIdJag,
  signingKey,
  without,
  type SigningKey,
} from './fixtures.js';

let broker: SigningKey;
let stranger: SigningKey;

beforeAll(async () => {
  [broker, stranger] = await Promise.all([signingKey(), signingKey()]);
});

function verifier(overrides: Partial<IdJagVerifierOptions> = {}) {
  return createIdJagVerifier({
    audience: DESTINATION,
    trustedIssuers: [{ issuer: BROKER, jwks: broker.jwks }],
    replayStore: new MemoryReplayStore({ now: () => NOW }),
    now: () => NOW,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<IdJagRejected> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(IdJagRejected);
  return error as IdJagRejected;
}

async function expectRejected(promise: Promise<unknown>, reason: IdJagRejectionReason) {
  expect((await rejection(promise)).idJagReason).toBe(reason);
}

describe('createIdJagVerifier', () => {
  it('verifies a broker-signed ID-JAG and returns its claims', async () => {
    const token = await signIdJag(broker, { payload: idJagPayload({ jti: 'jti-ok', tenant: 'acme' }) });
    await expect(verifier()(token, { clientId: CLIENT_ID })).resolves.toMatchObject({
      iss: BROKER,
      aud: DESTINATION,
      client_id: CLIENT_ID,
      jti: 'jti-ok',
      tenant: 'acme',
    });
  });

  it('surfaces every failure as invalid_grant with a generic description and the precise reason kept internal', async () => {
    const token = await signIdJag(broker, { payload: idJagPayload({ client_id: 'someone-else' }) });
    const error = await rejection(verifier()(token, { clientId: CLIENT_ID }));
    expect(error).toBeInstanceOf(InvalidGrant);
    expect(error.code).toBe('invalid_grant');
    expect(error.status).toBe(400);
    expect(error.idJagReason).toBe('client_id_mismatch');
    expect(error.reason).toBe('client_id_mismatch');
    expect(error.detail).toContain('client_id_mismatch');
    expect(error.description).not.toMatch(/client_id|mismatch/);
  });

  it('refuses a token signed by another key under the trusted kid', async () => {
    const forged = await signIdJag(stranger, { header: { kid: broker.kid } });
    await expectRejected(verifier()(forged, { clientId: CLIENT_ID }), 'signature_invalid');
  });

  it('refuses a token whose kid the broker never published', async () => {
    const forged = await signIdJag(stranger);
    await expectRejected(verifier()(forged, { clientId: CLIENT_ID }), 'key_unknown');
  });

  it('refuses an alg none token crafted by hand', async () => {
    const token = craftJws({ alg: 'none', typ: 'oauth-id-jag+jwt' }, idJagPayload());
    await expectRejected(verifier({ algorithms: ['none', 'ES256'] })(token, { clientId: CLIENT_ID }), 'alg_not_allowed');
  });

  it('refuses an HS256 token even when HS256 is configured and the key set holds the secret', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const octJwks = { keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: 'mac' }] };
    const token = await new SignJWT(idJagPayload())
      .setProtectedHeader({ alg: 'HS256', typ: 'oauth-id-jag+jwt', kid: 'mac' })
      .sign(secret);
    const verify = verifier({ algorithms: ['HS256', 'ES256'], trustedIssuers: [{ issuer: BROKER, jwks: octJwks }] });
    await expectRejected(verify(token, { clientId: CLIENT_ID }), 'alg_not_allowed');
  });

  it('refuses an algorithm outside the allow-list before looking for a key', async () => {
    const token = await signIdJag(broker);
    await expectRejected(verifier({ algorithms: ['EdDSA'] })(token, { clientId: CLIENT_ID }), 'alg_not_allowed');
  });

  it('refuses an issuer it does not trust, even with a valid signature by that issuer', async () => {
    const token = await signIdJag(stranger, { payload: idJagPayload({ iss: 'https://evil.example' }) });
    await expectRejected(verifier()(token, { clientId: CLIENT_ID }), 'issuer_untrusted');
  });

  it('does not let one trusted broker sign for another', async () => {
    const token = await signIdJag(stranger, { payload: idJagPayload({ iss: BROKER }) });
    const verify = verifier({
      trustedIssuers: [
        { issuer: BROKER, jwks: broker.jwks },
        { issuer: 'https://broker-eu.example', jwks: stranger.jwks },
      ],
    });
    await expectRejected(verify(token, { clientId: CLIENT_ID }), 'key_unknown');
  });

  it('refuses a token without iss before any key is consulted', async () => {
    const token = await signIdJag(broker, { payload: without(idJagPayload(), 'iss') });
    await expectRejected(verifier()(token, { clientId: CLIENT_ID }), 'claim_missing');
  });

  it('refuses the wrong typ after the signature checks out', async () => {
    const token = await signIdJag(broker, { header: { typ: 'JWT' } });
    await expectRejected(verifier()(token, { clientId: CLIENT_ID }), 'typ_invalid');
  });

  it('applies the time rules with the injected clock', async () => {
    const token = await signIdJag(broker);
    const later = new Date(NOW.getTime() + 3_600_000);
    await expectRejected(verifier({ now: () => later })(token, { clientId: CLIENT_ID }), 'expired');
  });

  it.each([
    ['garbage', 'not a jwt'],
    ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30'],
    ['a non-object payload', craftJws({ alg: 'ES256', typ: 'oauth-id-jag+jwt' }, [1, 2], 'c2ln')],
  ])('refuses %s as malformed', async (_, token) => {
    await expectRejected(verifier()(token, { clientId: CLIENT_ID }), 'malformed');
  });

  it('refuses an assertion over the size cap without parsing it', async () => {
    await expectRejected(verifier()('a'.repeat(MAX_ASSERTION_BYTES + 1), { clientId: CLIENT_ID }), 'too_large');
  });

  it('tries each key when a kid-less header matches several', async () => {
    const [older, newer] = await Promise.all([signingKey(), signingKey()]);
    const jwks: JSONWebKeySet = { keys: [older.publicJwk, newer.publicJwk] };
    const token = await signIdJag(newer, { header: { kid: undefined } });
    const verify = verifier({ trustedIssuers: [{ issuer: BROKER, jwks }] });
    await expect(verify(token, { clientId: CLIENT_ID })).resolves.toMatchObject({ iss: BROKER });

    const forged = await signIdJag(stranger, { header: { kid: undefined } });
    await expectRejected(verify(forged, { clientId: CLIENT_ID }), 'signature_invalid');
  });

  it('refuses a broker listed twice', () => {
    expect(() =>
      verifier({
        trustedIssuers: [
          { issuer: BROKER, jwks: broker.jwks },
          { issuer: BROKER, jwks: stranger.jwks },
        ],
      }),
    ).toThrow(TypeError);
  });

  it('refuses a key-bound (cnf) ID-JAG presented without a DPoP proof as invalid_grant without consuming its jti', async () => {
    const verify = verifier();
    const payload = idJagPayload({ jti: 'bound', cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } });
    const error = await rejection(verify(await signIdJag(broker, { payload }), { clientId: CLIENT_ID }));
    expect(error).toBeInstanceOf(InvalidGrant);
    expect(error.idJagReason).toBe('dpop_proof_missing');
    expect(error.reason).toBe('dpop_missing');
    const unbound = await signIdJag(broker, { payload: without(payload, 'cnf') });
    await expect(verify(unbound, { clientId: CLIENT_ID })).resolves.toMatchObject({ jti: 'bound' });
  });

  it('returns authorization_details for the caller to process', async () => {
    const authorization_details = [{ type: 'todo_list', actions: ['read'] }];
    const token = await signIdJag(broker, { payload: idJagPayload({ authorization_details }) });
    await expect(verifier()(token, { clientId: CLIENT_ID })).resolves.toMatchObject({ authorization_details });
  });

  describe('replay', () => {
    it('refuses a second redemption of the same jti', async () => {
      const verify = verifier();
      const token = await signIdJag(broker);
      await verify(token, { clientId: CLIENT_ID });
      await expectRejected(verify(token, { clientId: CLIENT_ID }), 'replayed');
    });

    it('refuses a re-signed token that reuses a redeemed jti', async () => {
      const verify = verifier();
      await verify(await signIdJag(broker, { payload: idJagPayload({ jti: 'same' }) }), { clientId: CLIENT_ID });
      const again = await signIdJag(broker, { payload: idJagPayload({ jti: 'same', iat: NOW_S - 1, exp: NOW_S + 299 }) });
      await expectRejected(verify(again, { clientId: CLIENT_ID }), 'replayed');
    });

    it('lets a destination opt out of single use with a store that accepts every jti (draft -03 §4.4.3)', async () => {
      const acceptAll: ReplayStore = { consume: async () => true };
      const verify = verifier({ replayStore: acceptAll });
      const token = await signIdJag(broker);
      await verify(token, { clientId: CLIENT_ID });
      await expect(verify(token, { clientId: CLIENT_ID })).resolves.toMatchObject({ client_id: CLIENT_ID });
    });

    it('does not consume the jti of a token it refused', async () => {
      const verify = verifier();
      const payload = idJagPayload({ jti: 'kept' });
      await expectRejected(verify(await signIdJag(broker, { payload }), { clientId: 'someone-else' }), 'client_id_mismatch');
      await expect(verify(await signIdJag(broker, { payload }), { clientId: CLIENT_ID })).resolves.toBeDefined();
    });

    it('remembers the jti until exp plus the clock tolerance', async () => {
      const consumed: number[] = [];
      const replayStore: ReplayStore = {
        consume: async (_jti, _issuer, expiresAt) => (consumed.push(expiresAt), true),
      };
      await verifier({ replayStore, clockTolerance: 30 })(await signIdJag(broker), { clientId: CLIENT_ID });
      expect(consumed).toEqual([NOW_S + 300 + 30]);
    });

    it('lets a failing replay store fail the request as a server error, not as invalid_grant', async () => {
      const replayStore: ReplayStore = {
        consume: async () => {
          throw new Error('store down');
        },
      };
      const error = await verifier({ replayStore })(await signIdJag(broker), { clientId: CLIENT_ID }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(InvalidGrant);
    });
  });

  describe('remote JWKS', () => {
    let server: Server;
    let base: string;
    let status = 200;

    beforeAll(async () => {
      server = createServer((_, response) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(broker.jwks));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('fetches the broker keys from its jwks_uri', async () => {
      status = 200;
      const verify = verifier({ trustedIssuers: [{ issuer: BROKER, jwks: new URL(`${base}/jwks`) }] });
      await expect(verify(await signIdJag(broker), { clientId: CLIENT_ID })).resolves.toMatchObject({ iss: BROKER });
    });

    it('reports an unreachable key set as jwks_unavailable', async () => {
      status = 503;
      const verify = verifier({ trustedIssuers: [{ issuer: BROKER, jwks: new URL(`${base}/jwks`) }] });
      await expectRejected(verify(await signIdJag(broker), { clientId: CLIENT_ID }), 'jwks_unavailable');
    });
  });
});
