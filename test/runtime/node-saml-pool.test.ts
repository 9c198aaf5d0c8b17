import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SamlVerifierPool } from '../../src/runtime/node-saml-pool.js';
import { BROWSER, defaultSpec, expectRefusal, harness, idpResponse, startLogin, testKeys, type Harness } from '../upstream/saml/helpers.js';
import { FAULTS } from './fixtures/faulty-saml-thread.js';

/**
 * The Node runtime's pool of SAML verification threads, through a real SAML connection: at most
 * `size` verifications at once (the rest wait), and a thread that throws, ends or hangs refuses
 * that one login cleanly (a SamlLoginError, nothing consumed) and the next login works.
 */

const FAULTY_ENTRY = new URL('./fixtures/faulty-saml-thread.ts', import.meta.url);
const pools: SamlVerifierPool[] = [];
const newPool = (options: ConstructorParameters<typeof SamlVerifierPool>[0]) => {
  const pool = new SamlVerifierPool(options);
  pools.push(pool);
  return pool;
};
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});
beforeAll(async () => {
  await testKeys();
});

/** A started login and the IdP's good answer to it. */
async function goodLogin(h: Harness) {
  const started = await startLogin(h);
  const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }));
  return () => h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
}

describe('SAML verifier pool', () => {
  it('runs at most `size` verifications at once; the rest wait in order and all complete', async () => {
    // Not a timing test: a generous per-verification limit keeps a loaded machine (a fresh thread's
    // first verification also loads the SAML libraries under the tsx loader) from replacing a thread.
    const pool = newPool({ size: 2, timeoutMs: 60_000 });
    const h = await harness({}, undefined, pool.factory);
    const first = await Promise.all(Array.from({ length: 6 }, () => goodLogin(h)));
    const results = await Promise.all(first.map((login) => login()));
    expect(results.map((r) => r.identity.subject)).toEqual(Array(6).fill('a1b2c3d4-persistent-alice'));
    // How many ran at once in this first batch depends on when each thread finished starting
    // (one ready thread may take every job): only the second batch, with both ready, shows it.
    expect(pool.stats()).toMatchObject({ size: 2, threads: 2, busy: 0, queued: 0, replaced: 0 });

    // Once both threads are ready, five posts at once put two at work and three in the queue.
    await vi.waitFor(() => expect(pool.stats().starting).toBe(0), { timeout: 30_000 });
    const second = await Promise.all(Array.from({ length: 5 }, () => goodLogin(h)));
    const pending = second.map((login) => login());
    expect(pool.stats()).toMatchObject({ threads: 2, busy: 2, queued: 3 });
    expect((await Promise.all(pending)).length).toBe(5);
    expect(pool.stats()).toMatchObject({ threads: 2, busy: 0, queued: 0, peakBusy: 2 });
  });

  it.each([
    ['throws', FAULTS.throws, 0],
    ['ends mid-verification', FAULTS.crashes, 1],
    ['hangs past its time', FAULTS.hangs, 1],
  ])('a thread that %s refuses that login (verifier_failed, nothing consumed) and the next login works', async (_what, post, replaced) => {
    const pool = newPool({ size: 1, entry: FAULTY_ENTRY, timeoutMs: 1_000 });
    const h = await harness({}, undefined, pool.factory);
    const started = await startLogin(h);

    const error = await expectRefusal(h.conn.consumeResponse({ SAMLResponse: post, RelayState: started.transactionId }, { browserBinding: BROWSER }), 'verifier_failed');
    expect(error.transactionConsumed).toBe(false);
    expect(error.message).not.toMatch(/bug|crash|at /);
    expect(h.transactions.has(started.transactionId)).toBe(true);
    expect(h.replay.size).toBe(0);
    expect(pool.stats().replaced).toBe(replaced);

    // The login the faulty post named is still waiting; its good response is accepted.
    const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }));
    const finished = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
    expect(finished.identity.subject).toBe('a1b2c3d4-persistent-alice');
    expect(pool.stats()).toMatchObject({ threads: 1, busy: 0, queued: 0 });
  });

  it('refuses what is posted after close(), without a thread', async () => {
    const pool = newPool({ size: 1 });
    const h = await harness({}, undefined, pool.factory);
    const login = await goodLogin(h);
    await pool.close();
    await expectRefusal(login(), 'verifier_failed');
    expect(pool.stats().threads).toBe(0);
  });
});
