/**
 * `npm run bench`: token exchanges per second and latency for the full caller-pushed path
 * (client auth, subject-token verification, table mapping from SQLite, Cedar per scope, ES256
 * signing, audit write), beside a baseline endpoint that only parses the form and signs one
 * ES256 JWT, both measured in this run on this machine. The server runs in a child process;
 * autocannon loads it from this one.
 *
 * Then the resource-pulled section (bench/pulled.ts): per completed ID-JAG, reference issue +
 * redemption next to a pushed mint, on a fresh server of the same setup.
 *
 * Then the SAML ACS section (bench/saml.ts): CPU per good login and per refused forged response,
 * longest main-thread block, good logins per second.
 *
 * Options (env): BENCH_DURATION seconds per scenario and round (default 10), BENCH_ROUNDS (default 2),
 * BENCH_CONNECTIONS (default 32), BENCH_WARMUP seconds (default 3); BENCH_SAML_LOGINS good logins
 * (default 200), BENCH_SAML_FORGED responses per forged shape (default 20), BENCH_SAML_INFLIGHT
 * (default 8). `npm run bench -- --only saml` (or `--only exchange`, `--only pulled`) runs one section.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import os from 'node:os';
import { exchangeBody } from './exchange-body.js';
import { pulledSection } from './pulled.js';
import { runSamlBench } from './saml.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SAML_LOGINS = Number(process.env.BENCH_SAML_LOGINS ?? 200);
const SAML_FORGED = Number(process.env.BENCH_SAML_FORGED ?? 20);
const SAML_INFLIGHT = Number(process.env.BENCH_SAML_INFLIGHT ?? 8);

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
if (only !== undefined && only !== 'saml' && only !== 'exchange' && only !== 'pulled') throw new Error('--only takes saml, exchange or pulled');

interface ServerInfo {
  brokerPort: number;
  baselinePort: number;
  tokens: string[];
  audience: string;
  resource: string;
  backchannel: { client_id: string; client_secret: string };
}

function startServer(): Promise<{ info: ServerInfo; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    createInterface({ input: child.stdout! }).once('line', (line) => ok({ info: JSON.parse(line) as ServerInfo, stop: () => child.kill() }));
    child.once('exit', (code) => fail(new Error(`bench server exited with ${code}`)));
  });
}


interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(scenario: string, port: number, bodies: string[], duration = DURATION): Promise<Row> {
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/token`,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length]! }),
      },
    ],
  });
  return { scenario, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

async function exchangeSection(): Promise<void> {
  const { info, stop } = await startServer();
  try {
    const repeated = [exchangeBody(info, info.tokens[0]!)];
    const rotating = info.tokens.map((t) => exchangeBody(info, t));
    console.log(`xaa-broker bench: ${os.cpus().length} cores, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION}s per scenario (after ${WARMUP}s warm-up), node ${process.version}`);

    // Warm-up: JIT, caches, SQLite pages. Not reported.
    await load('warm-up', info.baselinePort, repeated, WARMUP);
    await load('warm-up', info.brokerPort, rotating, WARMUP);

    // Interleaved rounds, so drift in machine load hits every scenario alike; figures are round means.
    const scenarios: Array<[string, number, string[]]> = [
      ['baseline: parse form + sign one ES256 JWT', info.baselinePort, repeated],
      ['full path, one subject token repeated', info.brokerPort, repeated],
      [`full path, ${info.tokens.length} users' tokens rotating`, info.brokerPort, rotating],
    ];
    const runs: Row[][] = scenarios.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, [name, port, bodies]] of scenarios.entries()) runs[i]!.push(await load(name, port, bodies));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rows: Row[] = runs.map((r) => ({
      scenario: r[0]!.scenario,
      rps: mean(r.map((x) => x.rps)),
      p50: mean(r.map((x) => x.p50)),
      p99: mean(r.map((x) => x.p99)),
      non2xx: r.reduce((a, x) => a + x.non2xx, 0),
      errors: r.reduce((a, x) => a + x.errors, 0),
    }));
    const base = rows[0]!.rps;
    const table = rows.map((r) => ({
      scenario: r.scenario,
      'req/s': Math.round(r.rps),
      'p50 ms': Number(r.p50.toFixed(1)),
      'p99 ms': Number(r.p99.toFixed(1)),
      'non-2xx': r.non2xx,
      errors: r.errors,
      'vs baseline': `${((r.rps / base) * 100).toFixed(1)} %`,
    }));
    console.table(table);
    const worst = Math.min(...rows.slice(1).map((r) => r.rps / base));
    console.log(`full path / baseline throughput: ${(worst * 100).toFixed(1)} % (target ≥ 60 %)`);
    if (rows.some((r) => r.non2xx > 0 || r.errors > 0)) console.log('WARNING: some requests failed; the figures above are not valid');
  } finally {
    stop();
  }
}

async function samlSection(): Promise<void> {
  console.log(`\nSAML ACS (in process, consumeResponse): ${SAML_LOGINS} good logins, ${SAML_FORGED} per forged shape, node ${process.version}`);
  const result = await runSamlBench({ logins: SAML_LOGINS, forged: SAML_FORGED, inflight: SAML_INFLIGHT });
  console.table(result.rows);
  console.table(result.throughput);
  for (const where of ['main thread', 'pool'] as const) {
    const rows = result.rows.filter((r) => r.where === where);
    const good = rows[0]!;
    const worstForged = Math.max(...rows.slice(1).map((r) => r['CPU ms/resp']));
    const longestBlock = Math.max(...rows.map((r) => r['max block ms']), result.throughput.find((t) => t.where === where)!['max block ms']);
    const perSecond = result.throughput.find((t) => t.where === where)!['logins/s'];
    console.log(`SAML (${where}) good logins/s (${SAML_INFLIGHT} in flight): ${perSecond}; CPU per good login ${good['CPU ms/resp']} ms (target ≤ 10); worst refused forgery ${worstForged} ms (target ≤ 10); longest main-thread block ${longestBlock} ms`);
  }
  if (result.failures.length > 0) console.log(`WARNING: unexpected SAML outcomes: ${result.failures.slice(0, 5).join('; ')}`);
}

if (only === undefined || only === 'exchange') await exchangeSection();
if (only === undefined || only === 'pulled') await pulledSection({ start: startServer, duration: DURATION, rounds: ROUNDS, connections: CONNECTIONS, warmup: WARMUP });
if (only === undefined || only === 'saml') await samlSection();
