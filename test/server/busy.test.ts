/**
 * A full PBKDF2 queue answers 503 temporarily_unavailable (`client_auth_busy`) with a Retry-After
 * header, so well-behaved clients back off instead of retrying at once. The queue is filled for
 * real: verifySecret is held open (wrapping the real one) until the test releases it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_AUTH_MAX_CONCURRENT_HASHES, CLIENT_AUTH_MAX_FAILURES, CLIENT_AUTH_MAX_QUEUED_HASHES, TEMPORARILY_UNAVAILABLE_RETRY_AFTER } from '../../src/constants.js';
import { postToken, startTestBroker, testSettings, TOKEN_EXCHANGE } from '../helpers/broker.js';

const gate = vi.hoisted(() => ({ started: 0, open: undefined as Promise<void> | undefined, release: () => {} }));
vi.mock('../../src/clients/secrets.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/clients/secrets.js')>();
  return {
    ...real,
    verifySecret: async (secret: string, stored: string) => {
      gate.started++;
      await gate.open;
      return real.verifySecret(secret, stored);
    },
  };
});

afterEach(() => gate.release());

/** Distinct sources, each within its own failure budget, and distinct secrets (no shared run). */
const sourceOf = (i: number) => `10.0.${Math.floor(i / CLIENT_AUTH_MAX_FAILURES)}.${(i % CLIENT_AUTH_MAX_FAILURES) + 1}`;

describe('client_auth_busy', () => {
  it('a full hashing queue answers 503 temporarily_unavailable with Retry-After', async () => {
    gate.open = new Promise((resolve) => (gate.release = resolve));
    const b = await startTestBroker({ settings: await testSettings((s) => void (s.client_ip = { header: 'X-Forwarded-For' })) });
    const request = (i: number) => postToken(b, { grant_type: TOKEN_EXCHANGE, client_id: 'wiki-agent', client_secret: `wrong-${i}` }, { 'x-forwarded-for': sourceOf(i) });
    const held = CLIENT_AUTH_MAX_CONCURRENT_HASHES + CLIENT_AUTH_MAX_QUEUED_HASHES;
    const pending = Array.from({ length: held }, (_, i) => request(i));
    // Every one of them running or waiting in the queue.
    const queue = (b.services.clients as unknown as { hashing: { waiting: unknown[] } }).hashing;
    await vi.waitFor(() => expect(gate.started === CLIENT_AUTH_MAX_CONCURRENT_HASHES && queue.waiting.length === CLIENT_AUTH_MAX_QUEUED_HASHES).toBe(true));

    const busy = await request(held);
    expect(busy.status).toBe(503);
    expect(await busy.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(busy.headers.get('retry-after')).toBe(String(TEMPORARILY_UNAVAILABLE_RETRY_AFTER));

    gate.release();
    const statuses = new Set((await Promise.all(pending)).map((r) => r.status));
    expect(statuses).toEqual(new Set([401]));
  });
});
