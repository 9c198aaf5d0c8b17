import { describe, expect, it } from 'vitest';
import { authoritySchema, believe, domainMatches, domainsOverlap, emailDomainOf, NO_AUTHORITY } from '../../src/trust/authority.js';

const corp = authoritySchema.parse({
  tenant: 'corp',
  email: { domains: ['corp.example', '*.eng.corp.example'] },
  groups: { allow: ['todo-writers'], allow_prefixes: ['team-'], prefix: '' },
  acr: ['urn:corp:loa:2fa'],
  amr: ['pwd', 'mfa'],
  claims: ['name'],
});

describe('believe: an upstream is believed only for what its authority lists', () => {
  it('keeps what the authority covers and says nothing was dropped', () => {
    const b = believe(corp, {
      claims: { sub: 'u1', iss: 'https://idp', aud: 'x', exp: 1, iat: 1, email: 'alice@corp.example', email_verified: true, groups: ['todo-writers', 'team-blue'], name: 'Alice' },
      acr: 'urn:corp:loa:2fa',
      amr: ['pwd', 'mfa'],
    });
    expect(b).toEqual({
      claims: { email: 'alice@corp.example', email_verified: true, groups: ['todo-writers', 'team-blue'], name: 'Alice' },
      acr: 'urn:corp:loa:2fa',
      amr: ['pwd', 'mfa'],
      tenant: 'corp',
      dropped: [],
    });
  });

  it('nothing is believed by default: not email, groups, acr, amr, tenant or any other claim', () => {
    const b = believe(NO_AUTHORITY, { claims: { email: 'a@corp.example', email_verified: true, groups: ['admins'], tenant: 'corp', name: 'A' }, acr: 'x', amr: ['mfa'] });
    expect(b.claims).toEqual({});
    expect(b.acr).toBeUndefined();
    expect(b.amr).toEqual([]);
    expect(b.tenant).toBeUndefined();
    expect(b.dropped.sort()).toEqual(['acr:x', 'amr:mfa', 'email(not_authoritative)', 'groups', 'name', 'tenant'].sort());
  });

  describe('email', () => {
    it('an unverified address is dropped (email_verified absent)', () => {
      expect(believe(corp, { claims: { email: 'alice@corp.example' } }).dropped).toEqual(['email(unverified)']);
    });

    it('an unverified address is dropped (email_verified: false, or the string "true")', () => {
      expect(believe(corp, { claims: { email: 'alice@corp.example', email_verified: false } }).claims.email).toBeUndefined();
      expect(believe(corp, { claims: { email: 'alice@corp.example', email_verified: 'true' } }).claims.email).toBeUndefined();
    });

    it('an address outside the upstream\'s domains is dropped, even verified', () => {
      const b = believe(corp, { claims: { email: 'alice@partner.example', email_verified: true } });
      expect(b.claims.email).toBeUndefined();
      expect(b.dropped).toEqual(['email(domain)']);
    });

    it('a lookalike domain is not a subdomain: corp.example.evil and evilcorp.example are dropped', () => {
      for (const email of ['alice@corp.example.evil', 'alice@evilcorp.example', 'alice@sub.corp.example']) {
        expect(believe(corp, { claims: { email, email_verified: true } }).claims.email, email).toBeUndefined();
      }
    });

    it('"*." covers the domain and its subdomains', () => {
      expect(believe(corp, { claims: { email: 'bob@eng.corp.example', email_verified: true } }).claims.email).toBe('bob@eng.corp.example');
      expect(believe(corp, { claims: { email: 'bob@x.eng.corp.example', email_verified: true } }).claims.email).toBe('bob@x.eng.corp.example');
    });

    it('the domain is compared case-insensitively; the address is kept as asserted', () => {
      expect(believe(corp, { claims: { email: 'Alice@CORP.Example', email_verified: true } }).claims.email).toBe('Alice@CORP.Example');
    });

    it('malformed addresses are dropped: two @, no local part, quotes, whitespace, not a string', () => {
      for (const email of ['a@b@corp.example', '@corp.example', '"a"@corp.example', 'a @corp.example', 'alice@', ['alice@corp.example'], 7]) {
        const b = believe(corp, { claims: { email, email_verified: true } });
        expect(b.claims.email, JSON.stringify(email)).toBeUndefined();
        expect(b.dropped, JSON.stringify(email)).toEqual(['email(malformed)']);
      }
    });

    it('verified: always believes a domain address without email_verified (a directory-backed SAML IdP)', () => {
      const saml = authoritySchema.parse({ email: { domains: ['corp.example'], verified: 'always' } });
      expect(believe(saml, { claims: { email: 'alice@corp.example' } }).claims).toEqual({ email: 'alice@corp.example', email_verified: true });
      expect(believe(saml, { claims: { email: 'alice@other.example' } }).claims.email).toBeUndefined();
    });
  });

  describe('groups', () => {
    it('keeps only listed groups and groups under an allowed prefix; counts the rest', () => {
      const b = believe(corp, { claims: { groups: ['todo-writers', 'team-red', 'admins', 'domain-admins', 7] } });
      expect(b.claims.groups).toEqual(['todo-writers', 'team-red']);
      expect(b.dropped).toEqual(['groups(3)']);
    });

    it('reads the configured claim and prefixes what it keeps', () => {
      const partner = authoritySchema.parse({ groups: { claim: 'roles', allow: ['todo-writers'], prefix: 'partner:' } });
      const b = believe(partner, { claims: { roles: ['todo-writers', 'owner'], groups: ['todo-writers'] } });
      expect(b.claims.groups).toEqual(['partner:todo-writers']);
      // A `groups` claim from an upstream whose groups come from `roles` is just another claim.
      expect(b.dropped).toEqual(['groups', 'groups(1)']);
    });

    it('a single string is one group', () => {
      expect(believe(corp, { claims: { groups: 'todo-writers' } }).claims.groups).toEqual(['todo-writers']);
    });
  });

  describe('acr and amr', () => {
    it('an acr value not listed is dropped', () => {
      const b = believe(corp, { claims: {}, acr: 'urn:partner:loa:max' });
      expect(b.acr).toBeUndefined();
      expect(b.dropped).toEqual(['acr:urn:partner:loa:max']);
    });

    it('amr values not listed are dropped one by one', () => {
      const b = believe(corp, { claims: {}, amr: ['pwd', 'hwk', 'mfa'] });
      expect(b.amr).toEqual(['pwd', 'mfa']);
      expect(b.dropped).toEqual(['amr:hwk']);
    });

    it('no amr asserted stays absent (nothing is said), an all-dropped amr is empty', () => {
      expect(believe(corp, { claims: {} }).amr).toBeUndefined();
      expect(believe(corp, { claims: {}, amr: ['hwk'] }).amr).toEqual([]);
    });
  });

  it('tenant is configuration: a tenant claim is dropped, the configured one is used', () => {
    const b = believe(corp, { claims: { tenant: 'partner' } });
    expect(b.tenant).toBe('corp');
    expect(b.claims.tenant).toBeUndefined();
    expect(b.dropped).toEqual(['tenant']);
  });

  it('token claims (iss, aud, exp, nonce, sid, …) are neither kept nor reported', () => {
    const b = believe(corp, { claims: { iss: 'x', aud: 'y', exp: 1, iat: 1, nbf: 1, jti: 'j', azp: 'a', auth_time: 1, sid: 's', nonce: 'n', at_hash: 'h', c_hash: 'c' } });
    expect(b.claims).toEqual({});
    expect(b.dropped).toEqual([]);
  });
});

describe('authority configuration', () => {
  it('groups must say which groups are allowed', () => {
    expect(authoritySchema.safeParse({ groups: { prefix: 'p:' } }).success).toBe(false);
  });

  it('email needs at least one lowercase domain', () => {
    expect(authoritySchema.safeParse({ email: { domains: [] } }).success).toBe(false);
    expect(authoritySchema.safeParse({ email: { domains: ['Corp.Example'] } }).success).toBe(false);
    expect(authoritySchema.safeParse({ email: { domains: ['corp'] } }).success).toBe(false);
    expect(authoritySchema.safeParse({ email: { domains: ['*.corp.example'] } }).success).toBe(true);
  });

  it('claims with rules of their own cannot be passed through `claims`', () => {
    for (const name of ['email', 'email_verified', 'groups', 'tenant', 'acr', 'amr', 'sub', 'aud']) {
      expect(authoritySchema.safeParse({ claims: [name] }).success, name).toBe(false);
    }
  });

  it('unknown keys are mistakes', () => {
    expect(authoritySchema.safeParse({ trust_email: true }).success).toBe(false);
  });
});

describe('domains', () => {
  it('emailDomainOf lowercases and refuses anything but local@domain', () => {
    expect(emailDomainOf('a@Corp.Example')).toBe('corp.example');
    expect(emailDomainOf('a@corp..example')).toBeUndefined();
    expect(emailDomainOf('a@.corp.example')).toBeUndefined();
  });

  it('domainMatches and domainsOverlap', () => {
    expect(domainMatches('corp.example', 'corp.example')).toBe(true);
    expect(domainMatches('corp.example', 'a.corp.example')).toBe(false);
    expect(domainMatches('*.corp.example', 'a.corp.example')).toBe(true);
    expect(domainsOverlap('*.corp.example', 'eng.corp.example')).toBe(true);
    expect(domainsOverlap('corp.example', 'partner.example')).toBe(false);
  });
});
