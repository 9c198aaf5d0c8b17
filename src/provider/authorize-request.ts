import { MAX_SCOPE_COUNT } from '../constants.js';
import { InvalidRequest, InvalidScope, OAuthError, UnauthorizedClient } from '../oauth/errors.js';
import { parseScope } from '../policy/scopes.js';
import { SUPPORTED_SCOPES } from './tokens.js';
import type { SessionRecord } from '../store/ports.js';
import { ConsentRequired, LoginRequired, RequestNotSupported, RequestUriNotSupported, UnsupportedResponseType } from './errors.js';
import { MAX_CONNECTION_ID_CHARS, MAX_LOGIN_HINT_CHARS, MAX_MAX_AGE, MAX_NONCE_CHARS, MAX_PRESENTED_TOKEN_CHARS, MAX_SCOPE_CHARS, MAX_STATE_CHARS } from './limits.js';
import type { ProviderClient } from './types.js';

/**
 * The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) as pure functions: parameters
 * in, a validated request or a refusal out; the decisions that depend on the session take the
 * time as an argument. No I/O here.
 */

/** Every value of every parameter, as received (query or form). */
export type RawParams = ReadonlyMap<string, readonly string[]>;

export type Prompt = 'none' | 'login' | 'consent' | 'select_account';
const PROMPTS: ReadonlySet<string> = new Set<Prompt>(['none', 'login', 'consent', 'select_account']);

export interface AuthorizationRequest {
  client: ProviderClient;
  redirectUri: string;
  state?: string;
  nonce?: string;
  /** Deduplicated, request order; always includes `openid`. */
  scopes: string[];
  /** S256 only; required for public clients. */
  codeChallenge?: string;
  prompt: ReadonlySet<Prompt>;
  maxAge?: number;
  loginHint?: string;
  /**
   * OIDC Core §3.1.2.1: an ID token the broker issued to this client, naming who the client expects
   * to be logged in. Verified and compared in authorize.ts. Not carried through a login (an ID token
   * may not fit the continuation): the login the request causes answers it.
   */
  idTokenHint?: string;
  /** Broker extension: the upstream connection to log in with. */
  connection?: string;
}

export interface RedirectTarget {
  redirectUri: string;
  state?: string;
}

/**
 * A refusal. Without `redirect`, client_id or redirect_uri could not be trusted: the error is
 * shown on a page and never sent anywhere (RFC 6749 §4.1.2.1).
 */
export type AuthorizeCheck =
  | { ok: true; request: AuthorizationRequest }
  | { ok: false; error: OAuthError; clientId?: string; redirect?: RedirectTarget };

/** VSCHAR (RFC 6749 Appendix A.5): printable ASCII, space included. */
const VSCHAR = /^[\x20-\x7E]+$/;
/** A login hint may be an internationalised address or a phone number: anything but control characters. */
const NO_CONTROLS = /^[^\x00-\x1F\x7F]+$/;
/** What S256 yields: 32 bytes, base64url without padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const CONNECTION_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]{0,${MAX_CONNECTION_ID_CHARS - 1}}$`);

/** RFC 6749 §3.1: parameters MUST NOT repeat; an empty value counts as absent. */
function single(params: RawParams, name: string): string | undefined {
  const values = params.get(name);
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw new InvalidRequest('duplicate_parameter', `parameter "${name}" must not be repeated`);
  return values[0] === '' ? undefined : values[0];
}

/** Step 1: the client. Refused on a page: there is nowhere trustworthy to send the error. */
function identifyClient(params: RawParams, clients: ReadonlyMap<string, ProviderClient>): ProviderClient {
  const clientId = single(params, 'client_id');
  if (clientId === undefined) throw new InvalidRequest('missing_parameter', 'client_id is required');
  const client = clients.get(clientId);
  if (!client) throw new InvalidRequest('client_unknown', 'unknown client');
  return client;
}

/** Step 2: redirect_uri, required (OIDC Core §3.1.2.1) and one of the registered values exactly. */
function checkRedirectUri(params: RawParams, client: ProviderClient): string {
  const redirectUri = single(params, 'redirect_uri');
  if (redirectUri === undefined) throw new InvalidRequest('redirect_uri_missing', 'redirect_uri is required');
  if (!client.redirect_uris.includes(redirectUri)) throw new InvalidRequest('redirect_uri_unregistered', 'redirect_uri is not registered for this client');
  return redirectUri;
}

/** Step 3: state, echoed in every redirect that follows; a malformed one is not echoed. */
function readState(params: RawParams): string | undefined {
  const state = single(params, 'state');
  if (state !== undefined && (state.length > MAX_STATE_CHARS || !VSCHAR.test(state))) throw new InvalidRequest('invalid_parameter', 'state is malformed or too long');
  return state;
}

/**
 * The parameters the OP recognises: RFC 6749 §4.1.1, OIDC Core §3.1.2.1 and §6, RFC 7636, and the
 * broker's `connection`. Only these must not repeat; anything else is ignored however often it
 * comes (RFC 6749 §3.1), e.g. RFC 8707 `resource`, which may legitimately appear several times.
 */
const RECOGNISED_PARAMETERS: ReadonlySet<string> = new Set([
  'client_id', 'redirect_uri', 'response_type', 'response_mode', 'scope', 'state', 'nonce',
  'code_challenge', 'code_challenge_method', 'prompt', 'max_age', 'login_hint', 'id_token_hint',
  'display', 'ui_locales', 'claims_locales', 'acr_values', 'claims', 'request', 'request_uri', 'connection',
]);

function rejectRepeatedParameters(params: RawParams) {
  for (const [name, values] of params) {
    if (values.length > 1 && RECOGNISED_PARAMETERS.has(name)) throw new InvalidRequest('duplicate_parameter', `parameter "${name}" must not be repeated`);
  }
}

/** OIDC Core §6: request objects are not supported, and say so with their own codes. */
function rejectRequestObjects(params: RawParams) {
  if (single(params, 'request') !== undefined) throw new RequestNotSupported('request_object_unsupported', 'request objects are not supported');
  if (single(params, 'request_uri') !== undefined) throw new RequestUriNotSupported('request_object_unsupported', 'request_uri is not supported');
}

function checkResponseType(params: RawParams) {
  const responseType = single(params, 'response_type');
  if (responseType === undefined) throw new InvalidRequest('missing_parameter', 'response_type is required');
  if (responseType !== 'code') throw new UnsupportedResponseType('unsupported_response_type', 'only response_type=code is supported');
  const mode = single(params, 'response_mode');
  if (mode !== undefined && mode !== 'query') throw new InvalidRequest('unsupported_response_mode', 'only response_mode=query is supported');
}

/** Whether the OP understands a scope: an OpenID one it supports, or a destination scope it knows (delegated scopes are among those). */
function understood(scope: string, knownScopes: ReadonlySet<string>): boolean {
  return SUPPORTED_SCOPES.includes(scope) || knownScopes.has(scope);
}

/**
 * The scopes: `openid` required. Values the OP does not understand are ignored (OIDC Core §3.1.2.1:
 * "SHOULD be ignored"; the token response's `scope` says what was granted). Every understood one
 * must be allowed to this client, or the request fails (no silent narrowing).
 */
function readScopes(params: RawParams, client: ProviderClient, knownScopes: ReadonlySet<string>): string[] {
  const raw = single(params, 'scope');
  if (raw !== undefined && raw.length > MAX_SCOPE_CHARS) throw new InvalidScope('invalid_parameter', 'scope is too long');
  const parsed = parseScope(raw, MAX_SCOPE_COUNT);
  if (!parsed.ok) throw new InvalidScope('invalid_parameter', 'scope is malformed', parsed.detail);
  if (!parsed.scopes.includes('openid')) throw new InvalidScope('openid_scope_missing', 'scope must include openid');
  const scopes = parsed.scopes.filter((s) => understood(s, knownScopes));
  const refused = scopes.filter((s) => !client.scopes.includes(s) && !(client.delegated_scopes ?? []).includes(s));
  if (refused.length > 0) throw new InvalidScope('scope_not_permitted_for_client', 'a requested scope is not available to this client', refused.join(' ').slice(0, 200));
  return scopes;
}

function readNonce(params: RawParams): string | undefined {
  const nonce = single(params, 'nonce');
  if (nonce !== undefined && (nonce.length > MAX_NONCE_CHARS || !VSCHAR.test(nonce))) throw new InvalidRequest('invalid_parameter', 'nonce is malformed or too long');
  return nonce;
}

/** RFC 7636 with S256 only (plain is refused, and an absent method means plain); required for public clients. */
function readPkce(params: RawParams, client: ProviderClient): string | undefined {
  const challenge = single(params, 'code_challenge');
  const method = single(params, 'code_challenge_method');
  if (challenge === undefined) {
    if (method !== undefined) throw new InvalidRequest('missing_parameter', 'code_challenge_method without code_challenge');
    if (client.token_endpoint_auth_method === 'none') throw new InvalidRequest('pkce_required', 'PKCE (S256) is required for public clients');
    return undefined;
  }
  if (method !== 'S256') throw new InvalidRequest('pkce_method_unsupported', 'code_challenge_method must be S256');
  if (!S256_CHALLENGE.test(challenge)) throw new InvalidRequest('pkce_challenge_invalid', 'code_challenge is not an S256 challenge');
  return challenge;
}

function readPrompt(params: RawParams): Set<Prompt> {
  const raw = single(params, 'prompt');
  if (raw === undefined) return new Set();
  const values = raw.split(' ');
  if (!values.every((v) => PROMPTS.has(v))) throw new InvalidRequest('prompt_invalid', 'unsupported prompt value');
  const prompt = new Set(values as Prompt[]);
  if (prompt.has('none') && prompt.size > 1) throw new InvalidRequest('prompt_invalid', 'prompt=none must stand alone');
  return prompt;
}

function readMaxAge(params: RawParams): number | undefined {
  const raw = single(params, 'max_age');
  if (raw === undefined) return undefined;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > MAX_MAX_AGE) throw new InvalidRequest('invalid_parameter', 'max_age must be a non-negative integer');
  return Number(raw);
}

function readLoginHint(params: RawParams): string | undefined {
  const hint = single(params, 'login_hint');
  if (hint !== undefined && (hint.length > MAX_LOGIN_HINT_CHARS || !NO_CONTROLS.test(hint))) throw new InvalidRequest('invalid_parameter', 'login_hint is malformed or too long');
  return hint;
}

function readIdTokenHint(params: RawParams): string | undefined {
  const hint = single(params, 'id_token_hint');
  if (hint !== undefined && (hint.length > MAX_PRESENTED_TOKEN_CHARS || !/^[A-Za-z0-9_.-]+$/.test(hint))) throw new InvalidRequest('id_token_hint_invalid', 'id_token_hint is not a valid ID token');
  return hint;
}

function readConnection(params: RawParams): string | undefined {
  const connection = single(params, 'connection');
  if (connection !== undefined && !CONNECTION_ID.test(connection)) throw new InvalidRequest('invalid_parameter', 'connection is malformed');
  return connection;
}

function requireCodeGrant(client: ProviderClient) {
  if (!client.grant_types.includes('authorization_code')) throw new UnauthorizedClient('grant_type_not_allowed', 'this client may not use the authorization code flow');
}

function asOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  throw err;
}

/** Validates an authorization request: client and redirect_uri first, then everything else. */
export function validateAuthorizeRequest(params: RawParams, clients: ReadonlyMap<string, ProviderClient>, knownScopes: ReadonlySet<string> = new Set()): AuthorizeCheck {
  let client: ProviderClient;
  let redirectUri: string;
  try {
    client = identifyClient(params, clients);
  } catch (err) {
    return { ok: false, error: asOAuthError(err) };
  }
  try {
    redirectUri = checkRedirectUri(params, client);
  } catch (err) {
    return { ok: false, error: asOAuthError(err), clientId: client.client_id };
  }
  let state: string | undefined;
  try {
    state = readState(params);
  } catch (err) {
    return { ok: false, error: asOAuthError(err), clientId: client.client_id, redirect: { redirectUri } };
  }
  const redirect: RedirectTarget = state === undefined ? { redirectUri } : { redirectUri, state };
  try {
    rejectRepeatedParameters(params);
    rejectRequestObjects(params);
    checkResponseType(params);
    requireCodeGrant(client);
    const scopes = readScopes(params, client, knownScopes);
    const nonce = readNonce(params);
    const codeChallenge = readPkce(params, client);
    const prompt = readPrompt(params);
    const maxAge = readMaxAge(params);
    const loginHint = readLoginHint(params);
    const idTokenHint = readIdTokenHint(params);
    const connection = readConnection(params);
    const request: AuthorizationRequest = { client, redirectUri, scopes, prompt };
    if (state !== undefined) request.state = state;
    if (nonce !== undefined) request.nonce = nonce;
    if (codeChallenge !== undefined) request.codeChallenge = codeChallenge;
    if (maxAge !== undefined) request.maxAge = maxAge;
    if (loginHint !== undefined) request.loginHint = loginHint;
    if (idTokenHint !== undefined) request.idTokenHint = idTokenHint;
    if (connection !== undefined) request.connection = connection;
    return { ok: true, request };
  } catch (err) {
    return { ok: false, error: asOAuthError(err), clientId: client.client_id, redirect };
  }
}

/** The request as parameters again: what is carried through a login or a consent form, re-validated on return. */
export function authorizeParams(request: AuthorizationRequest): Record<string, string> {
  const params: Record<string, string> = {
    client_id: request.client.client_id,
    redirect_uri: request.redirectUri,
    response_type: 'code',
    scope: request.scopes.join(' '),
  };
  if (request.state !== undefined) params.state = request.state;
  if (request.nonce !== undefined) params.nonce = request.nonce;
  if (request.codeChallenge !== undefined) {
    params.code_challenge = request.codeChallenge;
    params.code_challenge_method = 'S256';
  }
  if (request.prompt.size > 0) params.prompt = [...request.prompt].join(' ');
  if (request.maxAge !== undefined) params.max_age = String(request.maxAge);
  if (request.loginHint !== undefined) params.login_hint = request.loginHint;
  if (request.connection !== undefined) params.connection = request.connection;
  return params;
}

export function toRawParams(entries: Iterable<[string, string]>): RawParams {
  const params = new Map<string, string[]>();
  for (const [name, value] of entries) {
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return params;
}

export type AuthenticationDecision =
  | { kind: 'authenticated'; session: SessionRecord }
  | { kind: 'login'; forceChooser: boolean }
  | { kind: 'refuse'; error: OAuthError };

/**
 * Whether the browser's session answers this request, at `now`. `loginSatisfied` is true when the
 * request resumes right after the login it caused (or after a consent form only shown to an
 * authenticated session): prompt=login and max_age were answered by that login, whose auth_time
 * the ID token reports truthfully.
 */
export function decideAuthentication(request: AuthorizationRequest, session: SessionRecord | undefined, now: number, loginSatisfied: boolean): AuthenticationDecision {
  if (session && loginSatisfied) return { kind: 'authenticated', session };
  const { prompt } = request;
  if (prompt.has('login') || prompt.has('select_account')) return { kind: 'login', forceChooser: prompt.has('select_account') };
  const unusable =
    !session
      ? 'no session'
      : request.maxAge !== undefined && (session.authTime === undefined || now - session.authTime > request.maxAge)
        ? 'max_age exceeded'
        : request.connection !== undefined && request.connection !== session.connectionId
          ? 'session is from another connection'
          : undefined;
  if (unusable === undefined && session) return { kind: 'authenticated', session };
  if (prompt.has('none')) return { kind: 'refuse', error: new LoginRequired('login_required', 'the user must log in', unusable) };
  return { kind: 'login', forceChooser: false };
}

export type ConsentDecision = { kind: 'granted' } | { kind: 'ask' } | { kind: 'refuse'; error: OAuthError };

/**
 * Consent, only for clients configured to require it (prompt=consent is ignored for the others).
 * `remembered` is what this person granted this client before (in memory, see consent.ts).
 */
export function decideConsent(request: AuthorizationRequest, remembered: ReadonlySet<string> | undefined, consentGiven: boolean): ConsentDecision {
  if (consentGiven || !request.client.require_consent) return { kind: 'granted' };
  if (request.prompt.has('consent')) return { kind: 'ask' };
  if (remembered && request.scopes.every((s) => remembered.has(s))) return { kind: 'granted' };
  if (request.prompt.has('none')) return { kind: 'refuse', error: new ConsentRequired('consent_required', 'the user must consent') };
  return { kind: 'ask' };
}
