import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SAML_CLAIM_MAP, NOT_MAPPED_BY_DEFAULT, RESERVED_CLAIMS } from '../../src/migration/claims.js';
import { SUBJECT_REFUSAL_REASONS } from '../../src/migration/subject.js';

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
