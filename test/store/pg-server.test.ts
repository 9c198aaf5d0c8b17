/** The test PostgreSQL server (test/helpers/pg-server.ts): found where Debian puts it, or one line saying what to install. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PG_MISSING, pgBinDir, startPgCluster } from '../helpers/pg-server.js';

describe('the test PostgreSQL server', () => {
  it('finds initdb and pg_ctl on PATH first, else under <root>/<version>/bin (the newest version)', () => {
    const root = mkdtempSync(join(tmpdir(), 'xaa-pgbin-'));
    for (const v of ['13', '15']) {
      mkdirSync(join(root, v, 'bin'), { recursive: true });
      for (const f of ['initdb', 'pg_ctl']) writeFileSync(join(root, v, 'bin', f), '');
    }
    expect(pgBinDir('', root)).toBe(join(root, '15', 'bin'));
    expect(pgBinDir(join(root, '13', 'bin'), root)).toBe(join(root, '13', 'bin'));
    expect(pgBinDir('/nonexistent', join(root, 'none'))).toBeUndefined();
  });

  it('without the binaries, fails with one line naming Debian\'s postgresql package (no skipping)', async () => {
    const error = await startPgCluster(() => undefined).then(
      (cluster) => (cluster.stop(), undefined),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(PG_MISSING);
    expect(PG_MISSING).not.toContain('\n');
    expect(PG_MISSING).toMatch(/install Debian's `postgresql`/);
  });
});
