import { InvalidGrant, UnsupportedTokenType } from '../oauth/errors.js';
import { clientAuthenticatedEndpoint, type ClientAnswer, type ClientRequest } from './client-endpoint.js';
import { auditEvent } from './audit.js';
import type { Provider } from './context.js';
import { REVOCATION_PATH } from './metadata.js';
import { findOwnToken, revokeAccessToken, revokeGrantAccessTokens, type OwnToken } from './own-tokens.js';

/**
 * POST /revoke (RFC 7009): a client revokes a refresh token or an access token the provider issued
 * to it. A refresh token takes its whole family with it (every token rotated from the same
 * authorization code); an access token goes on the revocation list that /userinfo and /introspect
 * consult until it expires. Unknown, expired and already revoked tokens are answered 200 like a
 * revocation (§2.2): the answer tells nothing about them.
 */

/** Step: the token was issued to the client revoking it (§2.1); otherwise refused and left alone. */
function checkOwner(token: Extract<OwnToken, { type: 'access_token' | 'refresh_token' }>, request: ClientRequest) {
  const owner = token.type === 'access_token' ? token.claims.client_id : token.record.clientId;
  if (owner !== request.client.client.client_id) throw new InvalidGrant('token_client_mismatch', 'the token was not issued to this client');
}

/** Step: revoke what was found. */
async function revoke(p: Provider, token: OwnToken, request: ClientRequest): Promise<void> {
  switch (token.type) {
    case 'unknown':
      return;
    case 'unsupported':
      // §2.2.1: an ID token or an ID-JAG cannot be revoked here (an ID-JAG is the destination's to refuse).
      throw new UnsupportedTokenType('unsupported_token_type', 'only access and refresh tokens can be revoked', `typ ${token.typ.slice(0, 40)}`);
    case 'refresh_token':
      checkOwner(token, request);
      await p.services.store.refreshTokens.revokeFamily(token.record.familyId, request.now);
      // §2.1: the access tokens of the same grant go with it.
      await revokeGrantAccessTokens(p.services, token.record.familyId, request.now);
      return;
    case 'access_token':
      checkOwner(token, request);
      await revokeAccessToken(p.services, token.claims, request.now);
      return;
  }
}

export function revocationEndpoint(p: Provider) {
  return clientAuthenticatedEndpoint(p, REVOCATION_PATH, async (request): Promise<ClientAnswer> => {
    const presented = request.form.require('token');
    const token = await findOwnToken(p.services, presented, request.form.get('token_type_hint'), request.now, 'revoke');
    await revoke(p, token, request);
    if (token.type === 'access_token' || token.type === 'refresh_token') {
      // Who revoked what, for whom: the token's jti (an access token) never the token itself.
      await auditEvent(p.services, {
        at: request.now,
        event: 'revocation',
        requestId: request.requestId,
        clientId: request.client.client.client_id,
        detail: token.type,
        // An access token names the session's subject as the client sees it; the refresh token record names the principal.
        ...(token.type === 'access_token' ? { jti: token.claims.jti } : { principalId: token.record.principalId }),
      });
    }
    return {};
  });
}
