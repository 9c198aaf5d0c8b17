/**
 * `npm run bench:pg-instances`: throughput of one broker process against two, both on one
 * PostgreSQL database (a throwaway cluster, as the tests start: test/helpers/pg-server.ts).
 * docs/scaling.md quotes it. Warm mints (1 000 people bound during warm-up, subject tokens
 * rotating), the broker started as `npm start` does (bench/broker.ts).
 *
 * One instance: autocannon with BENCH_CONNECTIONS on it. Two instances: two autocannon runs at
 * once, half the connections each, requests/s summed. Rounds alternate one → two so drift in
 * machine load hits both alike. Run it on a quiet machine: it measures the machine as much as
 * the broker.
 *
 * Options (env): BENCH_DURATION seconds per round (default 10), BENCH_ROUNDS (2),
 * BENCH_CONNECTIONS (32), BENCH_WARMUP seconds (3), BENCH_USERS (1000).
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPgCluster } from '../test/helpers/pg-server.js';
import { prepareBroker, startBroker, TODO, writeBrokerConfig } from './broker.js';
import { exchangeBody } from './exchange-body.js';
import { createBenchIdp, mintPool } from './id-tokens.js';
import type { Target } from './process.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const USERS = Number(process.env.BENCH_USERS ?? 1000);
const form = { 'content-type': 'application/x-www-form-urlencoded' };

function rotating(tokens: string[]): () => string {
  let i = 0;
  const info = { audience: TODO, resource: `${TODO}/api` };
  return () => exchangeBody(info, tokens[i++ % tokens.length]!);
}

async function load(target: Target, next: () => string, connections: number, duration: number) {
  const r = await autocannon({
    url: `http://127.0.0.1:${target.port}/token`,
    connections,
    duration,
    requests: [{ method: 'POST', headers: form, setupRequest: (req) => ({ ...req, body: next() }) }],
  });
  return { total: r.requests.total, seconds: r.duration, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

async function main() {
  const dir = mkdtempSync(join(os.tmpdir(), 'xaa-bench-pg-'));
  const cluster = await startPgCluster();
  const targets: Target[] = [];
  try {
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE xaa_bench');
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, '/xaa_bench');
    prepareBroker();
    const idp = createBenchIdp(dir);
    const config = await writeBrokerConfig(dir, idp);
    targets.push(await startBroker('broker-1', config, url));
    targets.push(await startBroker('broker-2', config, url));
    const tokens = await mintPool(idp, { count: USERS * 2, users: USERS, newEvery: 0, prefix: 'warm', offset: 0 }, dir);
    // Warm-up: every person bound, every cache of both instances warm.
    for (const t of targets) await load(t, rotating(tokens), CONNECTIONS, WARMUP);

    const rows: Array<{ round: number; one: number; two: number; p99One: number; p99Two: number; failed: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const one = await load(targets[0]!, rotating(tokens), CONNECTIONS, DURATION);
      const both = await Promise.all(targets.map((t) => load(t, rotating(tokens), CONNECTIONS / 2, DURATION)));
      const twoRps = both.reduce((a, r) => a + r.total / r.seconds, 0);
      rows.push({
        round,
        one: one.total / one.seconds,
        two: twoRps,
        p99One: one.p99,
        p99Two: Math.max(...both.map((r) => r.p99)),
        failed: one.non2xx + one.errors + both.reduce((a, r) => a + r.non2xx + r.errors, 0),
      });
    }
    console.log(`PostgreSQL, warm mints, ${CONNECTIONS} connections, ${DURATION} s rounds, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('round | one instance req/s | two instances req/s | two/one | p99 one | p99 two | failed');
    for (const r of rows) {
      console.log(`${r.round} | ${r.one.toFixed(0)} | ${r.two.toFixed(0)} | ${(r.two / r.one).toFixed(2)} | ${r.p99One} ms | ${r.p99Two} ms | ${r.failed}`);
    }
  } finally {
    for (const t of targets) t.stop();
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
