import { describe, expect, it } from 'vitest';
import { lastRefusal, startProvider } from '../provider/harness.js';

/**
 * Issue 11 §4: a body that ends before it is complete (the client went away, or broke the
 * framing) is the client's fault: 400 and a request refusal, never a 500 or `internal_error`.
 * Here the stream errors mid-body, as Node's and workerd's request bodies do when a connection drops.
 */
function truncatedBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('client_id=wiki-agent&grant_type=authorization_co'));
      controller.error(new TypeError('terminated'));
    },
  });
}

const ENDPOINTS = ['/token', '/authorize', '/authorize/consent', '/userinfo', '/logout'];

describe('a truncated request body', () => {
  for (const path of ENDPOINTS) {
    it(`${path}: 400, audited as a request refusal (body_incomplete), not internal_error`, async () => {
      const b = await startProvider();
      const res = await b.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '200' },
        body: truncatedBody(),
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(400);
      if ((res.headers.get('content-type') ?? '').includes('json')) expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      const audit = await lastRefusal(b);
      expect(audit.reason).toBe('body_incomplete');
      expect(JSON.stringify(audit)).not.toContain('internal_error');
    });
  }
});
