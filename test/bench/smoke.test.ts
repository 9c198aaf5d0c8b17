import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'xaa-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Results {
  targets: Array<{ name: string; pid: number; startupMs: number; rssBytesAfterRounds: number }>;
  scenarios: Array<{ key: string; rounds: Array<{ completed: number; failed: number; errors: number; cpuSeconds: number }> }>;
  coldPool: { size: number; used: number; reused: number; bindings: { writtenDuringRounds: number; requests: number } };
  saml: { rows: unknown[] };
  loadavg: { before: number[]; after: number[] };
}

/** Keeps `npm run bench` from rotting. It measures nothing here: figures are for `npm run bench` alone. */
describe('npm run bench (smoke)', () => {
  it('runs every target in its own process with no failed request, prints the tables and ratios, and writes the raw figures', async () => {
    const results = join(out, 'latest.json');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/token-exchange.ts'], {
      cwd: join(import.meta.dirname, '../..'),
      env: {
        ...process.env,
        BENCH_DURATION: '1',
        BENCH_ROUNDS: '1',
        BENCH_WARMUP: '1',
        BENCH_CONNECTIONS: '4',
        BENCH_USERS: '40',
        BENCH_SAML_LOGINS: '3',
        BENCH_SAML_FORGED: '1',
        BENCH_RESULTS: results,
      },
      timeout: 150_000,
    });
    for (const label of [
      /naive: Hono \+ readForm \+ jose SignJWT ES256/,
      /naive: Hono \+ readForm \+ node:crypto ES256 \(floor\)/,
      /oidc-provider 9 client_credentials, JWT AT ES256/,
      /broker warm: 40 users' ID tokens rotating/,
      /broker cold: every ID token new, 1 in 10 a new person/,
      /pulled: reference issue \+ redemption → ID-JAG, 4 pipelines/,
    ]) {
      expect(stdout).toMatch(label);
    }
    expect(stdout).toMatch(/broker start \(.*\): spawn → listening \d+ ms/);
    expect(stdout).toMatch(/pulled \/ pushed per ID-JAG, 1 pipeline: p50 \d+\.\d\d×, p99 \d+\.\d\d×, throughput \d+\.\d %/);
    expect(stdout).toMatch(/pulled \/ pushed per ID-JAG, 4 pipelines: p50 \d+\.\d\d×, p99 \d+\.\d\d×, throughput \d+\.\d %/);
    expect(stdout).toMatch(/SAML \(main thread\) good logins\/s \(\d+ in flight\): \d+; CPU per good login [\d.]+ ms/);
    expect(stdout).toMatch(/SAML \(pool\) good logins\/s \(\d+ in flight\): \d+; CPU per good login [\d.]+ ms.*longest main-thread block [\d.]+ ms/);
    expect(stdout).not.toMatch(/WARNING/);

    const raw = JSON.parse(readFileSync(results, 'utf8')) as Results;
    // Each target had a process of its own, measured from outside it.
    expect(new Set(raw.targets.map((t) => t.pid)).size).toBe(6);
    for (const t of raw.targets) {
      expect(t.pid).not.toBe(process.pid);
      expect(t.rssBytesAfterRounds).toBeGreaterThan(0);
    }
    for (const s of raw.scenarios) {
      expect(s.rounds).toHaveLength(1);
      expect(s.rounds[0]!.completed).toBeGreaterThan(0);
      expect(s.rounds[0]!.failed + s.rounds[0]!.errors).toBe(0);
    }
    // The cold target's requests were all cold, and the new persons among them were bound.
    expect(raw.coldPool.reused).toBe(0);
    // (A request still in flight when a round ends may not have written its binding.)
    expect(raw.coldPool.bindings.writtenDuringRounds).toBeGreaterThan(0);
    expect(raw.coldPool.bindings.writtenDuringRounds).toBeLessThanOrEqual(Math.ceil(raw.coldPool.bindings.requests / 10));
    expect(raw.saml.rows.length).toBeGreaterThan(0);
    expect(raw.loadavg.after).toHaveLength(3);
  }, 180_000);
});
