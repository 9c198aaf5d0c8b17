import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess } from '../helpers/process.js';
import { SamlVerifierPool } from '../../src/runtime/node-saml-pool.js';
import { BROWSER, defaultSpec, harness, idpResponse, startLogin, testKeys } from '../upstream/saml/helpers.js';

/**
 * The production build (scripts/build.mjs, what `npm start` runs): the bundle starts under plain
 * `node`, with no TypeScript loader, finds what its modules find relative to themselves (the
 * migrations), answers, and its SAML verification thread verifies logins.
 */

const root = join(import.meta.dirname, '../..');
// Its own build directory (at dist/'s depth), so a running `npm start` is never disturbed.
const outName = `.build-test-${process.pid}`;
const outdir = join(root, outName);

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', outName], { cwd: root, stdio: 'pipe' });
}, 60_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const start = (env: Record<string, string>) => startProcess([join(outdir, 'runtime/node.js')], { ...process.env, NODE_OPTIONS: '', ...env });

describe('the compiled Node entry (npm start)', () => {
  it('starts under plain node on a fresh database, prints its start-up time and answers metadata and JWKS', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'xaa-build-')), 'broker.sqlite');
    const s = start({ PORT: '18797', XAA_DATABASE: db, LOG_LEVEL: 'silent' });
    try {
      const out = await s.waitFor(/^issuer:/);
      expect(out).toMatch(/^xaa-broker listening on port 18797 \(ready in \d+ ms\)$/m);
      const res = await fetch('http://127.0.0.1:18797/.well-known/oauth-authorization-server');
      expect(((await res.json()) as { issuer: string }).issuer).toBe('http://localhost:8787');
      const jwks = (await (await fetch('http://127.0.0.1:18797/jwks')).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(2);
    } finally {
      s.child.kill();
    }
  }, 30_000);

  it("runs its WAL checkpoint thread within the thread's memory limits (it would say so if the thread ended)", async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'xaa-build-')), 'broker.sqlite');
    const s = start({ PORT: '18799', XAA_DATABASE: db, LOG_LEVEL: 'warn' });
    try {
      await s.waitFor(/^issuer:/);
      // Past two checkpoint intervals: a thread that could not start or run has ended by now.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(s.lines.join('\n')).not.toContain('wal_checkpoint_thread_ended');
      expect(s.child.exitCode).toBeNull();
    } finally {
      s.child.kill();
    }
  }, 30_000);

  it('refuses an invalid configuration with the same message as the sources', async () => {
    const s = start({ XAA_CONFIG: 'test/fixtures/broken.config.yaml', PORT: '18798' });
    expect(await s.exited).toBe(1);
    expect(s.lines.join('\n')).toMatch(/broken.config.yaml at clients\[0\]\.client_secret_hash: required for client_secret_post/);
  }, 30_000);

  it("verifies a SAML login on the build's own verification thread, started without a loader", async () => {
    await testKeys();
    const pool = new SamlVerifierPool({ size: 1, entry: pathToFileURL(join(outdir, 'runtime/node-saml-thread.js')) });
    try {
      const h = await harness({}, undefined, pool.factory);
      const started = await startLogin(h);
      const b64 = await idpResponse(defaultSpec({ inResponseTo: started.requestId }));
      const result = await h.conn.consumeResponse({ SAMLResponse: b64, RelayState: started.transactionId }, { browserBinding: BROWSER });
      expect(result.identity.subject).toBe('a1b2c3d4-persistent-alice');
      expect(pool.stats()).toMatchObject({ threads: 1, replaced: 0 });
    } finally {
      await pool.close();
    }
  }, 30_000);
});
