/**
 * The `pulled` section of `npm run bench`: what one completed ID-JAG costs in the resource-pulled
 * profile (docs/profiles/pulled.md) next to a pushed mint, against the same broker process
 * (bench/server.ts) in the same run.
 *
 * - pushed: one token exchange, the client gets the ID-JAG.
 * - pulled: the client's token exchange for a reference, then, on the same connection once the
 *   answer is in, the destination's back-channel client redeems it for the ID-JAG. One pipeline
 *   per connection, so N connections are N concurrent pipelines.
 *
 * Each profile runs with 1 pipeline (what one user waits, without queueing) and with
 * BENCH_CONNECTIONS pipelines (throughput; latency then includes waiting behind the others).
 *
 * Latency is per completed ID-JAG, timed in this process from building the pipeline's first
 * request to the 200 of its last; both profiles are timed by the same code. Subject tokens rotate
 * over the server's users; every user is taken once through the pulled pipeline (which touches
 * every per-user cache the pushed path uses too) before the timed warm-up.
 */
import autocannon from 'autocannon';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../src/destination/limits.js';
import { exchangeBody } from './exchange-body.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';

export interface PulledServerInfo {
  brokerPort: number;
  tokens: string[];
  audience: string;
  resource: string;
  backchannel: { client_id: string; client_secret: string };
}

export interface PulledOptions {
  start: () => Promise<{ info: PulledServerInfo; stop: () => void }>;
  duration: number;
  rounds: number;
  connections: number;
  warmup: number;
}

function redemption(info: PulledServerInfo, reference: string): string {
  return new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG,
    subject_token: reference,
    subject_token_type: ID_JAG_REFERENCE_TOKEN_TYPE,
    ...info.backchannel,
  }).toString();
}

interface Context {
  start?: number;
  reference?: string;
}

/** One request of a pipeline: its body from the pipeline so far (undefined: abandon the pipeline). */
type Step = (ctx: Context) => string | undefined;

interface Run {
  latencies: number[];
  seconds: number;
  requests: number;
  failed: number;
  errors: number;
}

/** Loads the broker with sequential pipelines of `steps`, one per connection; an ID-JAG is complete when the last step answers 200. */
async function drive(port: number, steps: Step[], connections: number, limit: { duration: number } | { amount: number }): Promise<Run> {
  const latencies: number[] = [];
  let failed = 0;
  const last = steps.length - 1;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/token`,
    connections,
    ...limit,
    requests: steps.map((step, i) => ({
      method: 'POST' as const,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (req: autocannon.Request, context: Record<string, unknown>) => {
        const ctx = context as Context;
        if (i === 0) ctx.start = performance.now();
        const body = step(ctx);
        return body === undefined ? undefined : { ...req, body };
      },
      onResponse: (status: number, body: string, context: Record<string, unknown>) => {
        const ctx = context as Context;
        const answer = status === 200 ? (JSON.parse(body) as { access_token: string; issued_token_type: string }) : undefined;
        // Complete only with an ID-JAG in hand; the first step of a pipeline answers a reference.
        if (answer === undefined || answer.issued_token_type !== (i === last ? ID_JAG : ID_JAG_REFERENCE_TOKEN_TYPE)) failed++;
        else if (i === last) latencies.push(performance.now() - ctx.start!);
        else ctx.reference = answer.access_token;
      },
    })) as autocannon.Request[],
  });
  return { latencies, seconds: result.duration, requests: result.requests.total, failed, errors: result.errors };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Pair {
  pipelines: number;
  rows: Array<{ profile: string; pipelines: number; 'ID-JAGs/s': number; 'HTTP req/s': number; 'p50 ms': number; 'p99 ms': number; completed: number; failed: number; errors: number }>;
  ratio: { p50: number; p99: number; throughput: number };
}

/** Runs the section and prints its table and ratios; a failed request prints a WARNING line. */
export async function pulledSection(o: PulledOptions): Promise<void> {
  console.log(`\nResource-pulled profile: per completed ID-JAG, 1 and ${o.connections} concurrent pipelines, ${o.rounds} interleaved rounds of ${o.duration}s per profile (after ${o.warmup}s warm-up), node ${process.version}`);
  const pairs = await runPulledBench(o);
  console.table(pairs.flatMap((p) => p.rows));
  for (const { pipelines, ratio } of pairs) {
    console.log(`pulled / pushed per ID-JAG, ${pipelines} pipeline${pipelines === 1 ? '' : 's'}: p50 ${ratio.p50.toFixed(2)}×, p99 ${ratio.p99.toFixed(2)}×, throughput ${(ratio.throughput * 100).toFixed(1)} %`);
  }
  if (pairs.some((p) => p.rows.some((r) => r.failed > 0 || r.errors > 0))) console.log('WARNING: some pulled-section requests failed; the figures above are not valid');
}

/**
 * Both profiles with one pipeline (latency without queueing: what one user waits) and with
 * `connections` pipelines (throughput; latency then includes queueing at the broker).
 */
export async function runPulledBench(o: PulledOptions): Promise<Pair[]> {
  const { info, stop } = await o.start();
  try {
    let next = 0;
    const token = () => info.tokens[next++ % info.tokens.length]!;
    const pushed: Step[] = [() => exchangeBody(info, token(), ID_JAG)];
    const pulled: Step[] = [() => exchangeBody(info, token(), ID_JAG_REFERENCE_TOKEN_TYPE), (ctx) => (ctx.reference === undefined ? undefined : redemption(info, ctx.reference))];

    // Warm-up, not reported: every user once through issue + redemption, then JIT time on both paths.
    await drive(info.brokerPort, pulled, o.connections, { amount: info.tokens.length * pulled.length });
    await drive(info.brokerPort, pushed, o.connections, { duration: o.warmup });
    await drive(info.brokerPort, pulled, o.connections, { duration: o.warmup });

    // Interleaved rounds, so drift in machine load hits every scenario alike; latencies are pooled over rounds.
    const concurrency = [...new Set([1, o.connections])];
    const scenarios: Array<[string, Step[], number]> = concurrency.flatMap((n): Array<[string, Step[], number]> => [
      ['pushed: token exchange → ID-JAG', pushed, n],
      ['pulled: reference issue + redemption → ID-JAG', pulled, n],
    ]);
    const runs: Run[][] = scenarios.map(() => []);
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, [, steps, n]] of scenarios.entries()) runs[i]!.push(await drive(info.brokerPort, steps, n, { duration: o.duration }));
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const stats = runs.map((r) => {
      const latencies = r.flatMap((x) => x.latencies).sort((a, b) => a - b);
      const seconds = sum(r.map((x) => x.seconds));
      return {
        rate: latencies.length / seconds,
        httpRate: sum(r.map((x) => x.requests)) / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        completed: latencies.length,
        failed: sum(r.map((x) => x.failed)),
        errors: sum(r.map((x) => x.errors)),
      };
    });
    const rows = stats.map((s, i) => ({
      profile: scenarios[i]![0],
      pipelines: scenarios[i]![2],
      'ID-JAGs/s': Math.round(s.rate),
      'HTTP req/s': Math.round(s.httpRate),
      'p50 ms': Number(s.p50.toFixed(1)),
      'p99 ms': Number(s.p99.toFixed(1)),
      completed: s.completed,
      failed: s.failed,
      errors: s.errors,
    }));
    return concurrency.map((pipelines, k) => {
      const push = stats[2 * k]!;
      const pull = stats[2 * k + 1]!;
      return { pipelines, rows: rows.slice(2 * k, 2 * k + 2), ratio: { p50: pull.p50 / push.p50, p99: pull.p99 / push.p99, throughput: pull.rate / push.rate } };
    });
  } finally {
    stop();
  }
}
