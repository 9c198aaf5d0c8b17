import { FormParams, readForm } from '../http/form.js';
import { InvalidRequest, OAuthError } from '../oauth/errors.js';
import { auditEvent } from './audit.js';
import { redirect, refuseOnPage, withQuery, type Provider } from './context.js';
import { clearedSessionCookie } from './cookies.js';
import { MAX_FORM_BYTES, MAX_STATE_CHARS } from './limits.js';
import { LOGOUT_PATH } from './metadata.js';
import { logoutConfirmPage, messagePage } from './pages.js';
import { checkFormToken, currentSession, endSession, formToken, type BrowserSession } from './session.js';
import { verifyIdTokenHint, type IdTokenHint } from './tokens.js';
import type { ProviderClient } from './types.js';
import { startUpstreamLogout } from './saml-logout.js';

/**
 * RP-Initiated Logout 1.0 (GET and POST). A request is validated before anything happens; an
 * invalid one (bad id_token_hint, unregistered post_logout_redirect_uri) is refused on a page and
 * nothing is logged out or redirected. Then:
 *
 * - an id_token_hint whose `sid` is this browser's session logs out at once;
 * - otherwise the user confirms on a form bound to the session (no cross-site logout);
 * - a cross-site POST arrives without the (SameSite=Lax) session cookie, so it is first re-posted
 *   from the broker's own origin, where the cookie is visible.
 *
 * Logging out revokes the session and every refresh token issued in it and clears the cookie. When
 * a SAML login started the session and its IdP offers Single Logout, the browser then goes to the
 * IdP with a LogoutRequest, and the logout finishes (redirect or page) when the LogoutResponse comes
 * back to the broker's SingleLogoutService (saml-logout.ts).
 */

const LOGOUT_PURPOSE = 'logout';
const LOGOUT_PARAMETERS = ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id'] as const;

interface LogoutRequest {
  params: Partial<Record<(typeof LOGOUT_PARAMETERS)[number], string>>;
  hint?: IdTokenHint;
  client?: ProviderClient;
  redirectUri?: string;
  state?: string;
}

async function readParams(request: Request): Promise<FormParams> {
  return request.method === 'POST' ? readForm(request, MAX_FORM_BYTES) : FormParams.from(new URL(request.url).search.slice(1));
}

/**
 * Step: validate hint, client, redirect and state into `out`. Throws an OAuthError for a page;
 * `out.hint` then says whether a user was already identified (for the audit).
 */
async function validateLogout(p: Provider, form: FormParams, out: LogoutRequest): Promise<LogoutRequest> {
  const { params } = out;
  for (const name of LOGOUT_PARAMETERS) {
    const value = form.get(name);
    if (value !== undefined) params[name] = value;
  }
  if (params.id_token_hint !== undefined) {
    const hint = await verifyIdTokenHint(params.id_token_hint, p.services);
    if (!hint) throw new InvalidRequest('id_token_hint_invalid', 'The logout request is not valid.');
    out.hint = hint;
  }
  const clientId = params.client_id ?? (out.hint && out.hint.clientIds.length === 1 ? out.hint.clientIds[0] : undefined);
  if (clientId !== undefined) {
    if (out.hint && !out.hint.clientIds.includes(clientId)) throw new InvalidRequest('logout_client_mismatch', 'The logout request is not valid.');
    const client = p.clients.get(clientId);
    if (!client) throw new InvalidRequest('client_unknown', 'The logout request is not valid.');
    out.client = client;
  }
  if (params.post_logout_redirect_uri !== undefined) {
    if (!out.client || !out.client.post_logout_redirect_uris.includes(params.post_logout_redirect_uri)) {
      throw new InvalidRequest('post_logout_redirect_uri_unregistered', 'The logout request is not valid.', out.client ? `client=${out.client.client_id}` : 'no client identified');
    }
    out.redirectUri = params.post_logout_redirect_uri;
  }
  if (params.state !== undefined) {
    if (params.state.length > MAX_STATE_CHARS || !/^[\x20-\x7E]+$/.test(params.state)) throw new InvalidRequest('invalid_parameter', 'The logout request is not valid.');
    out.state = params.state;
  }
  return out;
}

/** The exact parameters a confirmation form carries, and its token covers. */
function payloadOf(logout: LogoutRequest): string {
  return new URLSearchParams(logout.params as Record<string, string>).toString();
}

/** Step: after logout (or when there was nothing to end): back to the app, or a plain page. */
function finish(logout: LogoutRequest, setCookies: string[], afterPost: boolean): Response {
  if (logout.redirectUri !== undefined) {
    return redirect(withQuery(logout.redirectUri, logout.state !== undefined ? { state: logout.state } : {}), setCookies, afterPost);
  }
  const headers = new Headers();
  for (const c of setCookies) headers.append('Set-Cookie', c);
  return messagePage('Signed out', 'You are signed out.', headers);
}

async function logOut(p: Provider, request: Request, logout: LogoutRequest, session: BrowserSession, requestId: string, now: number, afterPost: boolean): Promise<Response> {
  await endSession(p.services, session.record.id, now);
  await auditEvent(p.services, {
    at: now,
    event: 'logout',
    requestId,
    principalId: session.record.principalId,
    ...(logout.client ? { clientId: logout.client.client_id } : {}),
    detail: `sid=${session.record.id}${logout.hint ? ' hint=valid' : ''}`,
  });
  const setCookies = [clearedSessionCookie(p.cookies)];
  // A SAML IdP that offers Single Logout is asked to end its session too; the logout finishes when it answers.
  const next = { ...(logout.redirectUri !== undefined ? { redirectUri: logout.redirectUri } : {}), ...(logout.state !== undefined ? { state: logout.state } : {}) };
  const upstream = await startUpstreamLogout(p, request, session.record, next, setCookies, afterPost);
  return upstream ?? finish(logout, setCookies, afterPost);
}

/**
 * GET and POST /logout. `source`: the caller's source key (http/source.ts). A refused request is
 * anonymous (summarised) unless the browser has a session or the id_token_hint verified (a user
 * the broker signed in).
 */
export async function logoutEndpoint(p: Provider, request: Request, source: string): Promise<Response> {
  const requestId = crypto.randomUUID();
  const now = p.clock();
  const afterPost = request.method === 'POST';
  const logout: LogoutRequest = { params: {} };
  let logoutToken: string | undefined;
  let fromBroker: string | undefined;
  try {
    await p.services.keys.refresh(now);
    const form = await readParams(request);
    await validateLogout(p, form, logout);
    logoutToken = form.get('logout_token');
    fromBroker = form.get('from_broker');
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    const session = await currentSession(request, p.services, p.cookies, now);
    return refuseOnPage(p, { requestId, now, setCookies: [], endpoint: LOGOUT_PATH, source, ...(session ? { session } : {}) }, err, { identified: logout.hint !== undefined });
  }

  const session = await currentSession(request, p.services, p.cookies, now);
  const payload = payloadOf(logout);
  if (session) {
    const confirmed = (logout.hint?.sid !== undefined && logout.hint.sid === session.record.id) || (afterPost && (await checkFormToken(logoutToken, session, LOGOUT_PURPOSE, payload, now)));
    if (confirmed) return logOut(p, request, logout, session, requestId, now, afterPost);
    return logoutConfirmPage({ action: LOGOUT_PATH, fields: { ...(logout.params as Record<string, string>), logout_token: await formToken(session, LOGOUT_PURPOSE, payload, now) } });
  }
  // No session visible. A cross-site POST never carries the SameSite=Lax cookie: re-post it from here once.
  if (afterPost && fromBroker === undefined) {
    return logoutConfirmPage({ action: LOGOUT_PATH, fields: { ...(logout.params as Record<string, string>), from_broker: '1' } });
  }
  return finish(logout, [], afterPost);
}
