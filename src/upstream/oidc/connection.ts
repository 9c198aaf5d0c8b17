import * as oidc from 'openid-client';
import { constantTimeEqual } from '../../clients/secrets.js';
import type { CompletedLogin, LoginTransaction, LoginTransactionStore, UpstreamIdentity } from '../../identity/types.js';
import { callbackAtRedirectUri, checkIssParameter, readCallbackParams, type CallbackParams } from './callback.js';
import { classifyOidcError, type OidcStep } from './classify.js';
import { cachedDiscovery } from './discovery-cache.js';
import { OidcLoginError, type OidcLoginErrorDetails, type OidcLoginReason } from './errors.js';
import { toUpstreamIdentity } from './identity.js';
import { LOGIN_TRANSACTION_LIFETIME, MAX_LOGIN_HINT_CHARS, OIDC_DISCOVERY_TTL } from './limits.js';
import { oidcConnectionSchema, type OidcConnectionConfig, type OidcConnectionInput } from '../../config/oidc-connection.js';

export interface OidcConnectionDeps {
  transactions: LoginTransactionStore;
  /** Seconds since epoch. Governs transactions and the discovery cache; ID token times are checked by openid-client against the system clock. */
  clock: () => number;
  /** Every request to the OP goes through it (discovery, JWKS, token, userinfo); tests pass their own. */
  fetch?: typeof fetch;
}

export type OidcPrompt = 'none' | 'login' | 'consent' | 'select_account';

export interface StartLoginInput {
  /** Hash of the browser's binding cookie; the callback must present the same. */
  browserBinding: string;
  /** Opaque to this module; handed back by finishLogin. */
  continuation?: string;
  loginHint?: string;
  prompt?: OidcPrompt;
  /** Seconds; the ID token's auth_time is then required and checked against it. */
  maxAge?: number;
}

export interface StartedLogin {
  /** The transaction id, which is also the `state` sent upstream. */
  transactionId: string;
  redirectUrl: URL;
}

/** The shared result of an upstream login (OIDC and SAML alike). */
export type FinishedLogin = CompletedLogin;

export interface OidcConnection {
  readonly id: string;
  readonly config: OidcConnectionConfig;
  startLogin(input: StartLoginInput): Promise<StartedLogin>;
  finishLogin(callbackUrl: URL, ctx: { browserBinding: string }): Promise<FinishedLogin>;
}

/** What this module stores: `maxAge` is kept because the check at the callback must use what was asked at the start. */
type OidcTransaction = LoginTransaction;
/** A transaction taken back and checked: it carries what the code exchange needs. */
type OpenTransaction = OidcTransaction & { codeVerifier: string; nonce: string };

const PROMPTS: ReadonlySet<string> = new Set<OidcPrompt>(['none', 'login', 'consent', 'select_account']);
const encoder = new TextEncoder();

function clientAuthentication(config: OidcConnectionConfig): oidc.ClientAuth {
  switch (config.client_auth) {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(config.client_secret);
    case 'client_secret_post':
      return oidc.ClientSecretPost(config.client_secret);
    case 'none':
      return oidc.None();
  }
}

/** openid-client's fetch hook, backed by the injected fetch. */
function customFetch(f: typeof fetch): oidc.CustomFetch {
  return (url, options) => f(url, options as RequestInit);
}

function discover(config: OidcConnectionConfig, f: typeof fetch | undefined): Promise<oidc.Configuration> {
  const metadata: Partial<oidc.ClientMetadata> = { redirect_uris: [config.redirect_uri], response_types: ['code'] };
  if (config.client_secret !== undefined) metadata.client_secret = config.client_secret;
  // openid-client skips the ID token signature when the token comes straight from the token
  // endpoint (OIDC Core §3.1.3.7 lets TLS stand in for it). The broker keeps the login as evidence
  // and may run over plain http on loopback, so the signature is always verified against the JWKS.
  const execute = [oidc.enableNonRepudiationChecks];
  // The schema allows http only for loopback hosts, and only with this flag set.
  if (config.allow_insecure_http_for_loopback) execute.push(oidc.allowInsecureRequests);
  const options: oidc.DiscoveryRequestOptions = { timeout: config.timeout_seconds, execute };
  if (f) options[oidc.customFetch] = customFetch(f);
  return oidc.discovery(new URL(config.issuer), config.client_id, metadata, clientAuthentication(config), options);
}

/** Refuses a start whose inputs the broker should never produce; these are bugs, not attacks. */
function startInputProblem(input: StartLoginInput): string | undefined {
  if (!input.browserBinding) return 'browserBinding is empty';
  if (input.loginHint !== undefined && (input.loginHint.length === 0 || input.loginHint.length > MAX_LOGIN_HINT_CHARS)) return 'loginHint length';
  if (input.prompt !== undefined && !PROMPTS.has(input.prompt)) return 'prompt value';
  if (input.maxAge !== undefined && !(Number.isInteger(input.maxAge) && input.maxAge >= 0)) return 'maxAge must be a non-negative integer';
  return undefined;
}

/** RFC 7636 §4.2: S256 only. An OP that lists its methods without S256 would silently skip PKCE. */
function supportsS256(server: oidc.ServerMetadata): boolean {
  const methods = server.code_challenge_methods_supported;
  return methods === undefined || methods.includes('S256');
}

function sameBinding(a: string, b: string): boolean {
  return constantTimeEqual(encoder.encode(a), encoder.encode(b));
}

/**
 * One upstream OpenID Provider: authorization code flow with PKCE (S256), `state` and `nonce`
 * bound to the browser and consumed once, ID token validation by openid-client, optional userinfo.
 */
export function createOidcConnection(input: OidcConnectionInput, deps: OidcConnectionDeps): OidcConnection {
  const config = oidcConnectionSchema.parse(input);
  const { id } = config;
  const configuration = cachedDiscovery(() => discover(config, deps.fetch), deps.clock, OIDC_DISCOVERY_TTL);

  const refuse = (reason: OidcLoginReason, details?: OidcLoginErrorDetails) => new OidcLoginError(id, reason, details);

  /** Runs one exchange with the OP; whatever it throws becomes a precise refusal. */
  async function upstream<T>(step: OidcStep, consumed: boolean, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const { reason, ...details } = classifyOidcError(err, step);
      throw refuse(reason, { ...details, transactionConsumed: consumed });
    }
  }

  function authorizationUrl(server: oidc.Configuration, tx: OpenTransaction, challenge: string, start: StartLoginInput): URL {
    const params: Record<string, string> = {
      redirect_uri: config.redirect_uri,
      response_type: 'code',
      scope: config.scopes.join(' '),
      state: tx.id,
      nonce: tx.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    if (start.loginHint !== undefined) params.login_hint = start.loginHint;
    if (start.prompt !== undefined) params.prompt = start.prompt;
    if (start.maxAge !== undefined) params.max_age = String(start.maxAge);
    if (config.claims !== undefined) params.claims = JSON.stringify(config.claims);
    return oidc.buildAuthorizationUrl(server, params);
  }

  async function startLogin(start: StartLoginInput): Promise<StartedLogin> {
    const problem = startInputProblem(start);
    if (problem) throw refuse('invalid_request', { detail: problem });
    // Discovery first: if the OP cannot be reached or is not who it claims, nothing is stored.
    const server = await upstream('discovery', false, configuration);
    if (!supportsS256(server.serverMetadata())) throw refuse('pkce_unsupported');
    const now = deps.clock();
    const tx: OpenTransaction = {
      id: oidc.randomState(),
      connectionId: id,
      codeVerifier: oidc.randomPKCECodeVerifier(),
      nonce: oidc.randomNonce(),
      browserBinding: start.browserBinding,
      createdAt: now,
      expiresAt: now + LOGIN_TRANSACTION_LIFETIME,
    };
    if (start.continuation !== undefined) tx.continuation = start.continuation;
    if (start.maxAge !== undefined) tx.maxAge = start.maxAge;
    const redirectUrl = authorizationUrl(server, tx, await oidc.calculatePKCECodeChallenge(tx.codeVerifier), start);
    await deps.transactions.put(tx);
    return { transactionId: tx.id, redirectUrl };
  }

  /** Takes the transaction named by `state` (single use) and checks it belongs here and to this browser. */
  async function takeTransaction(state: string, browserBinding: string): Promise<OpenTransaction> {
    const now = deps.clock();
    const tx: OidcTransaction | undefined = await deps.transactions.take(state, now);
    // The store cannot say whether the id was never issued, has expired or was already used.
    if (!tx) throw refuse('transaction_unknown');
    const consumed = { transactionConsumed: true };
    // The store should not return an expired transaction; this check does not rely on it.
    if (tx.expiresAt <= now) throw refuse('transaction_expired', consumed);
    if (tx.connectionId !== id) throw refuse('connection_mismatch', { ...consumed, detail: `started at ${tx.connectionId}` });
    if (!browserBinding || !sameBinding(tx.browserBinding, browserBinding)) throw refuse('browser_mismatch', consumed);
    const { codeVerifier, nonce } = tx;
    if (!codeVerifier || !nonce) throw refuse('transaction_unknown', { ...consumed, detail: 'not an OIDC transaction' });
    return { ...tx, codeVerifier, nonce };
  }

  async function redeemCode(server: oidc.Configuration, callbackUrl: URL, tx: OpenTransaction) {
    const checks: oidc.AuthorizationCodeGrantChecks = {
      expectedState: tx.id,
      expectedNonce: tx.nonce,
      pkceCodeVerifier: tx.codeVerifier,
    };
    if (tx.maxAge !== undefined) checks.maxAge = tx.maxAge;
    return upstream('grant', true, () => oidc.authorizationCodeGrant(server, callbackAtRedirectUri(config.redirect_uri, callbackUrl), checks));
  }

  async function finishLogin(callbackUrl: URL, ctx: { browserBinding: string }): Promise<FinishedLogin> {
    const params = readCallbackParams(callbackUrl.searchParams);
    if (!params.ok) throw refuse('callback_malformed', { detail: params.detail });
    const tx = await takeTransaction(params.value.state, ctx.browserBinding);
    // From here on the transaction is consumed, whatever happens: a failed login starts again.
    try {
      return await finishTransaction(callbackUrl, params.value, tx);
    } catch (err) {
      // The upstream's own refusal of this browser's login (the person declined, prompt=none could
      // not be met): the pending request goes with it, so the app that asked can be answered.
      if (err instanceof OidcLoginError && err.reason === 'upstream_error' && tx.continuation !== undefined) err.continuation = tx.continuation;
      throw err;
    }
  }

  async function finishTransaction(callbackUrl: URL, params: CallbackParams, tx: OpenTransaction): Promise<FinishedLogin> {
    const server = await upstream('discovery', true, configuration);
    const metadata = server.serverMetadata();
    const issProblem = checkIssParameter(params.iss, metadata.issuer, metadata.authorization_response_iss_parameter_supported === true);
    if (issProblem) throw refuse('issuer_mismatch', { detail: issProblem, transactionConsumed: true });

    const tokens = await redeemCode(server, callbackUrl, tx);
    const idToken = tokens.claims();
    // expectedNonce makes openid-client require an ID token; this guards the type, not a real case.
    if (!idToken) throw refuse('token_response_invalid', { detail: 'no ID token', transactionConsumed: true });
    const userinfo = config.use_userinfo
      ? await upstream('userinfo', true, () => oidc.fetchUserInfo(server, tokens.access_token, idToken.sub))
      : undefined;
    const identity = toUpstreamIdentity(id, idToken, userinfo);
    return tx.continuation === undefined ? { identity } : { identity, continuation: tx.continuation };
  }

  return { id, config, startLogin, finishLogin };
}
