import { describe, expect, it } from 'vitest';
import { claimMapOverridesSchema } from '../../src/migration/claims.js';
import { importSpMetadata, suggestClaimName } from '../../src/migration/import-sp-metadata.js';
import { MigrationInputError } from '../../src/migration/xml.js';
import { SP_FIXTURES } from './saml-fixtures.js';

/**
 * Item 6 (import parts) and item 9 of issue 10: the import over every SP metadata fixture, and the
 * small things real SP metadata showed: list-valued attributes, generic service names, camel-case
 * names with acronyms, documents outside the SAML metadata namespace.
 */

const fixture = (name: string) => SP_FIXTURES.find((f) => f.name === name)!.xml;

/** ServiceNames that name the SAML software or a role, not the app. */
const GENERIC = /^(default service|sp|service|service provider|saml|saml sp)$/i;

describe('importSpMetadata over every SP fixture', () => {
  it.each(SP_FIXTURES.map((f) => [f.name, f.xml]))('%s: a named client, a stated name source, overrides the schema takes', (_name, xml) => {
    const r = importSpMetadata(xml);
    expect(r.client.name).not.toMatch(GENERIC);
    expect(r.warnings.join('\n')).toMatch(new RegExp(`client name "${r.client.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" (taken )?from (mdui:DisplayName|the ServiceName|the entityID)`));
    expect(claimMapOverridesSchema.safeParse(r.client.oidc.claim_overrides).success).toBe(true);
    for (const a of r.requestedAttributes) if (a.claim) expect(a.claim).toMatch(/^[a-z][a-z0-9_.]*$/);
  });
});

describe('list-valued attributes', () => {
  it('proposes the AWS-style Role attribute as a list', () => {
    const r = importSpMetadata(fixture('aws-like'));
    const role = r.requestedAttributes.find((a) => a.attribute === 'https://aws.amazon.com/SAML/Attributes/Role')!;
    expect(role).toMatchObject({ origin: 'suggested', multi: true });
    expect(r.client.oidc.claim_overrides['https://aws.amazon.com/SAML/Attributes/Role']).toEqual({ claim: role.claim, multi: true });
    expect(r.warnings.join('\n')).toMatch(/Role.*proposed override → \S+ \(non-standard, a list/);
  });

  it('keeps a name-like attribute single-valued', () => {
    const r = importSpMetadata(fixture('aws-like'));
    const session = r.requestedAttributes.find((a) => a.attribute === 'https://aws.amazon.com/SAML/Attributes/RoleSessionName')!;
    expect(session).toMatchObject({ origin: 'suggested', multi: false });
    expect(r.client.oidc.claim_overrides['https://aws.amazon.com/SAML/Attributes/RoleSessionName']).toBe(session.claim);
  });
});

describe('the client name', () => {
  it('is never a generic ServiceName: from the entityID, and says so', () => {
    const r = importSpMetadata(fixture('atlassian-like'));
    expect(r.client.name).toBe('auth.atlassian.example/saml/5d0e2b7c-91f4-4c1e-8a3b-0f6c2e9d4a71');
    expect(r.warnings.join('\n')).toMatch(/client name ".*" from the entityID \(the ServiceName "Default Service" is generic\)/);
  });

  it('prefers the mdui:DisplayName, and says so', () => {
    const r = importSpMetadata(fixture('academic-federation'));
    expect(r.client.name).toBe('Physics Department Wiki');
    expect(r.warnings.join('\n')).toMatch(/client name "Physics Department Wiki" taken from mdui:DisplayName/);
  });

  it('takes a specific ServiceName', () => {
    expect(importSpMetadata(fixture('aws-like')).client.name).toBe('AWS Management Console Single Sign-On');
  });

  it('takes the ServiceName of the default service first (the one the import reads attributes from)', () => {
    const xml = fixture('corporate-multi-acs')
      .replace(/<md:Extensions>\s*<mdui:UIInfo>[\s\S]*?<\/mdui:UIInfo>\s*<\/md:Extensions>/, '')
      .replace('<md:AttributeConsumingService index="0" isDefault="true">', '<md:AttributeConsumingService index="0">')
      .replace('<md:AttributeConsumingService index="1">', '<md:AttributeConsumingService index="1" isDefault="true">');
    expect(importSpMetadata(xml).client.name).toBe('Personal & Gehalt');
  });

  it('drops generic trailing path segments of the entityID', () => {
    expect(importSpMetadata(fixture('adobe-connect-like')).client.name).toBe('meet84213.connect.example');
  });
});

describe('claim names from camel-case attribute names', () => {
  it.each([
    ['AuthNPolicyURI', 'authn_policy_uri'],
    ['userGroupIDs', 'user_group_ids'],
    ['eduPersonPrincipalName', 'edu_person_principal_name'],
    ['RoleSessionName', 'role_session_name'],
    ['costCenter', 'cost_center'],
    ['HTTPSProxyURL', 'https_proxy_url'],
    ['employee-grade', 'employee_grade'],
  ])('%s → %s', (name, claim) => {
    expect(suggestClaimName(`urn:example:${name}`)).toBe(claim);
  });

  it('the Adobe-Connect-like fixture proposes authn_policy_uri', () => {
    const r = importSpMetadata(fixture('adobe-connect-like'));
    expect(r.client.oidc.claim_overrides.AuthNPolicyURI).toBe('authn_policy_uri');
  });
});

describe('documents outside the SAML metadata namespace', () => {
  it('refuses an EntityDescriptor without the namespace, saying that is why', () => {
    const xml = fixture('atlassian-like').replace(' xmlns="urn:oasis:names:tc:SAML:2.0:metadata"', '');
    expect(() => importSpMetadata(xml)).toThrow(MigrationInputError);
    expect(() => importSpMetadata(xml)).toThrow(/not in the SAML 2\.0 metadata namespace \(urn:oasis:names:tc:SAML:2\.0:metadata\).*no namespace/);
  });

  it('refuses an EntityDescriptor in another namespace, naming it', () => {
    const xml = fixture('atlassian-like').replace('xmlns="urn:oasis:names:tc:SAML:2.0:metadata"', 'xmlns="urn:oasis:names:tc:SAML:1.0:metadata"');
    expect(() => importSpMetadata(xml)).toThrow(/not in the SAML 2\.0 metadata namespace.*urn:oasis:names:tc:SAML:1\.0:metadata/);
  });
});
