/**
 * Two Node processes on one SQLite file (two brokers, or a broker and `cli`): every write must wait
 * its turn, never fail with `database is locked` (SQLITE_BUSY), and the first start of both on a
 * fresh file must not trip over the migrations.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const PROCESSES = 2;
const ROUNDS = 300;

function hammer(file: string, name: string): Promise<{ ok: number; created: number; done: number; errors: string[]; errorCount: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/hammer.ts'), file, name, String(ROUNDS)], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`hammer ${name} exited ${code}: ${err.slice(0, 500)}`));
      else resolve(JSON.parse(line));
    });
  });
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('several processes on one SQLite file', () => {
  it('no write fails with database is locked, from a fresh file (migrations) through read-then-write transactions; each shared access request is created and decided once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'xaa-sqlite-'));
    const file = join(dir, 'broker.sqlite');
    const results = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => hammer(file, `p${i}`)));
    for (const r of results) {
      expect(r.errors).toEqual([]);
      // openSqlite + 9 operations per round.
      expect(r.ok).toBe(1 + 9 * ROUNDS);
    }
    // Both processes submit a task for each shared denial, then approve it: one of them wins each.
    expect(results.reduce((n, r) => n + r.created, 0)).toBe(ROUNDS);
    expect(results.reduce((n, r) => n + r.done, 0)).toBe(ROUNDS);
  }, 120_000);
});
