import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { SQLITE_BUSY_TIMEOUT_MS, SQLITE_WAL_AUTOCHECKPOINT_PAGES, SQLITE_WAL_BACKSTOP_PAGES, SQLITE_WAL_CHECKPOINT_INTERVAL_MS } from '../constants.js';
import type { Logger } from '../logger.js';
import type { CheckpointRun, CheckpointThreadData } from './node-wal-checkpoint-thread.js';

// As for the SAML threads: from the sources (tsx) the entry is TypeScript and starts through the
// bootstrap that registers tsx; from the build (dist/) it is plain JavaScript.
const BOOTSTRAP = new URL('./node-thread-bootstrap.mjs', import.meta.url);
const THREAD_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './node-wal-checkpoint-thread.ts' : './node-wal-checkpoint-thread.js', import.meta.url);

export interface WalCheckpointer {
  /** Ends the thread; the connection checkpoints by itself again (SQLite's default). */
  stop(): Promise<void>;
}

/**
 * Moves SQLite's WAL checkpoints off the event loop. By default the connection that commits the
 * write crossing 1 000 WAL pages copies them into the database and syncs it, inside that commit:
 * tens of milliseconds during which no request is served (docs/benchmark.md). Here a thread with
 * its own connection checkpoints every interval, and the serving connection's automatic checkpoint
 * is only a backstop for a thread that falls far behind. If the thread ends, the connection goes
 * back to checkpointing by itself and a warning says so: the WAL never grows unbounded.
 */
export function startWalCheckpointer(
  db: Database.Database,
  file: string,
  logger: Logger,
  options: { intervalMs?: number; onCheckpoint?: (run: CheckpointRun) => void } = {},
): WalCheckpointer {
  let stopped = false;
  const backToDefault = () => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_WAL_AUTOCHECKPOINT_PAGES}`);
  };
  const data: CheckpointThreadData = { entry: THREAD_ENTRY.href, file, intervalMs: options.intervalMs ?? SQLITE_WAL_CHECKPOINT_INTERVAL_MS, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS };
  const fromSources = THREAD_ENTRY.pathname.endsWith('.ts');
  const worker = new Worker(fromSources ? BOOTSTRAP : THREAD_ENTRY, {
    workerData: data,
    // The compiled thread copies pages and posts a line a second: a small heap is plenty (each MB
    // here is resident in the serving process). Under tsx, compiling the sources needs more.
    ...(fromSources ? {} : { resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 } }),
  });
  db.pragma(`wal_autocheckpoint = ${SQLITE_WAL_BACKSTOP_PAGES}`);
  worker.on('message', (run: CheckpointRun) => options.onCheckpoint?.(run));
  let failure: string | undefined;
  worker.on('error', (err) => (failure = err.message));
  worker.on('exit', () => {
    if (stopped) return;
    backToDefault();
    logger.warn({ event: 'wal_checkpoint_thread_ended', ...(failure ? { error: failure } : {}) }, 'the WAL checkpoint thread ended; the serving connection checkpoints by itself again');
  });
  // Never what keeps the process alive. After the listeners: adding a 'message' listener refs the port again.
  worker.unref();
  return {
    async stop() {
      stopped = true;
      await worker.terminate();
      backToDefault();
    },
  };
}
