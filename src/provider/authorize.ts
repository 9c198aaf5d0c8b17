import { FormParams, readForm } from '../http/form.js';
import { InvalidRequest, OAuthError } from '../oauth/errors.js';
import type { AuthorizationCodeRecord, PrincipalRecord } from '../store/ports.js';
import { auditRefusal } from './audit.js';
import {
  authorizeParams,
  decideAuthentication,
  decideConsent,
  toRawParams,
  validateAuthorizeRequest,
  type AuthorizationRequest,
  type AuthorizeCheck,
  type RawParams,
} from './authorize-request.js';
import { accessDenied, anonymousOrigin, cookieHeaders, errorRedirect, redirect, refuseOnPage, refuseToClient, withQuery, type Flow, type Provider } from './context.js';
import { randomToken, sha256Base64url } from './crypto.js';
import { LoginRequired } from './errors.js';
import { CODE_LIFETIME, MAX_AUTHORIZE_QUERY_CHARS, MAX_FORM_BYTES } from './limits.js';
import { startUpstreamLogin } from './login-start.js';
import { AUTHORIZE_PATH, CONSENT_PATH } from './metadata.js';
import { consentPage, errorPage } from './pages.js';
import { checkFormToken, currentSession, formToken, type BrowserSession } from './session.js';
import { subjectFor, verifyIdTokenHint, type IdTokenHint } from './tokens.js';

const CONSENT_PURPOSE = 'consent';

/** Step: a request that failed validation: on a page when client or redirect_uri are in doubt, else redirected. */
async function refuseInvalid(p: Provider, flow: Flow, check: Extract<AuthorizeCheck, { ok: false }>, afterPost: boolean): Promise<Response> {
  if (!check.redirect) return refuseOnPage(p, flow, check.error, check.clientId !== undefined ? { clientId: check.clientId } : {});
  await auditRefusal(p.services, {
    at: flow.now,
    requestId: flow.requestId,
    ...(check.clientId !== undefined ? { clientId: check.clientId } : {}),
    ...(flow.session ? { principalId: flow.session.record.principalId } : {}),
    reason: check.error.reason,
    ...(check.error.detail ? { detail: check.error.detail } : {}),
  }, anonymousOrigin(flow));
  return errorRedirect(p, check.redirect, check.error, flow.setCookies, afterPost);
}

/** Step: the person must be nameable in the client's namespace, or no code is issued (checked again, and committed, at the token endpoint). */
async function checkSubject(p: Provider, flow: Flow, request: AuthorizationRequest, principal: PrincipalRecord): Promise<{ subject: string } | { error: OAuthError }> {
  const { mapping } = await subjectFor(p.services, request.client, principal, flow.now);
  return mapping.ok ? { subject: mapping.subject } : { error: accessDenied(mapping.reason, mapping.detail) };
}

/**
 * Step: the id_token_hint (OIDC Core §3.1.2.1), before anything else is decided: an ID token the
 * broker signed for this client, expired or not (it names a past session); anything else is
 * refused, never ignored.
 */
async function verifyHint(p: Provider, flow: Flow, request: AuthorizationRequest): Promise<IdTokenHint | OAuthError | undefined> {
  if (request.idTokenHint === undefined) return undefined;
  await p.services.keys.refresh(flow.now);
  const hint = await verifyIdTokenHint(request.idTokenHint, p.services);
  if (!hint || !hint.clientIds.includes(request.client.client_id)) return new InvalidRequest('id_token_hint_invalid', 'id_token_hint is not an ID token issued to this client');
  return hint;
}

/** Step: the consent page, its form bound to this session and to this exact request. */
async function askConsent(flow: Flow, request: AuthorizationRequest, session: BrowserSession): Promise<Response> {
  const payload = new URLSearchParams(authorizeParams(request)).toString();
  return consentPage(
    {
      clientName: request.client.name ?? request.client.client_id,
      scopes: request.scopes,
      action: CONSENT_PATH,
      fields: { request: payload, form_token: await formToken(session, CONSENT_PURPOSE, payload, flow.now) },
    },
    cookieHeaders(flow.setCookies),
  );
}

/** Step: the code (256 random bits, stored hashed, single use, 60 s) and the redirect that carries it. */
async function issueCode(p: Provider, flow: Flow, request: AuthorizationRequest, session: BrowserSession, afterPost: boolean): Promise<Response> {
  const code = randomToken();
  const s = session.record;
  const record: AuthorizationCodeRecord = {
    clientId: request.client.client_id,
    redirectUri: request.redirectUri,
    sessionId: s.id,
    principalId: s.principalId,
    scopes: request.scopes,
    ...(s.authTime !== undefined ? { authTime: s.authTime } : {}),
    amr: s.amr,
    issuedAt: flow.now,
    expiresAt: flow.now + CODE_LIFETIME,
  };
  if (request.nonce !== undefined) record.nonce = request.nonce;
  if (request.codeChallenge !== undefined) {
    record.codeChallenge = request.codeChallenge;
    record.codeChallengeMethod = 'S256';
  }
  if (s.acr !== undefined) record.acr = s.acr;
  await p.services.store.codes.put(await sha256Base64url(code), record);
  const params: Record<string, string> = { code };
  if (request.state !== undefined) params.state = request.state;
  params.iss = p.issuer;
  return redirect(withQuery(request.redirectUri, params), flow.setCookies, afterPost);
}

/**
 * The authorization request, start to finish: validate; authenticate (or send the browser to log
 * in); check the person can be named for this client; consent where configured; issue the code.
 * Called by /authorize, and again with the same parameters after a login or a consent form.
 */
export async function runAuthorization(p: Provider, params: RawParams, flow: Flow, afterPost = false): Promise<Response> {
  const check = validateAuthorizeRequest(params, p.clients, p.knownScopes);
  if (!check.ok) return refuseInvalid(p, flow, check, afterPost);
  const { request } = check;
  const hint = await verifyHint(p, flow, request);
  if (hint instanceof OAuthError) return refuseToClient(p, flow, request, hint, afterPost);

  const auth = decideAuthentication(request, flow.session?.record, flow.now, flow.loginSatisfied);
  if (auth.kind === 'refuse') return refuseToClient(p, flow, request, auth.error, afterPost);
  if (auth.kind === 'login') return startUpstreamLogin(p, flow, request, auth.forceChooser);
  const session = flow.session!;

  const principal = await p.services.store.principals.get(session.record.principalId);
  if (!principal) {
    if (request.prompt.has('none')) return refuseToClient(p, flow, request, new LoginRequired('principal_missing', 'the user must log in'), afterPost);
    return startUpstreamLogin(p, flow, request, false);
  }
  const named = await checkSubject(p, flow, request, principal);
  if ('error' in named) return refuseToClient(p, flow, request, named.error, afterPost);
  // §3.1.2.1: the hint names someone else than the session's person: not them, unless a login says so.
  if (hint && hint.sub !== named.subject) {
    if (request.prompt.has('none')) return refuseToClient(p, flow, request, new LoginRequired('id_token_hint_mismatch', 'the user must log in'), afterPost);
    return startUpstreamLogin(p, flow, request, false);
  }

  if (flow.consent === 'deny') return refuseToClient(p, flow, request, accessDenied('consent_denied'), afterPost);
  const consent = decideConsent(request, p.consents.get(principal.id, request.client.client_id), flow.consent === 'allow');
  if (consent.kind === 'refuse') return refuseToClient(p, flow, request, consent.error, afterPost);
  if (consent.kind === 'ask') return askConsent(flow, request, session);
  if (flow.consent === 'allow') p.consents.remember(principal.id, request.client.client_id, request.scopes);

  return issueCode(p, flow, request, session, afterPost);
}

/** The request's parameters: the query of a GET, the form of a POST (OIDC Core §3.1.2.1 allows both). Strictly decoded. */
async function readAuthorizeParams(request: Request): Promise<RawParams> {
  const form =
    request.method === 'POST'
      ? await readForm(request, MAX_FORM_BYTES)
      : (() => {
          const query = new URL(request.url).search.slice(1);
          if (query.length > MAX_AUTHORIZE_QUERY_CHARS) throw new InvalidRequest('request_too_large', 'the request is too large');
          return FormParams.from(query);
        })();
  return formEntries(form);
}

function formEntries(form: FormParams): RawParams {
  return toRawParams(form.names().flatMap((name) => form.all(name).map((value): [string, string] => [name, value])));
}

/** Step: the browser's session, if it presents an active one (a refusal is then recorded as this user's). */
async function withSession(p: Provider, request: Request, flow: Flow): Promise<Flow> {
  const session = await currentSession(request, p.services, p.cookies, flow.now);
  if (session) flow.session = session;
  return flow;
}

/** GET and POST /authorize. `source`: the caller's source key (http/source.ts). */
export async function authorizeEndpoint(p: Provider, request: Request, source: string): Promise<Response> {
  const flow: Flow = { requestId: crypto.randomUUID(), now: p.clock(), endpoint: AUTHORIZE_PATH, source, cookieHeader: request.headers.get('cookie'), loginSatisfied: false, setCookies: [] };
  let params: RawParams;
  try {
    params = await readAuthorizeParams(request);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    return refuseOnPage(p, await withSession(p, request, flow), err);
  }
  return runAuthorization(p, params, await withSession(p, request, flow));
}

/** POST /authorize/consent: the consent form's answer, bound to the session and the request it was shown for. */
export async function consentEndpoint(p: Provider, request: Request, source: string): Promise<Response> {
  const flow: Flow = { requestId: crypto.randomUUID(), now: p.clock(), endpoint: CONSENT_PATH, source, cookieHeader: request.headers.get('cookie'), loginSatisfied: true, setCookies: [] };
  let form: FormParams;
  let payload: string | undefined;
  let token: string | undefined;
  let decision: string | undefined;
  try {
    form = await readForm(request, MAX_FORM_BYTES);
    payload = form.get('request');
    token = form.get('form_token');
    decision = form.get('decision');
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    return refuseOnPage(p, await withSession(p, request, flow), err);
  }
  const { session } = await withSession(p, request, flow);
  if (!session) {
    await auditRefusal(p.services, { at: flow.now, requestId: flow.requestId, reason: 'session_inactive', detail: 'consent form without a session' }, anonymousOrigin(flow));
    return errorPage(400, 'Your sign-in session has ended. Return to the application and sign in again.', flow.requestId);
  }
  if (payload === undefined || !(await checkFormToken(token, session, CONSENT_PURPOSE, payload, flow.now)) || (decision !== 'allow' && decision !== 'deny')) {
    return refuseOnPage(p, flow, { reason: 'form_token_invalid', description: 'The form has expired or is not valid. Return to the application and sign in again.' }, { principalId: session.record.principalId });
  }
  flow.consent = decision;
  return runAuthorization(p, formEntries(FormParams.from(payload)), flow, true);
}
