import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW, ID_JAG_MAX_LIFETIME } from '../../src/constants.js';
import {
  isIdJagTyp,
  toRefusalReason,
  validateIdJagClaims,
  type IdJagExpectations,
  type IdJagRejectionReason,
} from '../../src/destination/index.js';
import { BROKER, CLIENT_ID, DESTINATION, ID_JAG_HEADER, NOW, NOW_S, SUBJECT, idJagPayload, without } from './fixtures.js';

const expectations: IdJagExpectations = { audience: DESTINATION, clientId: CLIENT_ID, issuers: [BROKER] };

function validate(
  header: Record<string, unknown> = { ...ID_JAG_HEADER },
  payload: Record<string, unknown> = idJagPayload(),
  overrides: Partial<IdJagExpectations> = {},
) {
  return validateIdJagClaims(header, payload, { ...expectations, ...overrides }, NOW);
}

function expectRejected(result: ReturnType<typeof validate>, reason: IdJagRejectionReason) {
  expect(result).toMatchObject({ ok: false, reason });
}

describe('validateIdJagClaims', () => {
  it('accepts a valid ID-JAG and returns its claims', () => {
    const payload = idJagPayload({ jti: 'jti-1' });
    expect(validate(ID_JAG_HEADER, payload)).toEqual({
      ok: true,
      claims: {
        iss: BROKER,
        sub: SUBJECT,
        aud: DESTINATION,
        client_id: CLIENT_ID,
        jti: 'jti-1',
        iat: NOW_S,
        exp: NOW_S + 300,
        scope: 'todos.read todos.write',
      },
    });
  });

  it('returns every optional claim it knows, and nothing else', () => {
    const optional = {
      nbf: NOW_S,
      resource: ['https://todo.example/api'],
      tenant: 'acme',
      auth_time: NOW_S - 30,
      acr: 'urn:example:mfa',
      amr: ['pwd', 'otp'],
      email: 'ada@acme.example',
      aud_tenant: 'acme-todo',
      aud_sub: 'todo-user-7',
      sub_id: { format: 'saml-nameid', id: 'ada', nameid_format: 'persistent' },
      authorization_details: [{ type: 'todo_list', lists: ['work'], actions: ['read'] }],
    };
    const result = validate(ID_JAG_HEADER, idJagPayload({ ...optional, groups: ['admins'] }));
    expect(result.ok && result.claims).toMatchObject(optional);
    expect(result.ok && 'groups' in result.claims).toBe(false);
  });

  describe('typ', () => {
    it('refuses a plain JWT', () => {
      expectRejected(validate({ ...ID_JAG_HEADER, typ: 'JWT' }), 'typ_invalid');
    });

    it('refuses a missing typ', () => {
      expectRejected(validate(without(ID_JAG_HEADER, 'typ')), 'typ_invalid');
    });

    it.each(['oauth-id-jag+jwt', 'OAuth-ID-JAG+JWT', 'application/oauth-id-jag+jwt', 'Application/OAUTH-ID-JAG+JWT'])(
      'accepts %s',
      (typ) => {
        expect(validate({ ...ID_JAG_HEADER, typ }).ok).toBe(true);
        expect(isIdJagTyp(typ)).toBe(true);
      },
    );
  });

  describe('alg', () => {
    it('refuses none', () => {
      expectRejected(validate({ ...ID_JAG_HEADER, alg: 'none' }, undefined, { algorithms: ['none', 'ES256'] }), 'alg_not_allowed');
    });

    it.each(['HS256', 'HS384', 'HS512'])('refuses %s even when configured', (alg) => {
      expectRejected(validate({ ...ID_JAG_HEADER, alg }, undefined, { algorithms: [alg, 'ES256'] }), 'alg_not_allowed');
    });

    it('refuses an algorithm outside the default allow-list', () => {
      expectRejected(validate({ ...ID_JAG_HEADER, alg: 'ES512' }), 'alg_not_allowed');
    });

    it('refuses an algorithm outside a configured allow-list', () => {
      expectRejected(validate(ID_JAG_HEADER, undefined, { algorithms: ['EdDSA'] }), 'alg_not_allowed');
    });

    it.each(['ES256', 'RS256', 'PS256', 'EdDSA', 'ES384'])('accepts %s by default', (alg) => {
      expect(validate({ ...ID_JAG_HEADER, alg }).ok).toBe(true);
    });
  });

  it('refuses a critical header extension', () => {
    expectRejected(validate({ ...ID_JAG_HEADER, crit: ['b64'], b64: false }), 'crit_unsupported');
    expect(toRefusalReason('crit_unsupported')).toBe('crit_unsupported');
  });

  it('maps each rejection to a broker-wide reason that names what failed', () => {
    expect(toRefusalReason('replayed')).toBe('id_jag_replayed');
    expect(toRefusalReason('client_id_mismatch')).toBe('client_id_mismatch');
  });

  describe('iss', () => {
    it('refuses an issuer that is not pinned', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ iss: 'https://evil.example' })), 'issuer_untrusted');
    });

    it('compares exactly: a trailing slash is another issuer', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ iss: `${BROKER}/` })), 'issuer_untrusted');
    });

    it('accepts any of several pinned issuers', () => {
      const payload = idJagPayload({ iss: 'https://broker-eu.example' });
      expect(validate(ID_JAG_HEADER, payload, { issuers: [BROKER, 'https://broker-eu.example'] }).ok).toBe(true);
    });
  });

  describe('aud', () => {
    it('refuses another audience', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ aud: 'https://other.example' })), 'aud_mismatch');
    });

    it('accepts a one-element array naming this server', () => {
      const result = validate(ID_JAG_HEADER, idJagPayload({ aud: [DESTINATION] }));
      expect(result.ok && result.claims.aud).toBe(DESTINATION);
    });

    it('refuses a one-element array naming another server', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ aud: ['https://other.example'] })), 'aud_mismatch');
    });

    it('refuses a multi-element array even when it includes this server', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ aud: [DESTINATION, 'https://other.example'] })), 'aud_multiple');
    });

    it('refuses an empty array', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ aud: [] })), 'claim_invalid');
    });
  });

  it('refuses a client_id other than the authenticated client', () => {
    expectRejected(validate(ID_JAG_HEADER, idJagPayload({ client_id: 'someone-else' })), 'client_id_mismatch');
  });

  describe('required claims', () => {
    it.each(['iss', 'sub', 'aud', 'client_id', 'jti', 'iat', 'exp'])('refuses a missing %s', (name) => {
      const result = validate(ID_JAG_HEADER, without(idJagPayload(), name));
      expect(result).toEqual({ ok: false, reason: 'claim_missing', detail: name });
    });

    it.each([
      ['sub', ''],
      ['jti', 42],
      ['iat', '1700000000'],
      ['exp', Number.NaN],
    ])('refuses %s with the wrong type (%j)', (name, value) => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ [name]: value })), 'claim_invalid');
    });
  });

  describe('time', () => {
    it('refuses an ID-JAG expired beyond the skew', () => {
      const exp = NOW_S - CLOCK_SKEW;
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ iat: exp - 300, exp })), 'expired');
    });

    it('accepts an ID-JAG expired within the skew', () => {
      const exp = NOW_S - CLOCK_SKEW + 1;
      expect(validate(ID_JAG_HEADER, idJagPayload({ iat: exp - 300, exp })).ok).toBe(true);
    });

    it('honours a configured clock tolerance', () => {
      const exp = NOW_S - 1;
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ iat: exp - 300, exp }), { clockTolerance: 0 }), 'expired');
    });

    it('refuses iat in the future beyond the skew', () => {
      const iat = NOW_S + CLOCK_SKEW + 1;
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ iat, exp: iat + 300 })), 'iat_in_future');
    });

    it('accepts iat in the future within the skew', () => {
      const iat = NOW_S + CLOCK_SKEW;
      expect(validate(ID_JAG_HEADER, idJagPayload({ iat, exp: iat + 300 })).ok).toBe(true);
    });

    it('refuses a lifetime longer than the maximum', () => {
      expectRejected(
        validate(ID_JAG_HEADER, idJagPayload({ exp: NOW_S + ID_JAG_MAX_LIFETIME + 1 })),
        'lifetime_too_long',
      );
    });

    it('accepts exactly the maximum lifetime', () => {
      expect(validate(ID_JAG_HEADER, idJagPayload({ exp: NOW_S + ID_JAG_MAX_LIFETIME })).ok).toBe(true);
    });

    it('honours a configured maximum lifetime', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ exp: NOW_S + 120 }), { maxLifetime: 60 }), 'lifetime_too_long');
    });

    it('refuses exp not after iat', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ exp: NOW_S })), 'claim_invalid');
    });

    it('refuses nbf in the future beyond the skew', () => {
      expectRejected(validate(ID_JAG_HEADER, idJagPayload({ nbf: NOW_S + CLOCK_SKEW + 1 })), 'not_yet_valid');
    });

    it('accepts nbf in the future within the skew', () => {
      expect(validate(ID_JAG_HEADER, idJagPayload({ nbf: NOW_S + CLOCK_SKEW })).ok).toBe(true);
    });
  });

  describe('cnf (ID-JAG draft, "Sender Constraining Tokens"; the jkt case is in dpop.test.ts)', () => {
    it.each([
      ['a jwk', { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }],
      ['an empty object', {}],
    ])('refuses a binding other than a DPoP thumbprint (cnf with %s): it cannot be checked', (_, cnf) => {
      expect(validate(ID_JAG_HEADER, idJagPayload({ cnf }))).toEqual({
        ok: false,
        reason: 'key_binding_unsupported',
        detail: 'cnf',
      });
    });

    it('maps the refusal to a broker-wide reason', () => {
      // A key-bound ID-JAG is well formed; what it asks for is unsupported.
      expect(toRefusalReason('key_binding_unsupported')).toBe('key_binding_unsupported');
    });
  });

  describe('authorization_details (draft -03 §4.4.1)', () => {
    it('returns valid authorization details for the destination to process', () => {
      const details = [
        { type: 'todo_list', actions: ['read'], locations: ['https://todo.example/api'] },
        { type: 'https://todo.example/rar/share', list: 'work' },
      ];
      const payload = idJagPayload({ authorization_details: details });
      const result = validate(ID_JAG_HEADER, payload);
      expect(result.ok && result.claims.authorization_details).toEqual(details);
      // A copy: the caller cannot reach back into the verified payload.
      expect(result.ok && result.claims.authorization_details).not.toBe(payload.authorization_details);
    });

    it('accepts an empty array', () => {
      const result = validate(ID_JAG_HEADER, idJagPayload({ authorization_details: [] }));
      expect(result.ok && result.claims.authorization_details).toEqual([]);
    });

    it('omits the claim when the ID-JAG carries none', () => {
      const result = validate();
      expect(result.ok && 'authorization_details' in result.claims).toBe(false);
    });

    it.each([
      ['an object, not an array', { type: 'todo_list' }],
      ['a string', '[{"type":"todo_list"}]'],
      ['null', null],
      ['an array holding a string', ['todo_list']],
      ['an array holding null', [null]],
      ['an array holding an array', [[{ type: 'todo_list' }]]],
      ['an object without type', [{ actions: ['read'] }]],
      ['a numeric type', [{ type: 7 }]],
      ['an empty type', [{ type: '' }]],
      ['one bad entry among good ones', [{ type: 'todo_list' }, { actions: ['read'] }]],
    ])('refuses %s as malformed', (_, authorization_details) => {
      expect(validate(ID_JAG_HEADER, idJagPayload({ authorization_details }))).toEqual({
        ok: false,
        reason: 'claim_invalid',
        detail: 'authorization_details',
      });
      expect(toRefusalReason('claim_invalid')).toBe('token_malformed');
    });
  });

  describe('optional claims', () => {
    it.each([
      ['scope', ['todos.read']],
      ['tenant', 7],
      ['auth_time', 'yesterday'],
      ['acr', 1],
      ['amr', 'pwd'],
      ['email', true],
      ['aud_tenant', {}],
      ['aud_sub', 9],
      ['resource', []],
      ['sub_id', { id: 'ada' }],
      ['nbf', '0'],
    ])('refuses %s with the wrong type (%j)', (name, value) => {
      expect(validate(ID_JAG_HEADER, idJagPayload({ [name]: value }))).toEqual({
        ok: false,
        reason: 'claim_invalid',
        detail: name,
      });
    });
  });
});
