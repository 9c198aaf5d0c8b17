import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, runBroker } from '../helpers/process.js';
import { capture, type Line } from '../helpers/log.js';
import { startNodeBroker } from '../../src/runtime/node.js';


const root = join(import.meta.dirname, '../..');
const tempDir = () => mkdtempSync(join(tmpdir(), 'xaa-errors-'));
const tempDb = () => join(tempDir(), 'broker.sqlite');

/** The demo configuration copied to a temporary directory, with `database` changed. */
function configWithDatabase(database: string): string {
  const dir = tempDir();
  const text = readFileSync(join(root, 'broker.config.yaml'), 'utf8')
    .replace(/^database: .*$/m, `database: ${database}`)
    .concat(`\nmappings_dir: ${join(root, 'mappings')}\npolicies_dir: ${join(root, 'policies')}\n`);
  const path = join(dir, 'broker.config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('npm start: errors an operator sees', () => {
  it.each(['abc', '70000', '0', '-1', '80.5', '0x50'])('PORT=%j gives one line naming PORT and exits non-zero', async (port) => {
    const line = oneLine(await runBroker({ PORT: port, XAA_DATABASE: tempDb() }));
    expect(line).toMatch(/\bPORT\b/);
    expect(line).toContain(`"${port}"`);
  }, 30_000);

  it('a port in use gives one line naming the port and PORT, and exits non-zero', async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const { port } = blocker.address() as AddressInfo;
    try {
      const line = oneLine(await runBroker({ PORT: String(port), XAA_DATABASE: tempDb() }));
      expect(line).toMatch(/in use/);
      expect(line).toContain(`127.0.0.1:${port}`);
      expect(line).toMatch(/\bPORT\b/);
    } finally {
      blocker.close();
    }
  }, 30_000);

  it('a file that is not SQLite, named by XAA_DATABASE, gives one line naming XAA_DATABASE', async () => {
    const db = join(tempDir(), 'not.sqlite');
    writeFileSync(db, 'this is not a database, but it is long enough to have a header. '.repeat(20));
    const line = oneLine(await runBroker({ PORT: '18961', XAA_DATABASE: db }));
    expect(line).toMatch(/not a SQLite database/);
    expect(line).toContain(db);
    expect(line).toMatch(/\bXAA_DATABASE\b/);
  }, 30_000);

  it('a database path that cannot be opened (a directory) gives one line naming XAA_DATABASE', async () => {
    const dir = tempDir();
    const line = oneLine(await runBroker({ PORT: '18962', XAA_DATABASE: dir }));
    expect(line).toMatch(/cannot be opened/);
    expect(line).toContain(dir);
    expect(line).toMatch(/\bXAA_DATABASE\b/);
  }, 30_000);

  it('a database path under a regular file gives one line naming XAA_DATABASE', async () => {
    const file = join(tempDir(), 'plain');
    writeFileSync(file, 'x');
    const line = oneLine(await runBroker({ PORT: '18963', XAA_DATABASE: join(file, 'broker.sqlite') }));
    expect(line).toMatch(/cannot be opened/);
    expect(line).toMatch(/\bXAA_DATABASE\b/);
  }, 30_000);

  it('a bad database set in the configuration file names `database` in that file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'db.sqlite'));
    const config = configWithDatabase(join(dir, 'db.sqlite'));
    const env = { PORT: '18964', XAA_CONFIG: config };
    const line = oneLine(await runBroker(env));
    expect(line).toMatch(/cannot be opened/);
    expect(line).toContain('`database` in');
    expect(line).toContain(config.split('/').pop()!);
  }, 30_000);
});

describe('a real Node server and a client that disconnects mid-body', () => {
  for (const path of ['/token', '/authorize', '/authorize/consent', '/userinfo', '/logout']) {
    it(`${path}: refuses the request as body_incomplete at warn level, with no error line and no unhandled error`, async () => {
      const lines: Line[] = [];
      const { server } = await startNodeBroker({ port: 0, database: tempDb(), logger: capture(lines) });
      try {
        const { port } = server.address() as AddressInfo;
        await new Promise<void>((done, fail) => {
          const socket = connect(port, '127.0.0.1', () => {
            // Promise 1000 bytes, send a few, then vanish.
            socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=abc&sub`);
            socket.once('data', () => undefined);
            setImmediate(() => socket.destroy());
          });
          socket.once('close', () => done());
          socket.once('error', fail);
        });
        // Wait (bounded) until the broker has dealt with the broken request.
        for (let i = 0; i < 200 && !lines.some((l) => l.message.startsWith('refused') || l.level === 'error'); i++) await new Promise((r) => setTimeout(r, 25));
        expect(lines.filter((l) => l.level === 'error')).toEqual([]);
        // Refused before the client authenticated: logged once per (reason, source), then counted in the audit summary.
        const refusal = lines.find((l) => l.message.startsWith('refused'));
        expect(refusal).toMatchObject({ level: 'warn', fields: { reason: 'body_incomplete' } });
      } finally {
        await new Promise((done) => server.close(done));
      }
    }, 30_000);
  }
});
