import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_AUTH_FAILURE_WINDOW,
  CLIENT_AUTH_MAX_FAILURES,
  CLIENT_SECRET_CACHE_IDLE_TTL,
  JWKS_CACHE_TTL_MS,
  JWKS_REFETCH_COOLDOWN_MS,
  KEY_RELOAD_INTERVAL,
  MAPPING_CACHE_TTL_MS,
  NEXT_KEY_MIN_AGE,
} from '../../src/constants.js';
import { createIdJagVerifier, MemoryReplayStore } from '../../src/destination/index.js';
import { KeyRing } from '../../src/minting/keys.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { env } from 'cloudflare:workers';
import keys from './fixtures/keys.json';
import { OIDC_DISCOVERY_TTL } from '../../src/upstream/oidc/limits.js';
import { call, CRM, errorOf, exchangeParams, IDP, postToken, testFiles, testWorker, TODO } from './helpers.js';

/**
 * Issue 11: on workerd a timer that outlives a request never fires, so every time-based rule must
 * take its time from the clock the Worker is built with. Each test builds a Worker on a clock it
 * moves, and shows an entry still served just before its time and gone (or a window reopened) at it.
 */

function movingClock() {
  const clock = { now: Math.floor(Date.now() / 1000) };
  return { clock, tick: (seconds: number) => (clock.now += seconds) };
}

/** An ID token from the test IdP issued at the test clock's time (`key`: another signing key). */
async function idTokenAt(t: number, sub: string, audience: string, claims: Record<string, unknown> = {}, key: JWK & { kid: string } = keys.idp) {
  const payload = { iss: IDP, sub, aud: audience, iat: t, exp: t + 600, auth_time: t, amr: ['pwd'], email: `${sub}@example.com`, email_verified: true, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' }).sign(await importJWK(key, 'ES256'));
}

const fromSource = { 'cf-connecting-ip': '203.0.113.7' };

describe('time-based rules on workerd follow the injected clock', () => {
  it(`client-secret failure window: a source over its budget is refused until ${CLIENT_AUTH_FAILURE_WINDOW} s have passed, then admitted`, async () => {
    const { clock, tick } = movingClock();
    const worker = testWorker({ clock: () => clock.now });
    for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES; i++) {
      expect(await errorOf(await postToken(worker, await exchangeParams({ client_secret: 'wrong' }), fromSource))).toBe('invalid_client');
    }
    // The budget is spent: even the right secret is not hashed for this source.
    expect(await errorOf(await postToken(worker, await exchangeParams(), fromSource))).toBe('invalid_client');
    tick(CLIENT_AUTH_FAILURE_WINDOW - 1);
    expect(await errorOf(await postToken(worker, await exchangeParams(), fromSource))).toBe('invalid_client');
    tick(1);
    expect((await postToken(worker, await exchangeParams(), fromSource)).status).toBe(200);
  });

  it(`verified-secret memory: idle for ${CLIENT_SECRET_CACHE_IDLE_TTL} s, a secret must be hashed again`, async () => {
    const { clock, tick } = movingClock();
    const worker = testWorker({ clock: () => clock.now });
    const spendBudget = async () => {
      for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES; i++) await postToken(worker, await exchangeParams({ client_secret: 'wrong' }), fromSource);
    };
    expect((await postToken(worker, await exchangeParams(), fromSource)).status).toBe(200);
    // Remembered: accepted without hashing even when the source may not hash any more.
    tick(CLIENT_SECRET_CACHE_IDLE_TTL - 50);
    await spendBudget();
    expect((await postToken(worker, await exchangeParams(), fromSource)).status).toBe(200);
    // Idle past the TTL (the last use slid it forward): forgotten, so it needs a hash the budget refuses.
    tick(CLIENT_SECRET_CACHE_IDLE_TTL + 1);
    await spendBudget();
    expect(await errorOf(await postToken(worker, await exchangeParams(), fromSource))).toBe('invalid_client');
  });

  it(`resolved subjects: a mapping changed in D1 behind the broker's back is served once ${MAPPING_CACHE_TTL_MS / 1000} s have passed`, async () => {
    const { clock, tick } = movingClock();
    const worker = testWorker({ clock: () => clock.now });
    const subjectNow = async () => {
      const res = await postToken(worker, await exchangeParams({ subject_token: await idTokenAt(clock.now, 'alice', 'wiki-agent') }));
      expect(res.status).toBe(200);
      return decodeJwt(((await res.json()) as { access_token: string }).access_token).sub;
    };
    expect(await subjectNow()).toBe('todo-user-1001');
    await env.DB.prepare("UPDATE mapping_table SET subject = 'todo-user-7777' WHERE namespace = 'todo-users' AND upstream_subject = 'alice'").run();
    tick(MAPPING_CACHE_TTL_MS / 1000 - 1);
    expect(await subjectNow()).toBe('todo-user-1001');
    // lru-cache keeps an entry while its age is ≤ its TTL: gone the second after.
    tick(2);
    expect(await subjectNow()).toBe('todo-user-7777');
    await env.DB.prepare("UPDATE mapping_table SET subject = 'todo-user-1001' WHERE namespace = 'todo-users' AND upstream_subject = 'alice'").run();
  });

  it('verified subject tokens: a token remembered as verified is refused once it expires by the clock', async () => {
    const { clock, tick } = movingClock();
    const worker = testWorker({ clock: () => clock.now });
    const token = await idTokenAt(clock.now, 'alice', 'wiki-agent');
    // Twice: a token is remembered from its second verification on (upstream/id-token.ts).
    for (let i = 0; i < 2; i++) expect((await postToken(worker, await exchangeParams({ subject_token: token }))).status).toBe(200);
    tick(600 + 60 + 1); // exp + the allowed clock skew
    const late = await postToken(worker, await exchangeParams({ subject_token: token }));
    expect(late.status).toBe(400);
    expect(await errorOf(late)).toBe('invalid_grant');
  });

  it('upstream JWKS: an unknown kid refetches only after the cooldown; a key set older than its max age is refetched', async () => {
    const { clock, tick } = movingClock();
    const first = keys.idp as JWK & { kid: string };
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const second = { ...(await exportJWK(privateKey)), kid: 'rolled-over', alg: 'ES256' } as JWK & { kid: string };
    const publicOf = (k: JWK & { kid: string }) => ({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, alg: 'ES256' });
    const secondPublic = { ...(await exportJWK(publicKey)), kid: 'rolled-over', alg: 'ES256' };
    let served: object[] = [publicOf(first)];
    let fetches = 0;
    const fetchStub = (async (url: string | URL | Request) => {
      expect(String(url)).toBe('https://idp.test/jwks');
      fetches++;
      return new Response(JSON.stringify({ keys: served }), { headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const brokerText = testFiles.broker.text.replace(/ {4}jwks:\n {6}keys:\n {8}- \{[^\n]*\}\n/, '    jwks_uri: https://idp.test/jwks\n');
    expect(brokerText).toContain('jwks_uri: https://idp.test/jwks');
    const worker = testWorker({ clock: () => clock.now, fetch: fetchStub, files: { ...testFiles, broker: { ...testFiles.broker, text: brokerText } } });
    const exchangeSignedBy = async (key: JWK & { kid: string }) =>
      postToken(worker, await exchangeParams({ subject_token: await idTokenAt(clock.now, 'alice', 'wiki-agent', {}, key) }));

    expect((await exchangeSignedBy(first)).status).toBe(200);
    expect(fetches).toBe(1);

    // The IdP rolls over: inside the cooldown the new kid costs no fetch and is refused…
    served = [publicOf(first), secondPublic];
    tick(JWKS_REFETCH_COOLDOWN_MS / 1000 - 1);
    expect(await errorOf(await exchangeSignedBy(second))).toBe('invalid_grant');
    expect(fetches).toBe(1);
    // …once it is over, the unknown kid refetches and verifies.
    tick(1);
    expect((await exchangeSignedBy(second)).status).toBe(200);
    expect(fetches).toBe(2);

    // The old key is withdrawn: served from memory until the set is older than its max age.
    served = [secondPublic];
    tick(JWKS_CACHE_TTL_MS / 1000 - 1);
    expect((await exchangeSignedBy(first)).status).toBe(200);
    expect(fetches).toBe(2);
    tick(1);
    expect(await errorOf(await exchangeSignedBy(first))).toBe('invalid_grant');
    expect(fetches).toBe(3);
  });

  it('Cedar decisions of policies that read the time are not remembered past it', async () => {
    const { clock, tick } = movingClock();
    const until = clock.now + 100;
    const policy = `@id("crm-until")\nforbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "contacts.read" && context.now >= ${until} };\n`;
    const worker = testWorker({ clock: () => clock.now, files: { ...testFiles, policies: [...testFiles.policies, { path: 'test/workers/expiry.cedar', text: policy }] } });
    const crm = async () => postToken(worker, await exchangeParams({ subject_token: await idTokenAt(clock.now, 'alice', 'wiki-agent'), audience: CRM, resource: undefined, scope: 'contacts.read' }));
    expect((await crm()).status).toBe(200);
    tick(99);
    expect((await crm()).status).toBe(200);
    tick(1);
    expect(await errorOf(await crm())).toBe('access_denied');
  });

  it(`signing keys: a rotation made by another instance is used after ${KEY_RELOAD_INTERVAL} s`, async () => {
    const { clock, tick } = movingClock();
    const worker = testWorker({ clock: () => clock.now });
    const kidOfMint = async () => {
      const res = await postToken(worker, await exchangeParams({ subject_token: await idTokenAt(clock.now, 'alice', 'wiki-agent'), audience: TODO }));
      expect(res.status).toBe(200);
      return decodeProtectedHeader(((await res.json()) as { access_token: string }).access_token).kid;
    };
    const before = await kidOfMint();
    // Another instance (the CLI, another isolate) rotates in D1 once the next key is old enough.
    const other = new KeyRing(createD1Store(env.DB).keys, 'ES256');
    await other.init(clock.now + NEXT_KEY_MIN_AGE);
    const { activated } = await other.rotate(clock.now + NEXT_KEY_MIN_AGE);
    expect(activated).not.toBe(before);
    tick(KEY_RELOAD_INTERVAL - 1);
    expect(await kidOfMint()).toBe(before);
    tick(1);
    expect(await kidOfMint()).toBe(activated);
  });

  it("the destination kit's replay memory forgets a jti once its ID-JAG has expired by the kit's clock", async () => {
    let now = new Date('2026-12-06T12:00:00Z');
    const store = new MemoryReplayStore({ now: () => now });
    const exp = now.getTime() / 1000 + 300;
    expect(await store.consume('j1', 'https://broker.test', exp)).toBe(true);
    expect(await store.consume('j1', 'https://broker.test', exp)).toBe(false);
    now = new Date((exp - 1) * 1000);
    expect(await store.consume('j2', 'https://broker.test', exp + 600)).toBe(true);
    expect(store.size).toBe(2);
    now = new Date(exp * 1000 + 1000);
    expect(await store.consume('j3', 'https://broker.test', exp + 600)).toBe(true);
    expect(store.size).toBe(2); // j1 swept; j2 and j3 remain
  });

  it("the destination kit's broker JWKS: an unknown kid refetches only after the cooldown, by the kit's clock", async () => {
    let now = new Date();
    const sign = async (kid: string, key: CryptoKey) =>
      new SignJWT({ iss: 'https://broker.test', sub: 's', aud: 'https://todo.test', client_id: 'wiki-at-todo', jti: crypto.randomUUID(), scope: 'todos.read' })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'oauth-id-jag+jwt' })
        .setIssuedAt(Math.floor(now.getTime() / 1000))
        .setExpirationTime(Math.floor(now.getTime() / 1000) + 300)
        .sign(key);
    const a = await generateKeyPair('ES256', { extractable: true });
    const b = await generateKeyPair('ES256', { extractable: true });
    const jwkA = { ...(await exportJWK(a.publicKey)), kid: 'a', alg: 'ES256' };
    const jwkB = { ...(await exportJWK(b.publicKey)), kid: 'b', alg: 'ES256' };
    let served = [jwkA];
    let fetches = 0;
    const verify = createIdJagVerifier({
      trustedIssuers: [{ issuer: 'https://broker.test', jwks: new URL('https://broker.test/jwks') }],
      audience: 'https://todo.test',
      replayStore: new MemoryReplayStore({ now: () => now }),
      now: () => now,
      fetch: (async () => {
        fetches++;
        return new Response(JSON.stringify({ keys: served }));
      }) as typeof fetch,
    });
    await verify(await sign('a', a.privateKey), { clientId: 'wiki-at-todo' });
    served = [jwkA, jwkB];
    now = new Date(now.getTime() + JWKS_REFETCH_COOLDOWN_MS - 1000);
    await expect(verify(await sign('b', b.privateKey), { clientId: 'wiki-at-todo' })).rejects.toThrow();
    expect(fetches).toBe(1);
    now = new Date(now.getTime() + 1000);
    await verify(await sign('b', b.privateKey), { clientId: 'wiki-at-todo' });
    expect(fetches).toBe(2);
  });
});

describe('upstream OIDC discovery on workerd', () => {
  it('is refetched once its TTL has passed by the Worker clock', async () => {
    const { clock, tick } = movingClock();
    const OP = 'https://login.corp.test';
    const fetched: string[] = [];
    const fetchStub = (async (input: string | URL | Request) => {
      const url = String(input instanceof Request ? input.url : input);
      fetched.push(url);
      expect(url).toBe(`${OP}/.well-known/openid-configuration`);
      return Response.json({
        issuer: OP,
        authorization_endpoint: `${OP}/authorize`,
        token_endpoint: `${OP}/token`,
        jwks_uri: `${OP}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
      });
    }) as typeof fetch;
    const brokerText =
      testFiles.broker.text.replace(
        '  - client_id: wiki-agent\n',
        '  - client_id: wiki-agent\n    oidc:\n      redirect_uris: [https://app.test/cb]\n      subject_namespace: todo-users\n',
      ) +
      `\nconnections:\n  - id: corp\n    type: oidc\n    issuer: ${OP}\n    client_id: xaa-broker\n    client_secret: upstream-secret\n    client_auth: client_secret_basic\n    redirect_uri: https://broker.test/login/oidc/corp/callback\n    authority: { tenant: corp }\n`;
    const worker = testWorker({ clock: () => clock.now, fetch: fetchStub, files: { ...testFiles, broker: { ...testFiles.broker, text: brokerText } } });
    const authorize = async () => {
      const query = new URLSearchParams({ response_type: 'code', client_id: 'wiki-agent', redirect_uri: 'https://app.test/cb', scope: 'openid', state: 's', nonce: 'n' });
      const res = await call(worker, `/authorize?${query}`);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(new RegExp(`^${OP}/authorize\\?`));
    };
    await authorize();
    expect(fetched).toHaveLength(1);
    tick(OIDC_DISCOVERY_TTL - 1);
    await authorize();
    expect(fetched).toHaveLength(1);
    tick(1);
    await authorize();
    expect(fetched).toHaveLength(2);
  });
});
