import { describe, expect, it } from 'vitest';
import { subjectFromSaml, subjectSourceSchema, type SubjectSource } from '../../src/migration/subject.js';
import type { SamlAttribute, SamlNameId, UpstreamIdentity } from '../../src/identity/types.js';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
const SUBJECT_ID = 'urn:oasis:names:tc:SAML:attribute:subject-id';
const PAIRWISE_ID = 'urn:oasis:names:tc:SAML:attribute:pairwise-id';
const EPUID = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.13';

const goodNameId: SamlNameId = {
  value: 'k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=',
  format: PERSISTENT,
  nameQualifier: 'https://idp.example.com/idp',
  spNameQualifier: 'https://expenses.example.com/saml/metadata',
};

function evidence(nameId: Partial<SamlNameId> = {}, attributes: SamlAttribute[] = []): NonNullable<UpstreamIdentity['saml']> {
  const n = { ...goodNameId, ...nameId };
  for (const k of Object.keys(n) as Array<keyof SamlNameId>) if (n[k] === undefined) delete n[k];
  return { assertionId: '_a1', nameId: n, attributes };
}

const persistent: SubjectSource = { kind: 'persistent_nameid' };
const attr = (name: string, values: string[], nameFormat: string | undefined = URI): SamlAttribute => (nameFormat ? { name, nameFormat, values } : { name, values });

describe('subjectFromSaml: persistent NameID', () => {
  it('accepts a persistent NameID', () => {
    expect(subjectFromSaml(evidence(), persistent)).toEqual({ ok: true, subject: goodNameId.value });
  });

  it('refuses without SAML evidence', () => {
    expect(subjectFromSaml(undefined, persistent)).toMatchObject({ ok: false, reason: 'saml_evidence_missing' });
  });

  it('refuses a transient NameID', () => {
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_transient' });
  });

  it('refuses an emailAddress NameID', () => {
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_email' });
  });

  it('refuses an unspecified NameID by default', () => {
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_unspecified' });
  });

  it('refuses a NameID without Format by default', () => {
    expect(subjectFromSaml(evidence({ format: undefined }), persistent)).toMatchObject({ ok: false, reason: 'nameid_format_missing' });
  });

  it('refuses other formats', () => {
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_format_not_persistent' });
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName' }), persistent)).toMatchObject({
      ok: false,
      reason: 'nameid_format_not_persistent',
    });
  });

  it('accept_unspecified lets an unspecified or Format-less NameID through', () => {
    const source: SubjectSource = { kind: 'persistent_nameid', accept_unspecified: true };
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' }), source)).toEqual({ ok: true, subject: goodNameId.value });
    expect(subjectFromSaml(evidence({ format: undefined }), source)).toEqual({ ok: true, subject: goodNameId.value });
  });

  it('accept_unspecified does not let transient or email through', () => {
    const source: SubjectSource = { kind: 'persistent_nameid', accept_unspecified: true };
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' }), source)).toMatchObject({ ok: false, reason: 'nameid_transient' });
    expect(subjectFromSaml(evidence({ format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }), source)).toMatchObject({ ok: false, reason: 'nameid_email' });
  });

  it('refuses a NameID that looks like an email address, even under the persistent Format', () => {
    expect(subjectFromSaml(evidence({ value: 'ada.lovelace@example.com' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_looks_like_email' });
  });

  it('refuses an email-like unspecified NameID even with accept_unspecified', () => {
    const source: SubjectSource = { kind: 'persistent_nameid', accept_unspecified: true };
    expect(subjectFromSaml(evidence({ format: undefined, value: 'ada@corp.example.com' }), source)).toMatchObject({ ok: false, reason: 'nameid_looks_like_email' });
  });

  it('refuses an empty NameID', () => {
    expect(subjectFromSaml(evidence({ value: '' }), persistent)).toMatchObject({ ok: false, reason: 'nameid_empty' });
  });

  it('refuses a NameID over 256 characters (SAML core §8.3.7)', () => {
    expect(subjectFromSaml(evidence({ value: 'a'.repeat(257) }), persistent)).toMatchObject({ ok: false, reason: 'nameid_too_long' });
  });

  it('refuses a 256-character NameID as a sub (OIDC: at most 255)', () => {
    expect(subjectFromSaml(evidence({ value: 'a'.repeat(256) }), persistent)).toMatchObject({ ok: false, reason: 'subject_not_oidc_compatible' });
    expect(subjectFromSaml(evidence({ value: 'a'.repeat(255) }), persistent)).toMatchObject({ ok: true });
  });

  it('refuses a NameID with non-ASCII characters as a sub', () => {
    expect(subjectFromSaml(evidence({ value: 'jürgen-1234' }), persistent)).toMatchObject({ ok: false, reason: 'subject_not_oidc_compatible' });
  });

  it('refuses a NameID with surrounding whitespace (no silent trim)', () => {
    expect(subjectFromSaml(evidence({ value: '\n  k7Qm2ZxP4vN9aWcR1tYe8uLs3Bo=\n' }), persistent)).toMatchObject({ ok: false, reason: 'subject_not_oidc_compatible' });
  });

  it('refuses a NameID with a control character', () => {
    expect(subjectFromSaml(evidence({ value: 'abc\u0000def' }), persistent)).toMatchObject({ ok: false, reason: 'subject_not_oidc_compatible' });
  });

  it('checks SPNameQualifier when configured', () => {
    const source: SubjectSource = { kind: 'persistent_nameid', sp_name_qualifier: 'https://expenses.example.com/saml/metadata' };
    expect(subjectFromSaml(evidence(), source)).toMatchObject({ ok: true });
    expect(subjectFromSaml(evidence({ spNameQualifier: 'https://broker.example.com/saml' }), source)).toMatchObject({ ok: false, reason: 'nameid_sp_name_qualifier_mismatch' });
    expect(subjectFromSaml(evidence({ spNameQualifier: undefined }), source)).toMatchObject({ ok: true });
  });

  it('checks NameQualifier when configured', () => {
    const source: SubjectSource = { kind: 'persistent_nameid', name_qualifier: 'https://idp.example.com/idp' };
    expect(subjectFromSaml(evidence(), source)).toMatchObject({ ok: true });
    expect(subjectFromSaml(evidence({ nameQualifier: 'https://other-idp.example.com' }), source)).toMatchObject({ ok: false, reason: 'nameid_name_qualifier_mismatch' });
  });

  it('keeps refusal details short and printable', () => {
    const r = subjectFromSaml(evidence({ format: `urn:evil:${'x'.repeat(500)}\u202E\n` }), persistent);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.detail.length).toBeLessThanOrEqual(200);
      expect(r.detail).not.toMatch(/[\n\u202E]/);
    }
  });
});

describe('subjectFromSaml: named attribute', () => {
  const source: SubjectSource = { kind: 'attribute', name: EPUID };

  it('accepts exactly one value', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, ['28c5353b8bb34984a8bd4169ba94c606@example.edu'])]), source)).toEqual({
      ok: true,
      subject: '28c5353b8bb34984a8bd4169ba94c606@example.edu',
    });
  });

  it('does not need a persistent NameID', () => {
    const e = evidence({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' }, [attr(EPUID, ['u1@example.edu'])]);
    expect(subjectFromSaml(e, source)).toMatchObject({ ok: true });
  });

  it('refuses a missing attribute', () => {
    expect(subjectFromSaml(evidence({}, []), source)).toMatchObject({ ok: false, reason: 'attribute_missing' });
  });

  it('refuses an attribute given twice', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, ['u1@example.edu']), attr(EPUID, ['u1@example.edu'])]), source)).toMatchObject({ ok: false, reason: 'attribute_duplicated' });
  });

  it('refuses an attribute without values', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, [])]), source)).toMatchObject({ ok: false, reason: 'attribute_no_value' });
  });

  it('refuses several values', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, ['u1@example.edu', 'u2@example.edu'])]), source)).toMatchObject({ ok: false, reason: 'attribute_multi_valued' });
  });

  it('refuses an empty value', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, [''])]), source)).toMatchObject({ ok: false, reason: 'attribute_empty_value' });
  });

  it('refuses an email attribute as the subject', () => {
    const mail = 'urn:oid:0.9.2342.19200300.100.1.3';
    expect(subjectFromSaml(evidence({}, [attr(mail, ['ada@example.com'])]), { kind: 'attribute', name: mail })).toMatchObject({ ok: false, reason: 'attribute_is_email' });
  });

  it('refuses a value longer than an OIDC sub', () => {
    expect(subjectFromSaml(evidence({}, [attr(EPUID, ['u'.repeat(256)])]), source)).toMatchObject({ ok: false, reason: 'subject_not_oidc_compatible' });
  });
});

describe('subjectFromSaml: subject-id and pairwise-id', () => {
  const subjectId: SubjectSource = { kind: 'subject_id' };
  const pairwiseId: SubjectSource = { kind: 'pairwise_id' };
  const sid = (...values: string[]) => evidence({}, [attr(SUBJECT_ID, values)]);

  it('accepts uniqueID@scope, lowercased', () => {
    expect(subjectFromSaml(sid('IDM123456789@Example.COM'), subjectId)).toEqual({ ok: true, subject: 'idm123456789@example.com' });
  });

  it('keeps the case with preserve_case', () => {
    expect(subjectFromSaml(sid('IDM123456789@Example.COM'), { kind: 'subject_id', preserve_case: true })).toEqual({ ok: true, subject: 'IDM123456789@Example.COM' });
  });

  it('reads pairwise-id from its own attribute, not subject-id', () => {
    const e = evidence({}, [attr(SUBJECT_ID, ['global1@example.com']), attr(PAIRWISE_ID, ['HTGOYJ4N5CVSCQ2VVPE7PDEAXI6QCZUF@example.com'])]);
    expect(subjectFromSaml(e, pairwiseId)).toEqual({ ok: true, subject: 'htgoyj4n5cvscq2vvpe7pdeaxi6qczuf@example.com' });
    expect(subjectFromSaml(evidence({}, [attr(SUBJECT_ID, ['global1@example.com'])]), pairwiseId)).toMatchObject({ ok: false, reason: 'subject_id_missing' });
  });

  it('accepts "=" and "-" in the uniqueID and the maximum lengths', () => {
    expect(subjectFromSaml(sid('a=b-c@example.com'), subjectId)).toMatchObject({ ok: true });
    expect(subjectFromSaml(sid(`${'a'.repeat(127)}@${'b'.repeat(127)}`), subjectId)).toMatchObject({ ok: true });
  });

  it('refuses when absent', () => {
    expect(subjectFromSaml(evidence(), subjectId)).toMatchObject({ ok: false, reason: 'subject_id_missing' });
  });

  it('refuses the attribute given twice', () => {
    expect(subjectFromSaml(evidence({}, [attr(SUBJECT_ID, ['a@example.com']), attr(SUBJECT_ID, ['a@example.com'])]), subjectId)).toMatchObject({
      ok: false,
      reason: 'subject_id_duplicated',
    });
  });

  it('refuses several values', () => {
    expect(subjectFromSaml(sid('a@example.com', 'b@example.com'), subjectId)).toMatchObject({ ok: false, reason: 'subject_id_multi_valued' });
  });

  it('refuses a NameFormat other than uri', () => {
    const e = evidence({}, [attr(SUBJECT_ID, ['a@example.com'], 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic')]);
    expect(subjectFromSaml(e, subjectId)).toMatchObject({ ok: false, reason: 'subject_id_name_format' });
  });

  it('tolerates an absent NameFormat', () => {
    expect(subjectFromSaml(evidence({}, [attr(SUBJECT_ID, ['a@example.com'], undefined)]), subjectId)).toMatchObject({ ok: true });
  });

  it.each([
    ['no @', 'abc.example.com'],
    ['two @', 'a@b@example.com'],
    ['empty uniqueID', '@example.com'],
    ['empty scope', 'abc@'],
    ['uniqueID starting with "="', '=abc@example.com'],
    ['uniqueID starting with "-"', '-abc@example.com'],
    ['"." in the uniqueID', 'a.b@example.com'],
    ['"_" in the uniqueID', 'a_b@example.com'],
    ['"+" in the uniqueID', 'a+b@example.com'],
    ['uniqueID of 128', `${'a'.repeat(128)}@example.com`],
    ['scope starting with "."', 'abc@.example.com'],
    ['scope starting with "-"', 'abc@-example.com'],
    ['"=" in the scope', 'abc@exa=mple.com'],
    ['"_" in the scope', 'abc@exa_mple.com'],
    ['scope of 128', `abc@${'b'.repeat(128)}`],
    ['non-ASCII', 'jürgen@example.com'],
    ['a space', 'abc @example.com'],
  ])('refuses bad syntax: %s', (_, value) => {
    expect(subjectFromSaml(sid(value), subjectId)).toMatchObject({ ok: false, reason: 'subject_id_syntax' });
  });

  it('checks the scope against the allowed scopes, case-insensitively', () => {
    const source: SubjectSource = { kind: 'subject_id', scopes: ['example.com'] };
    expect(subjectFromSaml(sid('abc@EXAMPLE.com'), source)).toMatchObject({ ok: true });
    expect(subjectFromSaml(sid('abc@evil.example'), source)).toMatchObject({ ok: false, reason: 'subject_id_scope_not_allowed' });
  });

  it('a sub-domain is not the scope', () => {
    expect(subjectFromSaml(sid('abc@sub.example.com'), { kind: 'subject_id', scopes: ['example.com'] })).toMatchObject({ ok: false, reason: 'subject_id_scope_not_allowed' });
  });
});

describe('subjectSourceSchema', () => {
  it.each([
    { kind: 'persistent_nameid' },
    { kind: 'persistent_nameid', sp_name_qualifier: 'https://expenses.example.com/saml/metadata', accept_unspecified: false },
    { kind: 'attribute', name: EPUID },
    { kind: 'subject_id', scopes: ['example.com'] },
    { kind: 'pairwise_id', preserve_case: true },
  ])('accepts %j', (source) => {
    expect(subjectSourceSchema.safeParse(source).success).toBe(true);
  });

  it('refuses an email attribute', () => {
    const r = subjectSourceSchema.safeParse({ kind: 'attribute', name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/email/);
  });

  it('refuses an unknown kind', () => {
    expect(subjectSourceSchema.safeParse({ kind: 'email' }).success).toBe(false);
  });

  it('refuses unknown keys', () => {
    expect(subjectSourceSchema.safeParse({ kind: 'persistent_nameid', format: 'any' }).success).toBe(false);
  });

  it('refuses a malformed scope', () => {
    expect(subjectSourceSchema.safeParse({ kind: 'subject_id', scopes: ['*.example.com'] }).success).toBe(false);
  });

  it('refuses an attribute source without a name', () => {
    expect(subjectSourceSchema.safeParse({ kind: 'attribute' }).success).toBe(false);
  });
});
