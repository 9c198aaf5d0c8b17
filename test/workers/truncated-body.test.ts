import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, rows, testWorker, workerEnv } from './helpers.js';

/**
 * Issue 11 §4 on workerd: a body that ends early (the stream errors mid-body, as when a client
 * drops the connection) is a 400 and a request refusal, never a 500 or `internal_error`.
 */
function truncatedBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('client_id=wiki-agent&grant_type=authorization_co'));
      controller.error(new TypeError('terminated'));
    },
  });
}

describe('a truncated request body inside workerd', () => {
  for (const path of ['/token', '/authorize', '/authorize/consent', '/userinfo', '/logout']) {
    it(`${path}: 400 and a body_incomplete refusal`, async () => {
      const clock = { now: Math.floor(Date.now() / 1000) };
      const worker = testWorker({ clock: () => clock.now });
      const res = await call(worker, path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '200', 'cf-connecting-ip': '198.51.100.9' },
        body: truncatedBody(),
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(400);
      if ((res.headers.get('content-type') ?? '').includes('json')) expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      // Unauthenticated refusals are summarised: write the summary, then read what was recorded.
      clock.now += 3_600;
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController(), workerEnv(), ctx);
      await waitOnExecutionContext(ctx);
      const records = (await rows<{ record: string }>('SELECT record FROM audit_log ORDER BY seq DESC LIMIT 5')).map((r) => JSON.parse(r.record) as Record<string, unknown>);
      expect(records.some((r) => r.reason === 'body_incomplete')).toBe(true);
      expect(records.some((r) => r.reason === 'internal_error')).toBe(false);
    });
  }
});
