import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** Keeps `npm run bench` from rotting. It measures nothing here: figures are for `npm run bench` alone. */
describe('npm run bench (smoke)', () => {
  it('runs every scenario (token exchange, resource-pulled profile, SAML ACS) with no failed request and prints the tables and ratios', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/token-exchange.ts'], {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, BENCH_DURATION: '1', BENCH_ROUNDS: '1', BENCH_WARMUP: '1', BENCH_CONNECTIONS: '4', BENCH_SAML_LOGINS: '3', BENCH_SAML_FORGED: '1' },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/baseline: parse form \+ sign one ES256 JWT/);
    expect(stdout).toMatch(/full path, one subject token repeated/);
    expect(stdout).toMatch(/full path \/ baseline throughput: \d+\.\d %/);
    expect(stdout).toMatch(/pushed: token exchange → ID-JAG/);
    expect(stdout).toMatch(/pulled: reference issue \+ redemption → ID-JAG/);
    expect(stdout).toMatch(/pulled \/ pushed per ID-JAG, 1 pipeline: p50 \d+\.\d\d×, p99 \d+\.\d\d×, throughput \d+\.\d %/);
    expect(stdout).toMatch(/pulled \/ pushed per ID-JAG, 4 pipelines: p50 \d+\.\d\d×, p99 \d+\.\d\d×, throughput \d+\.\d %/);
    expect(stdout).toMatch(/good login \(assertion signed/);
    expect(stdout).toMatch(/SAML \(main thread\) good logins\/s \(\d+ in flight\): \d+; CPU per good login [\d.]+ ms/);
    expect(stdout).toMatch(/SAML \(pool\) good logins\/s \(\d+ in flight\): \d+; CPU per good login [\d.]+ ms.*longest main-thread block [\d.]+ ms/);
    expect(stdout).not.toMatch(/WARNING/);
  }, 90_000);
});
