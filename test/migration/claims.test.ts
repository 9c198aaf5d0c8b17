import { describe, expect, it } from 'vitest';
import {
  ClaimMapError,
  claimMapOverridesSchema,
  DEFAULT_SAML_CLAIM_MAP,
  effectiveClaimMap,
  EMAIL_ATTRIBUTE_NAMES,
  getClaim,
  NOT_MAPPED_BY_DEFAULT,
  OIDC_STANDARD_CLAIMS,
  RESERVED_CLAIMS,
  translateSamlAttributes,
} from '../../src/migration/claims.js';
import type { SamlAttribute } from '../../src/identity/types.js';

const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
const a = (name: string, ...values: string[]): SamlAttribute => ({ name, nameFormat: URI, values });

const MAIL = 'urn:oid:0.9.2342.19200300.100.1.3';
const MS_EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
const MS_GROUPS = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const IS_MEMBER_OF = 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1';

describe('DEFAULT_SAML_CLAIM_MAP', () => {
  it.each([
    // X.500 / inetOrgPerson
    [MAIL, 'email', false],
    ['urn:oid:2.5.4.42', 'given_name', false],
    ['urn:oid:2.5.4.4', 'family_name', false],
    ['urn:oid:2.16.840.1.113730.3.1.241', 'name', false],
    ['urn:oid:2.5.4.3', 'cn', false],
    ['urn:oid:2.5.4.20', 'phone_number', false],
    ['urn:oid:2.16.840.1.113730.3.1.39', 'locale', false],
    ['urn:oid:0.9.2342.19200300.100.1.1', 'preferred_username', false],
    ['urn:oid:2.5.4.7', 'address.locality', false],
    // eduPerson
    ['urn:oid:1.3.6.1.4.1.5923.1.1.1.6', 'eduperson_principal_name', false],
    ['urn:oid:1.3.6.1.4.1.5923.1.1.1.7', 'eduperson_entitlement', true],
    ['urn:oid:1.3.6.1.4.1.5923.1.1.1.9', 'eduperson_scoped_affiliation', true],
    ['urn:oid:1.3.6.1.4.1.5923.1.1.1.13', 'eduperson_unique_id', false],
    ['urn:oid:1.3.6.1.4.1.5923.1.1.1.2', 'nickname', false],
    // Microsoft
    [MS_EMAIL, 'email', false],
    ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', 'given_name', false],
    ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', 'family_name', false],
    ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', 'preferred_username', false],
    ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', 'upn', false],
    [MS_GROUPS, 'groups', true],
    ['http://schemas.microsoft.com/ws/2008/06/identity/claims/role', 'roles', true],
    ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid', false],
    ['http://schemas.microsoft.com/identity/claims/tenantid', 'tid', false],
    ['http://schemas.microsoft.com/identity/claims/displayname', 'name', false],
    // Subject Identifier Attributes Profile
    ['urn:oasis:names:tc:SAML:attribute:subject-id', 'subject_id', false],
    // friendly-name fallbacks (bare names as the Name) and SAML 1 names
    ['mail', 'email', false],
    ['givenName', 'given_name', false],
    ['sn', 'family_name', false],
    ['displayName', 'name', false],
    ['eduPersonPrincipalName', 'eduperson_principal_name', false],
    ['urn:mace:dir:attribute-def:mail', 'email', false],
  ])('%s → %s', (name, claim, multi) => {
    expect(DEFAULT_SAML_CLAIM_MAP[name]).toEqual({ claim, multi });
  });

  it('targets only standard, address, or deliberately named non-standard claims, never reserved ones', () => {
    for (const [name, rule] of Object.entries(DEFAULT_SAML_CLAIM_MAP)) {
      expect(RESERVED_CLAIMS.has(rule.claim), name).toBe(false);
      expect(rule.claim, name).toMatch(/^(address\.[a-z_]+|[a-z][a-z0-9_]*)$/);
    }
    expect(OIDC_STANDARD_CLAIMS.has('email')).toBe(true);
  });

  it('gives every claim one cardinality', () => {
    const seen = new Map<string, boolean>();
    for (const rule of Object.values(DEFAULT_SAML_CLAIM_MAP)) {
      expect(seen.get(rule.claim) ?? rule.multi, rule.claim).toBe(rule.multi);
      seen.set(rule.claim, rule.multi);
    }
  });

  it('leaves pairwise identifiers and amr out', () => {
    for (const name of Object.keys(NOT_MAPPED_BY_DEFAULT)) expect(DEFAULT_SAML_CLAIM_MAP[name], name).toBeUndefined();
    expect(NOT_MAPPED_BY_DEFAULT['urn:oasis:names:tc:SAML:attribute:pairwise-id']).toBeDefined();
  });

  it('is frozen', () => {
    expect(Object.isFrozen(DEFAULT_SAML_CLAIM_MAP)).toBe(true);
  });

  it('knows the email attributes (never a subject source)', () => {
    expect(EMAIL_ATTRIBUTE_NAMES.has(MAIL)).toBe(true);
    expect(EMAIL_ATTRIBUTE_NAMES.has(MS_EMAIL)).toBe(true);
    expect(EMAIL_ATTRIBUTE_NAMES.has('urn:oid:2.5.4.42')).toBe(false);
  });
});

describe('translateSamlAttributes', () => {
  it('translates a typical assertion', () => {
    const t = translateSamlAttributes([
      a(MAIL, 'ada@example.com'),
      a('urn:oid:2.5.4.42', 'Ada'),
      a('urn:oid:1.3.6.1.4.1.5923.1.1.1.7', 'urn:example:a', 'urn:example:b'),
    ]);
    expect(t).toEqual({
      claims: { email: 'ada@example.com', given_name: 'Ada', eduperson_entitlement: ['urn:example:a', 'urn:example:b'] },
      unmapped: [],
      dropped: [],
      conflicts: [],
    });
  });

  it('a single-valued claim takes the one value', () => {
    expect(translateSamlAttributes([a(MAIL, 'ada@example.com')]).claims.email).toBe('ada@example.com');
  });

  it('several values of a single-valued claim are a conflict, not the first value', () => {
    const t = translateSamlAttributes([a(MAIL, 'ada@example.com', 'a.lovelace@example.com')]);
    expect(t.claims.email).toBeUndefined();
    expect(t.conflicts).toEqual([{ claim: 'email', sources: [{ attribute: MAIL, values: ['ada@example.com', 'a.lovelace@example.com'] }] }]);
  });

  it('two attributes with different values for one single-valued claim are a conflict', () => {
    const t = translateSamlAttributes([a(MAIL, 'ada@example.com'), a(MS_EMAIL, 'ada@corp.example.com')]);
    expect(t.claims.email).toBeUndefined();
    expect(t.conflicts).toHaveLength(1);
    expect(t.conflicts[0]!.sources.map((s) => s.attribute)).toEqual([MAIL, MS_EMAIL]);
  });

  it('two attributes with the same value for one single-valued claim agree', () => {
    const t = translateSamlAttributes([a(MAIL, 'ada@example.com'), a(MS_EMAIL, 'ada@example.com')]);
    expect(t.claims.email).toBe('ada@example.com');
    expect(t.conflicts).toEqual([]);
  });

  it('a multi-valued claim is an array even with one value', () => {
    expect(translateSamlAttributes([a(MS_GROUPS, 'g1')]).claims.groups).toEqual(['g1']);
  });

  it('a multi-valued claim joins every source, in order, as a set', () => {
    const t = translateSamlAttributes([a(MS_GROUPS, 'g1', 'g2', 'g1'), a(IS_MEMBER_OF, 'g2', 'g3')]);
    expect(t.claims.groups).toEqual(['g1', 'g2', 'g3']);
  });

  it('an attribute with no value yields no claim', () => {
    const t = translateSamlAttributes([a(MAIL)]);
    expect(t.claims).toEqual({});
    expect(t.unmapped).toEqual([]);
  });

  it('lists unknown attributes as unmapped, once each', () => {
    const t = translateSamlAttributes([a('urn:example:costCenter', 'CC-1'), a('urn:example:costCenter', 'CC-2')]);
    expect(t.unmapped).toEqual(['urn:example:costCenter']);
    expect(t.claims).toEqual({});
  });

  it('matches on Name only, never on FriendlyName', () => {
    const t = translateSamlAttributes([{ name: 'urn:example:corp:primaryEmail', friendlyName: 'mail', values: ['x@example.com'] }]);
    expect(t.claims.email).toBeUndefined();
    expect(t.unmapped).toEqual(['urn:example:corp:primaryEmail']);
  });

  it('matches Names case-sensitively', () => {
    expect(translateSamlAttributes([a('URN:OID:0.9.2342.19200300.100.1.3', 'x@example.com')]).unmapped).toHaveLength(1);
  });

  it('does not map pairwise-id by default', () => {
    const t = translateSamlAttributes([a('urn:oasis:names:tc:SAML:attribute:pairwise-id', 'abc@example.com')]);
    expect(t.claims).toEqual({});
    expect(t.unmapped).toEqual(['urn:oasis:names:tc:SAML:attribute:pairwise-id']);
  });

  it('builds the address object from its members', () => {
    const t = translateSamlAttributes([a('urn:oid:2.5.4.7', 'Zürich'), a('urn:oid:2.5.4.6', 'CH'), a('urn:oid:2.5.4.17', '8001')]);
    expect(t.claims.address).toEqual({ locality: 'Zürich', country: 'CH', postal_code: '8001' });
    expect(getClaim(t.claims, 'address.locality')).toBe('Zürich');
    expect(getClaim(t.claims, 'address.region')).toBeUndefined();
  });

  it('does not read inherited properties as rules or claims', () => {
    const t = translateSamlAttributes([a('constructor', 'x'), a('__proto__', 'y')]);
    expect(t.unmapped).toEqual(['constructor', '__proto__']);
    expect(getClaim({}, 'toString')).toBeUndefined();
  });

  describe('overrides', () => {
    it('maps a new attribute', () => {
      const t = translateSamlAttributes([a('urn:example:costCenter', 'CC-1')], { 'urn:example:costCenter': 'cost_center' });
      expect(t.claims).toEqual({ cost_center: 'CC-1' });
      expect(t.unmapped).toEqual([]);
    });

    it('a new claim is single-valued by default', () => {
      const t = translateSamlAttributes([a('urn:example:costCenter', 'CC-1', 'CC-2')], { 'urn:example:costCenter': 'cost_center' });
      expect(t.conflicts).toHaveLength(1);
    });

    it('{claim, multi: true} makes a new claim a list', () => {
      const t = translateSamlAttributes([a('urn:example:projects', 'p1', 'p2')], { 'urn:example:projects': { claim: 'projects', multi: true } });
      expect(t.claims.projects).toEqual(['p1', 'p2']);
    });

    it('a string override to a known claim inherits its cardinality', () => {
      const t = translateSamlAttributes([a('urn:example:memberships', 'g1')], { 'urn:example:memberships': 'groups' });
      expect(t.claims.groups).toEqual(['g1']);
    });

    it('re-targets a default entry', () => {
      const t = translateSamlAttributes([a('urn:oid:2.5.4.3', 'Ada Lovelace')], { 'urn:oid:2.5.4.3': 'name' });
      expect(t.claims).toEqual({ name: 'Ada Lovelace' });
    });

    it('null drops an attribute (reported as dropped, not unmapped)', () => {
      const t = translateSamlAttributes([a(MAIL, 'ada@example.com')], { [MAIL]: null });
      expect(t.claims).toEqual({});
      expect(t.dropped).toEqual([MAIL]);
      expect(t.unmapped).toEqual([]);
    });

    it.each(['sub', 'iss', 'aud', 'amr', 'acr', 'auth_time', 'nonce', 'sid', 'sub_id', 'email_verified'])('refuses the reserved target %s', (claim) => {
      expect(() => translateSamlAttributes([], { 'urn:example:x': claim })).toThrow(ClaimMapError);
    });

    it('refuses a malformed claim name', () => {
      expect(() => effectiveClaimMap({ 'urn:example:x': 'Cost Center' })).toThrow(/claim name/);
    });

    it('refuses "address" itself and unknown address members', () => {
      expect(() => effectiveClaimMap({ 'urn:example:x': 'address' })).toThrow(/object/);
      expect(() => effectiveClaimMap({ 'urn:example:x': 'address.planet' })).toThrow(/no member/);
      expect(() => effectiveClaimMap({ 'urn:example:x': 'profile.city' })).toThrow(/only address/);
    });

    it('refuses a multi-valued address member', () => {
      expect(() => effectiveClaimMap({ 'urn:example:x': { claim: 'address.locality', multi: true } })).toThrow(/single-valued/);
    });

    it('refuses rules that disagree on a claim’s cardinality', () => {
      expect(() => effectiveClaimMap({ 'urn:example:x': { claim: 'groups', multi: false } })).toThrow(/multi-valued .* single-valued/);
    });

    it('treats an attribute named __proto__ as an ordinary Name', () => {
      const overrides = JSON.parse('{"__proto__": "weird"}') as Record<string, string>;
      const t = translateSamlAttributes([a('__proto__', 'x')], overrides);
      expect(t.claims).toEqual({ weird: 'x' });
      expect(Object.getPrototypeOf(effectiveClaimMap(overrides))).toBe(Object.prototype);
    });

    it('refuses an empty attribute Name', () => {
      expect(() => effectiveClaimMap({ '': 'x' })).toThrow(/empty/);
    });
  });
});

describe('claimMapOverridesSchema', () => {
  it('accepts the three forms', () => {
    const r = claimMapOverridesSchema.safeParse({ 'urn:example:a': 'a', 'urn:example:b': null, 'urn:example:c': { claim: 'c', multi: true } });
    expect(r.success).toBe(true);
  });

  it('reports a reserved target as a config problem', () => {
    const r = claimMapOverridesSchema.safeParse({ 'urn:example:a': 'sub' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/set by the broker/);
  });

  it('refuses unknown keys in the object form', () => {
    expect(claimMapOverridesSchema.safeParse({ 'urn:example:a': { claim: 'a', many: true } }).success).toBe(false);
  });
});
