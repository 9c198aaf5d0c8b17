/**
 * The Node runtime on PostgreSQL: `XAA_DATABASE` (or `database`) as a postgres:// or
 * postgresql:// URL chooses it, the schema is migrated at start, the CLI uses the same store, and
 * a database that cannot be used is one line naming it (never its password) and the setting.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeBroker } from '../../src/runtime/node.js';
import { freshPgDatabase } from '../helpers/pg.js';
import { oneLine, runBroker } from '../helpers/process.js';
import type { Logger } from '../../src/logger.js';

const root = join(import.meta.dirname, '../..');
const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The demo configuration in a temp dir (removed after the file) with `database` set to `database`. */
function configWith(database: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-pg-config-'));
  dirs.push(dir);
  const text = readFileSync(join(root, 'broker.config.yaml'), 'utf8')
    .replace(/^database: .*$/m, `database: ${JSON.stringify(database)}`)
    .concat(`\nmappings_dir: ${join(root, 'mappings')}\npolicies_dir: ${join(root, 'policies')}\n`);
  const path = join(dir, 'broker.config.yaml');
  writeFileSync(path, text);
  return path;
}

function cli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const all = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete all[k];
  return new Promise((done) =>
    execFile(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), ...args], { cwd: root, env: all, timeout: 25_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** A free loopback port (listened on, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as AddressInfo;
  await new Promise((ok) => srv.close(ok));
  return port;
}

describe('the Node runtime on PostgreSQL', () => {
  it('a postgresql:// URL in `database` starts the broker on a fresh database (migrated), and the CLI reads the same store', async () => {
    const url = (await freshPgDatabase()).replace(/^postgres:/, 'postgresql:');
    const configPath = configWith(url);
    const port = await closedPort();
    const broker = await startNodeBroker({ configPath, port, logger: silent });
    try {
      expect(broker.database).toBe(url);
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
      expect(res.status).toBe(200);
      // The signing keys were created in PostgreSQL: the CLI (another process) lists them through the same setting.
      await broker.store.audit.append({ at: 1_800_000_000, event: 'login', requestId: 'pg-runtime-test' });
      const audit = await cli(['--config', configPath, 'audit', '-n', '5'], { XAA_DATABASE: undefined, XAA_CONFIG: undefined });
      expect(audit.code, audit.stderr).toBe(0);
      expect(audit.stdout).toContain('"requestId":"pg-runtime-test"');
    } finally {
      await broker.stop();
      await new Promise((ok) => broker.server.close(ok));
    }
  }, 60_000);

  it('XAA_DATABASE with a postgres:// URL overrides the file in the configuration', async () => {
    const url = await freshPgDatabase();
    const before = process.env.XAA_DATABASE;
    process.env.XAA_DATABASE = url;
    try {
      const broker = await startNodeBroker({ configPath: configWith('data/never-created.sqlite'), port: await closedPort(), logger: silent });
      try {
        expect(broker.database).toBe(url);
        expect((await broker.store.keys.list()).length).toBeGreaterThan(0);
      } finally {
        await broker.stop();
        await new Promise((ok) => broker.server.close(ok));
      }
    } finally {
      if (before === undefined) delete process.env.XAA_DATABASE;
      else process.env.XAA_DATABASE = before;
    }
  }, 60_000);

  it('a server that cannot be reached is one line naming XAA_DATABASE, without the password', async () => {
    const url = `postgres://broker:s3cret-pw@127.0.0.1:${await closedPort()}/xaa`;
    const line = oneLine(await runBroker({ PORT: String(await closedPort()), XAA_DATABASE: url, XAA_CONFIG: configWith('x.sqlite') }));
    expect(line).toMatch(/cannot be reached/);
    expect(line).toContain(`127.0.0.1`);
    expect(line).toMatch(/\bXAA_DATABASE\b/);
    expect(line).not.toContain('s3cret-pw');
  }, 30_000);

  it('a database that does not exist on the server is one line saying so, naming `database` in the config file', async () => {
    const url = new URL(await freshPgDatabase());
    url.pathname = '/no_such_database';
    const configPath = configWith(url.href);
    const line = oneLine(await runBroker({ PORT: String(await closedPort()), XAA_CONFIG: configPath }));
    expect(line).toMatch(/does not exist/);
    expect(line).toContain('no_such_database');
    expect(line).toContain(configPath);
  }, 30_000);

  it('`npm run check` does not connect to the database: it passes with an unreachable PostgreSQL URL', async () => {
    const url = `postgres://broker@127.0.0.1:${await closedPort()}/xaa`;
    const r = await cli(['--config', configWith(url), 'check'], { XAA_DATABASE: undefined, XAA_CONFIG: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/configuration is valid/);
  }, 30_000);
});
