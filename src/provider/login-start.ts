import { InvalidRequest, TemporarilyUnavailable } from '../oauth/errors.js';
import { reportLoginFault } from './audit.js';
import { chooseConnection } from '../upstream/discovery.js';
import type { UpstreamConnection } from '../upstream/registry.js';
import { authorizeParams, toRawParams, type AuthorizationRequest, type RawParams } from './authorize-request.js';
import { cookieHeaders, redirect, refuseToClient, withQuery, type Flow, type Provider } from './context.js';
import { randomToken } from './crypto.js';
import { MAX_CONTINUATION_CHARS } from './limits.js';
import { AUTHORIZE_PATH } from './metadata.js';
import { autoPostPage, chooserPage, errorPage } from './pages.js';
import { browserBinding } from './session.js';

/**
 * Sending the browser to an upstream to log in. The pending authorization request travels as the
 * login's `continuation` (stored with the upstream's login transaction, never in the browser) and
 * is validated again, from scratch, when the login comes back.
 */

const CONTINUATION_VERSION = 1;

/**
 * The pending request, serialised; undefined when it would not fit the bound. It also names the
 * browser's current session (by its store id): a SAML response arrives as a cross-site POST
 * without the Lax session cookie, and the login must still end the session it replaces. The
 * continuation lives in the server-side login transaction, so the client cannot forge it.
 */
export function continuationOf(request: AuthorizationRequest, replacesSession?: string): string | undefined {
  const value = JSON.stringify({ v: CONTINUATION_VERSION, authorize: new URLSearchParams(authorizeParams(request)).toString(), ...(replacesSession ? { replaces: replacesSession } : {}) });
  return value.length <= MAX_CONTINUATION_CHARS ? value : undefined;
}

/** The session a continuation says the login replaces, if any. */
export function replacedSessionOf(value: string): string | undefined {
  try {
    const parsed = JSON.parse(value) as { replaces?: unknown };
    return typeof parsed.replaces === 'string' ? parsed.replaces : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A path on the broker's own origin (`/console/…`): one slash, then no second slash or backslash
 * (which browsers read as another host), no scheme, no control characters. What a broker page
 * asks a login to come back to must pass this: it is never an open redirect.
 */
export function isLocalPath(path: string): boolean {
  return /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/.test(path);
}

/** A login one of the broker's own pages needs (the approval console): it comes back to `returnTo`. */
export function returnContinuationOf(returnTo: string): string {
  const value = JSON.stringify({ v: CONTINUATION_VERSION, return: returnTo });
  if (!isLocalPath(returnTo) || value.length > MAX_CONTINUATION_CHARS) throw new Error('a login may only return to a (short) path on the broker');
  return value;
}

/** The path a continuation says the login returns to, if it is a returning login's. */
export function returnPathOf(value: string): string | undefined {
  if (value.length > MAX_CONTINUATION_CHARS) return undefined;
  try {
    const parsed = JSON.parse(value) as { v?: unknown; return?: unknown };
    return parsed.v === CONTINUATION_VERSION && typeof parsed.return === 'string' && isLocalPath(parsed.return) ? parsed.return : undefined;
  } catch {
    return undefined;
  }
}

/** The pending request's parameters, or undefined when the value is not one continuationOf produced. */
export function parseContinuation(value: string): RawParams | undefined {
  if (value.length > MAX_CONTINUATION_CHARS) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, authorize } = parsed as Record<string, unknown>;
  if (v !== CONTINUATION_VERSION || typeof authorize !== 'string') return undefined;
  return toRawParams(new URLSearchParams(authorize));
}

function discoverable(connections: readonly UpstreamConnection[]) {
  return connections.map((c) => ({ id: c.id, email_domains: c.emailDomains, default: c.isDefault, upstream: c }));
}

/** The chooser: one link per connection, each restarting /authorize with `connection` set. */
function chooser(flow: Flow, request: AuthorizationRequest, connections: readonly UpstreamConnection[]): Response {
  const base = authorizeParams(request);
  const options = connections.map((c) => ({ label: c.displayName, href: withQuery(AUTHORIZE_PATH, { ...base, connection: c.id }) }));
  return chooserPage(options, cookieHeaders(flow.setCookies));
}

/** The upstream's `prompt`: what the app asked of the broker, passed on. */
function upstreamPrompt(request: AuthorizationRequest): string | undefined {
  if (request.prompt.has('select_account')) return 'select_account';
  if (request.prompt.has('login') || request.maxAge === 0) return 'login';
  return undefined;
}

/** What the login asks of the upstream (an app's authorization request; nothing for the broker's own pages). */
interface UpstreamAsk {
  loginHint?: string;
  prompt?: string;
  maxAge?: number;
  forceAuthn?: boolean;
}

function askOf(request: AuthorizationRequest): UpstreamAsk {
  const prompt = upstreamPrompt(request);
  return {
    ...(request.loginHint !== undefined ? { loginHint: request.loginHint } : {}),
    ...(prompt !== undefined ? { prompt } : {}),
    ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
    // SAML has no max_age: a re-authentication the app asked for becomes ForceAuthn.
    ...(request.prompt.has('login') || request.maxAge !== undefined ? { forceAuthn: true } : {}),
  };
}

async function startAt(upstream: UpstreamConnection, ask: UpstreamAsk, binding: string, continuation: string, setCookies: string[]): Promise<Response> {
  if (upstream.kind === 'oidc') {
    const { forceAuthn: _saml, ...oidc } = ask;
    const started = await upstream.startLogin({ browserBinding: binding, continuation, ...oidc });
    return redirect(started.redirectUrl.href, setCookies);
  }
  const forceAuthn = ask.forceAuthn === true;
  // The connection picks the binding: Redirect, or POST (a form page) when that is what the IdP offers or sso_binding says.
  const started = await upstream.startLogin({ browserBinding: binding, continuation, ...(forceAuthn ? { forceAuthn } : {}) });
  if (started.redirectUrl !== undefined) return redirect(started.redirectUrl, setCookies);
  if (started.postForm) return autoPostPage(started.postForm.action, started.postForm.fields, randomToken(), cookieHeaders(setCookies));
  throw new Error(`SAML connection ${upstream.id} returned neither a redirect nor a form`);
}

/** Step: choose a connection (or ask), bind the login to this browser, send the browser upstream. */
export async function startUpstreamLogin(p: Provider, flow: Flow, request: AuthorizationRequest, forceChooser: boolean): Promise<Response> {
  const connections = p.upstreams.list();
  if (forceChooser && request.connection === undefined && connections.length > 1) return chooser(flow, request, connections);
  const choice = chooseConnection(discoverable(connections), { ...(request.connection !== undefined ? { connectionId: request.connection } : {}), ...(request.loginHint !== undefined ? { loginHint: request.loginHint } : {}) });
  if (choice.kind === 'refused') {
    return choice.reason === 'unknown_connection'
      ? refuseToClient(p, flow, request, new InvalidRequest('connection_unknown', 'unknown connection'))
      : refuseToClient(p, flow, request, new TemporarilyUnavailable('no_connections', 'no upstream login is configured'));
  }
  if (choice.kind === 'ask') return chooser(flow, request, connections);

  const continuation = continuationOf(request, flow.session?.record.id);
  if (continuation === undefined) return refuseToClient(p, flow, request, new InvalidRequest('request_too_large', 'the authorization request is too large'));
  const binding = await browserBinding(flow.cookieHeader, p.cookies);
  const setCookies = [...flow.setCookies, binding.setCookie];
  try {
    return await startAt(choice.connection.upstream, askOf(request), binding.hash, continuation, setCookies);
  } catch (err) {
    reportLoginFault(p.services, { connection: choice.connection.id, step: 'start' }, err);
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown';
    return refuseToClient(p, { ...flow, setCookies }, request, new TemporarilyUnavailable('login_failed', 'the login service is unavailable', `start at ${choice.connection.id}: ${reason}`));
  }
}

/**
 * Step for the broker's own pages (the approval console): send the browser to log in and bring it
 * back to `returnTo`, a path on the broker (isLocalPath). `chooserHref` links each connection when
 * discovery cannot pick one. An unknown connection or no connection at all is a page, not a login.
 */
export async function startReturningLogin(p: Provider, request: Request, input: { returnTo: string; connection?: string; chooserHref: (connectionId: string) => string }): Promise<Response> {
  const connections = p.upstreams.list();
  const choice = chooseConnection(discoverable(connections), input.connection !== undefined ? { connectionId: input.connection } : {});
  const requestId = crypto.randomUUID();
  if (choice.kind === 'refused') {
    return choice.reason === 'unknown_connection' ? errorPage(400, 'There is no such sign-in connection.', requestId) : errorPage(503, 'No sign-in is configured at this broker.', requestId);
  }
  if (choice.kind === 'ask') return chooserPage(connections.map((c) => ({ label: c.displayName, href: input.chooserHref(c.id) })));
  const binding = await browserBinding(request.headers.get('cookie'), p.cookies);
  try {
    return await startAt(choice.connection.upstream, {}, binding.hash, returnContinuationOf(input.returnTo), [binding.setCookie]);
  } catch (err) {
    p.services.logger.warn({ requestId, connection: choice.connection.id, error: err instanceof Error ? `${err.name}: ${err.message}` : 'non-error thrown' }, 'login start failed');
    return errorPage(503, 'The sign-in service is unavailable. Try again in a moment.', requestId);
  }
}
