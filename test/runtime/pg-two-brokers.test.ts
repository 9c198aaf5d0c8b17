/**
 * Two broker instances, one PostgreSQL database (issue 9 part 1): each instance is its own app
 * with its own caches and its own connection pool, as two processes behind a load balancer. What
 * is single-use has exactly one winner whichever instance each attempt reaches, and a remap made
 * through one instance is in force at the other for its next request (the mapping generation).
 */
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../../src/exchange/pulled.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import { createPgStore } from '../../src/store/adapters/pg.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { createDemoIdp } from '../../examples/demo-idp.js';
import { BROKER, exchangeParams, ID_JAG_TYPE, IDP, postToken, SECRET, startTestBroker, TOKEN_EXCHANGE, type TestBroker } from '../helpers/broker.js';
import { freshPgStore, testPool } from '../helpers/pg.js';
import { pulledSettings } from '../exchange/pulled-helpers.js';
import { codeFor, redeem, startProvider, webApp, webAppRequest, type ProviderBroker } from '../provider/harness.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ANALYTICS = 'https://analytics.test';
const ANALYTICS_API = 'https://api.analytics.test/';

let key: { privateKey: CryptoKey; jwk: JWK; kid: string };
beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  key = { privateKey, kid, jwk: { ...pub, kid, alg: 'ES256', use: 'sig' } };
});

/** The test deployment: back-channel clients (pulled profile), a private_key_jwt client, the pairwise analytics destination. */
const settings = () =>
  pulledSettings((s: BrokerConfigInput) => {
    s.clients!.push({
      client_id: 'jwt-agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.jwk] },
      upstream_client_ids: { [IDP]: 'jwt-agent' },
      destinations: { todo: { client_id: 'jwt-at-todo', scopes: ['todos.read'] } },
    } as NonNullable<BrokerConfigInput['clients']>[number]);
    s.destinations!.push({ id: 'analytics', issuer: ANALYTICS, resources: [ANALYTICS_API], namespace: 'analytics-users', scope_translation: { 'stats.read': ['stats.read'] } });
    s.clients!.find((c) => c.client_id === 'wiki-agent')!.destinations!.analytics = { client_id: 'wiki-at-analytics', scopes: ['stats.read'] };
  });

/** Two brokers on one fresh PostgreSQL database, each with its own pool, trusting one upstream IdP, on one clock. */
async function twoBrokers(): Promise<[TestBroker, TestBroker]> {
  const { store, url } = await freshPgStore();
  const idp = await createDemoIdp(IDP);
  const now = Math.floor(Date.now() / 1000);
  const a = await startTestBroker({ settings: await settings(), store, idp, now });
  const b = await startTestBroker({ settings: await settings(), store: createPgStore(testPool(url)), idp, now });
  return [a, b];
}

const bodies = (responses: Response[]) => Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })));

describe('two brokers on one PostgreSQL database', () => {
  let a: TestBroker;
  let b: TestBroker;
  beforeAll(async () => {
    [a, b] = await twoBrokers();
  });

  it('share the signing keys: an ID-JAG minted by one verifies against the JWKS the other publishes', async () => {
    const res = await postToken(a, await exchangeParams(a));
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const jwks = (await (await b.request('/jwks')).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(access_token).kid);
  });

  it('a client-assertion jti presented to both at once is accepted by exactly one', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const payload = { iss: 'jwt-agent', sub: 'jwt-agent', aud: BROKER, iat: a.clock.now, exp: a.clock.now + 60, jti: crypto.randomUUID() };
      const assertion = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
      const send = async (x: TestBroker) => {
        const idToken = await x.idp.idToken({ sub: 'alice' }, 'jwt-agent', { now: x.clock.now });
        return postToken(x, await exchangeParams(x, { subject_token: idToken, client_id: undefined, client_secret: undefined, client_assertion: assertion, client_assertion_type: JWT_BEARER }));
      };
      const outcomes = await bodies(await Promise.all([send(a), send(b)]));
      expect(outcomes.map((o) => o.status).sort()).toEqual([200, 401]);
      expect(outcomes.find((o) => o.status === 401)!.body.error).toBe('invalid_client');
    }
  });

  it('an ID-JAG reference issued by one and redeemed at both at once is redeemed exactly once', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const issued = await postToken(a, await exchangeParams(a, { requested_token_type: ID_JAG_REFERENCE_TOKEN_TYPE }));
      expect(issued.status).toBe(200);
      const ref = ((await issued.json()) as { access_token: string }).access_token;
      const redemption = { grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG_TYPE, subject_token: ref, subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, client_id: 'todo-as', client_secret: SECRET };
      const outcomes = await bodies(await Promise.all([postToken(a, redemption), postToken(b, redemption)]));
      expect(outcomes.map((o) => o.status).sort()).toEqual([200, 400]);
      expect(outcomes.find((o) => o.status === 400)!.body.error).toBe('invalid_grant');
    }
  });

  it('a first subject binding made by both at once is written once: both mints name the same subject', async () => {
    // A new person each trial: the first mint at a pairwise destination binds them.
    for (let trial = 0; trial < 5; trial++) {
      const user = `user-${crypto.randomUUID()}`;
      const mint = async (x: TestBroker) => {
        const idToken = await x.idp.idToken({ sub: user, email: `${user}@example.com` }, 'wiki-agent', { now: x.clock.now });
        return postToken(x, await exchangeParams(x, { subject_token: idToken, audience: ANALYTICS, resource: ANALYTICS_API, scope: 'stats.read' }));
      };
      const outcomes = await bodies(await Promise.all([mint(a), mint(b)]));
      // The bodies in the message: a failure seen once under heavy load (stop 17) left no trace of why.
      expect(outcomes.map((o) => o.status), JSON.stringify(outcomes.map((o) => o.body))).toEqual([200, 200]);
      const subjects = outcomes.map((o) => decodeJwt(o.body.access_token as string).sub);
      expect(subjects[0]).toBe(subjects[1]);
      const principalId = await principalIdOf(IDP, user);
      expect(await a.services.store.mappings.bindingOf('analytics-users', principalId)).toMatchObject({ subject: subjects[0], version: 1 });
    }
  });

  it('a remap made through one instance is in force at the other on its next request', async () => {
    const user = `user-${crypto.randomUUID()}`;
    const mint = async (x: TestBroker) => {
      const idToken = await x.idp.idToken({ sub: user }, 'wiki-agent', { now: x.clock.now });
      const res = await postToken(x, await exchangeParams(x, { subject_token: idToken, audience: ANALYTICS, resource: ANALYTICS_API, scope: 'stats.read' }));
      expect(res.status).toBe(200);
      return decodeJwt(((await res.json()) as { access_token: string }).access_token).sub;
    };
    const first = await mint(b);
    // b now holds the resolution in its cache.
    expect(await mint(b)).toBe(first);
    // The operator remaps through a (as `npm run cli -- remap` does against the shared database).
    await a.services.store.mappings.remap({ namespace: 'analytics-users', principalId: await principalIdOf(IDP, user), subject: `remapped-${user}`, source: 'operator' }, a.clock.now);
    expect(await mint(b)).toBe(`remapped-${user}`);
    expect(await mint(a)).toBe(`remapped-${user}`);
  });
});

describe("two brokers on one PostgreSQL database: the OpenID Provider's codes and refresh tokens", () => {
  let a: ProviderBroker;
  let b: ProviderBroker;
  beforeAll(async () => {
    const { store, url } = await freshPgStore();
    a = await startProvider({ store });
    b = await startProvider({ store: createPgStore(testPool(url)) });
  });

  it('an authorization code redeemed at both at once is redeemed exactly once', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const code = (await codeFor(a.browser(), webAppRequest())).get('code')!;
      const outcomes = await bodies(await Promise.all([redeem(a, code), redeem(b, code)]));
      // The replay is refused; the winner's grant is revoked with it (a replayed code), so at most one succeeds.
      expect(outcomes.filter((o) => o.status === 200).length).toBeLessThanOrEqual(1);
      expect(outcomes.filter((o) => o.body.error === 'invalid_grant').length).toBeGreaterThanOrEqual(1);
      const winner = outcomes.find((o) => o.status === 200);
      if (winner?.body.refresh_token) {
        const after = await b.token({ grant_type: 'refresh_token', refresh_token: winner.body.refresh_token as string, client_id: webApp.client_id, client_secret: SECRET });
        expect(after.status).toBe(400);
      }
    }
  });

  it('a refresh token presented to both at once is rotated exactly once', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const code = (await codeFor(a.browser(), webAppRequest({ scope: 'openid email offline_access' }))).get('code')!;
      const tokens = (await (await redeem(a, code)).json()) as Record<string, string>;
      expect(tokens.refresh_token).toEqual(expect.any(String));
      const refresh = (x: ProviderBroker) => x.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: webApp.client_id, client_secret: SECRET });
      const outcomes = await bodies(await Promise.all([refresh(a), refresh(b)]));
      expect(outcomes.map((o) => o.status).sort()).toEqual([200, 400]);
      // The winner's successor works at either instance.
      const successor = outcomes.find((o) => o.status === 200)!.body.refresh_token as string;
      const next = await (trial % 2 ? a : b).token({ grant_type: 'refresh_token', refresh_token: successor, client_id: webApp.client_id, client_secret: SECRET });
      expect(next.status).toBe(200);
    }
  });
});
