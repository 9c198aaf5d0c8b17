/** Issue 6 §2: the OP never invents auth_time; a login whose time is unknown gets no auth_time claim. */
import { describe, expect, it } from 'vitest';
import { buildAccessTokenClaims, buildIdTokenClaims } from '../../src/provider/tokens.js';

const NOW = 1_800_000_000;

describe('auth_time in the tokens the OP issues', () => {
  it('is emitted when the login time is known', async () => {
    const claims = await buildIdTokenClaims({ issuer: 'https://b.test', subject: 's', clientId: 'c', now: NOW, jti: 'j', authTime: NOW - 5, amr: [], sid: 'sid', accessToken: 'at', claims: {} });
    expect(claims.auth_time).toBe(NOW - 5);
  });

  it('is absent when the upstream did not say', async () => {
    const id = await buildIdTokenClaims({ issuer: 'https://b.test', subject: 's', clientId: 'c', now: NOW, jti: 'j', amr: [], sid: 'sid', accessToken: 'at', claims: {} });
    expect(id).not.toHaveProperty('auth_time');
    const at = buildAccessTokenClaims({ issuer: 'https://b.test', subject: 's', audience: 'https://b.test/userinfo', clientId: 'c', scopes: ['openid'], sid: 'sid', amr: [], now: NOW, grantId: 'g' });
    expect(at).not.toHaveProperty('auth_time');
  });
});
