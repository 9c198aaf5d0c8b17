import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { claimMapOverridesSchema } from '../../src/migration/claims.js';
import { clientIdFromEntityId, importSpMetadata, suggestClaimName, toYaml } from '../../src/migration/import-sp-metadata.js';
import { subjectSourceSchema } from '../../src/migration/subject.js';
import { MigrationInputError } from '../../src/migration/xml.js';
import { namespaceSchema } from '../../src/config/schema.js';
import { EMAIL, NS_MD, PERSISTENT, SLO, spMetadata, subjectIdRequirement, TRANSIENT, UNSPECIFIED, URI } from './fixtures.js';

/** A hash as hashSecret writes it (not of any real secret). */
const SECRET = { clientSecretHash: 'pbkdf2-sha256$100000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g' };
const warningsOf = (xml: string) => importSpMetadata(xml).warnings.join('\n');

describe('importSpMetadata', () => {
  it('drafts the client from a typical SP', () => {
    const r = importSpMetadata(spMetadata());
    expect(r.client).toEqual({
      client_id: 'expenses.example.com',
      name: 'Expense Reports',
      token_endpoint_auth_method: 'client_secret_basic',
      oidc: {
        redirect_uris: ['https://expenses.example.com/oidc/callback', 'https://eu.expenses.example.com/oidc/callback'],
        subject_namespace: 'expenses.example.com-users',
        saml_claims: true,
        claim_overrides: { 'urn:oid:2.5.4.11': 'ou', 'http://schemas.example.com/claims/costCenter': 'cost_center' },
      },
    });
    expect(r.legacy).toEqual({
      entity_id: 'https://expenses.example.com/saml/metadata',
      acs: [
        { binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', location: 'https://expenses.example.com/saml/acs', index: 0, isDefault: true },
        { binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact', location: 'https://expenses.example.com/saml/acs/artifact', index: 1 },
        { binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', location: 'https://eu.expenses.example.com/saml/acs', index: 2 },
      ],
      name_id_formats: [PERSISTENT],
      single_logout_urls: [],
    });
  });

  it('is honest that redirect_uris are placeholders, not the ACS', () => {
    const r = importSpMetadata(spMetadata());
    expect(r.client.oidc.redirect_uris).not.toContain('https://expenses.example.com/saml/acs');
    expect(r.warnings.join('\n')).toMatch(/PLACEHOLDERS.*ACS URL receives a SAML POST, not an OIDC authorization response/);
  });

  it('takes the options for client_id and namespace', () => {
    const r = importSpMetadata(spMetadata(), { clientId: 'expenses', subjectNamespace: 'expenses-users' });
    expect(r.client.client_id).toBe('expenses');
    expect(r.namespace.namespace).toBe('expenses-users');
    expect(r.client.oidc.subject_namespace).toBe('expenses-users');
  });

  it('refuses a client_id the broker would refuse', () => {
    expect(() => importSpMetadata(spMetadata(), { clientId: 'urn:expenses' })).toThrow(/":"/);
    expect(() => importSpMetadata(spMetadata(), { clientId: 'dépenses' })).toThrow(/ASCII/);
  });

  it('maps requested attributes through the default table, and proposes overrides for the rest', () => {
    const r = importSpMetadata(spMetadata());
    expect(r.requestedAttributes.map((a) => [a.attribute, a.claim, a.origin, a.required])).toEqual([
      ['urn:oid:0.9.2342.19200300.100.1.3', 'email', 'default', true],
      ['urn:oid:2.5.4.42', 'given_name', 'default', false],
      ['urn:oid:2.5.4.4', 'family_name', 'default', false],
      ['urn:oid:1.3.6.1.4.1.5923.1.1.1.7', 'eduperson_entitlement', 'default', false],
      ['urn:oid:2.5.4.11', 'ou', 'suggested', false],
      ['http://schemas.example.com/claims/costCenter', 'cost_center', 'suggested', true],
    ]);
    expect(r.requestedAttributes[3]!.multi).toBe(true);
    expect(r.warnings.join('\n')).toMatch(/costCenter\) has no default claim: proposed override → cost_center/);
  });

  it('handles a missing AttributeConsumingService', () => {
    const r = importSpMetadata(spMetadata({ attributeServices: '' }));
    expect(r.requestedAttributes).toEqual([]);
    expect(r.client.oidc.claim_overrides).toEqual({});
    expect(r.warnings.join('\n')).toMatch(/no AttributeConsumingService/);
  });

  it('imports only the default AttributeConsumingService, and says so', () => {
    const services = `
    <md:AttributeConsumingService index="1">
      <md:ServiceName xml:lang="en">Reporting</md:ServiceName>
      <md:RequestedAttribute Name="urn:oid:2.5.4.3" NameFormat="${URI}"/>
    </md:AttributeConsumingService>
    <md:AttributeConsumingService index="2" isDefault="true">
      <md:ServiceName xml:lang="en">Main</md:ServiceName>
      <md:RequestedAttribute Name="urn:oid:2.5.4.42" NameFormat="${URI}"/>
    </md:AttributeConsumingService>`;
    const r = importSpMetadata(spMetadata({ attributeServices: services }));
    expect(r.requestedAttributes.map((a) => a.attribute)).toEqual(['urn:oid:2.5.4.42']);
    expect(r.warnings.join('\n')).toMatch(/2 AttributeConsumingServices: only the default one \(index 2\)/);
  });

  it('takes the first service when none is marked default', () => {
    const services = `
    <md:AttributeConsumingService index="5"><md:ServiceName xml:lang="en">A</md:ServiceName><md:RequestedAttribute Name="urn:oid:2.5.4.4"/></md:AttributeConsumingService>
    <md:AttributeConsumingService index="6"><md:ServiceName xml:lang="en">B</md:ServiceName><md:RequestedAttribute Name="urn:oid:2.5.4.42"/></md:AttributeConsumingService>`;
    expect(importSpMetadata(spMetadata({ attributeServices: services })).requestedAttributes.map((a) => a.attribute)).toEqual(['urn:oid:2.5.4.4']);
  });

  it('does not pass on pairwise identifiers, and says why', () => {
    const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName><md:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.10" FriendlyName="eduPersonTargetedID"/></md:AttributeConsumingService>`;
    const r = importSpMetadata(spMetadata({ attributeServices: services }));
    expect(r.requestedAttributes[0]).toMatchObject({ claim: null, origin: 'none' });
    expect(r.warnings.join('\n')).toMatch(/not passed on as a claim: eduPersonTargetedID: pairwise/);
  });

  it('does not propose a reserved or unusable claim name', () => {
    const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName>
      <md:RequestedAttribute Name="urn:example:sub" />
      <md:RequestedAttribute Name="urn:example:123" />
    </md:AttributeConsumingService>`;
    const r = importSpMetadata(spMetadata({ attributeServices: services }));
    expect(r.requestedAttributes.map((a) => a.claim)).toEqual([null, null]);
    expect(r.client.oidc.claim_overrides).toEqual({});
    expect(r.warnings.join('\n')).toMatch(/urn:example:sub has no default claim and no usable name/);
  });

  it('imports a RequestedAttribute listed twice once', () => {
    const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName>
      <md:RequestedAttribute Name="urn:oid:2.5.4.42"/><md:RequestedAttribute Name="urn:oid:2.5.4.42"/></md:AttributeConsumingService>`;
    const r = importSpMetadata(spMetadata({ attributeServices: services }));
    expect(r.requestedAttributes).toHaveLength(1);
    expect(r.warnings.join('\n')).toMatch(/listed twice/);
  });

  it('handles several ACS endpoints on several origins, one placeholder per origin', () => {
    const r = importSpMetadata(spMetadata());
    expect(r.client.oidc.redirect_uris).toHaveLength(2);
  });

  it('warns about a plain-http ACS and proposes https', () => {
    const acs = `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://legacy.example.com/acs" index="0"/>`;
    const r = importSpMetadata(spMetadata({ acs }));
    expect(r.client.oidc.redirect_uris).toEqual(['https://legacy.example.com/oidc/callback']);
    expect(r.warnings.join('\n')).toMatch(/plain http/);
  });

  it('keeps http on loopback (local development)', () => {
    const acs = `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://localhost:8080/saml/acs" index="0"/>`;
    expect(importSpMetadata(spMetadata({ acs })).client.oidc.redirect_uris).toEqual(['http://localhost:8080/oidc/callback']);
  });

  it('ignores an ACS that is not an http(s) URL', () => {
    const acs = `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS" Location="urn:example:paos" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://expenses.example.com/acs" index="1"/>`;
    const r = importSpMetadata(spMetadata({ acs }));
    expect(r.client.oidc.redirect_uris).toEqual(['https://expenses.example.com/oidc/callback']);
    expect(r.warnings.join('\n')).toMatch(/urn:example:paos is not http\(s\)/);
  });

  it('refuses an SP without ACS', () => {
    expect(() => importSpMetadata(spMetadata({ acs: '' }))).toThrow(/no AssertionConsumerService/);
  });

  it('refuses a DOCTYPE', () => {
    const xml = spMetadata().replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "file:///etc/hostname">]>');
    expect(() => importSpMetadata(xml)).toThrow(/DOCTYPE/);
  });

  it('refuses malformed XML', () => {
    expect(() => importSpMetadata(spMetadata().replace('</md:SPSSODescriptor>', ''))).toThrow(MigrationInputError);
  });

  it('refuses metadata without an SAML 2.0 SPSSODescriptor', () => {
    expect(() => importSpMetadata(spMetadata({ protocolSupport: 'urn:oasis:names:tc:SAML:1.1:protocol' }))).toThrow(/no SPSSODescriptor supporting SAML 2.0/);
  });

  it('refuses an entity without entityID', () => {
    expect(() => importSpMetadata(spMetadata({ entityId: '' }))).toThrow(/entityID/);
  });

  it('refuses IdP metadata', () => {
    const idp = `<md:EntityDescriptor xmlns:md="${NS_MD}" entityID="https://idp.example.com/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`;
    expect(() => importSpMetadata(idp)).toThrow(/no SPSSODescriptor/);
  });

  it('refuses another root element', () => {
    expect(() => importSpMetadata('<x xmlns="urn:example"/>')).toThrow(/expected md:EntityDescriptor/);
  });

  describe('aggregates', () => {
    const entity = (id: string) => spMetadata({ entityId: id }).replace('<?xml version="1.0" encoding="UTF-8"?>', '');
    const aggregate = (...ids: string[]) => `<md:EntitiesDescriptor xmlns:md="${NS_MD}" Name="urn:example:federation">${ids.map(entity).join('')}</md:EntitiesDescriptor>`;

    it('takes the only SP of an aggregate', () => {
      expect(importSpMetadata(aggregate('https://payroll.example.com/sp')).client.client_id).toBe('payroll.example.com');
    });

    it('refuses an aggregate of several SPs without entityId', () => {
      expect(() => importSpMetadata(aggregate('https://a.example.com/sp', 'https://b.example.com/sp'))).toThrow(/holds 2 SPs/);
    });

    it('picks one SP of an aggregate by entityId', () => {
      expect(importSpMetadata(aggregate('https://a.example.com/sp', 'https://b.example.com/sp'), { entityId: 'https://b.example.com/sp' }).legacy.entity_id).toBe('https://b.example.com/sp');
    });

    it('refuses an entityId that is not there', () => {
      expect(() => importSpMetadata(aggregate('https://a.example.com/sp'), { entityId: 'https://c.example.com/sp' })).toThrow(/no SP with entityID/);
      expect(() => importSpMetadata(spMetadata(), { entityId: 'https://c.example.com/sp' })).toThrow(/not https:\/\/c\.example\.com\/sp/);
    });
  });

  describe('name', () => {
    it('prefers the English mdui:DisplayName', () => {
      expect(importSpMetadata(spMetadata()).client.name).toBe('Expense Reports');
    });

    it('falls back to the ServiceName', () => {
      expect(importSpMetadata(spMetadata({ extensions: '' })).client.name).toBe('Expenses');
    });

    it('then to the entityID host and path, never the OrganizationDisplayName (an organization runs many SPs)', () => {
      expect(importSpMetadata(spMetadata({ extensions: '', attributeServices: '' })).client.name).toBe('expenses.example.com');
      expect(importSpMetadata(spMetadata({ extensions: '', attributeServices: '', organization: '' })).client.name).toBe('expenses.example.com');
    });
  });

  describe('subject source', () => {
    it('persistent NameIDFormat → persistent_nameid, with the per-SP caveat', () => {
      const r = importSpMetadata(spMetadata({ nameIdFormats: [EMAIL, PERSISTENT] }));
      expect(r.namespace).toEqual({ namespace: 'expenses.example.com-users', strategy: 'saml_subject', subject_source: { kind: 'persistent_nameid' } });
      expect(r.warnings.join('\n')).toMatch(/computed by the IdP for one SP entityID/);
    });

    it('emailAddress NameIDFormat → the broker’s pairwise value, and a warning that email never becomes sub', () => {
      const r = importSpMetadata(spMetadata({ nameIdFormats: [EMAIL] }));
      expect(r.namespace).toEqual({ namespace: 'expenses.example.com-users', strategy: 'pairwise', sector: 'expenses.example.com' });
      expect(r.warnings.join('\n')).toMatch(/an email address never becomes sub/);
    });

    it('transient NameIDFormat → pairwise, and a warning to find the keying attribute', () => {
      const r = importSpMetadata(spMetadata({ nameIdFormats: [TRANSIENT] }));
      expect(r.namespace.strategy).toBe('pairwise');
      expect(r.warnings.join('\n')).toMatch(/transient NameIDs: it must key users on an attribute/);
    });

    it('unspecified NameIDFormat → pairwise, with the reason', () => {
      const r = importSpMetadata(spMetadata({ nameIdFormats: [UNSPECIFIED] }));
      expect(r.namespace.strategy).toBe('pairwise');
      expect(r.warnings.join('\n')).toMatch(/unspecified NameIDs: nothing promises/);
    });

    it('no NameIDFormat → pairwise, with a warning', () => {
      const r = importSpMetadata(spMetadata({ nameIdFormats: [] }));
      expect(r.namespace.strategy).toBe('pairwise');
      expect(r.warnings.join('\n')).toMatch(/lists no NameIDFormat/);
    });

    it('the subject-id requirement wins over NameIDFormat', () => {
      expect(importSpMetadata(spMetadata({ entityExtensions: subjectIdRequirement('subject-id') })).namespace).toMatchObject({ subject_source: { kind: 'subject_id' } });
      expect(importSpMetadata(spMetadata({ entityExtensions: subjectIdRequirement('pairwise-id') })).namespace).toMatchObject({ subject_source: { kind: 'pairwise_id' } });
    });

    it('requirement "any" proposes pairwise-id and says so', () => {
      const r = importSpMetadata(spMetadata({ entityExtensions: subjectIdRequirement('any') }));
      expect(r.namespace).toMatchObject({ subject_source: { kind: 'pairwise_id' } });
      expect(r.legacy.subject_id_requirement).toBe('any');
      expect(r.warnings.join('\n')).toMatch(/"any"/);
    });

    it('requirement "none" falls through to NameIDFormat', () => {
      expect(importSpMetadata(spMetadata({ entityExtensions: subjectIdRequirement('none') })).namespace).toMatchObject({ subject_source: { kind: 'persistent_nameid' } });
    });

    it('a requested subject-id attribute → subject_id when no persistent NameID', () => {
      const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName><md:RequestedAttribute Name="urn:oasis:names:tc:SAML:attribute:subject-id" NameFormat="${URI}" isRequired="true"/></md:AttributeConsumingService>`;
      expect(importSpMetadata(spMetadata({ nameIdFormats: [TRANSIENT], attributeServices: services })).namespace).toMatchObject({ subject_source: { kind: 'subject_id' } });
    });

    it('a requested eduPersonUniqueId → attribute source', () => {
      const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName><md:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.13" NameFormat="${URI}"/></md:AttributeConsumingService>`;
      expect(importSpMetadata(spMetadata({ nameIdFormats: [TRANSIENT], attributeServices: services })).namespace).toMatchObject({
        subject_source: { kind: 'attribute', name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.13' },
      });
    });

    it('a requested eduPersonPrincipalName is mentioned, not chosen (it may be reassigned)', () => {
      const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName><md:RequestedAttribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.6" NameFormat="${URI}"/></md:AttributeConsumingService>`;
      const r = importSpMetadata(spMetadata({ nameIdFormats: [TRANSIENT], attributeServices: services }));
      expect(r.namespace.strategy).toBe('pairwise');
      expect(r.warnings.join('\n')).toMatch(/requests eduPersonPrincipalName/);
    });

    it('every proposed source passes the config schema', () => {
      for (const formats of [[PERSISTENT], [EMAIL]]) {
        const ns = importSpMetadata(spMetadata({ nameIdFormats: formats })).namespace;
        if (ns.strategy === 'saml_subject') expect(subjectSourceSchema.safeParse(ns.subject_source).success).toBe(true);
        else expect(namespaceSchema.safeParse(ns).success).toBe(true);
      }
    });
  });

  it('warns about SingleLogoutService', () => {
    const r = importSpMetadata(spMetadata({ slo: SLO }));
    expect(r.legacy.single_logout_urls).toEqual(['https://expenses.example.com/saml/slo']);
    expect(r.warnings.join('\n')).toMatch(/SAML logout does not carry over/);
  });

  it('reads namespaces, not prefixes', () => {
    const xml = spMetadata().replaceAll('md:', 'm:').replace(`xmlns:m="${NS_MD}"`, `xmlns:m="${NS_MD}"`).replace('xmlns:md=', 'xmlns:m=');
    expect(importSpMetadata(xml).client.client_id).toBe('expenses.example.com');
  });

  it('ignores look-alike elements in another namespace', () => {
    const xml = spMetadata().replace('</md:SPSSODescriptor>', `<x:AssertionConsumerService xmlns:x="urn:example" Location="https://evil.example/acs"/></md:SPSSODescriptor>`);
    expect(importSpMetadata(xml).client.oidc.redirect_uris.join()).not.toMatch(/evil/);
  });
});

describe('clientIdFromEntityId', () => {
  it.each([
    ['https://expenses.example.com/saml/metadata', 'expenses.example.com'],
    ['https://sp.example.org/shibboleth', 'sp.example.org'],
    ['https://apps.example.com/payroll/saml2/metadata.php?idp=x', 'apps.example.com-payroll'],
    ['urn:example:sp:Payroll', 'example-sp-payroll'],
    ['https://expenses.example.com/', 'expenses.example.com'],
  ])('%s → %s', (entityId, id) => {
    expect(clientIdFromEntityId(entityId)).toBe(id);
  });

  it('bounds the length and keeps truncated ids distinct', () => {
    const a = clientIdFromEntityId(`https://apps.example.com/${'segment/'.repeat(10)}a`);
    const b = clientIdFromEntityId(`https://apps.example.com/${'segment/'.repeat(10)}b`);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).not.toBe(b);
  });

  it('never yields ":" or an empty id', () => {
    expect(clientIdFromEntityId('urn:a:b:c')).not.toContain(':');
    expect(clientIdFromEntityId('::')).toBe('saml-app');
  });
});

describe('suggestClaimName', () => {
  it.each([
    ['http://schemas.example.com/claims/costCenter', 'costCenter', 'cost_center'],
    ['urn:oid:2.5.4.11', 'ou', 'ou'],
    ['urn:example:attr:employee-grade', undefined, 'employee_grade'],
    ['urn:example:sub', undefined, undefined],
    ['urn:example:42', undefined, undefined],
  ])('%s (%s) → %s', (name, friendly, claim) => {
    expect(suggestClaimName(name, friendly)).toBe(claim);
  });
});

describe('toYaml', () => {
  it('produces two YAML documents: the client and the namespace file', () => {
    const result = importSpMetadata(spMetadata());
    const text = toYaml(result, SECRET);
    const docs = parseAllDocuments(text);
    expect(docs).toHaveLength(2);
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    expect(docs[0]!.toJS()).toEqual([{ ...result.client, client_secret_hash: SECRET.clientSecretHash }]);
    expect(docs[1]!.toJS()).toEqual(result.namespace);
  });

  it('carries the warnings, the ACS URLs and the requested attributes as comments', () => {
    const text = toYaml(importSpMetadata(spMetadata()), SECRET);
    expect(text).toMatch(/^# A DRAFT/m);
    expect(text).toMatch(/^#\s+- redirect_uris are PLACEHOLDERS/m);
    expect(text).toMatch(/^#\s+https:\/\/expenses\.example\.com\/saml\/acs \(HTTP-POST, default\)$/m);
    expect(text).toMatch(/^#\s+http:\/\/schemas\.example\.com\/claims\/costCenter \(costCenter\) → cost_center, required, PROPOSED override$/m);
    expect(text).toMatch(/client_secret_hash/);
  });

  it('keeps an empty claim_overrides, and says the app receives its SAML attributes (saml_claims)', () => {
    const docs = parseAllDocuments(toYaml(importSpMetadata(spMetadata({ attributeServices: '' })), SECRET));
    expect(docs[0]!.toJS()[0].oidc).toMatchObject({ saml_claims: true, claim_overrides: {} });
  });

  it('emits a pairwise namespace the current config schema accepts', () => {
    const docs = parseAllDocuments(toYaml(importSpMetadata(spMetadata({ nameIdFormats: [EMAIL] })), SECRET));
    expect(namespaceSchema.safeParse(docs[1]!.toJS()).success).toBe(true);
  });

  it('emits overrides the overrides schema accepts', () => {
    const docs = parseAllDocuments(toYaml(importSpMetadata(spMetadata()), SECRET));
    expect(claimMapOverridesSchema.safeParse(docs[0]!.toJS()[0].oidc.claim_overrides).success).toBe(true);
  });

  it('cannot be steered by line breaks in names that end up in comments', () => {
    const services = `<md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">S</md:ServiceName><md:RequestedAttribute Name="urn:example:x&#10;token_endpoint_auth_method: none&#13;subject_namespace: admins" FriendlyName="x"/></md:AttributeConsumingService>`;
    const result = importSpMetadata(spMetadata({ entityId: 'https://expenses.example.com/sp&#10;- client_id: admin', attributeServices: services }));
    const docs = parseAllDocuments(toYaml(result, SECRET));
    expect(docs).toHaveLength(2);
    expect(docs[0]!.toJS()).toEqual([{ ...result.client, client_secret_hash: SECRET.clientSecretHash }]);
    expect(docs[0]!.toJS()[0].token_endpoint_auth_method).toBe('client_secret_basic');
  });

  it('cannot be steered by comment text in the metadata', () => {
    const xml = spMetadata({ extensions: `<md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="en">Evil\nclient_id: admin</mdui:DisplayName></mdui:UIInfo></md:Extensions>` });
    const docs = parseAllDocuments(toYaml(importSpMetadata(xml), SECRET));
    expect(docs[0]!.toJS()[0].client_id).toBe('expenses.example.com');
  });
});
