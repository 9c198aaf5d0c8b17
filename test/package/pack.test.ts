/**
 * The package as people install it (issue 9 §6): `npm pack` (its prepack runs `npm run build`),
 * the tarball installed into an empty project, then, from there and with no TypeScript loader:
 * (a) `npx xaa-broker start --config <a config written there>` runs the broker, which answers
 * metadata and mints an ID-JAG; (b) a plain JavaScript destination AS (`.mjs`) imports
 * `xaa-broker/destination` and validates that ID-JAG, then refuses it replayed; (c) a TypeScript
 * consumer type-checks against the published declarations (exports' `types` conditions).
 *
 * better-sqlite3's install script (prebuild-install) normally downloads a prebuilt binary from
 * GitHub, which this machine cannot reach; it is given the repository's own build of the addon as
 * a local prebuild (npm_config_better_sqlite3_local_prebuilds), so the install runs the package's
 * real install script, and the broker's start proves the addon loads. Packages come from the npm
 * cache when they are there (--prefer-offline), else from the registry.
 */
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
// Ports of their own (the other suites use 187xx/188xx; scripts/start-time.mjs 18900–18949).
const BROKER_PORT = 18961;
const IDP_PORT = 18962;
const BROKER = `http://127.0.0.1:${BROKER_PORT}`;
const IDP = `http://127.0.0.1:${IDP_PORT}`;
const DEMO_IDP = 'http://localhost:9000';
const TODO = 'http://localhost:9100';

const work = mkdtempSync(join(tmpdir(), 'xaa-pack-'));
const project = join(work, 'project');
/** Environment of every npm call: nothing of the test runner's npm invocation leaks in. */
const npmEnv = () => {
  const env: Record<string, string | undefined> = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
  for (const name of Object.keys(env)) if (/^npm_(lifecycle|package|config_(prefix|global|local))/.test(name) || name === 'INIT_CWD') delete env[name];
  return env;
};

let tarball = '';
let idp: Server;
let signUpstream: (sub: string) => Promise<string>;

beforeAll(async () => {
  // The upstream IdP the broker trusts: an ES256 key whose JWKS this test serves.
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'pack-test', alg: 'ES256', use: 'sig' };
  idp = createServer((req, res) => {
    res.writeHead(req.url === '/jwks' ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((ok) => idp.listen(IDP_PORT, '127.0.0.1', ok));
  signUpstream = (sub) =>
    new SignJWT({ email: `${sub}@example.com`, email_verified: true, groups: ['staff'], amr: ['pwd'], auth_time: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: 'pack-test', typ: 'JWT' })
      .setIssuer(IDP)
      .setSubject(sub)
      .setAudience('wiki-agent')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);

  // 1. Pack: prepack builds dist/ (JavaScript and declarations).
  const packed = await run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, env: npmEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 150_000 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  tarball = join(work, info.filename);
  files = info.files.map((f) => f.path);

  // 2. better-sqlite3's prebuilt binary, as prebuild-install names it.
  const sqlite = JSON.parse(readFileSync(join(root, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string };
  const prebuilds = join(work, 'prebuilds');
  mkdirSync(prebuilds);
  const name = `better-sqlite3-v${sqlite.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-czf', join(prebuilds, name), '-C', join(root, 'node_modules/better-sqlite3'), 'build/Release/better_sqlite3.node']);

  // 3. An empty project, the tarball installed into it.
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-xaa-broker', version: '1.0.0', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } }, null, 2));
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: project,
    env: { ...npmEnv(), npm_config_better_sqlite3_local_prebuilds: prebuilds },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 150_000,
  });

  // 4. A configuration written there: the demo's, pointed at this test's IdP, port and database.
  const conf = join(project, 'conf');
  for (const dir of ['mappings', 'policies']) cpSync(join(root, dir), join(conf, dir), { recursive: true });
  for (const file of readdirSync(join(conf, 'mappings'))) {
    const path = join(conf, 'mappings', file);
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll(DEMO_IDP, IDP));
  }
  const demo = readFileSync(join(root, 'broker.config.yaml'), 'utf8')
    .replaceAll(DEMO_IDP, IDP)
    .replace(/^issuer: .*$/m, `issuer: ${BROKER}`)
    .replace(/^port: .*$/m, `port: ${BROKER_PORT}`)
    .replace(/^database: .*$/m, 'database: ../data/broker.sqlite');
  writeFileSync(join(conf, 'broker.config.yaml'), demo);
}, 300_000);

let files: string[] = [];

afterAll(async () => {
  await new Promise((ok) => idp?.close(ok));
  rmSync(work, { recursive: true, force: true });
});

/** Starts `npx xaa-broker start --config …` in the project; resolves once it says where it listens. */
function startInstalledBroker() {
  const env: Record<string, string | undefined> = { ...npmEnv(), LOG_LEVEL: 'warn', NODE_OPTIONS: '' };
  for (const name of ['XAA_CONFIG', 'XAA_DATABASE', 'PORT', 'HOST']) delete env[name];
  const child = spawn(npx, ['--no-install', 'xaa-broker', 'start', '--config', 'conf/broker.config.yaml'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const ready = new Promise<void>((ok, fail) => {
    const timer = setInterval(() => {
      if (lines.some((l) => /^metadata:/.test(l))) ok();
      else if (child.exitCode !== null) fail(new Error(`the installed broker exited ${child.exitCode}:\n${lines.join('\n')}`));
      else return;
      clearInterval(timer);
    }, 50);
  });
  // The whole process group (npx, the command, the re-run node): SIGTERM, as a process manager does.
  const stop = () => new Promise<void>((ok) => (child.exitCode !== null ? ok() : (child.once('exit', () => ok()), process.kill(-child.pid!, 'SIGTERM'))));
  return { child, lines, ready, stop };
}

describe('the packed package, installed into an empty project', () => {
  it("holds the build, the declarations, the library's source maps and the migrations, and no sources, tests, fixtures or the runtime's large maps", () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/runtime/cli.js', 'dist/runtime/node.js', 'dist/lib/destination.js', 'dist/lib/destination.js.map', 'dist/types/destination/index.d.ts', 'dist/types/app.d.ts']));
    expect(files.filter((f) => f.startsWith('migrations/') && f.endsWith('.sql')).length).toBeGreaterThan(0);
    expect(files.filter((f) => /^(src|test|bench|examples|scripts)\//.test(f) || /fixtures/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || (f.startsWith('dist/runtime/') && f.endsWith('.map')))).toEqual([]);
    // The CLI is JavaScript with a shebang; the kit imports nothing Node-only.
    const installed = join(project, 'node_modules/xaa-broker');
    expect(readFileSync(join(installed, 'dist/runtime/cli.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    const kitFiles = [join(installed, 'dist/lib/destination.js'), ...kitChunks(installed)];
    for (const f of kitFiles) expect(readFileSync(f, 'utf8'), f).not.toMatch(/from\s*["']node:|require\(["']node:|import\(["']node:/);
    // better-sqlite3's install script put its addon in place.
    expect(existsSync(join(project, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
  });

  it('npx xaa-broker start --config … starts, answers metadata and mints an ID-JAG that a plain .mjs destination AS validates through xaa-broker/destination', async () => {
    const broker = startInstalledBroker();
    try {
      await broker.ready;
      expect(broker.lines.join('\n')).toMatch(/^xaa-broker listening on port 18961 \(ready in \d+ ms\)$/m);
      const metadata = (await (await fetch(`${BROKER}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; token_endpoint: string; jwks_uri: string };
      expect(metadata.issuer).toBe(BROKER);

      const minted = await fetch(metadata.token_endpoint, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
          subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
          subject_token: await signUpstream('alice'),
          audience: TODO,
          scope: 'todos.read',
          client_id: 'wiki-agent',
          client_secret: 'demo-wiki-secret',
        }),
      });
      const body = (await minted.json()) as { access_token: string };
      expect(minted.status, JSON.stringify(body)).toBe(200);

      // The destination AS: plain JavaScript, run by plain node, importing the package by name.
      writeFileSync(
        join(project, 'destination-as.mjs'),
        `import { createIdJagVerifier, MemoryReplayStore, IdJagRejected } from 'xaa-broker/destination';
const [issuer, jwks, audience, assertion] = process.argv.slice(2);
const verify = createIdJagVerifier({ audience, trustedIssuers: [{ issuer, jwks: new URL(jwks) }], replayStore: new MemoryReplayStore() });
const claims = await verify(assertion, { clientId: 'wiki-at-todo' });
let replay;
try { await verify(assertion, { clientId: 'wiki-at-todo' }); replay = 'accepted'; } catch (err) { replay = err instanceof IdJagRejected ? err.reason : String(err); }
console.log(JSON.stringify({ claims, replay }));
`,
      );
      const dest = await run(process.execPath, ['destination-as.mjs', BROKER, metadata.jwks_uri, TODO, body.access_token], { cwd: project, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 });
      const out = JSON.parse(dest.stdout) as { claims: { iss: string; sub: string; aud: string; client_id: string; scope: string }; replay: string };
      expect(out.claims).toMatchObject({ iss: BROKER, sub: 'todo-user-1001', aud: TODO, client_id: 'wiki-at-todo', scope: 'todos.read' });
      expect(out.replay).toMatch(/replay/);
    } finally {
      await broker.stop();
    }
  }, 90_000);

  it('the installed command: --help lists the commands; a configuration that is not there is one line and exit 1', async () => {
    const env = { ...npmEnv(), NODE_OPTIONS: '' };
    const help = await run(npx, ['--no-install', 'xaa-broker', '--help'], { cwd: project, env, timeout: 60_000 });
    expect(help.stdout).toMatch(/^\s+start\s+run the broker/m);
    expect(help.stdout).toMatch(/^\s+check\s+validate the configuration/m);
    const missing = join(project, 'nowhere.yaml');
    const failed = await run(npx, ['--no-install', 'xaa-broker', 'start', '--config', missing], { cwd: project, env, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim()).toBe(`xaa-broker will not start: config file ${missing} does not exist; check --config`);
  }, 90_000);

  it('a TypeScript consumer type-checks against the declarations the exports name', async () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createIdJagVerifier, MemoryReplayStore, type IdJagClaims } from 'xaa-broker/destination';
import { createBroker } from 'xaa-broker';
const verify = createIdJagVerifier({ audience: 'https://todo.example', trustedIssuers: [{ issuer: 'https://broker.example', jwks: new URL('https://broker.example/jwks') }], replayStore: new MemoryReplayStore() });
export const check: (jwt: string) => Promise<IdJagClaims> = (jwt) => verify(jwt, { clientId: 'c' });
export const make: typeof createBroker = createBroker;
// @ts-expect-error: the declarations are precise, not any
export const wrong: number = verify;
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [], strict: true, noEmit: true, skipLibCheck: true }, files: ['consumer.ts'] }),
    );
    // The repository's TypeScript, run in the project: resolution goes through the installed
    // package.json. skipLibCheck, as most projects set it (checking every dependency's
    // declarations costs 20 s here): what the declarations import is checked below instead.
    const r = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 60_000 }).catch((e: { stdout: string; code: number }) => e);
    expect('code' in r ? r.stdout : '').toBe('');
    // Every package the declarations import is a dependency of the package (installed with it), not a devDependency.
    const installed = join(project, 'node_modules/xaa-broker');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of readdirSync(join(installed, 'dist/types'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
      for (const m of readFileSync(join(installed, 'dist/types', file), 'utf8').matchAll(/(?:from|import\()\s*['"]([^.'"][^'"]*)['"]/g)) {
        imported.add(m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    for (const name of imported) expect(Object.keys(manifest.dependencies), name).toContain(name);
  }, 90_000);
});

/** The chunks the kit's entry imports (shared with the broker's entry). */
function kitChunks(installed: string): string[] {
  const text = readFileSync(join(installed, 'dist/lib/destination.js'), 'utf8');
  return [...text.matchAll(/from\s*["'](\.\/[^"']+)["']/g)].map((m) => join(installed, 'dist/lib', m[1]!));
}
