/**
 * The WAL checkpoint thread (runtime/node-wal-checkpoint.ts): its own connection to the broker's
 * SQLite file, copying committed WAL pages into the database every interval. PASSIVE: it never
 * waits for or blocks a writer; what a busy moment leaves behind, the next run copies.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointThreadData {
  entry: string;
  file: string;
  intervalMs: number;
  busyTimeoutMs: number;
}

/** One PASSIVE checkpoint's result, as SQLite reports it: WAL frames in the log, and copied. */
export interface CheckpointRun {
  type: 'checkpoint';
  busy: number;
  log: number;
  checkpointed: number;
}

const { file, intervalMs, busyTimeoutMs } = workerData as CheckpointThreadData;
const db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
// It only copies pages from the WAL to the database: no page cache worth having.
db.pragma('cache_size = -128');

setInterval(() => {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<Omit<CheckpointRun, 'type'>>;
  parentPort!.postMessage({ type: 'checkpoint', ...result! } satisfies CheckpointRun);
}, intervalMs);
