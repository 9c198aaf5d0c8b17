import { describe, expect, it } from 'vitest';
import { chooseConnection, discoveryConflicts, emailDomainOf, type DiscoverableConnection } from '../../src/upstream/discovery.js';

const corpOidc = { id: 'corp', protocol: 'oidc', email_domains: ['corp.example', 'corp-labs.example'] };
const partnerSaml = { id: 'partner', protocol: 'saml', email_domains: ['Partner.Example'] };
const contractors = { id: 'contractors', protocol: 'oidc' };
const all = [corpOidc, partnerSaml, contractors];

describe('chooseConnection', () => {
  it('rule 1: an explicit connection id wins over every other hint', () => {
    expect(chooseConnection(all, { connectionId: 'contractors', loginHint: 'alice@corp.example' })).toEqual({ kind: 'chosen', connection: contractors, by: 'connection_id' });
  });

  it('rule 1: an unknown explicit id is refused, never replaced by a domain match or a default', () => {
    expect(chooseConnection(all, { connectionId: 'nope', loginHint: 'alice@corp.example' })).toEqual({ kind: 'refused', reason: 'unknown_connection' });
    expect(chooseConnection([{ ...corpOidc, default: true }], { connectionId: 'CORP' })).toEqual({ kind: 'refused', reason: 'unknown_connection' });
    expect(chooseConnection([], { connectionId: 'corp' })).toEqual({ kind: 'refused', reason: 'unknown_connection' });
  });

  it('rule 2: the login_hint email domain picks the connection, case-insensitively, OIDC and SAML alike', () => {
    expect(chooseConnection(all, { loginHint: 'Alice@CORP.example' })).toEqual({ kind: 'chosen', connection: corpOidc, by: 'email_domain' });
    expect(chooseConnection(all, { loginHint: 'bob@corp-labs.example' })).toMatchObject({ connection: corpOidc, by: 'email_domain' });
    expect(chooseConnection(all, { loginHint: 'carol@partner.example' })).toEqual({ kind: 'chosen', connection: partnerSaml, by: 'email_domain' });
  });

  it('rule 2: matches whole domains only, never a subdomain or a suffix', () => {
    expect(chooseConnection(all, { loginHint: 'alice@eu.corp.example' })).toEqual({ kind: 'ask', reason: 'no_hint' });
    expect(chooseConnection(all, { loginHint: 'alice@evilcorp.example' })).toEqual({ kind: 'ask', reason: 'no_hint' });
  });

  it('rule 2: a domain claimed by two connections is not guessed at', () => {
    const twin = { id: 'corp-legacy', email_domains: ['corp.example'] };
    expect(chooseConnection([corpOidc, twin], { loginHint: 'alice@corp.example' })).toEqual({ kind: 'ask', reason: 'email_domain_ambiguous' });
  });

  it('rule 2: a login_hint that is not an email is ignored', () => {
    expect(chooseConnection(all, { loginHint: 'alice' })).toEqual({ kind: 'ask', reason: 'no_hint' });
    expect(chooseConnection(all, { loginHint: '@corp.example' })).toEqual({ kind: 'ask', reason: 'no_hint' });
    expect(chooseConnection(all, { loginHint: 'alice@' })).toEqual({ kind: 'ask', reason: 'no_hint' });
  });

  it('rule 3: the only connection is chosen when nothing else decides', () => {
    expect(chooseConnection([contractors], {})).toEqual({ kind: 'chosen', connection: contractors, by: 'only_connection' });
    expect(chooseConnection([corpOidc], { loginHint: 'dave@elsewhere.example' })).toEqual({ kind: 'chosen', connection: corpOidc, by: 'only_connection' });
  });

  it('rule 3: else the connection marked default, also after an unmatched email domain', () => {
    const def = { ...contractors, default: true };
    expect(chooseConnection([corpOidc, partnerSaml, def], {})).toEqual({ kind: 'chosen', connection: def, by: 'default' });
    expect(chooseConnection([corpOidc, partnerSaml, def], { loginHint: 'dave@elsewhere.example' })).toEqual({ kind: 'chosen', connection: def, by: 'default' });
    expect(chooseConnection([corpOidc, partnerSaml, def], { loginHint: 'alice@corp.example' })).toMatchObject({ connection: corpOidc, by: 'email_domain' });
  });

  it('rule 4: otherwise the user must be asked; two defaults are not guessed at either', () => {
    expect(chooseConnection(all, {})).toEqual({ kind: 'ask', reason: 'no_hint' });
    expect(chooseConnection(all, { connectionId: '' })).toEqual({ kind: 'ask', reason: 'no_hint' });
    const defaults = [{ ...corpOidc, default: true }, { ...partnerSaml, default: true }];
    expect(chooseConnection(defaults, {})).toEqual({ kind: 'ask', reason: 'default_ambiguous' });
  });

  it('refuses when no connection is configured at all', () => {
    expect(chooseConnection([], { loginHint: 'alice@corp.example' })).toEqual({ kind: 'refused', reason: 'no_connections' });
  });
});

describe('emailDomainOf', () => {
  it('takes the domain after the last @, lower-cased, only if it is a domain name', () => {
    expect(emailDomainOf('Alice@Corp.Example')).toBe('corp.example');
    expect(emailDomainOf('"a@b"@corp.example')).toBe('corp.example');
    expect(emailDomainOf('alice@localhost')).toBeUndefined();
    expect(emailDomainOf('alice@corp.example.')).toBeUndefined();
    expect(emailDomainOf('alice@corp..example')).toBeUndefined();
    expect(emailDomainOf('alice')).toBeUndefined();
  });
});

describe('discoveryConflicts', () => {
  it('reports a domain claimed twice and several defaults, at their paths', () => {
    const set: DiscoverableConnection[] = [
      { id: 'a', email_domains: ['x.example'], default: true },
      { id: 'b', email_domains: ['y.example', 'X.example'], default: true },
      { id: 'c', default: true },
    ];
    expect(discoveryConflicts(set)).toEqual([
      { at: '[1].email_domains[1]', message: expect.stringContaining('email domain x.example is claimed by a and b') },
      { at: '[1].default', message: expect.stringContaining('more than one default connection (a, b, c)') },
      { at: '[2].default', message: expect.stringContaining('more than one default connection (a, b, c)') },
    ]);
    expect(discoveryConflicts(all)).toEqual([]);
  });
});
