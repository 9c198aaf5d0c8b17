/**
 * Cold start of the Workers runtime, measured on a local workerd (Miniflare): the Worker as
 * `wrangler deploy` would upload it (a --dry-run bundle), a fresh workerd (so a cold isolate) per
 * run, all on one D1 that a first, uncounted run set up (keys, mapping rows), as after a
 * deployment. Prints, as medians over the runs:
 *
 * - first metadata: the first request after the isolate starts, which builds the broker
 *   (configuration, Cedar, keys) and answers /.well-known/oauth-authorization-server;
 * - warm metadata: the same request again (so the difference is the build);
 * - first exchange: the first token exchange (the upstream JWKS fetched, caches cold);
 * - steady exchange: the median of the next exchanges, each with a new ID token.
 *
 * Usage: npm run bench:worker-start [-- runs]. The demo IdP is served on :9000 (the bundled
 * configuration trusts http://localhost:9000); if that port is taken, exchanges are skipped.
 * Figures and what moved them: docs/workers.md. Never asserted in tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { createRequire } from 'node:module';
import { createDemoIdp } from '../examples/demo-idp.js';

const RUNS = Number(process.argv[2] ?? 5);
const EXCHANGES = 20;
const root = join(import.meta.dirname, '..');
const BASE = 'http://localhost:8787';

// The Miniflare that wrangler itself runs (node_modules/miniflare may be another major version).
interface LocalWorkerd {
  ready: Promise<unknown>;
  dispatchFetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Response>;
  getD1Database(binding: string): Promise<{ batch(statements: unknown[]): Promise<unknown>; prepare(sql: string): unknown }>;
  dispose(): Promise<void>;
}
const { Miniflare } = (await import(createRequire(join(root, 'node_modules/wrangler/package.json')).resolve('miniflare'))) as { Miniflare: new (options: Record<string, unknown>) => LocalWorkerd };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** The Worker exactly as wrangler bundles it for upload. */
function bundle(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'xaa-worker-start-'));
  execFileSync(process.execPath, [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir], { cwd: root, stdio: 'pipe', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
  return outdir;
}

async function listening(port: number, fetchFn: Parameters<typeof serve>[0]['fetch']): Promise<(() => void) | undefined> {
  return new Promise((ok) => {
    const server = serve({ fetch: fetchFn, port, hostname: '127.0.0.1' });
    server.once('listening', () => ok(() => server.close()));
    server.once('error', () => ok(undefined));
  });
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await f();
  return [performance.now() - t0, value];
}

async function main() {
  const outdir = bundle();
  const idp = await createDemoIdp('http://localhost:9000');
  const stopIdp = await listening(9000, idp.app.fetch);
  if (!stopIdp) console.log('port 9000 is in use: token exchanges skipped');
  const migrations = await readD1Migrations(join(root, 'migrations'));
  const rows: Record<string, number[]> = { start: [], first: [], warm: [], firstExchange: [], steady: [] };
  const persist = mkdtempSync(join(tmpdir(), 'xaa-worker-start-d1-'));

  // Run 0 is the first deployment (migrations, signing keys created, mapping rows written): not counted.
  for (let run = 0; run <= RUNS; run++) {
    const [start, mf] = await timed(async () => {
      const mf = new Miniflare({
        modules: true,
        scriptPath: join(outdir, 'worker.js'),
        modulesRoot: outdir,
        modulesRules: [
          { type: 'Text', include: ['**/*.yaml', '**/*.cedar', '**/*.cedarschema', '**/*.json.txt'] },
          { type: 'CompiledWasm', include: ['**/*.wasm'] },
        ],
        compatibilityDate: '2025-09-15',
        compatibilityFlags: ['nodejs_compat'],
        // One D1 for every run, as in production: keys and mapping rows exist after the first.
        d1Databases: { DB: 'bench' },
        d1Persist: persist,
        // The Worker's own log lines are not the bench's output.
        handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
          stdout.resume();
          stderr.resume();
        },
      });
      await mf.ready;
      return mf;
    });
    try {
      const db = await mf.getD1Database('DB');
      if (run === 0) for (const m of migrations) await db.batch(m.queries.map((q) => db.prepare(q)));
      const metadata = () => mf.dispatchFetch(`${BASE}/.well-known/oauth-authorization-server`).then(async (r) => [r.status, await r.text()] as const);
      const [first, [status]] = await timed(metadata);
      if (status !== 200) throw new Error(`metadata answered ${status}`);
      const [warm] = await timed(metadata);
      if (run === 0) continue;
      rows.start!.push(start);
      rows.first!.push(first);
      rows.warm!.push(warm);
      if (stopIdp) {
        const exchange = async (i: number) => {
          // The people mappings/todo-users.yaml maps; a new ID token each time (a fresh nonce).
          const sub = i % 2 === 0 ? 'alice' : 'bob';
          const idToken = await idp.idToken({ sub, email: `${sub}@example.com`, groups: ['staff'] }, 'wiki-agent', { extra: { nonce: crypto.randomUUID() } });
          const body = new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
            subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
            subject_token: idToken,
            audience: 'todo',
            scope: 'todos.read',
            client_id: 'wiki-agent',
            client_secret: 'demo-wiki-secret',
          });
          const [ms, res] = await timed(() => mf.dispatchFetch(`${BASE}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() }));
          const answer = (await res.json()) as { access_token?: string; error?: string };
          if (!answer.access_token) throw new Error(`the exchange answered ${res.status} ${answer.error}`);
          return ms;
        };
        rows.firstExchange!.push(await exchange(0));
        const steady: number[] = [];
        for (let i = 1; i <= EXCHANGES; i++) steady.push(await exchange(i));
        rows.steady!.push(median(steady));
      }
    } finally {
      await mf.dispose();
    }
  }
  stopIdp?.();
  rmSync(outdir, { recursive: true, force: true });
  rmSync(persist, { recursive: true, force: true });

  const line = (label: string, xs: number[]) => (xs.length ? console.log(`${label.padEnd(42)} ${median(xs).toFixed(0).padStart(6)} ms   (${xs.map((x) => x.toFixed(0)).join(', ')})`) : undefined);
  console.log(`Workers cold start on a local workerd (Miniflare), ${RUNS} fresh isolates, medians:`);
  line('workerd ready (not a production figure)', rows.start!);
  line('first request (builds the broker)', rows.first!);
  line('same request, warm', rows.warm!);
  line('first token exchange (JWKS fetch, cold caches)', rows.firstExchange!);
  line(`steady token exchange (median of ${EXCHANGES})`, rows.steady!);
}

await main();
