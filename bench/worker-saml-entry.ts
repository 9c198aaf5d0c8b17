/**
 * The Worker bench/worker-saml.ts runs: the broker's own Worker (src/runtime/worker.ts) with the
 * bundled mappings and policies and a broker configuration the bench writes (binding
 * BENCH_CONFIG: the demo configuration plus a SAML connection to the bench's IdP), and one
 * route of its own, `POST /__bench/verify`, that runs the ACS's stateless checks (the verifier the
 * Worker uses) `n` times on one response in this isolate, so that the bench can tell their cost
 * from the D1 round trips of a login.
 */
import type { ExecutionContext } from 'hono';
import { createWorker, type BrokerWorker, type WorkerEnv } from '../src/runtime/worker.js';
import { bundledConfigFiles } from '../src/runtime/worker-files.js';
import { inThreadVerifier, type SamlVerifierSetup } from '../src/upstream/saml/verifier.js';

let worker: BrokerWorker | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv & { BENCH_CONFIG: string }, ctx: ExecutionContext): Promise<Response> {
    if (new URL(request.url).pathname === '/__bench/verify') {
      const { setup, response, now, n } = (await request.json()) as { setup: SamlVerifierSetup; response: string; now: number; n: number };
      const verifier = inThreadVerifier(setup);
      let outcome = await verifier.verify(response, now);
      for (let i = 1; i < n; i++) outcome = await verifier.verify(response, now);
      return Response.json(outcome.ok ? { ok: true } : { ok: false, reason: outcome.reason.code });
    }
    worker ??= createWorker({ files: { ...bundledConfigFiles, broker: { path: 'bench.config.yaml', text: env.BENCH_CONFIG } } });
    return worker.fetch(request, env, ctx);
  },
};
