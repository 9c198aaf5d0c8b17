/**
 * Two real broker processes (`npm start`'s entry under tsx) on one PostgreSQL database, behind a
 * tiny loopback round-robin proxy: a reference redeemed through the proxy twice at once (so once
 * at each process) is redeemed once; and kill -9 of one process while it serves loses no audit
 * record of an ID-JAG it delivered (the mint's audit record commits before the response).
 */
import { serve, type ServerType } from '@hono/node-server';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoIdp, type DemoIdp } from '../../examples/demo-idp.js';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../../src/exchange/pulled.js';
import { freshPgDatabase, testPool } from '../helpers/pg.js';
import { startProcess } from '../helpers/process.js';

const root = join(import.meta.dirname, '../..');
/** The demo configuration's upstream (its mapping rows name it); its keys are served from this test. */
const DEMO_IDP = 'http://localhost:9000';
const WIKI = { client_id: 'wiki-agent', client_secret: 'demo-wiki-secret' };
const TODO_AS = 'Basic ' + Buffer.from('todo-as:demo-todo-as-secret').toString('base64');

/** Listens on a free loopback port; with `release`, closes again and returns the port for a process to take. */
async function listen(server: Server, release = false): Promise<number> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  if (release) await new Promise((ok) => server.close(ok));
  return port;
}

/** A round-robin HTTP proxy over `targets` (ports): request n goes to targets[n % length]; a dead target answers 502. */
function roundRobin(targets: number[]): Server {
  let next = 0;
  return createServer((req, res) => {
    const port = targets[next++ % targets.length]!;
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
}

describe('two broker processes on one PostgreSQL database behind a round-robin proxy', () => {
  let idp: DemoIdp;
  let idpServer: ServerType;
  let url: string;
  let proxy: Server;
  let proxyPort: number;
  const processes: Array<ReturnType<typeof startProcess>> = [];
  let dir: string | undefined;

  beforeAll(async () => {
    idp = await createDemoIdp(DEMO_IDP);
    idpServer = serve({ fetch: idp.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((ok) => idpServer.once('listening', () => ok()));
    const idpPort = (idpServer.address() as AddressInfo).port;

    dir = mkdtempSync(join(tmpdir(), 'xaa-pg-procs-'));
    const config = join(dir, 'broker.config.yaml');
    writeFileSync(
      config,
      readFileSync(join(root, 'broker.config.yaml'), 'utf8')
        .replace(`jwks_uri: ${DEMO_IDP}/jwks`, `jwks_uri: http://127.0.0.1:${idpPort}/jwks`)
        .concat(`\nmappings_dir: ${join(root, 'mappings')}\npolicies_dir: ${join(root, 'policies')}\n`),
    );
    url = await freshPgDatabase();
    // Free ports, found by listening on port 0 (other suites may run on this machine at the same time).
    const ports = [await listen(createServer(), true), await listen(createServer(), true)];
    // Both start at once: the schema migration and the first signing keys are decided once, under locks.
    for (const port of ports) {
      processes.push(startProcess(['--import', 'tsx', 'src/runtime/node.ts'], { ...process.env, XAA_CONFIG: config, XAA_DATABASE: url, PORT: String(port), LOG_LEVEL: 'silent' }));
    }
    for (const p of processes) expect(await p.waitFor(/listening on port/)).toMatch(/listening on port/);
    proxy = roundRobin(ports);
    proxyPort = await listen(proxy);
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    proxy?.close();
    idpServer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${proxyPort}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params) });

  const exchange = async (requestedTokenType = 'urn:ietf:params:oauth:token-type:id-jag') =>
    post({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: requestedTokenType,
      subject_token: await idp.idToken({ sub: 'alice', email: 'alice@example.com', email_verified: true } as never, 'wiki-agent'),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: 'http://localhost:9100',
      scope: 'todos.read',
      ...WIKI,
    });

  it('a reference redeemed through the proxy twice at once (once at each process) is redeemed once', async () => {
    for (let trial = 0; trial < 4; trial++) {
      const issued = await exchange(ID_JAG_REFERENCE_TOKEN_TYPE);
      expect(issued.status).toBe(200);
      const ref = ((await issued.json()) as { access_token: string }).access_token;
      const redeem = () =>
        post(
          {
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
            subject_token: ref,
            subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE,
          },
          { authorization: TODO_AS },
        );
      const statuses = (await Promise.all([redeem(), redeem()])).map((r) => r.status).sort();
      expect(statuses).toEqual([200, 400]);
    }
  }, 60_000);

  it('kill -9 of one process while it serves loses no audit record of an ID-JAG it delivered', async () => {
    const delivered: string[] = [];
    let failed = 0;
    let stop = false;
    // Four clients in a loop through the proxy; one process is killed while they run.
    const client = async () => {
      while (!stop) {
        const res = await exchange().catch(() => undefined);
        if (res?.status === 200) delivered.push(decodeJwt(((await res.json()) as { access_token: string }).access_token).jti!);
        else failed++;
      }
    };
    const clients = Array.from({ length: 4 }, client);
    while (delivered.length < 20) await new Promise((r) => setTimeout(r, 20));
    processes[0]!.child.kill('SIGKILL');
    await processes[0]!.exited;
    const atKill = delivered.length;
    while (delivered.length < atKill + 20) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(clients);
    // Requests the dead process was serving, or routed to it afterwards, failed: nothing was delivered for them.
    expect(failed).toBeGreaterThan(0);

    const pool = testPool(url);
    const audited = new Set(
      (await pool.query<{ record: string }>("SELECT record FROM audit_log WHERE event = 'mint'")).rows.map((r) => (JSON.parse(r.record) as { jti?: string }).jti),
    );
    expect(delivered.filter((jti) => !audited.has(jti))).toEqual([]);
    expect(new Set(delivered).size).toBe(delivered.length);
  }, 90_000);
});
