import { AccessDenied, type OAuthError } from '../oauth/errors.js';
import type { AuthorizationRequest, RedirectTarget } from './authorize-request.js';
import { auditRefusal, type RequestOrigin } from './audit.js';
import type { ConsentMemory } from './consent.js';
import type { CookiePolicy } from './cookies.js';
import { errorPage } from './pages.js';
import type { BrowserSession } from './session.js';
import type { ProviderDeps } from './types.js';

/** What every provider endpoint shares, built once by mountProvider. */
export interface Provider extends ProviderDeps {
  issuer: string;
  cookies: CookiePolicy;
  consents: ConsentMemory;
  /** Destination scopes the broker knows besides the OpenID ones (what /authorize does not ignore). */
  knownScopes: ReadonlySet<string>;
}

/** One browser request's progress through /authorize (or its resumption after a login or consent). */
export interface Flow extends RequestOrigin {
  requestId: string;
  now: number;
  /** The browser's Cookie header, as received. */
  cookieHeader: string | null;
  session?: BrowserSession;
  /** The request resumes after the login it caused, or from a consent form shown to this very session. */
  loginSatisfied: boolean;
  /** The answer of a consent form. */
  consent?: 'allow' | 'deny';
  /** Set-Cookie values every response of this flow carries (a new session, a binding cookie). */
  setCookies: string[];
}

/**
 * Where a refusal of this flow is counted when it is anonymous: without a browser session no user
 * is involved (anyone can send /authorize with a registered client_id and redirect_uri), so it is
 * summarised; with one, it is a record of its own.
 */
export function anonymousOrigin(flow: RequestOrigin & { session?: BrowserSession }): RequestOrigin | undefined {
  return flow.session ? undefined : { endpoint: flow.endpoint, source: flow.source };
}

export const NO_STORE_HEADERS = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

function withCookies(headers: Headers, setCookies: readonly string[]): Headers {
  for (const cookie of setCookies) headers.append('Set-Cookie', cookie);
  return headers;
}

export function cookieHeaders(setCookies: readonly string[]): Headers {
  return withCookies(new Headers(), setCookies);
}

/** Appends parameters to a registered URI, keeping its own query exactly as registered. */
export function withQuery(uri: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return query === '' ? uri : `${uri}${uri.includes('?') ? '&' : '?'}${query}`;
}

/** 302 for a GET, 303 after a POST (so the browser follows with a GET). */
export function redirect(location: string, setCookies: readonly string[], afterPost = false): Response {
  const headers = withCookies(new Headers({ Location: location, ...NO_STORE_HEADERS }), setCookies);
  return new Response(null, { status: afterPost ? 303 : 302, headers });
}

/** RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207) and the state as received. */
export function errorRedirect(p: Provider, target: RedirectTarget, error: OAuthError, setCookies: readonly string[], afterPost = false): Response {
  const params: Record<string, string> = { error: error.code };
  if (error.description) params.error_description = error.description;
  if (target.state !== undefined) params.state = target.state;
  params.iss = p.issuer;
  return redirect(withQuery(target.redirectUri, params), setCookies, afterPost);
}

/** A refused, validated request: audited, then sent back to the client's redirect_uri. */
export async function refuseToClient(p: Provider, flow: Flow, request: AuthorizationRequest, error: OAuthError, afterPost = false): Promise<Response> {
  await auditRefusal(p.services, {
    at: flow.now,
    requestId: flow.requestId,
    clientId: request.client.client_id,
    ...(flow.session ? { principalId: flow.session.record.principalId } : {}),
    requestedScopes: request.scopes,
    reason: error.reason,
    ...(error.detail ? { detail: error.detail } : {}),
  }, anonymousOrigin(flow));
  const target: RedirectTarget = request.state === undefined ? { redirectUri: request.redirectUri } : { redirectUri: request.redirectUri, state: request.state };
  return errorRedirect(p, target, error, flow.setCookies, afterPost);
}

/**
 * A refusal that must not be redirected: audited, shown on a page with the correlation id. Counted
 * into the summary unless the flow has a session or `identified` says a user was established.
 */
export async function refuseOnPage(
  p: Provider,
  flow: Pick<Flow, 'requestId' | 'now' | 'setCookies' | 'endpoint' | 'source' | 'session'>,
  error: OAuthError | { reason: OAuthError['reason']; detail?: string; description?: string },
  extra: { clientId?: string; principalId?: string; identified?: boolean } = {},
): Promise<Response> {
  const { identified, ...fields } = extra;
  await auditRefusal(p.services, {
    at: flow.now,
    requestId: flow.requestId,
    ...(flow.session ? { principalId: flow.session.record.principalId } : {}),
    ...fields,
    reason: error.reason,
    ...(error.detail ? { detail: error.detail } : {}),
  }, identified ? undefined : anonymousOrigin(flow));
  return errorPage(400, error.description ?? 'The request is not valid.', flow.requestId, cookieHeaders(flow.setCookies));
}

export function accessDenied(reason: OAuthError['reason'], detail?: string): OAuthError {
  return new AccessDenied(reason, 'the request was denied', detail);
}
