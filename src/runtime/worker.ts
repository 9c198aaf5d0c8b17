/**
 * The Cloudflare Workers entry (wrangler.toml `main`). Storage is D1 (binding `DB`), the
 * configuration is bundled as Text modules (worker-files.ts), Cedar is the `/web` build of
 * @cedar-policy/cedar-wasm initialised synchronously from the bundled module: the default
 * ESM build does not start on workerd.
 *
 * The broker is built once per isolate, on the first request (or cron event), and reused. If building fails
 * the request gets a bare 500 and the next request tries again.
 */
import type { D1Database } from '@cloudflare/workers-types';
import type { ExecutionContext } from 'hono';
import * as cedarWeb from '@cedar-policy/cedar-wasm/web';
import cedarWasm from '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm';
import { createBroker, type Broker } from '../app.js';
import { ConfigError, formatProblem, type ConfigFiles } from '../config/load.js';
import { NO_STORE } from '../http/errors.js';
import { consoleLogger, type Logger } from '../logger.js';
import type { CedarModule } from '../policy/types.js';
import { createD1Store } from '../store/adapters/d1.js';
import type { Fetch } from '../upstream/jwks.js';
import { bundledConfigFiles } from './worker-files.js';
import { loadWorkerConfig } from './worker-config.js';
import generatedConfig from './worker-config.generated.json';
import { decodePrebuilt, usablePrebuilt, withPrecheckedCedar, type PrebuiltWorkerConfig } from './worker-prebuilt.js';

export interface WorkerEnv {
  DB: D1Database;
  /** Overrides `issuer` from the bundled broker config (e.g. the deployed https URL). */
  ISSUER?: string;
}

export interface WorkerOptions {
  /** Configuration files; the default export uses the bundled ones. */
  files: ConfigFiles | (() => ConfigFiles);
  logger?: Logger;
  /** Seconds since epoch; tests pass their own. */
  clock?: () => number;
  /** For upstream JWKS. */
  fetch?: Fetch;
  /** The configuration validated at build (worker-prebuilt.ts), used only if built from `files`. */
  prebuilt?: PrebuiltWorkerConfig;
}

let cedar: CedarModule | undefined;

/** Instantiates Cedar once per isolate from the bundled WebAssembly module. */
export function workerCedar(): CedarModule {
  if (!cedar) {
    cedarWeb.initSync({ module: cedarWasm });
    cedar = cedarWeb;
  }
  return cedar;
}

/** Builds a broker from D1 and the given configuration; what the default export does lazily. */
export async function buildWorkerBroker(env: WorkerEnv, options: WorkerOptions): Promise<Broker> {
  const files = typeof options.files === 'function' ? options.files() : options.files;
  const prebuilt = await usablePrebuilt(options.prebuilt, files, env.ISSUER);
  const config = prebuilt?.config ?? loadWorkerConfig(files, env.ISSUER);
  return createBroker({
    config,
    store: createD1Store(env.DB, options.clock ? { clock: options.clock } : {}),
    cedar: prebuilt ? withPrecheckedCedar(workerCedar(), prebuilt.cedar) : workerCedar(),
    logger: options.logger ?? consoleLogger({ runtime: 'workers' }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // Cloudflare sets it on every request that reaches the Worker; a client cannot override it.
    connectionAddress: (c) => c.req.header('cf-connecting-ip'),
  });
}

function describeFailure(err: unknown): Record<string, unknown> {
  if (err instanceof ConfigError) return { error: 'ConfigError', problems: err.problems.map(formatProblem) };
  return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

export interface BrokerWorker {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response>;
  /** The cron trigger (wrangler.toml `[triggers]`): refusal summaries and pruning. */
  scheduled(controller: { scheduledTime: number; cron: string }, env: WorkerEnv, ctx: ExecutionContext): Promise<void>;
}

/** The Worker: `fetch` builds the broker on first use (memoised per isolate) and serves it. */
export function createWorker(options: WorkerOptions): BrokerWorker {
  const logger = options.logger ?? consoleLogger({ runtime: 'workers' });
  let building: Promise<Broker> | undefined;

  const broker = (env: WorkerEnv, ctx: ExecutionContext): Promise<Broker> => {
    if (building) return building;
    const attempt = buildWorkerBroker(env, { ...options, logger });
    building = attempt;
    // A failed build is forgotten, so the next request tries again.
    attempt.catch(() => {
      if (building === attempt) building = undefined;
    });
    // Keep the build alive if the request that started it goes away; later requests await it.
    ctx.waitUntil(attempt.then(() => undefined, () => undefined));
    return attempt;
  };

  return {
    async fetch(request, env, ctx) {
      let app: Broker['app'];
      try {
        app = (await broker(env, ctx)).app;
      } catch (err) {
        logger.error(describeFailure(err), 'broker failed to start');
        return new Response(JSON.stringify({ error: 'server_error' }), {
          status: 500,
          headers: { 'Content-Type': 'application/json', ...NO_STORE },
        });
      }
      return app.fetch(request, env, ctx);
    },

    /**
     * Workers has no timers that outlive a request: the cron trigger does what Node's timers do.
     * It writes the summaries this isolate still counts (other isolates write theirs on their
     * next refusal after the interval) and prunes D1.
     */
    async scheduled(controller, env, ctx) {
      try {
        const { maintenance } = await broker(env, ctx);
        const result = await maintenance.run();
        logger.info({ event: 'scheduled', cron: controller.cron, summaries: result.summaries, deleted: result.deleted, complete: result.complete }, 'maintenance done');
      } catch (err) {
        logger.error(describeFailure(err), 'scheduled maintenance failed');
        throw err;
      }
    },
  };
}

export default createWorker({ files: bundledConfigFiles, prebuilt: decodePrebuilt(generatedConfig) });
