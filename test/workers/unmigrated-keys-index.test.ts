import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { call, testWorker } from './helpers.js';

// Storage is per test file: this file's D1 can be put back to the schema before migration 0007.
describe('a D1 database without migration 0007 (one active signing key per algorithm)', () => {
  it('the Worker refuses to start and names the missing index and the command that creates it', async () => {
    await env.DB.prepare('DROP INDEX signing_keys_one_active_per_alg').run();
    await env.DB.prepare("CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active'").run();
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
    const logger: Logger = { info: at('info'), warn: at('warn'), error: at('error') };

    const res = await call(testWorker({ logger }), '/jwks');
    expect(res.status).toBe(500);
    expect(lines[0]).toMatchObject({ level: 'error', message: 'broker failed to start' });
    expect(lines[0]!.fields.error).toBe(
      'the D1 database "DB" lacks index(es) signing_keys_one_active_per_alg: its migrations have not all been applied. ' +
        'Run `npx wrangler d1 migrations apply DB --remote` (or --local for wrangler dev), then send a request.',
    );
  });
});
