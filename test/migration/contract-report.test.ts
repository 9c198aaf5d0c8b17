import { describe, expect, it } from 'vitest';
import { DEFAULT_SAML_CLAIM_MAP, effectiveClaimMap, translateSamlAttributes } from '../../src/migration/claims.js';
import { contractReport, formatContractReport, type ContractReportInput } from '../../src/migration/contract-report.js';
import { parseLegacyAssertion } from '../../src/migration/legacy-assertion.js';
import type { SamlAttribute } from '../../src/identity/types.js';
import { assertion, EMAIL, response, TRANSIENT, URI } from './fixtures.js';

const COST_CENTER = 'http://schemas.example.com/claims/costCenter';
const overrides = { [COST_CENTER]: 'cost_center' };
const claimMap = effectiveClaimMap(overrides);
const legacy = parseLegacyAssertion(response(assertion()));
const SUB = 'k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=';

/** What the OP would send if it translated the same attributes: the unchanged contract. */
function faithful(): ContractReportInput {
  const { claims } = translateSamlAttributes(legacy.attributes, overrides);
  return { legacy, oidc: { sub: SUB, claims: { iss: 'https://broker.example.com', aud: 'expenses', sub: SUB, nonce: 'n', auth_time: 1, amr: ['pwd'], ...claims } }, claimMap };
}

function withClaims(change: (claims: Record<string, unknown>) => void): ContractReportInput {
  const input = faithful();
  const claims = { ...input.oidc.claims };
  change(claims);
  return { ...input, oidc: { ...input.oidc, claims } };
}

const row = (input: ContractReportInput, claim: string) => contractReport(input).rows.find((r) => r.claim === claim)!;

describe('contractReport', () => {
  it('reports an unchanged contract as unchanged and identical', () => {
    const report = contractReport(faithful());
    expect(report.subject).toMatchObject({ status: 'same', legacy: SUB, oidc: SUB, legacySource: 'NameID' });
    expect(report.rows.map((r) => [r.claim, r.status])).toEqual([
      ['email', 'same'],
      ['given_name', 'same'],
      ['family_name', 'same'],
      ['eduperson_entitlement', 'same'],
      ['cost_center', 'same'],
    ]);
    expect(report.summary).toEqual({ subject: 'same', same: 5, different: 0, missing_in_oidc: 0, new_in_oidc: 0, unmapped: 0, unchanged: true, identical: true });
  });

  it('flags a different sub', () => {
    const input = faithful();
    const report = contractReport({ ...input, oidc: { ...input.oidc, sub: 'Qx1pairwise' } });
    expect(report.subject.status).toBe('different');
    expect(report.summary.unchanged).toBe(false);
  });

  it('flags a sub that differs only in case, with a note', () => {
    const input = faithful();
    const report = contractReport({ ...input, oidc: { ...input.oidc, sub: SUB.toLowerCase() } });
    expect(report.subject.status).toBe('different');
    expect(report.subject.notes.join()).toMatch(/only in case/);
  });

  it('flags a different value', () => {
    const r = row(withClaims((c) => (c.email = 'ada@corp.example.com')), 'email');
    expect(r).toMatchObject({ status: 'different', legacy: ['ada.lovelace@example.com'], oidc: 'ada@corp.example.com' });
  });

  it('notes a value that differs only in case', () => {
    expect(row(withClaims((c) => (c.email = 'Ada.Lovelace@example.com')), 'email').note).toMatch(/only in case/);
  });

  it('flags a claim missing over OIDC', () => {
    const input = withClaims((c) => delete c.given_name);
    expect(row(input, 'given_name')).toMatchObject({ status: 'missing_in_oidc', oidc: undefined });
    expect(contractReport(input).summary).toMatchObject({ missing_in_oidc: 1, unchanged: false });
  });

  it('flags an attribute no claim carries as unmapped', () => {
    const report = contractReport({ ...faithful(), claimMap: DEFAULT_SAML_CLAIM_MAP });
    const unmapped = report.rows.find((r) => r.attribute === COST_CENTER)!;
    expect(unmapped).toMatchObject({ status: 'unmapped', claim: null, legacy: ['CC-4711'], friendlyName: 'costCenter' });
    expect(report.summary.unchanged).toBe(false);
  });

  it('flags a claim new in OIDC, without breaking "unchanged"', () => {
    const input = withClaims((c) => (c.groups = ['g-finance']));
    const report = contractReport(input);
    expect(report.rows.at(-1)).toMatchObject({ status: 'new_in_oidc', attribute: null, claim: 'groups', legacy: null, oidc: ['g-finance'] });
    expect(report.summary).toMatchObject({ new_in_oidc: 1, unchanged: true, identical: false });
  });

  it('never reports protocol claims as new', () => {
    const report = contractReport(faithful());
    for (const claim of ['iss', 'aud', 'sub', 'nonce', 'auth_time', 'amr']) expect(report.rows.some((r) => r.claim === claim)).toBe(false);
  });

  it('compares lists as sets (order does not matter)', () => {
    expect(row(withClaims((c) => (c.eduperson_entitlement = ['urn:example:expenses:submitter', 'urn:example:expenses:approver'])), 'eduperson_entitlement').status).toBe('same');
  });

  it('flags a list that lost a value', () => {
    const r = row(withClaims((c) => (c.eduperson_entitlement = ['urn:example:expenses:submitter'])), 'eduperson_entitlement');
    expect(r).toMatchObject({ status: 'different', note: 'lost 1' });
  });

  it('flags a list that became a string', () => {
    const r = row(withClaims((c) => (c.eduperson_entitlement = 'urn:example:expenses:submitter')), 'eduperson_entitlement');
    expect(r.status).toBe('different');
    expect(r.note).toMatch(/list over SAML/);
  });

  it('flags a string that became a list', () => {
    const r = row(withClaims((c) => (c.email = ['ada.lovelace@example.com'])), 'email');
    expect(r).toMatchObject({ status: 'different', note: 'a single value over SAML; OIDC gives a list' });
  });

  it('flags a string that became another type', () => {
    expect(row(withClaims((c) => (c.cost_center = 4711)), 'cost_center')).toMatchObject({ status: 'different', note: 'a string over SAML; OIDC gives a number' });
  });

  it('flags a single-valued attribute that had several values over SAML', () => {
    const attributes: SamlAttribute[] = [{ name: 'urn:oid:0.9.2342.19200300.100.1.3', nameFormat: URI, values: ['ada@example.com', 'a.lovelace@example.com'] }];
    const report = contractReport({ legacy: { nameId: legacy.nameId!, attributes }, oidc: { sub: SUB, claims: {} }, claimMap });
    expect(report.rows[0]).toMatchObject({ status: 'missing_in_oidc', note: expect.stringMatching(/2 values for the single-valued claim email/) });
    const withOne = contractReport({ legacy: { nameId: legacy.nameId!, attributes }, oidc: { sub: SUB, claims: { email: 'ada@example.com' } }, claimMap });
    expect(withOne.rows[0]!.status).toBe('different');
  });

  it('flags two legacy attributes that disagreed on one claim', () => {
    const attributes: SamlAttribute[] = [
      { name: 'urn:oid:0.9.2342.19200300.100.1.3', values: ['ada@example.com'] },
      { name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', values: ['ada@corp.example.com'] },
    ];
    const report = contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: { email: 'ada@example.com' } }, claimMap });
    expect(report.rows.map((r) => r.status)).toEqual(['different', 'different']);
    expect(report.rows[0]!.note).toMatch(/2 attributes offer different values/);
  });

  it('a legacy attribute without values is the same as an absent claim', () => {
    const attributes: SamlAttribute[] = [{ name: 'urn:oid:2.5.4.20', values: [] }];
    expect(contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: {} }, claimMap }).rows[0]!.status).toBe('same');
    expect(contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: { phone_number: '+41 44 000 00 00' } }, claimMap }).rows[0]!.status).toBe('different');
  });

  it('compares address members inside the address claim', () => {
    const attributes: SamlAttribute[] = [{ name: 'urn:oid:2.5.4.7', values: ['Zürich'] }];
    const same = contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: { address: { locality: 'Zürich', country: 'CH' } } }, claimMap });
    expect(same.rows.map((r) => [r.claim, r.status])).toEqual([
      ['address.locality', 'same'],
      ['address.country', 'new_in_oidc'],
    ]);
  });

  it('compares sub with the subject source’s attribute when given', () => {
    const epuid = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.13';
    const attributes: SamlAttribute[] = [{ name: epuid, values: ['u-77@example.edu'] }];
    const input: ContractReportInput = { legacy: { attributes }, oidc: { sub: 'u-77@example.edu', claims: {} }, claimMap, subjectSource: { kind: 'attribute', name: epuid } };
    expect(contractReport(input).subject).toMatchObject({ status: 'same', legacySource: `attribute ${epuid}` });
  });

  it('compares sub with subject-id when that is the source', () => {
    const attributes: SamlAttribute[] = [{ name: 'urn:oasis:names:tc:SAML:attribute:subject-id', nameFormat: URI, values: ['idm123@example.com'] }];
    const input: ContractReportInput = { legacy: { attributes }, oidc: { sub: 'idm123@example.com', claims: { subject_id: 'idm123@example.com' } }, claimMap, subjectSource: { kind: 'subject_id' } };
    const report = contractReport(input);
    expect(report.subject.status).toBe('same');
    expect(report.summary.unchanged).toBe(true);
  });

  it('says when the subject source attribute is absent from the legacy assertion', () => {
    const input: ContractReportInput = { ...faithful(), subjectSource: { kind: 'pairwise_id' } };
    const report = contractReport(input);
    expect(report.subject).toMatchObject({ status: 'different', legacy: null });
    expect(report.subject.notes.join()).toMatch(/no attribute urn:oasis:names:tc:SAML:attribute:pairwise-id/);
  });

  it('explains a legacy transient NameID', () => {
    const l = parseLegacyAssertion(assertion({ nameIdFormat: TRANSIENT, nameId: '_7d1f0a9e3b' }));
    const report = contractReport({ legacy: l, oidc: { sub: 'x', claims: {} }, claimMap });
    expect(report.subject.status).toBe('refused');
    expect(report.subject.notes.join()).toMatch(/transient NameID/);
  });

  it('explains a legacy email NameID', () => {
    const l = parseLegacyAssertion(assertion({ nameIdFormat: EMAIL, nameId: 'ada.lovelace@example.com' }));
    const report = contractReport({ legacy: l, oidc: { sub: 'ada.lovelace@example.com', claims: {} }, claimMap });
    // Even equal, the note says the broker will not do this.
    expect(report.subject.notes.join()).toMatch(/never makes an email the sub/);
    expect(report.subject.notes.join()).toMatch(/nameid_email/);
    expect(report.subject.status).toBe('refused');
    expect(report.summary.unchanged).toBe(false);
  });

  it('reports a legacy assertion without NameID as a different subject', () => {
    const report = contractReport({ legacy: { attributes: [] }, oidc: { sub: SUB, claims: {} }, claimMap });
    expect(report.subject).toMatchObject({ legacy: null, status: 'different' });
  });
});

describe('formatContractReport', () => {
  it('prints the subject, one line per row and the verdict', () => {
    const text = formatContractReport(contractReport(faithful()));
    expect(text).toMatch(/Subject: same/);
    expect(text).toMatch(/^STATUS\s+ATTRIBUTE\s+CLAIM\s+LEGACY \(SAML\)\s+OIDC$/m);
    expect(text).toMatch(/^same\s+mail \(urn:oid:0\.9\.2342\.19200300\.100\.1\.3\)\s+email\s+"ada\.lovelace@example\.com"\s+"ada\.lovelace@example\.com"$/m);
    expect(text).toMatch(/Contract UNCHANGED \(identical\)\./);
  });

  it('shouts differences and prints notes', () => {
    const input = withClaims((c) => {
      c.email = 'ada@corp.example.com';
      delete c.given_name;
      c.groups = ['g'];
    });
    const text = formatContractReport(contractReport({ ...input, oidc: { ...input.oidc, sub: 'other' } }));
    expect(text).toMatch(/Subject: DIFFERENT/);
    expect(text).toMatch(/^DIFFERENT\s+mail/m);
    expect(text).toMatch(/^MISSING IN OIDC\s+givenName/m);
    expect(text).toMatch(/^new in oidc\s+—\s+groups/m);
    expect(text).toMatch(/↳ the legacy assertion had no attribute for it/);
    expect(text).toMatch(/Contract CHANGED/);
  });

  it('escapes control and bidi characters and truncates long values', () => {
    const attributes: SamlAttribute[] = [{ name: 'urn:oid:2.5.4.42', values: ['Ada\u202E\u001b[31m'] }, { name: 'urn:oid:2.5.4.4', values: ['L'.repeat(300)] }];
    const text = formatContractReport(contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: {} }, claimMap }));
    expect(text).not.toMatch(/[\u202E\u001b]/);
    expect(text).toContain('\\u202e');
    expect(text).not.toContain('L'.repeat(60));
  });

  it('shortens long attribute names from the left, keeping the distinctive tail', () => {
    const attributes: SamlAttribute[] = [{ name: `http://schemas.example.com/${'very/'.repeat(12)}costCenter`, values: ['x'] }];
    const text = formatContractReport(contractReport({ legacy: { attributes }, oidc: { sub: SUB, claims: {} }, claimMap }));
    expect(text).toMatch(/…[^\n]*very\/costCenter/);
  });
});
