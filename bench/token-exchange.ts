/**
 * `npm run bench`: each target in a process of its own, loaded with autocannon from this one.
 *
 * - naive-jose: Hono + the broker's form parser + jose SignJWT ES256 (bench/naive-server.ts).
 *   Every ratio is to this target.
 * - naive-crypto: the same with the JWS signed by node:crypto: the physical floor.
 * - oidc-provider: oidc-provider 9, `client_credentials`, JWT access tokens ES256
 *   (bench/oidc-provider-server.ts): the anchor a user would pick instead.
 * - broker-warm: the broker (started as `npm start` does, bench/broker.ts), 1 000 users' ID tokens
 *   rotating, every user bound and every cache warm.
 * - broker-cold: another broker process; every subject token new (minted before the rounds in a
 *   child process), one in ten for a person never seen before (a pairwise binding write), the
 *   others for the 1 000 users bound during warm-up.
 * - pulled: a third broker process; per completed ID-JAG, reference issue + redemption next to a
 *   pushed mint, with 1 and BENCH_CONNECTIONS pipelines (bench/pulled.ts).
 * - saml: the SAML ACS section (bench/saml.ts) in a process of its own.
 *
 * Per target: req/s, p50/p99, CPU per request of the target's process (/proc utime+stime over the
 * round ÷ completed requests), its RSS after the rounds, its spawn → listening time, and the ratios
 * to naive-jose. Rounds are interleaved over all targets so drift in machine load hits all alike.
 * Raw figures go to bench/results/latest.json (or BENCH_RESULTS).
 *
 * Options (env): BENCH_DURATION seconds per target and round (default 10), BENCH_ROUNDS (2),
 * BENCH_CONNECTIONS (32), BENCH_WARMUP seconds (3), BENCH_USERS (1000), BENCH_RESULTS (output
 * path); BENCH_SAML_LOGINS (200), BENCH_SAML_FORGED (20), BENCH_SAML_INFLIGHT (8).
 * `npm run bench -- --only broker-cold,naive-jose` runs some targets (`exchange`: the five
 * token-endpoint targets).
 */
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { startBroker, writeBrokerConfig, brokerCommand, prepareBroker, TODO, BACKCHANNEL } from './broker.js';
import { exchangeBody } from './exchange-body.js';
import { createBenchIdp, mintPool, type BenchIdp } from './id-tokens.js';
import { OIDC_CLIENT, OIDC_RESOURCE } from './oidc-provider-server.js';
import { cpuSource, spawnTarget, type Target } from './process.js';
import { drive, percentile, pipelines, type Run, type Step } from './pulled.js';
import type { SamlBenchResult } from './saml.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const USERS = Number(process.env.BENCH_USERS ?? 1000);
const RESULTS = process.env.BENCH_RESULTS ?? join(import.meta.dirname, 'results/latest.json');
const SAML = {
  logins: Number(process.env.BENCH_SAML_LOGINS ?? 200),
  forged: Number(process.env.BENCH_SAML_FORGED ?? 20),
  inflight: Number(process.env.BENCH_SAML_INFLIGHT ?? 8),
};
/** One token in NEW_EVERY of the cold pool is for a person never seen before. */
const NEW_EVERY = 10;
/** The cold pool holds this many times what the cold target could use at the fastest rate seen in warm-up. */
const POOL_MARGIN = 3;
/** Cold warm-up tokens per second of warm-up: above what any target here reaches on 2 cores (a shortfall only reuses tokens in the unreported warm-up). */
const WARMUP_POOL_RATE = 6000;

const EXCHANGE = ['naive-jose', 'naive-crypto', 'oidc-provider', 'broker-warm', 'broker-cold'] as const;
const ALL = [...EXCHANGE, 'pulled', 'saml'] as const;
type Key = (typeof ALL)[number];

function selected(): Set<Key> {
  const at = process.argv.indexOf('--only');
  if (at === -1) return new Set(ALL);
  const keys = new Set<Key>();
  for (const k of (process.argv[at + 1] ?? '').split(',')) {
    if (k === 'exchange') EXCHANGE.forEach((e) => keys.add(e));
    else if ((ALL as readonly string[]).includes(k)) keys.add(k as Key);
    else throw new Error(`--only takes a comma-separated list of: exchange, ${ALL.join(', ')}`);
  }
  return keys;
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const exchangeInfo = { audience: TODO, resource: `${TODO}/api` };

/** What one timed run of a scenario gave; `completed` is what CPU is divided by. */
interface RoundRaw {
  round: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  completed: number;
  httpRequests: number;
  failed: number;
  errors: number;
  cpuSeconds: number;
  cpuMsPerRequest: number;
  loadavg: number[];
}

interface Scenario {
  key: Key;
  label: string;
  target: Target;
  /** Drives the target for `duration` seconds (or, for warm-up, as told). */
  run(duration: number): Promise<Omit<RoundRaw, 'round' | 'cpuSeconds' | 'cpuMsPerRequest' | 'loadavg'>>;
  rounds: RoundRaw[];
  /** In the main table (the pulled section's 1-pipeline and pushed scenarios are not). */
  main: boolean;
  /** The naive endpoint driven by the pulled section's pipeline client: the baseline of that section's ratios. */
  pipelineBaseline?: true;
}

/** Plain autocannon on /token, one body per request from `next`. */
async function hammer(port: number, next: () => string, limit: { duration: number } | { amount: number }, connections = CONNECTIONS) {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/token`,
    connections,
    ...limit,
    requests: [{ method: 'POST', headers: form, setupRequest: (req) => ({ ...req, body: next() }) }],
  });
  return { seconds: r.duration, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, completed: r.requests.total, httpRequests: r.requests.total, failed: r.non2xx, errors: r.errors };
}

/** A pulled.ts pipeline run, in the same shape; latency per completed ID-JAG. */
async function pipeline(port: number, steps: Step[], connections: number, limit: { duration: number } | { amount: number }) {
  const r: Run = await drive(port, steps, connections, limit);
  const sorted = r.latencies.sort((a, b) => a - b);
  return { seconds: r.seconds, rps: sorted.length / r.seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), completed: sorted.length, httpRequests: r.requests, failed: r.failed, errors: r.errors };
}

async function timed(s: Scenario, round: number): Promise<RoundRaw> {
  const cpu0 = await s.target.cpuSeconds();
  const raw = await s.run(DURATION);
  const cpuSeconds = (await s.target.cpuSeconds()) - cpu0;
  return { round, ...raw, cpuSeconds, cpuMsPerRequest: (cpuSeconds * 1000) / Math.max(1, raw.completed), loadavg: os.loadavg() };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;

function aggregate(s: Scenario) {
  const r = s.rounds;
  return {
    rps: mean(r.map((x) => x.rps)),
    p50: mean(r.map((x) => x.p50)),
    p99: mean(r.map((x) => x.p99)),
    completed: sum(r.map((x) => x.completed)),
    failed: sum(r.map((x) => x.failed)),
    errors: sum(r.map((x) => x.errors)),
    cpuMsPerRequest: (sum(r.map((x) => x.cpuSeconds)) * 1000) / Math.max(1, sum(r.map((x) => x.completed))),
  };
}

async function main() {
  const only = selected();
  const dir = mkdtempSync(join(os.tmpdir(), 'xaa-bench-'));
  const loadBefore = os.loadavg();
  console.log(
    `xaa-broker bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, node ${process.version}; ` +
      `${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION}s per target after ${WARMUP}s warm-up; CPU and RSS from ${cpuSource}`,
  );
  const targets: Target[] = [];
  const scenarios: Scenario[] = [];
  let saml: SamlBenchResult | undefined;
  let coldPool: { tokens: string[]; next: number; reused: number } | undefined;
  try {
    const idp: BenchIdp = createBenchIdp(dir);
    const needsBroker = only.has('broker-warm') || only.has('broker-cold') || only.has('pulled');
    const configPath = needsBroker ? await writeBrokerConfig(dir, idp) : '';
    if (needsBroker) prepareBroker();
    const users = only.size > (only.has('saml') ? 1 : 0) ? await mintPool(idp, { count: USERS, users: USERS, newEvery: 0, prefix: 'warm', offset: 0 }, dir) : [];

    // Processes are started one at a time, so each spawn → listening time is its own.
    const start = async (make: () => Promise<Target>) => {
      const t = await make();
      targets.push(t);
      return t;
    };
    const rotate = (bodies: string[]) => {
      let i = 0;
      return () => bodies[i++ % bodies.length]!;
    };
    if (only.has('naive-jose')) {
      const t = await start(() => spawnTarget('naive-jose', { args: ['--import', 'tsx', 'bench/naive-server.ts', 'jose'] }));
      const next = rotate([exchangeBody(exchangeInfo, users[0]!)]);
      scenarios.push({ key: 'naive-jose', label: 'naive: Hono + readForm + jose SignJWT ES256', target: t, run: (d) => hammer(t.port, next, { duration: d }), rounds: [], main: true });
    }
    if (only.has('naive-crypto')) {
      const t = await start(() => spawnTarget('naive-crypto', { args: ['--import', 'tsx', 'bench/naive-server.ts', 'crypto'] }));
      const next = rotate([exchangeBody(exchangeInfo, users[0]!)]);
      scenarios.push({ key: 'naive-crypto', label: 'naive: Hono + readForm + node:crypto ES256 (floor)', target: t, run: (d) => hammer(t.port, next, { duration: d }), rounds: [], main: true });
    }
    if (only.has('oidc-provider')) {
      const t = await start(() => spawnTarget('oidc-provider', { args: ['--import', 'tsx', 'bench/oidc-provider-server.ts'] }));
      const next = rotate([new URLSearchParams({ grant_type: 'client_credentials', scope: 'todos.read todos.write', resource: OIDC_RESOURCE, ...OIDC_CLIENT }).toString()]);
      scenarios.push({ key: 'oidc-provider', label: 'oidc-provider 9 client_credentials, JWT AT ES256', target: t, run: (d) => hammer(t.port, next, { duration: d }), rounds: [], main: true });
    }
    const warmBodies = users.map((u) => exchangeBody(exchangeInfo, u));
    if (only.has('broker-warm')) {
      const t = await start(() => startBroker('broker-warm', configPath, join(dir, 'warm.sqlite')));
      const next = rotate(warmBodies);
      scenarios.push({ key: 'broker-warm', label: `broker warm: ${USERS} users' ID tokens rotating`, target: t, run: (d) => hammer(t.port, next, { duration: d }), rounds: [], main: true });
    }
    if (only.has('broker-cold')) {
      const t = await start(() => startBroker('broker-cold', configPath, join(dir, 'cold.sqlite')));
      const next = () => {
        const pool = coldPool!;
        if (pool.next >= pool.tokens.length) pool.reused++;
        return exchangeBody(exchangeInfo, pool.tokens[pool.next++ % pool.tokens.length]!);
      };
      scenarios.push({ key: 'broker-cold', label: `broker cold: every ID token new, 1 in ${NEW_EVERY} a new person`, target: t, run: (d) => hammer(t.port, next, { duration: d }), rounds: [], main: true });
    }
    if (only.has('pulled')) {
      const t = await start(() => startBroker('broker-pulled', configPath, join(dir, 'pulled.sqlite')));
      const info = { ...exchangeInfo, tokens: users, backchannel: BACKCHANNEL };
      const { pushed, pulled } = pipelines(info);
      // The pipeline client costs the shared cores less than autocannon: the pulled section's ratios
      // are to the naive endpoint under that same client.
      const naive = scenarios.find((s) => s.key === 'naive-jose');
      if (naive) {
        const body = exchangeBody(exchangeInfo, users[0]!);
        scenarios.push({ key: 'naive-jose', label: `naive: Hono + readForm + jose SignJWT ES256, pipeline client, ${CONNECTIONS} pipelines`, target: naive.target, run: (d) => pipeline(naive.target.port, [() => body], CONNECTIONS, { duration: d }), rounds: [], main: false, pipelineBaseline: true });
      }
      for (const n of [...new Set([1, CONNECTIONS])]) {
        const main = n === CONNECTIONS;
        scenarios.push({ key: 'pulled', label: `pushed: token exchange → ID-JAG, ${n} pipeline${n === 1 ? '' : 's'}`, target: t, run: (d) => pipeline(t.port, pushed, n, { duration: d }), rounds: [], main: false });
        scenarios.push({ key: 'pulled', label: `pulled: reference issue + redemption → ID-JAG, ${n} pipeline${n === 1 ? '' : 's'}`, target: t, run: (d) => pipeline(t.port, pulled, n, { duration: d }), rounds: [], main });
      }
    }
    if (targets.length > 0) console.table(targets.map((t) => ({ target: t.name, pid: t.pid, 'spawn → listening ms': Math.round(t.startupMs) })));
    const broker = targets.find((t) => t.name.startsWith('broker'));
    if (broker) console.log(`broker start (${brokerCommand().join(' ').replace(join(import.meta.dirname, '..') + '/', '')}): spawn → listening ${Math.round(broker.startupMs)} ms (target ≤ 1000 ms)`);

    // Warm-up, not reported: every user once through each broker process (bound there; the pulled
    // one through issue + redemption, which touches every per-user cache a pushed mint uses too),
    // then JIT time on every path.
    const bound = new Set<Target>();
    let fastestColdRate = 0;
    for (const s of scenarios) {
      if (s.key === 'broker-warm' || s.key === 'broker-cold' || s.key === 'pulled') {
        if (!bound.has(s.target)) {
          if (s.key === 'pulled') await pipeline(s.target.port, pipelines({ ...exchangeInfo, tokens: users, backchannel: BACKCHANNEL }).pulled, CONNECTIONS, { amount: users.length * 2 });
          else await hammer(s.target.port, rotate(warmBodies), { amount: warmBodies.length });
          bound.add(s.target);
        }
      }
      if (s.key === 'broker-cold') {
        coldPool = { tokens: await mintPool(idp, { count: Math.ceil(WARMUP_POOL_RATE * WARMUP), users: USERS, newEvery: NEW_EVERY, prefix: 'warm-up-new', offset: 0 }, dir), next: 0, reused: 0 };
        fastestColdRate = Math.max(fastestColdRate, (await s.run(WARMUP)).rps);
        continue;
      }
      const r = await s.run(WARMUP);
      if (s.key === 'naive-crypto') fastestColdRate = Math.max(fastestColdRate, r.rps / POOL_MARGIN);
    }
    if (coldPool) {
      // Fresh tokens for every request of every round, minted now so their cost is not measured.
      const count = Math.ceil(fastestColdRate * POOL_MARGIN * DURATION * ROUNDS) + 1000;
      coldPool = { tokens: await mintPool(idp, { count, users: USERS, newEvery: NEW_EVERY, prefix: 'new', offset: 500 }, dir), next: 0, reused: 0 };
      console.log(`cold pool: ${count} fresh ID tokens, ${Math.ceil(count / NEW_EVERY)} for new persons`);
    }

    // Interleaved rounds.
    const coldDb = join(dir, 'cold.sqlite');
    const bindingsBefore = coldPool ? countBindings(coldDb) : 0;
    for (let round = 0; round < ROUNDS; round++) for (const s of scenarios) s.rounds.push(await timed(s, round));
    // The cold path's promise: one request in NEW_EVERY wrote a binding for a person never seen before.
    const coldBindings = coldPool && { before: bindingsBefore, writtenDuringRounds: countBindings(coldDb) - bindingsBefore, requests: coldPool.next };
    if (coldBindings) console.log(`cold: ${coldBindings.writtenDuringRounds} bindings written for new persons in ${coldBindings.requests} requests (${coldBindings.before} persons bound before the rounds)`);

    const rss = new Map<Target, number>();
    for (const t of targets) rss.set(t, await t.rssBytes());

    const base = scenarios.find((s) => s.key === 'naive-jose' && !s.pipelineBaseline);
    const pipelineBase = scenarios.find((s) => s.pipelineBaseline);
    const spread = (xs: number[]) => (xs.length < 2 ? '—' : `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} %`);
    const row = (s: Scenario) => {
      const a = aggregate(s);
      const b = s.key === 'pulled' && pipelineBase ? pipelineBase : base;
      const baseAgg = b && aggregate(b);
      return {
        target: s.label,
        'req/s': Math.round(a.rps),
        'p50 ms': Number(a.p50.toFixed(1)),
        'p99 ms': Number(a.p99.toFixed(1)),
        'CPU ms/req': Number(a.cpuMsPerRequest.toFixed(3)),
        'RSS MB': Math.round(rss.get(s.target)! / 2 ** 20),
        'req/s vs naive': baseAgg ? `${((a.rps / baseAgg.rps) * 100).toFixed(1)} %` : '—',
        // Each round against the baseline's round of the same index (adjacent in time): how much a run moves.
        'per round': b && b !== s ? spread(s.rounds.map((r, i) => (r.rps / b.rounds[i]!.rps) * 100)) : '—',
        'CPU vs naive': baseAgg ? `${(a.cpuMsPerRequest / baseAgg.cpuMsPerRequest).toFixed(2)}×` : '—',
        failed: a.failed,
        errors: a.errors,
      };
    };
    const mainRows = scenarios.filter((s) => s.main);
    if (mainRows.length > 0) {
      console.log(`\nToken endpoints (pulled: per completed ID-JAG, two requests each), load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      console.table(mainRows.map(row));
    }
    const pulledRows = scenarios.filter((s) => s.key === 'pulled');
    if (pulledRows.length > 0) {
      console.log(`\nResource-pulled profile, per completed ID-JAG, on its own broker process (ratios to the naive endpoint under the same pipeline client${pipelineBase ? `: ${Math.round(aggregate(pipelineBase).rps)} req/s` : ', not run: add naive-jose'}):`);
      console.table(pulledRows.map((s) => ({ ...row(s), 'HTTP req/s': Math.round(sum(s.rounds.map((r) => r.httpRequests)) / sum(s.rounds.map((r) => r.seconds))) })));
      for (let k = 0; k < pulledRows.length; k += 2) {
        const push = aggregate(pulledRows[k]!);
        const pull = aggregate(pulledRows[k + 1]!);
        const n = pulledRows[k]!.label.replace(/.*, /, '');
        console.log(`pulled / pushed per ID-JAG, ${n}: p50 ${(pull.p50 / push.p50).toFixed(2)}×, p99 ${(pull.p99 / push.p99).toFixed(2)}×, throughput ${((pull.rps / push.rps) * 100).toFixed(1)} %, CPU ${(pull.cpuMsPerRequest / push.cpuMsPerRequest).toFixed(2)}×`);
      }
    }
    if (coldPool && coldPool.reused > 0) console.log(`WARNING: the cold pool ran out: ${coldPool.reused} requests reused a token, so not every cold request was cold`);
    if (scenarios.some((s) => s.rounds.some((r) => r.failed > 0 || r.errors > 0))) console.log('WARNING: some requests failed; the figures above are not valid');

    if (only.has('saml')) saml = await samlSection();

    const results = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, node: process.version },
      loadavg: { before: loadBefore, after: os.loadavg() },
      settings: { duration: DURATION, rounds: ROUNDS, connections: CONNECTIONS, warmup: WARMUP, users: USERS, newEvery: NEW_EVERY, saml: SAML, cpuSource, brokerCommand: brokerCommand() },
      targets: targets.map((t) => ({ name: t.name, pid: t.pid, startupMs: t.startupMs, rssBytesAfterRounds: rss.get(t) })),
      scenarios: scenarios.map((s) => ({ key: s.key, label: s.label, target: s.target.name, main: s.main, ...(s.pipelineBaseline ? { pipelineBaseline: true } : {}), aggregate: aggregate(s), rounds: s.rounds })),
      coldPool: coldPool && { size: coldPool.tokens.length, used: coldPool.next, reused: coldPool.reused, bindings: coldBindings },
      saml,
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nraw figures: ${RESULTS}`);
  } finally {
    for (const t of targets) t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function countBindings(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM subject_bindings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The SAML ACS section (bench/saml.ts) in a process of its own; prints its tables here. */
async function samlSection() {
  console.log(`\nSAML ACS (own process, consumeResponse): ${SAML.logins} good logins, ${SAML.forged} per forged shape, node ${process.version}`);
  const child = fork(join(import.meta.dirname, 'saml.ts'), [JSON.stringify(SAML)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = await new Promise<SamlBenchResult>((ok, fail) => {
    child.once('message', (m) => ok(m as SamlBenchResult));
    child.once('exit', (code) => fail(new Error(`SAML bench exited with ${code}`)));
  });
  console.table(result.rows);
  console.table(result.throughput);
  for (const where of ['main thread', 'pool'] as const) {
    const rows = result.rows.filter((r) => r.where === where);
    const good = rows[0]!;
    const worstForged = Math.max(...rows.slice(1).map((r) => r['CPU ms/resp']));
    const longestBlock = Math.max(...rows.map((r) => r['max block ms']), result.throughput.find((t) => t.where === where)!['max block ms']);
    const perSecond = result.throughput.find((t) => t.where === where)!['logins/s'];
    console.log(`SAML (${where}) good logins/s (${SAML.inflight} in flight): ${perSecond}; CPU per good login ${good['CPU ms/resp']} ms (target ≤ 10); worst refused forgery ${worstForged} ms (target ≤ 10); longest main-thread block ${longestBlock} ms`);
  }
  if (result.failures.length > 0) console.log(`WARNING: unexpected SAML outcomes: ${result.failures.slice(0, 5).join('; ')}`);
  return result;
}

await main();
