import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { effectiveClaimMap, translateWithClaimMap } from '../../src/migration/claims.js';
import { contractReport, formatContractReport } from '../../src/migration/contract-report.js';
import { parseLegacyAssertion } from '../../src/migration/legacy-assertion.js';
import { subjectFromSaml } from '../../src/migration/subject.js';
import { ASSERTION_FIXTURES } from './saml-fixtures.js';

/**
 * Items 4 and 9 of issue 10: the contract report over every assertion fixture, pure and through the
 * CLI entry. The OIDC side is the best case (what the broker would release through the default
 * table, with `sub` equal to the legacy NameID): whatever the report says, its verdict line and its
 * exit code must agree with its own findings, and a subject source the broker refuses is a change.
 */

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'xaa-contract-fixtures-'));
const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** The best case: the legacy NameID as sub, the attributes through the default table. */
function bestCase(xml: string) {
  const legacy = parseLegacyAssertion(xml);
  const sub = legacy.nameId?.value ?? 'no-nameid';
  const { claims } = translateWithClaimMap(legacy.attributes, effectiveClaimMap({}));
  return { legacy, oidc: { sub, claims: { sub, ...claims } } };
}

describe('contract report over every assertion fixture', () => {
  it.each(ASSERTION_FIXTURES.map((f) => [f.name, f.path, f.xml]))('%s: the verdict and the exit code agree with the findings', async (name, path, xml) => {
    const { legacy, oidc } = bestCase(xml);
    const report = contractReport({ legacy: { ...(legacy.nameId ? { nameId: legacy.nameId } : {}), attributes: legacy.attributes }, oidc, claimMap: effectiveClaimMap({}) });
    const verdict = subjectFromSaml({ assertionId: 'x', nameId: legacy.nameId ?? { value: '' }, attributes: legacy.attributes }, { kind: 'persistent_nameid' });
    const findings = report.rows.filter((r) => r.status === 'different' || r.status === 'missing_in_oidc' || r.status === 'unmapped').length;
    expect(report.summary.unchanged).toBe(verdict.ok && findings === 0);
    if (!verdict.ok) expect(report.subject.status).toBe('refused');

    const text = formatContractReport(report);
    expect(text.includes('UNCHANGED')).toBe(report.summary.unchanged);

    const claimsFile = join(dir, `${name}.json`);
    writeFileSync(claimsFile, JSON.stringify(oidc.claims));
    const r = await cli('contract-report', '--legacy', path, '--claims', claimsFile);
    expect(r.stdout).toBe(`${text}\n`);
    expect(r.code).toBe(report.summary.unchanged ? 0 : 1);
  }, 60_000);

  it('an ADFS-like assertion with an email NameID: refused, so CHANGED, even with the same sub and claims (pure)', () => {
    const { legacy, oidc } = bestCase(ASSERTION_FIXTURES.find((f) => f.name === 'adfs-like-email-nameid')!.xml);
    const report = contractReport({ legacy: { nameId: legacy.nameId!, attributes: legacy.attributes }, oidc, claimMap: effectiveClaimMap({}) });
    expect(report.subject).toMatchObject({ status: 'refused', legacy: 'ada.lovelace@corp.example', oidc: 'ada.lovelace@corp.example', refusal: { reason: 'nameid_email' } });
    expect(report.summary).toMatchObject({ subject: 'refused', unchanged: false, identical: false });
    const text = formatContractReport(report);
    expect(text).toMatch(/^Subject: REFUSED/m);
    expect(text).not.toContain('UNCHANGED');
    expect(text).toMatch(/^Contract CHANGED/m);
  });

  it('an ADFS-like assertion with an email NameID: exit 1 and no UNCHANGED through the CLI', async () => {
    const fixture = ASSERTION_FIXTURES.find((f) => f.name === 'adfs-like-email-nameid')!;
    const { oidc } = bestCase(fixture.xml);
    const claimsFile = join(dir, 'adfs-same.json');
    writeFileSync(claimsFile, JSON.stringify(oidc.claims));
    const r = await cli('contract-report', '--legacy', fixture.path, '--claims', claimsFile, '--claim-overrides', writeJson('adfs-overrides.json', {}));
    expect(r.stdout).toMatch(/the broker refuses this subject source/);
    expect(r.stdout).not.toContain('UNCHANGED');
    expect(r.code).toBe(1);
  }, 60_000);
});

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}
