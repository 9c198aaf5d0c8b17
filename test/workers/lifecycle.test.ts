import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import type { ConfigFiles } from '../../src/config/load.js';
import type { Logger } from '../../src/logger.js';
import { env } from 'cloudflare:workers';
import { WORKER_BUILD_RETRY_SECONDS } from '../../src/constants.js';
import { call, exchangeParams, postToken, rows, testFiles, testWorker } from './helpers.js';

function recordingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  const logger: Logger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

async function mintedKid(worker: ReturnType<typeof testWorker>): Promise<string> {
  const res = await postToken(worker, await exchangeParams());
  expect(res.status).toBe(200);
  return decodeProtectedHeader(((await res.json()) as { access_token: string }).access_token).kid!;
}

// This file starts from an empty D1 (storage is per test file), so the first builds create the keys.
describe('signing keys live in D1', () => {
  it('lets isolates that start at the same time agree on one key set', async () => {
    const workers = [testWorker(), testWorker(), testWorker()];
    const answers = await Promise.all(workers.map((w) => call(w, '/jwks')));
    const sets = await Promise.all(answers.map(async (r) => ((await r.json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort()));
    expect(sets[1]).toEqual(sets[0]);
    expect(sets[2]).toEqual(sets[0]);
    const stored = await rows<{ state: string }>('SELECT state FROM signing_keys ORDER BY state');
    expect(stored.map((k) => k.state)).toEqual(['active', 'next']);
  });

  it('signs with the same kid from two separately built brokers', async () => {
    const [active] = await rows<{ kid: string }>("SELECT kid FROM signing_keys WHERE state = 'active'");
    expect(await mintedKid(testWorker())).toBe(active!.kid);
    expect(await mintedKid(testWorker())).toBe(active!.kid);
  });

  it('keeps the keys, not a copy, in the store: nothing signs with an isolate-local key', async () => {
    const count = await rows<{ n: number }>('SELECT count(*) AS n FROM signing_keys');
    await mintedKid(testWorker());
    expect(await rows<{ n: number }>('SELECT count(*) AS n FROM signing_keys')).toEqual(count);
  });
});

describe('building the broker', () => {
  it('answers 500 server_error without details when building fails; backs off, then retries', async () => {
    let attempts = 0;
    const files = (): ConfigFiles => {
      attempts++;
      if (attempts === 1) return { ...testFiles, broker: { ...testFiles.broker, text: 'issuer: [not, a, url]' } };
      return testFiles;
    };
    const clock = { now: Math.floor(Date.now() / 1000) };
    const { logger, lines } = recordingLogger();
    const worker = testWorker({ files, logger, clock: () => clock.now });

    const failed = await call(worker, '/.well-known/oauth-authorization-server');
    expect(failed.status).toBe(500);
    expect(failed.headers.get('cache-control')).toBe('no-store');
    expect(await failed.text()).toBe('{"error":"server_error"}');
    const logged = lines.find((l) => l.level === 'error');
    expect(logged?.message).toBe('broker failed to start');
    expect(JSON.stringify(logged?.fields)).toContain('broker.config.yaml');

    // Inside the back-off: no rebuild, the same 500, and a console line that says why and when.
    clock.now += WORKER_BUILD_RETRY_SECONDS - 1;
    const backingOff = await call(worker, '/.well-known/oauth-authorization-server');
    expect(backingOff.status).toBe(500);
    expect(attempts).toBe(1);
    const waiting = lines.at(-1)!;
    expect(waiting).toMatchObject({ level: 'error', message: `broker not started: the last attempt failed ${WORKER_BUILD_RETRY_SECONDS - 1} s ago; next attempt in 1 s`, fields: { retryInSeconds: 1 } });
    expect(JSON.stringify(waiting.fields)).toContain('broker.config.yaml');

    clock.now += 1;
    const retried = await call(worker, '/.well-known/oauth-authorization-server');
    expect(retried.status).toBe(200);
    expect(attempts).toBe(2);
    await call(worker, '/healthz');
    expect(attempts).toBe(2);
  });

  it('a missing D1 binding is named, with the wrangler.toml fix', async () => {
    const { logger, lines } = recordingLogger();
    const res = await call(testWorker({ logger }), '/healthz', undefined, { DB: undefined as unknown as D1Database });
    expect(res.status).toBe(500);
    expect(lines[0]).toMatchObject({ level: 'error', message: 'broker failed to start' });
    expect(lines[0]!.fields.error).toBe('there is no binding "DB"; wrangler.toml needs [[d1_databases]] with binding = "DB".');
  });

  it('a D1 database bound under another name is pointed out', async () => {
    const { logger, lines } = recordingLogger();
    const res = await call(testWorker({ logger }), '/healthz', undefined, { DB: undefined as unknown as D1Database, XAA_DB: env.DB } as never);
    expect(res.status).toBe(500);
    expect(lines[0]!.fields.error).toContain('A D1 database is bound as "XAA_DB": rename the binding to "DB".');
  });

  it('a DB binding that is not D1 (e.g. a KV namespace) is named as such', async () => {
    const { logger, lines } = recordingLogger();
    await call(testWorker({ logger }), '/healthz', undefined, { DB: { get: async () => null } as unknown as D1Database });
    expect(lines[0]!.fields.error).toContain('the binding "DB" is not a D1 database');
  });

  it('builds once for concurrent first requests', async () => {
    let attempts = 0;
    const worker = testWorker({ files: () => (attempts++, testFiles) });
    const answers = await Promise.all([call(worker, '/healthz'), call(worker, '/jwks'), call(worker, '/healthz')]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(attempts).toBe(1);
  });

  it('takes the issuer from the ISSUER variable', async () => {
    const res = await call(testWorker(), '/.well-known/oauth-authorization-server', undefined, { ISSUER: 'https://xaa.example.com' });
    expect(((await res.json()) as { issuer: string; token_endpoint: string })).toMatchObject({
      issuer: 'https://xaa.example.com',
      token_endpoint: 'https://xaa.example.com/token',
    });
  });

  it('refuses an invalid ISSUER the way it refuses an invalid config file', async () => {
    const { logger, lines } = recordingLogger();
    const res = await call(testWorker({ logger }), '/healthz', undefined, { ISSUER: 'not a url' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error' });
    expect(JSON.stringify(lines[0]?.fields)).toContain('issuer');
  });
});
