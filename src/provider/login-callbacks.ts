import { readForm } from '../http/form.js';
import { AccessDenied, OAuthError, ServerError, TemporarilyUnavailable } from '../oauth/errors.js';
import { OidcLoginError } from '../upstream/oidc/index.js';
import type { RefusalReason } from '../oauth/reasons.js';
import type { OidcUpstream, SamlUpstream, UpstreamConnection } from '../upstream/registry.js';
import type { CompletedLogin, UpstreamIdentity } from '../identity/types.js';
import { auditEvent, auditRefusal, reportLoginFault, type RequestOrigin } from './audit.js';
import { validateAuthorizeRequest, type RawParams } from './authorize-request.js';
import { runAuthorization } from './authorize.js';
import type { Flow, Provider } from './context.js';
import { cookieHeaders, redirect, refuseToClient } from './context.js';
import { AccountSelectionRequired, ConsentRequired, InteractionRequired, LoginRequired } from './errors.js';
import { MAX_ACS_BODY_BYTES, SAML_ACS_MAX_IN_FLIGHT, SAML_ACS_RETRY_AFTER } from './limits.js';
import { OIDC_CALLBACK_PATH, SAML_ACS_PATH } from './metadata.js';
import { parseContinuation, replacedSessionOf, returnPathOf } from './login-start.js';
import { errorPage, messagePage } from './pages.js';
import { currentSession, endSession, presentedBinding, recordPrincipal, startSession } from './session.js';
import { believe } from '../trust/authority.js';
import type { UpstreamTrust } from '../trust/registry.js';

/**
 * The browser comes back from an upstream. The connection checks everything about the login; here
 * the outcome is turned into a broker session and the pending authorization request resumes. A
 * failed login shows a plain page with a correlation id; the audit says why; nothing else is
 * stored. Until the upstream login has completed no user is established and anyone can post to
 * these routes, so such failures are counted into the refusal summary (docs/operations.md).
 */

const FAILED_LOGIN = 'The sign-in could not be completed. Return to the application and try again.';

/** The connection's own refusal reason (OIDC: a string; SAML: an object with a code), for the audit record only. */
function loginFailureDetail(connectionId: string, err: unknown): string {
  if (err instanceof Error) {
    const { reason, detail, upstreamError } = err as Error & { reason?: unknown; detail?: unknown; upstreamError?: unknown };
    const code = typeof reason === 'string' ? reason : typeof reason === 'object' && reason !== null && typeof (reason as { code?: unknown }).code === 'string' ? (reason as { code: string }).code : undefined;
    const more = typeof detail === 'string' ? detail : typeof reason === 'object' && reason !== null && typeof (reason as { detail?: unknown }).detail === 'string' ? (reason as { detail: string }).detail : undefined;
    const parts = [`connection=${connectionId}`, `reason=${code ?? err.name}`];
    if (typeof upstreamError === 'string') parts.push(`upstream_error=${upstreamError}`);
    if (more !== undefined) parts.push(`detail=${more}`);
    return parts.join(' ');
  }
  return `connection=${connectionId} reason=non-error thrown`;
}

/**
 * `anonymous`: the request's origin when no upstream login completed. The refusal is then
 * summarised, unless the browser has a session (a signed-in user logging in again): a record.
 */
async function loginFailed(p: Provider, request: Request, requestId: string, now: number, reason: RefusalReason, detail: string, anonymous: RequestOrigin | undefined, status = 400): Promise<Response> {
  const session = anonymous ? await currentSession(request, p.services, p.cookies, now) : undefined;
  await auditRefusal(p.services, { at: now, requestId, reason, detail, ...(session ? { principalId: session.record.principalId } : {}) }, session ? undefined : anonymous);
  return errorPage(status, FAILED_LOGIN, requestId);
}

/** The app's error for an upstream's refusal (OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1): its own code where the app can act on it. */
function appErrorFor(upstreamError: string | undefined, connectionId: string): OAuthError {
  const detail = `connection=${connectionId} upstream_error=${upstreamError ?? 'none'}`;
  const description = 'the identity provider did not complete the sign-in';
  switch (upstreamError) {
    case 'access_denied':
      return new AccessDenied('upstream_refused', description, detail);
    case 'login_required':
      return new LoginRequired('upstream_refused', description, detail);
    case 'consent_required':
      return new ConsentRequired('upstream_refused', description, detail);
    case 'interaction_required':
      return new InteractionRequired('upstream_refused', description, detail);
    case 'account_selection_required':
      return new AccountSelectionRequired('upstream_refused', description, detail);
    case 'temporarily_unavailable':
      return new TemporarilyUnavailable('upstream_refused', description, detail);
    default:
      // invalid_request, unauthorized_client, server_error…: the broker's own request or the upstream failed, not the person.
      return new ServerError('upstream_refused', description, detail);
  }
}

/**
 * Step: an upstream that refused the login itself (the person declined, prompt=none could not be
 * met): the app whose request it was gets the error at its redirect URI (OIDC Core §3.1.2.6), as it
 * would had the broker refused, instead of the person being left on a page. Only for this browser's
 * own transaction (the connection hands the pending request back only then) and an app request
 * that still validates; anything else is the page.
 */
async function answerUpstreamRefusal(p: Provider, request: Request, requestId: string, origin: RequestOrigin, connectionId: string, err: unknown): Promise<Response | undefined> {
  if (!(err instanceof OidcLoginError) || err.continuation === undefined) return undefined;
  const params = parseContinuation(err.continuation);
  if (!params) return undefined;
  const check = validateAuthorizeRequest(params, p.clients, p.knownScopes);
  if (!check.ok) return undefined;
  const now = p.clock();
  const session = await currentSession(request, p.services, p.cookies, now);
  const flow: Flow = { requestId, now, ...origin, cookieHeader: request.headers.get('cookie'), ...(session ? { session } : {}), loginSatisfied: false, setCookies: [] };
  return refuseToClient(p, flow, check.request, appErrorFor(err.upstreamError, connectionId), request.method === 'POST');
}

/**
 * Step: what the login is believed to say. The connection is authoritative only for what its
 * `authority` lists; everything else is dropped before it is recorded (so neither mapping, policy,
 * the ID tokens the broker issues nor later exchanges ever see it), and the login audit says what.
 */
export function believedLogin(identity: UpstreamIdentity, trust: UpstreamTrust): { identity: UpstreamIdentity; dropped: string[] } {
  const believed = believe(trust.ofConnection(identity.connectionId), { claims: identity.claims, ...(identity.acr !== undefined ? { acr: identity.acr } : {}), amr: identity.amr });
  const { acr: _acr, ...rest } = identity;
  return {
    identity: { ...rest, claims: believed.claims, amr: believed.amr ?? [], ...(believed.acr !== undefined ? { acr: believed.acr } : {}) },
    dropped: believed.dropped,
  };
}

/**
 * Step: what the login was for: an app's pending request, or a broker page to return to (the
 * approval console); neither for an IdP-initiated SAML login.
 */
function pendingRequest(login: CompletedLogin): { ok: true; params?: RawParams; returnTo?: string } | { ok: false } {
  if (login.continuation === undefined) return { ok: true };
  const returnTo = returnPathOf(login.continuation);
  if (returnTo !== undefined) return { ok: true, returnTo };
  const params = parseContinuation(login.continuation);
  return params ? { ok: true, params } : { ok: false };
}

/** A completed login: principal recorded, session started, login audited, then the pending request resumes. */
async function completeLogin(p: Provider, request: Request, connectionId: string, origin: RequestOrigin, finish: () => Promise<CompletedLogin>): Promise<Response> {
  const requestId = crypto.randomUUID();
  let login: CompletedLogin;
  try {
    login = await finish();
  } catch (err) {
    reportLoginFault(p.services, { requestId, connection: connectionId, step: 'finish' }, err);
    const answered = await answerUpstreamRefusal(p, request, requestId, origin, connectionId, err);
    if (answered) return answered;
    return loginFailed(p, request, requestId, p.clock(), 'login_failed', loginFailureDetail(connectionId, err), origin);
  }
  const now = p.clock();
  const pending = pendingRequest(login);
  // The upstream vouched for a user: from here on, each refusal is a record of its own.
  if (!pending.ok) return loginFailed(p, request, requestId, now, 'continuation_invalid', `connection=${connectionId}`, undefined);

  const { identity, dropped } = believedLogin(login.identity, p.services.trust);
  const principal = await recordPrincipal(p.services, identity, now);
  const replaced = await currentSession(request, p.services, p.cookies, now);
  const { session, setCookie } = await startSession(p.services, p.cookies, { identity, principal, ...(replaced ? { replaced } : {}), now });
  // A cross-site POST (SAML ACS) carries no Lax session cookie: end the session the login started from.
  const startedFrom = login.continuation === undefined ? undefined : replacedSessionOf(login.continuation);
  if (startedFrom && startedFrom !== replaced?.record.id) await endSession(p.services, startedFrom, now);
  await auditEvent(p.services, {
    at: now,
    event: 'login',
    requestId,
    principalId: principal.id,
    upstreamIssuer: identity.issuer,
    detail: `connection=${connectionId} protocol=${identity.protocol} sid=${session.record.id}`,
    ...(dropped.length > 0 ? { dropped } : {}),
  });

  if (pending.returnTo !== undefined) return redirect(`${p.issuer.replace(/\/$/, '')}${pending.returnTo}`, [setCookie], request.method === 'POST');
  if (!pending.params) return messagePage('Signed in', 'You are signed in. You may return to your application.', cookieHeaders([setCookie]));
  const flow: Flow = { requestId, now, ...origin, cookieHeader: request.headers.get('cookie'), session, loginSatisfied: true, setCookies: [setCookie] };
  return runAuthorization(p, pending.params, flow, request.method === 'POST');
}

function connectionOf<K extends UpstreamConnection['kind']>(p: Provider, id: string, kind: K): Extract<UpstreamConnection, { kind: K }> | undefined {
  const upstream = p.upstreams.get(id);
  return upstream && upstream.kind === kind ? (upstream as Extract<UpstreamConnection, { kind: K }>) : undefined;
}

async function unknownConnection(p: Provider, request: Request, id: string, origin: RequestOrigin): Promise<Response> {
  return loginFailed(p, request, crypto.randomUUID(), p.clock(), 'connection_unknown', `connection=${id.slice(0, 64)}`, origin, 404);
}

/** GET /login/oidc/:id/callback. `source`: the caller's source key (http/source.ts). */
export async function oidcCallback(p: Provider, request: Request, id: string, source: string): Promise<Response> {
  const origin = { endpoint: OIDC_CALLBACK_PATH, source };
  const upstream: OidcUpstream | undefined = connectionOf(p, id, 'oidc');
  if (!upstream) return unknownConnection(p, request, id, origin);
  const browserBinding = await presentedBinding(request, p.cookies);
  return completeLogin(p, request, upstream.id, origin, () => upstream.finishLogin(new URL(request.url), { browserBinding }));
}

/** ACS posts in flight, per provider (one broker instance). */
const acsInFlight = new WeakMap<Provider, { count: number }>();

/**
 * POST /login/saml/:id/acs: the HTTP-POST binding's form. At most SAML_ACS_MAX_IN_FLIGHT at once;
 * beyond that, 503 with Retry-After before the body is read, and nothing stored or audited (a
 * flood must not turn into audit rows either).
 */
export async function samlAcs(p: Provider, request: Request, id: string, source: string): Promise<Response> {
  const origin = { endpoint: SAML_ACS_PATH, source };
  const upstream: SamlUpstream | undefined = connectionOf(p, id, 'saml');
  if (!upstream) return unknownConnection(p, request, id, origin);
  let slots = acsInFlight.get(p);
  if (!slots) acsInFlight.set(p, (slots = { count: 0 }));
  if (slots.count >= SAML_ACS_MAX_IN_FLIGHT) {
    return errorPage(503, 'The sign-in service is busy. Try again in a moment.', crypto.randomUUID(), { 'Retry-After': String(SAML_ACS_RETRY_AFTER) });
  }
  slots.count++;
  try {
    return await samlAcsAdmitted(p, request, upstream, origin);
  } finally {
    slots.count--;
  }
}

async function samlAcsAdmitted(p: Provider, request: Request, upstream: SamlUpstream, origin: RequestOrigin): Promise<Response> {
  let body: { SAMLResponse?: string; RelayState?: string };
  try {
    const form = await readForm(request, MAX_ACS_BODY_BYTES);
    const response = form.get('SAMLResponse');
    const relayState = form.get('RelayState');
    body = { ...(response !== undefined ? { SAMLResponse: response } : {}), ...(relayState !== undefined ? { RelayState: relayState } : {}) };
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    return loginFailed(p, request, crypto.randomUUID(), p.clock(), 'login_failed', `connection=${upstream.id} reason=${err.reason}`, origin);
  }
  const binding = await presentedBinding(request, p.cookies);
  return completeLogin(p, request, upstream.id, origin, () => upstream.consumeResponse(body, binding === '' ? {} : { browserBinding: binding }));
}

/** GET /login/saml/:id/metadata */
export function samlMetadata(p: Provider, id: string): Response {
  const upstream = connectionOf(p, id, 'saml');
  if (!upstream) return new Response('not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  return new Response(upstream.spMetadata(), { status: 200, headers: { 'Content-Type': 'application/samlmetadata+xml; charset=utf-8', 'Cache-Control': 'public, max-age=3600' } });
}
