import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { namespaceSchema } from '../../src/config/schema.js';
import { DEFAULT_SAML_CLAIM_MAP, effectiveClaimMap, NOT_MAPPED_BY_DEFAULT, RESERVED_CLAIMS, translateWithClaimMap } from '../../src/migration/claims.js';
import { contractReport, formatContractReport } from '../../src/migration/contract-report.js';
import { importSpMetadata, toYaml } from '../../src/migration/import-sp-metadata.js';
import { parseLegacyAssertion } from '../../src/migration/legacy-assertion.js';
import { SUBJECT_REFUSAL_REASONS, subjectFromSaml, subjectSourceSchema } from '../../src/migration/subject.js';

const doc = readFileSync(new URL('../../docs/migration.md', import.meta.url), 'utf8');
const lines = doc.split('\n');

describe('docs/migration.md', () => {
  it.each(Object.entries(DEFAULT_SAML_CLAIM_MAP))('lists %s with its claim and cardinality', (name, rule) => {
    const row = lines.find(
      (l) => l.startsWith('|') && l.includes(`\`${name}\``) && l.includes(`| \`${rule.claim}\` |`) && l.includes(rule.multi ? '| list |' : '| one |'),
    );
    expect(row, `${name} → ${rule.claim} (${rule.multi ? 'list' : 'one'})`).toBeDefined();
  });

  it('lists every attribute not mapped by default', () => {
    for (const name of Object.keys(NOT_MAPPED_BY_DEFAULT)) expect(doc, name).toContain(`\`${name}\``);
  });

  it('names every subject refusal reason', () => {
    for (const reason of SUBJECT_REFUSAL_REASONS) expect(doc, reason).toContain(`\`${reason}\``);
  });

  it('names every reserved claim', () => {
    for (const claim of RESERVED_CLAIMS) expect(doc, claim).toContain(`\`${claim}\``);
  });
});

/**
 * The walkthrough (issue 10): its commands are commands the CLI has, with options it has; the
 * draft it shows is what the import prints for that fixture; the namespace it edits to loads; the
 * contract report it describes is what the report says.
 */
describe('docs/migration.md walkthrough', () => {
  const root = new URL('../../', import.meta.url);
  const cliSource = readFileSync(new URL('src/cli/commands.ts', root), 'utf8');
  const blockAfter = (marker: string) => {
    const at = doc.indexOf(`<!-- walkthrough: ${marker}`);
    expect(at, marker).toBeGreaterThan(0);
    const m = /```\w*\n([\s\S]*?)\n```/.exec(doc.slice(at));
    return m![1]!;
  };

  it('every `npm run cli --` command names a command and options the CLI has', () => {
    const lines = doc.split('\n').filter((l) => l.includes('npm run cli -- '));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const [command, ...rest] = line.slice(line.indexOf('npm run cli -- ') + 'npm run cli -- '.length).split(/\s+/);
      const at = cliSource.indexOf(`.command('${command}`);
      expect(at, `${command} in: ${line}`).toBeGreaterThan(0);
      const next = cliSource.indexOf('program\n  .command(', at + 1);
      const declaration = cliSource.slice(at, next < 0 ? undefined : next);
      for (const option of rest.join(' ').match(/--[a-z][a-z-]*/g) ?? []) expect(declaration, `${option} of ${command}`).toMatch(new RegExp(`'${option}[ '<]`));
    }
  });

  it('every fixture it names exists', () => {
    for (const path of doc.match(/test\/fixtures\/saml\/[\w/.-]+\.xml/g) ?? []) expect(existsSync(new URL(path, root)), path).toBe(true);
  });

  it('shows the draft the import prints for the fixture', () => {
    const shown = blockAfter('import output');
    const hash = /client_secret_hash: (\S+)/.exec(shown)![1]!;
    const fixture = readFileSync(new URL('test/fixtures/saml/sp/academic-federation.xml', root), 'utf8');
    expect(`${shown}\n`).toBe(toYaml(importSpMetadata(fixture), { clientSecretHash: hash }));
  });

  it('the namespace it edits to loads', () => {
    const edited = /```yaml\n(namespace: wiki[\s\S]*?)\n```/.exec(doc)![1]!;
    expect(namespaceSchema.safeParse(parseYaml(edited)).success).toBe(true);
  });

  it('the contract report says what the walkthrough says', () => {
    const command = blockAfter('contract-report command');
    const source = subjectSourceSchema.parse(JSON.parse(/--subject-source '([^']+)'/.exec(command)![1]!));
    const legacy = parseLegacyAssertion(readFileSync(new URL(/--legacy (\S+)/.exec(command)![1]!, root), 'utf8'));
    const claimMap = effectiveClaimMap({});
    // What the broker releases to the wiki: the table's claims, sub from the chosen source.
    const subject = subjectFromSaml({ assertionId: 'x', nameId: legacy.nameId!, attributes: legacy.attributes }, source);
    expect(subject.ok).toBe(true);
    const sub = subject.ok ? subject.subject : '';
    const claims = { sub, ...translateWithClaimMap(legacy.attributes, claimMap).claims };
    const report = contractReport({ legacy: { nameId: legacy.nameId!, attributes: legacy.attributes }, oidc: { sub, claims }, claimMap, subjectSource: source });
    expect(report.subject.status).toBe('same');
    expect(report.rows.filter((r) => r.claim?.startsWith('eduperson_')).every((r) => r.status === 'same')).toBe(true);
    expect(report.rows.filter((r) => r.status !== 'same').map((r) => [r.status, r.attribute])).toEqual([['unmapped', 'urn:oasis:names:tc:SAML:attribute:pairwise-id']]);
    expect(report.summary.unchanged).toBe(false);

    const first = contractReport({ legacy: { nameId: legacy.nameId!, attributes: legacy.attributes }, oidc: { sub, claims }, claimMap, subjectSource: { kind: 'persistent_nameid' } });
    expect(formatContractReport(first)).toMatch(/^Subject: REFUSED by the broker \(nameid_transient\)$/m);
    expect(doc).toContain('`Subject: REFUSED by the broker (nameid_transient)`');
  });
});
