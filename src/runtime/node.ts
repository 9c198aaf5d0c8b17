import { nodeJws } from './node-jws.js';
import { nodeSecretMac, nodeTokenDigest } from './node-crypto.js';
import { startWalCheckpointer } from './node-wal-checkpoint.js';
import { databaseLocation, openNodeStore } from './node-store.js';
import { nodeBodyReader } from './node-body.js';
import { serve } from '@hono/node-server';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { pino } from 'pino';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'hono';
import { createBroker, type BrokerDeps } from '../app.js';
import type { Maintenance } from '../audit/maintenance.js';
import { PRUNE_INTERVAL } from '../constants.js';
import { ConfigError } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';
import { redactSensitive, type Logger } from '../logger.js';
import { DEFAULT_CONFIG_PATH, loadConfigFromDisk } from './config-files.js';
import { configFileError, listenError, parsePort, settingSource, StartupError } from './startup.js';

/** pino behind the Logger port, with the logger's redaction (logger.ts) as a second line of defence. */
export function pinoLogger(level = process.env.LOG_LEVEL ?? 'info', dest: string | number = 1): Logger {
  // Buffered, asynchronous writes (pino's advice for throughput); flushed on exit below.
  const destination = pino.destination({ dest, sync: false, minLength: 4096 });
  process.once('exit', () => destination.flushSync());
  const log = pino({ level, formatters: { log: redactSensitive } }, destination);
  return {
    info: (f, m) => log.info(f, m),
    warn: (f, m) => log.warn(f, m),
    error: (f, m) => log.error(f, m),
  };
}

/** The TCP peer of the request, from @hono/node-server's bindings. */
export function nodeConnectionAddress(c: Context): string | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress;
}

/**
 * SAML (samlify, the XML and schema libraries, the verification threads) is loaded only when a
 * SAML connection is configured: it is most of the start-up time otherwise spent for nothing.
 * Without one, a `saml2` subject token is unsupported_token_type, as on Workers (no assertion
 * could name a configured IdP).
 */
export async function samlDeps(config: BrokerConfig): Promise<Pick<BrokerDeps, 'saml' | 'samlSubjectTokens'>> {
  if (!config.settings.connections.some((c) => c.type === 'saml')) return {};
  const [{ nodeSamlFactory }, { createSamlSubjectTokenVerifier }] = await Promise.all([import('./node-saml.js'), import('../upstream/saml/subject-token.js')]);
  return { saml: nodeSamlFactory, samlSubjectTokens: createSamlSubjectTokenVerifier };
}

export async function startNodeBroker(options: { configPath?: string; configSource?: string; port?: number; database?: string; logger?: Logger } = {}) {
  const configPath = options.configPath ?? (process.env.XAA_CONFIG || DEFAULT_CONFIG_PATH);
  // Where the config file's path came from, for the one line a missing or unreadable file gives.
  const configSource = options.configSource ?? (options.configPath !== undefined ? 'the configPath option' : process.env.XAA_CONFIG ? 'XAA_CONFIG' : undefined);
  let loaded: ReturnType<typeof loadConfigFromDisk>;
  try {
    loaded = loadConfigFromDisk(configPath);
  } catch (err) {
    throw configFileError(err, resolve(configPath), configSource) ?? err;
  }
  const { config, baseDir } = loaded;
  // An empty environment variable counts as unset.
  const env = (name: string) => process.env[name] || undefined;
  // A postgres:// or postgresql:// URL chooses PostgreSQL (several instances on one database); anything else is a SQLite file.
  const database = options.database ?? env('XAA_DATABASE') ?? databaseLocation(config.settings.database, baseDir);
  const databaseSource = settingSource('XAA_DATABASE', options.database === undefined && env('XAA_DATABASE') !== undefined, 'database', configPath);
  const portSource = settingSource('PORT', env('PORT') !== undefined, 'port', configPath);
  const port = options.port ?? (env('PORT') !== undefined ? parsePort(env('PORT')!, 'PORT') : config.settings.port);
  const hostname = env('HOST') ?? '127.0.0.1';
  const logger = options.logger ?? pinoLogger();
  const opened = await openNodeStore(database, databaseSource, (err) => logger.warn({ error: err.message }, 'database connection lost; the pool opens a new one'));
  const { store } = opened;
  for (const warning of config.warnings ?? []) logger.warn({ warning }, 'configuration warning');
  const { app, services, maintenance } = await createBroker({
    config,
    store,
    cedar,
    logger,
    ...(await samlDeps(config)),
    connectionAddress: nodeConnectionAddress,
    jws: nodeJws,
    secretMac: nodeSecretMac,
    tokenDigest: nodeTokenDigest,
    bodyReader: nodeBodyReader,
  });
  const server = serve({ fetch: app.fetch, port, hostname });
  await new Promise<void>((ok, fail) => {
    server.once('listening', () => ok());
    server.once('error', (err) => fail(listenError(err, hostname, port, portSource)));
  });
  const stopMaintenance = scheduleMaintenance(maintenance, config.settings.retention.refusal_summary_interval_seconds, logger);
  // Once serving: the checkpoints leave the event loop (SQLite only; an in-memory database has no WAL).
  const checkpointer = opened.kind === 'sqlite' && database !== ':memory:' ? startWalCheckpointer(opened.db, database, logger) : undefined;
  /**
   * Stops the timers and the checkpoint thread, writes the open refusal summaries and, on
   * PostgreSQL, ends the pool; the caller closes the server and exits.
   */
  const stop = async () => {
    await checkpointer?.stop();
    await stopMaintenance();
    if (opened.kind === 'postgres') await opened.close();
  };
  return { server, services, maintenance, stop, issuer: config.settings.issuer, port, database: opened.display, store };
}

/**
 * Node's share of retention: refusal summaries are written every interval, expired state and old
 * audit records pruned at start and every PRUNE_INTERVAL. Unref'd timers: they never keep the
 * process alive. The returned function stops them and writes what is still counted.
 */
export function scheduleMaintenance(maintenance: Maintenance, summaryInterval: number, logger: Logger): () => Promise<void> {
  const prune = () =>
    void maintenance.run().catch((err: unknown) => logger.error({ error: err instanceof Error ? err.message : 'unknown' }, 'pruning failed'));
  const timers = [setInterval(() => void maintenance.flush(), summaryInterval * 1000), setInterval(prune, PRUNE_INTERVAL * 1000)];
  for (const t of timers) t.unref();
  setImmediate(prune);
  return async () => {
    for (const t of timers) clearInterval(t);
    await maintenance.flush({ final: true });
  };
}

/**
 * The process's entry: start, print where, stop on a signal; a start-up failure is one message and
 * exit 1. `xaa-broker start` passes its --config (and names it in errors).
 */
export function main(options: { configPath?: string; configSource?: string } = {}): void {
  startNodeBroker(options)
    .then(({ issuer, port, database, stop }) => {
      // performance.now() counts from the process's start: the start-up time docs/operations.md quotes.
      console.log(`xaa-broker listening on port ${port} (ready in ${Math.round(performance.now())} ms)`);
      console.log(`issuer:   ${issuer}`);
      console.log(`metadata: ${issuer.replace(/\/$/, '')}/.well-known/oauth-authorization-server`);
      console.log(`database: ${database}`);
      // Write the open refusal summaries, then exit through process.exit so buffered logs are flushed.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().finally(() => process.exit(0)));
    })
    .catch((err) => {
      if (err instanceof StartupError) {
        // One line naming the setting to change; no stack trace.
        console.error(`xaa-broker will not start: ${err.message}`);
      } else if (err instanceof ConfigError) {
        console.error('configuration is invalid; the broker will not start:');
        console.error(err.message);
      } else {
        console.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
      }
      process.exit(1);
    });
}

// Run directly (tsx in development, or dist/runtime/node.js); scripts/start.mjs calls main() itself.
const isMain = process.argv[1] !== undefined && (import.meta.url === pathToFileURL(process.argv[1]).href || process.argv[1].endsWith('runtime/node.ts'));
if (isMain) main();
