/**
 * Client lockout (issue 6 §3): wrong secrets from some sources must never refuse a correct secret
 * from another, the PBKDF2 work stays bounded per source and overall, concurrent verifications of
 * one secret share one PBKDF2 run, and a secret in steady use never drops out of the cache.
 * PBKDF2 runs are counted by wrapping the real verifySecret.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientAuthenticator } from '../../src/clients/authenticate.js';
import * as secrets from '../../src/clients/secrets.js';
import type { ClientConfig } from '../../src/config/schema.js';
import { CLIENT_AUTH_MAX_CONCURRENT_HASHES, CLIENT_AUTH_MAX_FAILURES, CLIENT_SECRET_CACHE_IDLE_TTL } from '../../src/constants.js';
import { FormParams } from '../../src/http/form.js';

const hashRuns = vi.hoisted(() => ({ count: 0, inFlight: 0, maxInFlight: 0 }));
vi.mock('../../src/clients/secrets.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/clients/secrets.js')>();
  return {
    ...real,
    verifySecret: async (secret: string, stored: string) => {
      hashRuns.count++;
      hashRuns.inFlight++;
      hashRuns.maxInFlight = Math.max(hashRuns.maxInFlight, hashRuns.inFlight);
      try {
        return await real.verifySecret(secret, stored);
      } finally {
        hashRuns.inFlight--;
      }
    },
  };
});

const GOOD = 'the-right-secret';
let stored: string;

async function coldAuthenticator() {
  stored ??= await secrets.hashSecret(GOOD, 10_000);
  const client = { client_id: 'c', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: stored, upstream_client_ids: {}, destinations: {} } as ClientConfig;
  return new ClientAuthenticator({ clients: new Map([['c', client]]), assertionAudiences: [], replay: { consume: async () => true } });
}

const attempt = (auth: ClientAuthenticator, secret: string, source: string, now = 1_000) =>
  auth.authenticate(undefined, FormParams.from(new URLSearchParams({ client_id: 'c', client_secret: secret }).toString()), now, source).then(
    () => 'ok',
    (err: { reason: string }) => err.reason,
  );

beforeEach(() => {
  hashRuns.count = 0;
  hashRuns.maxInFlight = 0;
});
afterEach(() => vi.restoreAllMocks());

describe('client secret verification budget', () => {
  it('authenticates a correct secret on a cold cache after others sent many wrong ones', async () => {
    const auth = await coldAuthenticator();
    for (const attacker of ['203.0.113.7', '198.51.100.9', '2001:db8:bad::1']) {
      for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES + 5; i++) expect(await attempt(auth, `guess-${i}`, attacker)).not.toBe('ok');
    }
    expect(await attempt(auth, GOOD, '192.0.2.10')).toBe('ok');
  });

  it('bounds the PBKDF2 runs one source can cause, and refuses the rest without hashing', async () => {
    const auth = await coldAuthenticator();
    const results: string[] = [];
    for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES * 3; i++) results.push(await attempt(auth, `guess-${i}`, '203.0.113.7'));
    expect(hashRuns.count).toBe(CLIENT_AUTH_MAX_FAILURES);
    expect(results.slice(0, CLIENT_AUTH_MAX_FAILURES).every((r) => r === 'client_secret_mismatch')).toBe(true);
    expect(results.slice(CLIENT_AUTH_MAX_FAILURES).every((r) => r === 'client_auth_throttled')).toBe(true);
  });

  it('counts the addresses of one IPv6 /64 as one source', async () => {
    const auth = await coldAuthenticator();
    for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES; i++) await attempt(auth, `guess-${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
    expect(await attempt(auth, 'guess-x', '2001:db8:1:2:ffff::1')).toBe('client_auth_throttled');
    expect(await attempt(auth, GOOD, '2001:db8:1:3::1')).toBe('ok');
  });

  it('a source past its budget still gets in with the secret already verified in this process', async () => {
    const auth = await coldAuthenticator();
    expect(await attempt(auth, GOOD, '192.0.2.10')).toBe('ok');
    for (let i = 0; i < CLIENT_AUTH_MAX_FAILURES + 1; i++) await attempt(auth, `guess-${i}`, '192.0.2.10');
    expect(await attempt(auth, 'guess-y', '192.0.2.10')).toBe('client_auth_throttled');
    expect(await attempt(auth, GOOD, '192.0.2.10')).toBe('ok');
  });

  it('runs one PBKDF2 for many concurrent requests with the same secret on a cold cache', async () => {
    const auth = await coldAuthenticator();
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => attempt(auth, GOOD, `192.0.2.${i + 1}`)));
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(hashRuns.count).toBe(1);
  });

  it('runs one PBKDF2 for many concurrent requests after the cached secret went idle and expired', async () => {
    const auth = await coldAuthenticator();
    expect(await attempt(auth, GOOD, '192.0.2.1', 1_000)).toBe('ok');
    const later = 1_000 + CLIENT_SECRET_CACHE_IDLE_TTL + 1;
    const results = await Promise.all(Array.from({ length: 25 }, () => attempt(auth, GOOD, '192.0.2.1', later)));
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(hashRuns.count).toBe(2);
  });

  it('keeps a secret in steady use cached: one PBKDF2 in an hour of requests a minute apart', async () => {
    // The old cache read the wall clock through performance.now(); drive it with the request clock.
    let nowMs = 5_000_000;
    vi.spyOn(performance, 'now').mockImplementation(() => nowMs);
    const auth = await coldAuthenticator();
    for (let minute = 0; minute <= 60; minute++) {
      expect(await attempt(auth, GOOD, '192.0.2.1', 1_000 + minute * 60)).toBe('ok');
      nowMs += 60_000;
      // lru-cache re-reads its clock only after a timer turn.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(hashRuns.count).toBe(1);
  });

  it('never runs more than the allowed number of PBKDF2 at once, and queues the rest instead of refusing', async () => {
    const auth = await coldAuthenticator();
    const n = CLIENT_AUTH_MAX_CONCURRENT_HASHES * 4;
    const wrong = Array.from({ length: n }, (_, i) => attempt(auth, `guess-${i}`, `198.51.100.${i + 1}`));
    const right = attempt(auth, GOOD, '192.0.2.10');
    expect(await Promise.all(wrong)).toEqual(Array(n).fill('client_secret_mismatch'));
    expect(await right).toBe('ok');
    expect(hashRuns.count).toBe(n + 1);
    expect(hashRuns.maxInFlight).toBeLessThanOrEqual(CLIENT_AUTH_MAX_CONCURRENT_HASHES);
  });
});
