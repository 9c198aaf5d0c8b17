import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { assertion, spMetadata } from './fixtures.js';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'xaa-migration-cli-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

const unchangedClaims = {
  sub: 'k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=',
  email: 'ada.lovelace@example.com',
  given_name: 'Ada',
  family_name: 'Lovelace',
  eduperson_entitlement: ['urn:example:expenses:approver', 'urn:example:expenses:submitter'],
  cost_center: 'CC-4711',
};
/** The app's override carries its custom attribute under a claim of its own. */
const overrides = { 'http://schemas.example.com/claims/costCenter': 'cost_center' };

describe('cli import-sp-metadata and contract-report', () => {
  it('import-sp-metadata prints a client and a namespace as YAML', async () => {
    const r = await cli('import-sp-metadata', write('sp.xml', spMetadata()));
    expect(r.code).toBe(0);
    const docs = r.stdout.split(/^---$/m).map((d) => parse(d)).filter(Boolean);
    expect(JSON.stringify(docs)).toContain('subject_namespace');
  }, 30_000);

  it('contract-report flags an attribute no claim carries (exit 1)', async () => {
    const r = await cli('contract-report', '--legacy', write('a0.xml', assertion()), '--claims', write('same0.json', JSON.stringify(unchangedClaims)));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/UNMAPPED\s+costCenter/);
  }, 30_000);

  it('contract-report passes (exit 0) when nothing changed, with the app overrides', async () => {
    const r = await cli(
      'contract-report',
      '--legacy', write('a.xml', assertion()),
      '--claims', write('same.json', JSON.stringify(unchangedClaims)),
      '--claim-overrides', write('overrides.json', JSON.stringify(overrides)),
    );
    expect(r.stdout).toMatch(/same/i);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 30_000);

  it('contract-report flags a changed subject and a changed claim (exit 1)', async () => {
    const changed = { ...unchangedClaims, sub: 'something-else', given_name: 'Augusta' };
    const r = await cli('contract-report', '--legacy', write('a2.xml', assertion()), '--claims', write('changed.json', JSON.stringify(changed)), '--claim-overrides', write('o2.json', JSON.stringify(overrides)));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/different/i);
    expect(r.stdout).toContain('Augusta');
  }, 30_000);
});
