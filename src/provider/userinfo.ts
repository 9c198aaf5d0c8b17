import { readForm } from '../http/form.js';
import { InvalidRequest, OAuthError } from '../oauth/errors.js';
import { auditRefusal } from './audit.js';
import { NO_STORE_HEADERS, type Provider } from './context.js';
import { InsufficientScope, InvalidToken } from './errors.js';
import { MAX_FORM_BYTES } from './limits.js';
import { USERINFO_PATH, endpointUrl } from './metadata.js';
import { accessTokenRevoked } from './own-tokens.js';
import { releasedClaims, verifyAccessToken, type AccessTokenClaims } from './tokens.js';

/**
 * /userinfo (OIDC Core §5.3), a protected resource in the RFC 6750 sense: a broker access token
 * (RFC 9068) as Bearer credential, in the Authorization header or (POST) the form body, never the
 * query. Claims come from the current principal record, as the token's scopes release them; the
 * session the token was issued in must still be active (a logout ends its access tokens here), and
 * the token not revoked (/revoke).
 */

/** Step: the one Bearer credential (RFC 6750 §2: exactly one method). Undefined when none was sent. */
async function presentedToken(request: Request): Promise<string | undefined> {
  const header = request.headers.get('authorization');
  const fromHeader = header !== null && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
  if (header !== null && fromHeader === undefined) throw new InvalidRequest('invalid_parameter', 'the Authorization header must use the Bearer scheme');
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const fromBody = request.method === 'POST' && type === 'application/x-www-form-urlencoded' ? (await readForm(request, MAX_FORM_BYTES)).get('access_token') : undefined;
  if (fromHeader !== undefined && fromBody !== undefined) throw new InvalidRequest('invalid_parameter', 'more than one access token was presented');
  const token = fromHeader ?? fromBody;
  if (token !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new InvalidToken('access_token_invalid', 'the access token is invalid', 'not b64token');
  return token;
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

/** RFC 6750 §3: the challenge, with the error when there was a credential. */
function bearerError(p: Provider, error: OAuthError | undefined, requestId: string): Response {
  const params = [`realm=${quoted(p.issuer)}`];
  if (error) {
    params.push(`error=${quoted(error.code)}`);
    if (error.description) params.push(`error_description=${quoted(error.description)}`);
    if (error instanceof InsufficientScope) params.push(`scope="openid"`);
  }
  const status = error ? error.status : 401;
  const headers = { ...NO_STORE_HEADERS, 'WWW-Authenticate': `Bearer ${params.join(', ')}`, 'X-Request-Id': requestId, 'Content-Type': 'application/json' };
  const body = error ? JSON.stringify({ error: error.code, ...(error.description ? { error_description: error.description } : {}) }) : '';
  return new Response(body || null, { status, headers });
}

/** Step: the token's session and the person behind it, as they are now. */
async function currentClaims(p: Provider, token: AccessTokenClaims, now: number): Promise<Record<string, unknown>> {
  const scopes = token.scope.split(' ');
  if (!scopes.includes('openid')) throw new InsufficientScope('insufficient_scope', 'the access token lacks the openid scope');
  const session = await p.services.store.sessions.active(token.sid, now);
  if (!session) throw new InvalidToken('session_inactive', 'the access token is no longer valid');
  const principal = await p.services.store.principals.get(session.principalId);
  if (!principal) throw new InvalidToken('principal_missing', 'the access token is no longer valid');
  return { ...releasedClaims(p.clients.get(token.client_id), principal, scopes), sub: token.sub };
}

/**
 * GET and POST /userinfo. `source`: the caller's source key (http/source.ts). Refusals before the
 * access token verified are anonymous (counted into the summary); after, the token names a client
 * and a session, and each refusal is a record.
 */
export async function userinfoEndpoint(p: Provider, request: Request, source: string): Promise<Response> {
  const requestId = crypto.randomUUID();
  const now = p.clock();
  const origin = { endpoint: USERINFO_PATH, source };
  let clientId: string | undefined;
  try {
    await p.services.keys.refresh(now);
    const presented = await presentedToken(request);
    if (presented === undefined) {
      await auditRefusal(p.services, { at: now, requestId, reason: 'access_token_missing' }, origin);
      return bearerError(p, undefined, requestId);
    }
    const token = await verifyAccessToken(presented, p.services, endpointUrl(p.issuer, USERINFO_PATH), now);
    clientId = token.client_id;
    const claims = await currentClaims(p, token, now);
    // Last: the list's lookup writes (own-tokens.ts), so a token refused for another reason never reaches it.
    if (await accessTokenRevoked(p.services, token, now)) throw new InvalidToken('access_token_revoked', 'the access token is invalid');
    return new Response(JSON.stringify(claims), { status: 200, headers: { 'Content-Type': 'application/json', ...NO_STORE_HEADERS, 'X-Request-Id': requestId } });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    await auditRefusal(p.services, { at: now, requestId, ...(clientId ? { clientId } : {}), reason: err.reason, ...(err.detail ? { detail: err.detail } : {}) }, clientId === undefined ? origin : undefined);
    return bearerError(p, err, requestId);
  }
}
