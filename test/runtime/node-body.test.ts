/**
 * Issue 8: the token endpoint's body on Node is read from the IncomingMessage (runtime/node-body.ts)
 * with the same contract as the web stream path: bounded, early end refused, and a Request whose
 * body was never touched. Over real HTTP (app.request has no IncomingMessage).
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readForm } from '../../src/http/form.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { nodeBodyReader } from '../../src/runtime/node-body.js';

let port = 0;
let server: ReturnType<typeof serve>;
const seen: string[] = [];

beforeAll(async () => {
  const app = new Hono();
  app.post('/form', async (c) => {
    const reader = nodeBodyReader(c);
    seen.push(reader ? 'incoming' : 'web');
    try {
      const form = await readForm(c.req.raw, 64, reader);
      return c.json({ a: form.get('a') ?? null });
    } catch (err) {
      if (err instanceof OAuthError) seen.push(err.reason);
      if (err instanceof OAuthError) return c.json({ error: err.code, reason: err.reason }, err.status as 400);
      return c.json({ error: 'other' }, 500);
    }
  });
  await new Promise<void>((ok) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ok());
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(() => void server.close());

function post(body: string, headers: Record<string, string> = {}, { endEarly = false } = {}): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/form', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', (err) => (endEarly ? resolve({ status: 0, body: undefined }) : reject(err)));
    if (endEarly) {
      req.write(body.slice(0, 5));
      setTimeout(() => req.destroy(), 50);
    } else req.end(body);
  });
}

describe('the token endpoint body from the IncomingMessage', () => {
  it('reads the form from the incoming message, not the web stream', async () => {
    const res = await post('a=1&b=2');
    expect(res).toEqual({ status: 200, body: { a: '1' } });
    expect(seen.at(-1)).toBe('incoming');
  });

  it('chunked bodies (no Content-Length) are read whole', async () => {
    const res = await post('a=chunked', { 'transfer-encoding': 'chunked' });
    expect(res.body).toEqual({ a: 'chunked' });
  });

  it('past the cap while streaming (no or a lying Content-Length): 413 body_too_large, and the response is still written', async () => {
    const res = await post(`a=${'x'.repeat(200)}`, { 'transfer-encoding': 'chunked' });
    expect(res).toEqual({ status: 413, body: { error: 'invalid_request', reason: 'body_too_large' } });
  });

  it('a declared Content-Length over the cap is refused before reading', async () => {
    const res = await post(`a=${'x'.repeat(200)}`);
    expect(res.status).toBe(413);
  });

  it('a client that stops mid-body is refused as body_incomplete, never a server error', async () => {
    await post('a=12345678901234567890', { 'content-length': '40' }, { endEarly: true });
    // The client is gone, so the refusal is seen only from the handler's side.
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.at(-1)).toBe('body_incomplete');
  });

  it('invalid UTF-8 is refused as with the web path', async () => {
    const res = await post('a=%FF');
    expect(res.body).toMatchObject({ error: 'invalid_request' });
  });
});
