import { UnauthorizedClient } from '../oauth/errors.js';
import type { RefreshTokenRecord } from '../store/ports.js';
import { clientAuthenticatedEndpoint, type ClientAnswer, type ClientRequest } from './client-endpoint.js';
import type { Provider } from './context.js';
import { INTROSPECTION_PATH, USERINFO_PATH, endpointUrl } from './metadata.js';
import { accessTokenRevoked, findOwnToken, type OwnToken } from './own-tokens.js';
import { subjectFor, type AccessTokenClaims } from './tokens.js';

/**
 * POST /introspect (RFC 7662) of the provider's own access and refresh tokens, for the client they
 * were issued to. Anything else is `{"active": false}` and nothing more: unknown, expired, revoked,
 * rotated, its session ended, or issued to another client (§4: the answer must not tell a client
 * about tokens that are not its own).
 */

const INACTIVE = { active: false } as const;

/**
 * Step: a confidential client. A public client only names itself, and an endpoint that answers
 * anyone who knows a client_id is a token scanner (§2.1 requires authorization).
 */
function confidentialClient(request: ClientRequest) {
  if (request.client.method === 'none') throw new UnauthorizedClient('public_client', 'public clients may not introspect tokens');
}

/** The §2.2 members of an active access token. */
async function accessTokenAnswer(p: Provider, claims: AccessTokenClaims, now: number): Promise<Record<string, unknown>> {
  if (!(await p.services.store.sessions.active(claims.sid, now))) return INACTIVE;
  if (await accessTokenRevoked(p.services, claims, now)) return INACTIVE;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: endpointUrl(p.issuer, USERINFO_PATH),
    iss: p.issuer,
    jti: claims.jti,
  };
}

/**
 * The §2.2 members of an active refresh token. `sub` is the subject the client knows the person by,
 * when the binding made at its issue still names them (never a binding made here).
 */
async function refreshTokenAnswer(p: Provider, record: RefreshTokenRecord, now: number): Promise<Record<string, unknown>> {
  const session = await p.services.store.sessions.active(record.sessionId, now);
  const principal = session && (await p.services.store.principals.get(record.principalId));
  const client = p.clients.get(record.clientId);
  if (!session || !principal || !client) return INACTIVE;
  const { mapping } = await subjectFor(p.services, client, principal, now);
  return {
    active: true,
    scope: record.scopes.join(' '),
    client_id: record.clientId,
    exp: record.expiresAt,
    iat: record.createdAt,
    ...(mapping.ok && !mapping.newBinding ? { sub: mapping.subject } : {}),
    iss: p.issuer,
  };
}

/** Step: the answer about a token found, for the client that asked. */
async function answerFor(p: Provider, token: OwnToken, request: ClientRequest): Promise<Record<string, unknown>> {
  const clientId = request.client.client.client_id;
  if (token.type === 'access_token' && token.claims.client_id === clientId) return accessTokenAnswer(p, token.claims, request.now);
  if (token.type === 'refresh_token' && token.record.clientId === clientId) return refreshTokenAnswer(p, token.record, request.now);
  return INACTIVE;
}

export function introspectionEndpoint(p: Provider) {
  return clientAuthenticatedEndpoint(p, INTROSPECTION_PATH, async (request): Promise<ClientAnswer> => {
    confidentialClient(request);
    const presented = request.form.require('token');
    const token = await findOwnToken(p.services, presented, request.form.get('token_type_hint'), request.now);
    return { body: await answerFor(p, token, request) };
  });
}
