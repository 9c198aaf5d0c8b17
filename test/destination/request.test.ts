import { describe, expect, it } from 'vitest';
import { InvalidRequest, UnsupportedGrantType } from '../../src/oauth/errors.js';
import { JWT_BEARER_GRANT_TYPE, MAX_ASSERTION_BYTES, parseJwtBearerRequest } from '../../src/destination/index.js';

const form = (init: string[][]) => new URLSearchParams(init);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseJwtBearerRequest', () => {
  it('returns the assertion', () => {
    expect(parseJwtBearerRequest(form([['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a.b.c']]))).toEqual({
      assertion: 'a.b.c',
      grantType: JWT_BEARER_GRANT_TYPE,
    });
  });

  it('returns the requested scope when present', () => {
    const request = form([['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a.b.c'], ['scope', 'todos.read']]);
    expect(parseJwtBearerRequest(request)).toEqual({ assertion: 'a.b.c', grantType: JWT_BEARER_GRANT_TYPE, scope: 'todos.read' });
  });

  it('refuses another grant type', () => {
    const error = thrown(() => parseJwtBearerRequest(form([['grant_type', 'client_credentials'], ['assertion', 'a.b.c']])));
    expect(error).toBeInstanceOf(UnsupportedGrantType);
  });

  it('refuses a missing grant_type', () => {
    expect(thrown(() => parseJwtBearerRequest(form([['assertion', 'a.b.c']])))).toMatchObject({
      code: 'invalid_request',
      reason: 'missing_parameter',
    });
  });

  it.each([
    ['assertion', [['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a.b.c'], ['assertion', 'd.e.f']]],
    ['grant_type', [['grant_type', JWT_BEARER_GRANT_TYPE], ['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a.b.c']]],
    ['scope', [['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a.b.c'], ['scope', 'a'], ['scope', 'b']]],
  ])('refuses a repeated %s', (_, init) => {
    const error = thrown(() => parseJwtBearerRequest(form(init)));
    expect(error).toBeInstanceOf(InvalidRequest);
    expect(error).toMatchObject({ reason: 'duplicate_parameter' });
  });

  it.each([
    ['missing', [['grant_type', JWT_BEARER_GRANT_TYPE]]],
    ['empty', [['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', '']]],
  ])('refuses a %s assertion', (_, init) => {
    expect(thrown(() => parseJwtBearerRequest(form(init)))).toMatchObject({ code: 'invalid_request', reason: 'missing_parameter' });
  });

  it('accepts an assertion of exactly 16 KiB and refuses one byte more', () => {
    const at = (size: number) => form([['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'a'.repeat(size)]]);
    expect(MAX_ASSERTION_BYTES).toBe(16 * 1024);
    expect(parseJwtBearerRequest(at(MAX_ASSERTION_BYTES)).assertion).toHaveLength(MAX_ASSERTION_BYTES);
    expect(thrown(() => parseJwtBearerRequest(at(MAX_ASSERTION_BYTES + 1)))).toMatchObject({
      code: 'invalid_request',
      reason: 'token_too_large',
    });
  });

  it('counts bytes, not characters', () => {
    const multibyte = form([['grant_type', JWT_BEARER_GRANT_TYPE], ['assertion', 'é'.repeat(MAX_ASSERTION_BYTES / 2 + 1)]]);
    expect(thrown(() => parseJwtBearerRequest(multibyte))).toMatchObject({ reason: 'token_too_large' });
  });
});
