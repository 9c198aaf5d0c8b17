import { readForm } from '../http/form.js';
import { OAuthError } from '../oauth/errors.js';
import type { SessionRecord } from '../store/ports.js';
import type { SamlUpstream } from '../upstream/registry.js';
import type { SamlLogoutMessage, SamlOutgoing, VerifiedLogoutRequest } from '../upstream/saml/logout-types.js';
import { SAML_LOGOUT_MAX_SESSIONS } from '../upstream/saml/limits.js';
import { auditEvent, auditRefusal, type RequestOrigin } from './audit.js';
import { cookieHeaders, redirect, withQuery, type Provider } from './context.js';
import { randomToken } from './crypto.js';
import { MAX_SLO_BODY_BYTES, MAX_STATE_CHARS } from './limits.js';
import { SAML_SLO_PATH } from './metadata.js';
import { autoPostPage, errorPage, messagePage } from './pages.js';
import { browserBinding, endSession, presentedBinding } from './session.js';

/**
 * SAML Single Logout at the broker (docs/saml.md#single-logout), for a session a SAML login started:
 *
 * - RP-initiated: /logout ends the broker session first, then (when the IdP offers SLO) sends the
 *   browser to the IdP with a LogoutRequest; the LogoutResponse comes back here and, once checked,
 *   the original logout finishes (post_logout_redirect_uri and state, as /logout would have).
 * - IdP-initiated: a LogoutRequest arrives here; every broker session of that NameID (and
 *   SessionIndex) ends as a logout at /logout ends one (session, `sid`, refresh tokens), and the
 *   IdP gets a LogoutResponse.
 *
 * The connection (upstream/saml/logout.ts) checks the messages; a refusal is audited with its
 * precise reason, and answered with a failure LogoutResponse when the request was the IdP's own.
 */

const NOT_COMPLETED = 'The sign-out could not be completed. You are signed out of this service; your identity provider may still have you signed in.';

/** Where /logout was going before the IdP was asked: kept in the logout transaction, server side. */
interface LogoutContinuation {
  redirectUri?: string;
  state?: string;
}

function continuationOf(text: string | undefined): LogoutContinuation | undefined {
  if (text === undefined) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const { redirectUri, state, ...rest } = value as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return undefined;
    if (redirectUri !== undefined && typeof redirectUri !== 'string') return undefined;
    if (state !== undefined && (typeof state !== 'string' || state.length > MAX_STATE_CHARS)) return undefined;
    return { ...(redirectUri !== undefined ? { redirectUri } : {}), ...(state !== undefined ? { state } : {}) };
  } catch {
    return undefined;
  }
}

function send(out: SamlOutgoing, setCookies: readonly string[], afterPost: boolean): Response {
  if ('redirectUrl' in out) return redirect(out.redirectUrl, setCookies, afterPost);
  return autoPostPage(out.postForm.action, out.postForm.fields, randomToken(), cookieHeaders(setCookies));
}

function samlUpstreamOf(p: Provider, id: string): SamlUpstream | undefined {
  const upstream = p.upstreams.get(id);
  return upstream && upstream.kind === 'saml' ? upstream : undefined;
}

/**
 * Step of /logout, after the broker session has ended: the IdP that authenticated it is asked to
 * end its own session too, when it offers SLO and the login's NameID is known. Undefined otherwise
 * (the logout then finishes at once).
 */
export async function startUpstreamLogout(
  p: Provider,
  request: Request,
  session: SessionRecord,
  next: LogoutContinuation,
  setCookies: readonly string[],
  afterPost: boolean,
): Promise<Response | undefined> {
  const logout = samlUpstreamOf(p, session.connectionId)?.logout;
  if (!logout?.offered) return undefined;
  const link = await p.services.store.samlSessions.ofSession(session.id);
  if (!link) return undefined;
  const binding = await browserBinding(request.headers.get('cookie'), p.cookies);
  const out = await logout.start({
    nameId: link.nameId,
    ...(link.sessionIndex !== undefined ? { sessionIndex: link.sessionIndex } : {}),
    browserBinding: binding.hash,
    continuation: JSON.stringify(next),
  });
  return send(out, [...setCookies, binding.setCookie], afterPost);
}

/** Step: the sessions a verified LogoutRequest names end, each audited as a logout. */
async function endNamedSessions(p: Provider, upstream: SamlUpstream, logout: NonNullable<SamlUpstream['logout']>, request: VerifiedLogoutRequest, requestId: string, now: number): Promise<number> {
  const links = await p.services.store.samlSessions.matching(upstream.id, request.nameId.value, now, SAML_LOGOUT_MAX_SESSIONS);
  let ended = 0;
  for (const link of links) {
    if (!logout.covers(link, request)) continue;
    const session = await p.services.store.sessions.active(link.sessionId, now);
    if (!session) continue;
    await endSession(p.services, session.id, now);
    await auditEvent(p.services, {
      at: now,
      event: 'logout',
      requestId,
      principalId: session.principalId,
      detail: `sid=${session.id} connection=${upstream.id} initiated_by=idp`,
    });
    ended++;
  }
  // A request that named no active session is still the IdP's word: on the record, so a NameID that
  // never matches (another Format, other qualifiers) shows up.
  if (ended === 0) {
    await auditEvent(p.services, { at: now, event: 'logout', requestId, detail: `connection=${upstream.id} initiated_by=idp sessions=0` });
  }
  return ended;
}

async function readMessage(request: Request): Promise<SamlLogoutMessage> {
  if (request.method !== 'POST') return { binding: 'redirect', query: new URL(request.url).search.slice(1) };
  const form = await readForm(request, MAX_SLO_BODY_BYTES);
  const field = (name: string) => form.get(name);
  const out: { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string } = {};
  for (const name of ['SAMLRequest', 'SAMLResponse', 'RelayState'] as const) {
    const value = field(name);
    if (value !== undefined) out[name] = value;
  }
  return { binding: 'post', form: out };
}

interface LogoutRefusal {
  reason: { code: string; detail?: string };
  answerTo?: { requestId: string; relayState?: string };
}

function isLogoutRefusal(err: unknown): err is Error & LogoutRefusal {
  return err instanceof Error && err.name === 'SamlLogoutError';
}

/**
 * GET and POST /login/saml/:id/slo. `source`: the caller's source key (http/source.ts). A message
 * that did not prove to be the IdP's is counted into the refusal summary (anyone can send one); a
 * refused LogoutRequest the IdP signed is a record of its own, and the IdP is told (Requester).
 */
export async function samlSlo(p: Provider, request: Request, id: string, source: string): Promise<Response> {
  const origin: RequestOrigin = { endpoint: SAML_SLO_PATH, source };
  const requestId = crypto.randomUUID();
  const afterPost = request.method === 'POST';
  const upstream = samlUpstreamOf(p, id);
  const logout = upstream?.logout;
  if (!upstream || !logout) {
    await auditRefusal(p.services, { at: p.clock(), requestId, reason: 'connection_unknown', detail: `connection=${id.slice(0, 64)}` }, origin);
    return errorPage(404, NOT_COMPLETED, requestId);
  }

  let message: SamlLogoutMessage;
  try {
    message = await readMessage(request);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    await auditRefusal(p.services, { at: p.clock(), requestId, reason: 'saml_logout_request_refused', detail: `connection=${id} reason=${err.reason}` }, origin);
    return errorPage(400, NOT_COMPLETED, requestId);
  }
  const kind = (message.binding === 'redirect' ? /(^|&)SAMLResponse=/.test(message.query) : message.form.SAMLResponse !== undefined) ? 'response' : 'request';
  const binding = await presentedBinding(request, p.cookies);

  let received: Awaited<ReturnType<typeof logout.receive>>;
  try {
    received = await logout.receive(message, binding === '' ? {} : { browserBinding: binding });
  } catch (err) {
    if (!isLogoutRefusal(err)) throw err;
    const now = p.clock();
    const detail = [`connection=${id}`, `reason=${err.reason.code}`, ...(err.reason.detail !== undefined ? [`detail=${err.reason.detail}`] : [])].join(' ');
    await auditRefusal(p.services, { at: now, requestId, reason: kind === 'response' ? 'saml_logout_response_refused' : 'saml_logout_request_refused', detail }, err.answerTo ? undefined : origin);
    if (err.answerTo) return send(logout.answer(err.answerTo, 'requester'), [], afterPost);
    return errorPage(400, NOT_COMPLETED, requestId);
  }

  const now = p.clock();
  if (received.kind === 'request') {
    await endNamedSessions(p, upstream, logout, received.request, requestId, now);
    return send(logout.answer({ requestId: received.request.id, ...(received.request.relayState !== undefined ? { relayState: received.request.relayState } : {}) }, 'success'), [], afterPost);
  }

  // The IdP confirmed the logout this browser started at /logout: finish it as /logout would have.
  const next = continuationOf(received.continuation);
  if (!next) {
    await auditRefusal(p.services, { at: now, requestId, reason: 'continuation_invalid', detail: `connection=${id}` }, origin);
    return errorPage(400, NOT_COMPLETED, requestId);
  }
  if (next.redirectUri !== undefined) return redirect(withQuery(next.redirectUri, next.state !== undefined ? { state: next.state } : {}), [], afterPost);
  return messagePage('Signed out', 'You are signed out.');
}
