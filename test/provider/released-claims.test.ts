import { describe, expect, it } from 'vitest';
import { releasedClaims } from '../../src/provider/tokens.js';
import type { ProviderClient } from '../../src/provider/types.js';
import type { PrincipalRecord } from '../../src/store/ports.js';

const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
const principal: PrincipalRecord = {
  id: 'p1',
  upstreamIssuer: 'https://idp.test',
  upstreamSubject: 'alice',
  connectionId: 'corp',
  claims: { email: 'alice@example.com', given_name: 'Alice' },
  saml: {
    assertionId: '_a1',
    nameId: { value: 'persistent-1', format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' },
    attributes: [
      { name: 'urn:oid:0.9.2342.19200300.100.1.3', nameFormat: URI, values: ['alice@example.com'] },
      { name: 'urn:oid:2.5.4.42', nameFormat: URI, values: ['Alice'] },
      { name: 'http://schemas.example.com/claims/costCenter', nameFormat: URI, values: ['CC-4711'] },
    ],
  },
  updatedAt: 1,
};
const app = (over: Partial<ProviderClient> = {}): ProviderClient => ({
  client_id: 'expenses',
  redirect_uris: ['https://expenses.test/cb'],
  post_logout_redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  subject_namespace: 'expenses-users',
  require_consent: false,
  scopes: ['openid', 'email', 'profile'],
  ...over,
});

describe('releasedClaims', () => {
  it('gives an ordinary app the standard claims its scopes release', () => {
    expect(releasedClaims(app(), principal, ['openid', 'email'])).toEqual({ email: 'alice@example.com' });
  });

  it("gives a migrated app its SAML contract through its own table, custom claims included", () => {
    const migrated = app({ claim_overrides: { 'http://schemas.example.com/claims/costCenter': 'cost_center' } });
    expect(releasedClaims(migrated, principal, ['openid', 'email', 'profile'])).toEqual({ email: 'alice@example.com', given_name: 'Alice', cost_center: 'CC-4711' });
  });

  it('gives a migrated app without overrides (saml_claims) the default table, non-standard claims included', () => {
    const eduPerson = {
      ...principal,
      saml: {
        ...principal.saml!,
        attributes: [
          ...principal.saml!.attributes,
          { name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6', nameFormat: URI, values: ['alice@uni.example'] },
          { name: 'urn:oid:1.3.6.1.4.1.5923.1.1.1.9', nameFormat: URI, values: ['staff@uni.example', 'member@uni.example'] },
        ],
      },
    };
    expect(releasedClaims(app({ saml_claims: true }), eduPerson, ['openid', 'email'])).toEqual({
      email: 'alice@example.com',
      eduperson_principal_name: 'alice@uni.example',
      eduperson_scoped_affiliation: ['staff@uni.example', 'member@uni.example'],
    });
  });

  it('an empty claim_overrides also makes a migrated app; saml_claims: false an ordinary one', () => {
    expect(releasedClaims(app({ claim_overrides: {} }), principal, ['openid', 'profile'])).toEqual({ given_name: 'Alice' });
    expect(releasedClaims(app({ saml_claims: false }), principal, ['openid', 'email'])).toEqual({ email: 'alice@example.com' });
  });

  it('drops an attribute the app table maps to null', () => {
    const migrated = app({ claim_overrides: { 'urn:oid:2.5.4.42': null } });
    expect(releasedClaims(migrated, principal, ['openid', 'profile'])).toEqual({});
  });
});
