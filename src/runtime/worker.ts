/**
 * The Cloudflare Workers entry (wrangler.toml `main`). Storage is D1 (binding `DB`), the
 * configuration is bundled as Text modules (worker-files.ts), Cedar is the `/web` build of
 * @cedar-policy/cedar-wasm initialised synchronously from the bundled module: the default
 * ESM build does not start on workerd.
 *
 * The broker is built once per isolate, on the first request (or cron event), and reused. If building fails
 * the request gets a bare 500 and the console says why; requests in the next
 * WORKER_BUILD_RETRY_SECONDS get the same 500 and a line saying when the next attempt is, rather
 * than each rebuilding from scratch. Time is the injected clock's: no timer decides the retry.
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
import { systemClock } from '../clock.js';
import { WORKER_BUILD_RETRY_SECONDS } from '../constants.js';
import { createD1Store, missingD1Schema } from '../store/adapters/d1.js';
import type { Fetch } from '../upstream/jwks.js';
import { bundledConfigFiles } from './worker-files.js';
import { workerSamlDeps } from './worker-saml.js';
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

/** The Worker cannot start for a reason of its deployment (bindings, schema), not of its configuration. */
export class WorkerSetupError extends Error {
  override readonly name = 'WorkerSetupError';
}

const looksLikeD1 = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { prepare?: unknown }).prepare === 'function' && typeof (value as { batch?: unknown }).batch === 'function';

/** The `DB` binding is a D1 database, or the error names it (and any D1 binding under another name). */
function d1Binding(env: WorkerEnv): D1Database {
  if (looksLikeD1(env.DB)) return env.DB;
  const others = Object.keys(env).filter((name) => name !== 'DB' && looksLikeD1((env as unknown as Record<string, unknown>)[name]));
  const hint = others.length > 0 ? ` A D1 database is bound as ${others.map((n) => `"${n}"`).join(', ')}: rename the binding to "DB".` : '';
  const found = env.DB === undefined ? 'there is no binding "DB"' : 'the binding "DB" is not a D1 database';
  throw new WorkerSetupError(`${found}; wrangler.toml needs [[d1_databases]] with binding = "DB".${hint}`);
}

/** Every table (and index) the store relies on exists, or the error lists the missing ones and how to create them. */
async function requireMigrated(db: D1Database): Promise<void> {
  const { tables, indexes } = await missingD1Schema(db);
  const apply = 'Run `npx wrangler d1 migrations apply DB --remote` (or --local for wrangler dev), then send a request.';
  if (tables.length > 0) throw new WorkerSetupError(`the D1 database "DB" lacks table(s) ${tables.join(', ')}: its migrations have not been applied. ${apply}`);
  if (indexes.length > 0) throw new WorkerSetupError(`the D1 database "DB" lacks index(es) ${indexes.join(', ')}: its migrations have not all been applied. ${apply}`);
}

/** Builds a broker from D1 and the given configuration; what the default export does lazily. */
export async function buildWorkerBroker(env: WorkerEnv, options: WorkerOptions): Promise<Broker> {
  const db = d1Binding(env);
  await requireMigrated(db);
  const files = typeof options.files === 'function' ? options.files() : options.files;
  const prebuilt = await usablePrebuilt(options.prebuilt, files, env.ISSUER);
  const config = prebuilt?.config ?? loadWorkerConfig(files, env.ISSUER);
  return createBroker({
    config,
    store: createD1Store(db, options.clock ? { clock: options.clock } : {}),
    cedar: prebuilt ? withPrecheckedCedar(workerCedar(), prebuilt.cedar) : workerCedar(),
    logger: options.logger ?? consoleLogger({ runtime: 'workers' }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(await workerSamlDeps(config, env)),
    // Cloudflare sets it on every request that reaches the Worker; a client cannot override it.
    connectionAddress: (c) => c.req.header('cf-connecting-ip'),
  });
}

function describeFailure(err: unknown): Record<string, unknown> {
  if (err instanceof ConfigError) return { error: 'ConfigError', problems: err.problems.map(formatProblem) };
  if (err instanceof WorkerSetupError) return { error: err.message };
  return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
}

/** The broker is not built and the back-off after a failed build has not run out. */
class BuildBackingOff extends Error {}

export interface BrokerWorker {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response>;
  /** The cron trigger (wrangler.toml `[triggers]`): refusal summaries and pruning. */
  scheduled(controller: { scheduledTime: number; cron: string }, env: WorkerEnv, ctx: ExecutionContext): Promise<void>;
}

/** The Worker: `fetch` builds the broker on first use (memoised per isolate) and serves it. */
export function createWorker(options: WorkerOptions): BrokerWorker {
  const logger = options.logger ?? consoleLogger({ runtime: 'workers' });
  const clock = options.clock ?? systemClock;
  let building: Promise<Broker> | undefined;
  /** The last failed build: when, and what the console was told. */
  let failed: { at: number; summary: Record<string, unknown> } | undefined;

  const broker = (env: WorkerEnv, ctx: ExecutionContext): Promise<Broker> => {
    if (building) return building;
    const now = clock();
    if (failed && now - failed.at < WORKER_BUILD_RETRY_SECONDS) {
      const retryIn = WORKER_BUILD_RETRY_SECONDS - (now - failed.at);
      logger.error({ ...failed.summary, retryInSeconds: retryIn }, `broker not started: the last attempt failed ${now - failed.at} s ago; next attempt in ${retryIn} s`);
      return Promise.reject(new BuildBackingOff());
    }
    const attempt = buildWorkerBroker(env, { ...options, logger });
    building = attempt;
    // A failed build is forgotten after a short back-off, so a request after it tries again.
    attempt.catch((err: unknown) => {
      if (building !== attempt) return;
      building = undefined;
      failed = { at: clock(), summary: describeFailure(err) };
      logger.error(failed.summary, 'broker failed to start');
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
      } catch {
        // Logged once where the build failed, and once per request while backing off.
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
      // A failed build has been logged where it failed (and while backing off).
      const { maintenance } = await broker(env, ctx);
      try {
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
