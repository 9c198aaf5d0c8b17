import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SQLITE_WAL_AUTOCHECKPOINT_PAGES, SQLITE_WAL_BACKSTOP_PAGES } from '../../src/constants.js';
import type { Logger } from '../../src/logger.js';
import { openSqlite } from '../../src/store/adapters/sqlite.js';
import { startWalCheckpointer } from '../../src/runtime/node-wal-checkpoint.js';
import type { CheckpointRun } from '../../src/runtime/node-wal-checkpoint-thread.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function database() {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-wal-'));
  dirs.push(dir);
  const file = join(dir, 'broker.sqlite');
  return { file, db: openSqlite(file) };
}

function recordingLogger() {
  const warnings: Array<Record<string, unknown>> = [];
  const logger: Logger = { info() {}, warn: (fields) => void warnings.push(fields), error() {} };
  return { logger, warnings };
}

const autocheckpoint = (db: ReturnType<typeof openSqlite>) => db.pragma('wal_autocheckpoint', { simple: true });
const until = async (condition: () => boolean, what: string) => {
  // Generous: under tsx the thread compiles its entry first, slow on a loaded machine.
  for (let i = 0; i < 800 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
};

describe('WAL checkpoints on a thread of their own (runtime/node-wal-checkpoint.ts)', () => {
  it('copies what the serving connection commits into the database; the connection checkpoints by itself only past the backstop', async () => {
    const { file, db } = database();
    const runs: CheckpointRun[] = [];
    const rec = recordingLogger();
    const checkpointer = startWalCheckpointer(db, file, rec.logger, { intervalMs: 20, onCheckpoint: (r) => runs.push(r) });
    try {
      expect(autocheckpoint(db)).toBe(SQLITE_WAL_BACKSTOP_PAGES);
      db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
      const before = statSync(file).size;
      const insert = db.prepare('INSERT INTO filler (body) VALUES (?)');
      // 2 000 commits of a page each: past SQLite's default threshold of 1 000 pages.
      for (let i = 0; i < 2_000; i++) insert.run('x'.repeat(3_000));
      const after = runs.length;
      await until(() => runs.length > after && runs.at(-1)!.checkpointed === runs.at(-1)!.log, 'a checkpoint of the whole WAL');
      expect(runs.some((r) => r.checkpointed > 0)).toBe(true);
      expect(statSync(file).size).toBeGreaterThan(before + 2_000 * 3_000);
      expect(runs.every((r) => r.busy === 0)).toBe(true);
      expect(rec.warnings).toEqual([]);
    } finally {
      await checkpointer.stop();
      db.close();
    }
  }, 30_000);

  it('gives the serving connection back its own checkpoints when stopped', async () => {
    const { file, db } = database();
    const checkpointer = startWalCheckpointer(db, file, recordingLogger().logger, { intervalMs: 20 });
    await checkpointer.stop();
    expect(autocheckpoint(db)).toBe(SQLITE_WAL_AUTOCHECKPOINT_PAGES);
    db.close();
  }, 30_000);

  it('a thread that ends (here: it cannot open the file) hands checkpoints back to the serving connection and says so', async () => {
    const { db } = database();
    const { logger, warnings } = recordingLogger();
    const checkpointer = startWalCheckpointer(db, join(tmpdir(), 'xaa-wal-missing', 'no.sqlite'), logger, { intervalMs: 20 });
    try {
      await until(() => warnings.length > 0, 'the warning');
      expect(warnings[0]).toMatchObject({ event: 'wal_checkpoint_thread_ended' });
      expect(autocheckpoint(db)).toBe(SQLITE_WAL_AUTOCHECKPOINT_PAGES);
    } finally {
      await checkpointer.stop();
      db.close();
    }
  }, 30_000);

  it('never keeps the process alive: a process whose only work left is the thread ends by itself', () => {
    const { file, db } = database();
    db.close();
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/wal-checkpointer-exits.ts'), file], { encoding: 'utf8', timeout: 20_000 });
    expect(out.trim().split('\n')).toEqual(['checkpointed']);
  }, 30_000);
});
