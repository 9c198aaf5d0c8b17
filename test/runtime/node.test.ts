import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess } from '../helpers/process.js';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

const start = (env: Record<string, string>) => startProcess(['--import', 'tsx', 'src/runtime/node.ts'], { ...process.env, ...env });

describe('npm start (Node runtime)', () => {
  it('starts on the demo configuration with a fresh SQLite file and prints its issuer', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'xaa-start-')), 'broker.sqlite');
    const s = start({ PORT: '18787', XAA_DATABASE: db, LOG_LEVEL: 'silent' });
    try {
      const out = await s.waitFor(/^issuer:/);
      expect(out).toContain('issuer:   http://localhost:8787');
      const res = await fetch('http://127.0.0.1:18787/.well-known/oauth-authorization-server');
      expect(((await res.json()) as { issuer: string }).issuer).toBe('http://localhost:8787');
      const jwks = (await (await fetch('http://127.0.0.1:18787/jwks')).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(2);
    } finally {
      s.child.kill();
    }
  }, 30_000);

  it('refuses to start on an invalid configuration, naming file and path', async () => {
    const s = start({ XAA_CONFIG: 'test/fixtures/broken.config.yaml', PORT: '18788' });
    expect(await s.exited).toBe(1);
    expect(s.lines.join('\n')).toMatch(/broken.config.yaml at clients\[0\]\.client_secret_hash: required for client_secret_post/);
  }, 30_000);
});
