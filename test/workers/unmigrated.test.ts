import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { call, testWorker } from './helpers.js';

// Storage is per test file: this file's D1 can lose tables without touching the others.
describe('a D1 database whose migrations were not all applied', () => {
  it('the Worker refuses to start and the console names the missing tables and the command that creates them', async () => {
    await env.DB.prepare('DROP TABLE deferrals').run();
    await env.DB.prepare('DROP TABLE login_transactions').run();
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
    const logger: Logger = { info: at('info'), warn: at('warn'), error: at('error') };

    const res = await call(testWorker({ logger }), '/authorize?client_id=x');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error' });
    expect(lines[0]).toMatchObject({ level: 'error', message: 'broker failed to start' });
    expect(lines[0]!.fields.error).toBe(
      'the D1 database "DB" lacks table(s) login_transactions, deferrals: its migrations have not been applied. ' +
        'Run `npx wrangler d1 migrations apply DB --remote` (or --local for wrangler dev), then send a request.',
    );
  });
});
