import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { bundledConfigFiles } from '../../src/runtime/worker-files.js';
import worker from '../../src/runtime/worker.js';
import { rows, workerEnv } from './helpers.js';

/** The deployed entry: `export default` from src/runtime/worker.ts with the bundled broker.config.yaml. */
const fetchDefault = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://localhost:8787${path}`, init));

describe('the Worker entry with the bundled configuration', () => {
  it('serves authorization server metadata naming the configured issuer', async () => {
    const res = await fetchDefault('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      issuer: 'http://localhost:8787',
      token_endpoint: 'http://localhost:8787/token',
      jwks_uri: 'http://localhost:8787/jwks',
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange', 'https://xaa-broker.dev/grant-type/deferred', 'authorization_code', 'refresh_token'],
      authorization_endpoint: 'http://localhost:8787/authorize',
    });
  });

  it('serves OpenID configuration', async () => {
    const res = await fetchDefault('/.well-known/openid-configuration');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { issuer: string }).issuer).toBe('http://localhost:8787');
  });

  it('serves the JWKS of the keys it created in D1', async () => {
    const res = await fetchDefault('/jwks');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = (await res.json()) as { keys: Array<Record<string, string>> };
    const stored = await rows<{ kid: string; state: string }>('SELECT kid, state FROM signing_keys ORDER BY state');
    expect(stored.map((k) => k.state).sort()).toEqual(['active', 'next']);
    expect(keys.map((k) => k.kid).sort()).toEqual(stored.map((k) => k.kid).sort());
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(k).not.toHaveProperty('d');
    }
  });

  it('imported the demo mapping table into D1', async () => {
    await fetchDefault('/healthz');
    const table = await rows<{ subject: string }>("SELECT subject FROM mapping_table WHERE namespace = 'todo-users' ORDER BY subject");
    expect(table.map((r) => r.subject)).toEqual(['todo-user-1001', 'todo-user-1002']);
  });

  it('refuses a bad client secret from the demo configuration', async () => {
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', client_id: 'wiki-agent', client_secret: 'wrong' });
    const res = await fetchDefault('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('answers unknown paths with JSON 404', async () => {
    const res = await fetchDefault('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found' });
  });
});

describe('the bundled configuration files', () => {
  it('lists every file in broker.config.yaml, mappings/ and policies/', () => {
    const bundled = [bundledConfigFiles.broker, ...bundledConfigFiles.mappings, ...bundledConfigFiles.policies, ...(bundledConfigFiles.schema ? [bundledConfigFiles.schema] : [])];
    expect(bundled.map((f) => f.path).sort()).toEqual([...env.CONFIG_FILES_ON_DISK].sort());
    for (const f of bundled) expect(f.text.length).toBeGreaterThan(0);
  });

  it('is a valid configuration', () => {
    expect(() => loadConfig(bundledConfigFiles)).not.toThrow();
  });

  // Here, where D1 has only ever seen the bundled configuration (storage is per test file).
  it('runs its scheduled maintenance (the cron trigger)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await env.DB.prepare('INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?)').bind('entry', 'dead', now - 10).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), workerEnv(), ctx);
    await waitOnExecutionContext(ctx);
    expect(await rows("SELECT count(*) AS n FROM replay WHERE scope = 'entry'")).toEqual([{ n: 0 }]);
  });
});
