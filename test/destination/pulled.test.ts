/**
 * The destination kit's resource-pulled profile: parse the client's token exchange, redeem the
 * reference at the broker (a real test broker, reached through an injected fetch), validate the
 * ID-JAG with the same verifier as the pushed profile. Every rule broken alone.
 */
import { exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createIdJagVerifier,
  createReferenceRedeemer,
  ID_JAG_REFERENCE_TOKEN_TYPE,
  IdJagRejected,
  InvalidGrant,
  InvalidRequest,
  MAX_REDEMPTION_RESPONSE_BYTES,
  MAX_REFERENCE_BYTES,
  MemoryReplayStore,
  parseReferenceExchangeRequest,
  ServerError,
  TemporarilyUnavailable,
  TOKEN_EXCHANGE_GRANT_TYPE,
  UnsupportedGrantType,
  UnsupportedTokenType,
  type BrokerBackChannel,
  type ReferenceRedeemer,
} from '../../src/destination/index.js';
import { BROKER, exchangeParams, postToken, SECRET, startTestBroker, TODO, type TestBroker } from '../helpers/broker.js';
import { pulledSettings } from '../exchange/pulled-helpers.js';

const fetchFrom = (b: TestBroker): typeof fetch => async (input, init) => b.app.request(String(input instanceof Request ? input.url : input), init);

async function referenceFrom(b: TestBroker): Promise<string> {
  const res = await postToken(b, await exchangeParams(b, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('parseReferenceExchangeRequest', () => {
  const form = (o: Record<string, string> = {}) => new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT_TYPE, subject_token: 'r'.repeat(43), subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, ...o });

  it('reads the reference and an optional scope', () => {
    expect(parseReferenceExchangeRequest(form({ scope: 'todos.read' }))).toEqual({ reference: 'r'.repeat(43), scope: 'todos.read' });
    expect(parseReferenceExchangeRequest(form({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }))).toEqual({ reference: 'r'.repeat(43) });
  });

  it.each([
    ['another grant type', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }, UnsupportedGrantType],
    ['another subject token type', { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, UnsupportedTokenType],
    ['an empty reference', { subject_token: '' }, InvalidRequest],
    ['a reference over the size cap', { subject_token: 'r'.repeat(MAX_REFERENCE_BYTES + 1) }, InvalidRequest],
    ['a requested token type other than an access token', { requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag' }, InvalidRequest],
    ['an actor token', { actor_token: 'x' }, InvalidRequest],
  ])('refuses %s', (_name, o, error) => {
    expect(() => parseReferenceExchangeRequest(form(o as Record<string, string>))).toThrow(error);
  });

  it('refuses a repeated parameter', () => {
    const f = form();
    f.append('subject_token', 'again');
    expect(() => parseReferenceExchangeRequest(f)).toThrow(InvalidRequest);
  });
});

describe('createReferenceRedeemer against the broker', () => {
  let b: TestBroker;
  let jwks: JSONWebKeySet;
  let verifyIdJag: ReturnType<typeof createIdJagVerifier>;
  const backChannel: BrokerBackChannel = { issuer: BROKER, tokenEndpoint: `${BROKER}/token`, clientId: 'todo-as', clientSecret: SECRET, secretMethod: 'client_secret_post' };
  const redeemer = (o: Partial<BrokerBackChannel> = {}, more: { fetch?: typeof fetch; timeoutMs?: number } = {}): ReferenceRedeemer =>
    createReferenceRedeemer({ broker: { ...backChannel, ...o } as BrokerBackChannel, verifyIdJag, fetch: more.fetch ?? fetchFrom(b), ...(more.timeoutMs ? { timeoutMs: more.timeoutMs } : {}) });

  beforeEach(async () => {
    b = await startTestBroker({ settings: await pulledSettings() });
    jwks = (await (await b.request('/jwks')).json()) as JSONWebKeySet;
    verifyIdJag = createIdJagVerifier({ audience: TODO, trustedIssuers: [{ issuer: BROKER, jwks }], replayStore: new MemoryReplayStore() });
  });

  it('redeems with a client secret and returns the claims the shared verifier validated', async () => {
    const claims = await redeemer()(await referenceFrom(b), { clientId: 'wiki-at-todo' });
    expect(claims).toMatchObject({ iss: BROKER, aud: TODO, sub: 'todo-user-1001', client_id: 'wiki-at-todo', scope: 'todos.read' });
  });

  it('redeems with private_key_jwt', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    b = await startTestBroker({
      settings: await pulledSettings((s) => {
        const todoAs = s.clients!.find((c) => c.client_id === 'todo-as')!;
        todoAs.token_endpoint_auth_method = 'private_key_jwt';
        delete todoAs.client_secret_hash;
        todoAs.jwks = { keys: [publicJwk] };
      }),
    });
    jwks = (await (await b.request('/jwks')).json()) as JSONWebKeySet;
    verifyIdJag = createIdJagVerifier({ audience: TODO, trustedIssuers: [{ issuer: BROKER, jwks }], replayStore: new MemoryReplayStore() });
    const redeem = redeemer({ clientSecret: undefined, privateKey: { key: privateKey, alg: 'ES256', kid: 'k1' } } as Partial<BrokerBackChannel>);
    expect(await redeem(await referenceFrom(b), { clientId: 'wiki-at-todo' })).toMatchObject({ sub: 'todo-user-1001' });
  });

  it('finds the token endpoint in the broker metadata when none is configured', async () => {
    const redeem = redeemer({ tokenEndpoint: undefined });
    expect(await redeem(await referenceFrom(b), { clientId: 'wiki-at-todo' })).toMatchObject({ sub: 'todo-user-1001' });
  });

  it('refuses metadata that names another issuer (RFC 8414 §3.3)', async () => {
    const lying: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes('/.well-known/')) return Response.json({ issuer: 'https://evil.test', token_endpoint: `${BROKER}/token` });
      return fetchFrom(b)(input, init);
    };
    await expect(redeemer({ tokenEndpoint: undefined }, { fetch: lying })(await referenceFrom(b), { clientId: 'wiki-at-todo' })).rejects.toMatchObject({ reason: 'broker_issuer_mismatch' });
  });

  it('checks that the ID-JAG client_id is the client presenting the reference', async () => {
    const err = await redeemer()(await referenceFrom(b), { clientId: 'someone-else' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdJagRejected);
    expect((err as IdJagRejected).idJagReason).toBe('client_id_mismatch');
  });

  it('pins the broker’s issuer: an ID-JAG from another issuer than the broker redeemed at is refused', async () => {
    // The destination also trusts another broker; redeeming at "other" must not accept BROKER's ID-JAG.
    const other = 'https://other-broker.test';
    verifyIdJag = createIdJagVerifier({ audience: TODO, trustedIssuers: [{ issuer: BROKER, jwks }, { issuer: other, jwks }], replayStore: new MemoryReplayStore() });
    const err = await redeemer({ issuer: other })(await referenceFrom(b), { clientId: 'wiki-at-todo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdJagRejected);
    expect((err as IdJagRejected).idJagReason).toBe('issuer_untrusted');
  });

  it('a reference the broker refuses (here: already redeemed) is invalid_grant for the client', async () => {
    const ref = await referenceFrom(b);
    await redeemer()(ref, { clientId: 'wiki-at-todo' });
    const err = await redeemer()(ref, { clientId: 'wiki-at-todo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidGrant);
    expect((err as InvalidGrant).reason).toBe('reference_refused_by_broker');
  });

  it('its own credentials refused by the broker is a server error, not the client’s invalid_grant', async () => {
    const err = await redeemer({ clientSecret: 'wrong' })(await referenceFrom(b), { clientId: 'wiki-at-todo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).detail).toContain('invalid_client');
  });

  it('gives up after the timeout: temporarily_unavailable', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    const err = await redeemer({}, { fetch: hanging, timeoutMs: 20 })('r'.repeat(43), { clientId: 'wiki-at-todo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporarilyUnavailable);
  });

  it('an unreachable broker is temporarily_unavailable', async () => {
    const down: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(redeemer({}, { fetch: down })('r'.repeat(43), { clientId: 'wiki-at-todo' })).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });

  it('refuses a response over the size cap, declared or streamed', async () => {
    const big = 'x'.repeat(MAX_REDEMPTION_RESPONSE_BYTES + 1);
    const declared: typeof fetch = async () => new Response(big, { headers: { 'content-type': 'application/json' } });
    await expect(redeemer({}, { fetch: declared })('r'.repeat(43), { clientId: 'wiki-at-todo' })).rejects.toMatchObject({ reason: 'broker_redemption_failed', detail: 'broker response too large' });
    const streamed: typeof fetch = async () =>
      new Response(new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode(big)); c.close(); } }));
    await expect(redeemer({}, { fetch: streamed })('r'.repeat(43), { clientId: 'wiki-at-todo' })).rejects.toMatchObject({ reason: 'broker_redemption_failed', detail: 'broker response too large' });
  });

  it('refuses a 200 that is not an ID-JAG response', async () => {
    const odd: typeof fetch = async () => Response.json({ access_token: 'x', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer' });
    await expect(redeemer({}, { fetch: odd })('r'.repeat(43), { clientId: 'wiki-at-todo' })).rejects.toBeInstanceOf(ServerError);
  });

  it('requires exactly one way to authenticate', () => {
    expect(() => redeemer({ clientSecret: undefined })).toThrow(TypeError);
  });
});
