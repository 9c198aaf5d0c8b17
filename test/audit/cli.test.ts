import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';

const root = join(import.meta.dirname, '../..');
const DAY = 86_400;

function cli(database: string, ...args: string[]) {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, XAA_DATABASE: database } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('cli audit-export and prune', () => {
  it('exports the records since a time as JSON lines, then prune removes those past retention (90 days by default)', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'xaa-audit-cli-')), 'broker.sqlite');
    const db = openSqlite(database);
    const store = createSqliteStore(db);
    const now = Math.floor(Date.now() / 1000);
    await store.audit.append({ at: now - 200 * DAY, event: 'mint', requestId: 'ancient', clientId: 'wiki-agent' });
    await store.audit.append({ at: now - 100 * DAY, event: 'refusal_summary', requestId: 'old', reason: 'client_unknown', source: '192.0.2.1', count: 41, until: now - 100 * DAY + 60 });
    await store.audit.append({ at: now - DAY, event: 'refusal', requestId: 'recent', reason: 'aud_mismatch' });
    db.close();

    const since = new Date((now - 150 * DAY) * 1000).toISOString();
    const exported = await cli(database, 'audit-export', '--since', since);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; count?: number });
    expect(lines.map((l) => l.requestId)).toEqual(['old', 'recent']);
    expect(lines[0]!.count).toBe(41);

    expect((await cli(database, 'prune')).code).toBe(0);
    const all = await cli(database, 'audit-export');
    expect(all.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['recent']);
  }, 60_000);

  it('refuses a --since that is not a time', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'xaa-audit-cli-')), 'broker.sqlite');
    const r = await cli(database, 'audit-export', '--since', 'last tuesday');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--since: "last tuesday" is neither an ISO 8601 date nor epoch seconds');
  }, 60_000);
});
