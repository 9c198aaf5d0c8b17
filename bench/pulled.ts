/**
 * The pulled target of `npm run bench`: what one completed ID-JAG costs in the resource-pulled
 * profile (docs/profiles/pulled.md) next to a pushed mint, against one broker process of its own
 * (bench/broker.ts) in the same run.
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
 * over the bench's users; bench/token-exchange.ts takes every user once through the pulled
 * pipeline (which touches every per-user cache the pushed path uses too) before the timed warm-up.
 */
import autocannon from 'autocannon';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../src/destination/limits.js';
import { exchangeBody } from './exchange-body.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';

export interface PulledServerInfo {
  tokens: string[];
  audience: string;
  resource: string;
  backchannel: { client_id: string; client_secret: string };
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

/** The two profiles' pipelines over `info.tokens` in rotation. */
export function pipelines(info: PulledServerInfo): { pushed: Step[]; pulled: Step[] } {
  let next = 0;
  const token = () => info.tokens[next++ % info.tokens.length]!;
  return {
    pushed: [() => exchangeBody(info, token(), ID_JAG)],
    pulled: [() => exchangeBody(info, token(), ID_JAG_REFERENCE_TOKEN_TYPE), (ctx) => (ctx.reference === undefined ? undefined : redemption(info, ctx.reference))],
  };
}

interface Context {
  start?: number;
  reference?: string;
}

/** One request of a pipeline: its body from the pipeline so far (undefined: abandon the pipeline). */
export type Step = (ctx: Context) => string | undefined;

export interface Run {
  latencies: number[];
  seconds: number;
  requests: number;
  failed: number;
  errors: number;
}

/** Loads the broker with sequential pipelines of `steps`, one per connection; an ID-JAG is complete when the last step answers 200. */
export async function drive(port: number, steps: Step[], connections: number, limit: { duration: number } | { amount: number }): Promise<Run> {
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

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

