import type { Context, Hono } from 'hono';
import { ID_TOKEN_ALGS, type BrokerSettings } from '../config/schema.js';
import { UNKNOWN_SOURCE } from '../http/source.js';
import { authorizeEndpoint, consentEndpoint } from './authorize.js';
import { ConsentMemory } from './consent.js';
import type { Provider } from './context.js';
import { cookiePolicy } from './cookies.js';
import { oidcCallback, samlAcs, samlMetadata } from './login-callbacks.js';
import { startReturningLogin } from './login-start.js';
import { logoutEndpoint } from './logout.js';
import { introspectionEndpoint } from './introspection.js';
import { AUTHORIZE_PATH, CONSENT_PATH, INTROSPECTION_PATH, LOGOUT_PATH, OIDC_CALLBACK_PATH, REVOCATION_PATH, SAML_ACS_PATH, SAML_METADATA_PATH, SAML_SLO_PATH, USERINFO_PATH } from './metadata.js';
import { postOnly } from './client-endpoint.js';
import { revocationEndpoint } from './revocation.js';
import { samlSlo } from './saml-logout.js';
import { SUPPORTED_SCOPES } from './tokens.js';
import type { ProviderDeps } from './types.js';
import { currentSession, type BrowserSession } from './session.js';
import { userinfoEndpoint } from './userinfo.js';

export type { ProviderClient, ProviderDeps, ProviderGrantType } from './types.js';
export { authorizationCodeGrant, providerGrants, refreshTokenGrant, type ProviderTokenResponse } from './grants.js';
export { providerMetadata, AUTHORIZE_PATH, CONSENT_PATH, USERINFO_PATH, LOGOUT_PATH, OIDC_CALLBACK_PATH, SAML_ACS_PATH, SAML_METADATA_PATH, SAML_SLO_PATH } from './metadata.js';
export * as providerLimits from './limits.js';
export { browserCors, browserOrigins } from './cors.js';
export type { BrowserSession };

/**
 * What the broker's own pages (the approval console) use of the provider: the browser's broker
 * session, and a login through the broker's upstreams that comes back to one of their paths.
 */
export interface BrowserSignIn {
  session(request: Request, now: number): Promise<BrowserSession | undefined>;
  /** `returnTo`: a path on the broker (login-start.ts isLocalPath); `chooserHref` links each connection when discovery cannot pick one. */
  start(request: Request, input: { returnTo: string; connection?: string; chooserHref: (connectionId: string) => string }): Promise<Response>;
}

function isAbsoluteWithoutFragment(uri: string): boolean {
  if (uri.includes('#')) return false;
  try {
    const url = new URL(uri);
    return url.protocol.length > 1;
  } catch {
    return false;
  }
}

/**
 * What would make the provider misbehave, found before it serves a request: a client unknown to the
 * token endpoint or registered there with another method, a namespace not configured, scopes the
 * provider does not know, redirect URIs that are not absolute or carry a fragment.
 */
export function providerConfigProblems(deps: ProviderDeps): string[] {
  const problems: string[] = [];
  const authClients = new Map(deps.services.settings.clients.map((c) => [c.client_id, c]));
  for (const [id, c] of deps.clients) {
    const at = `provider client ${id}`;
    if (c.client_id !== id) problems.push(`${at}: keyed under another client_id (${c.client_id})`);
    const auth = authClients.get(c.client_id);
    if (!auth) problems.push(`${at}: not among the clients the token endpoint authenticates`);
    else if (auth.token_endpoint_auth_method !== c.token_endpoint_auth_method) problems.push(`${at}: token_endpoint_auth_method differs from the client registration`);
    if (!deps.services.namespaces.has(c.subject_namespace)) problems.push(`${at}: subject_namespace ${c.subject_namespace} is not configured`);
    if (!c.scopes.includes('openid')) problems.push(`${at}: scopes must include openid`);
    if (c.id_token_signed_response_alg !== undefined && !(ID_TOKEN_ALGS as readonly string[]).includes(c.id_token_signed_response_alg)) problems.push(`${at}: id_token_signed_response_alg ${c.id_token_signed_response_alg} is not supported (${ID_TOKEN_ALGS.join(' or ')})`);
    for (const s of c.scopes) if (!SUPPORTED_SCOPES.includes(s)) problems.push(`${at}: scope ${s} is not supported`);
    if (c.scopes.includes('offline_access') && !c.grant_types.includes('refresh_token')) problems.push(`${at}: offline_access needs the refresh_token grant`);
    if (!c.grant_types.includes('authorization_code')) problems.push(`${at}: grant_types must include authorization_code`);
    if (c.redirect_uris.length === 0) problems.push(`${at}: no redirect_uris`);
    for (const u of [...c.redirect_uris, ...c.post_logout_redirect_uris]) if (!isAbsoluteWithoutFragment(u)) problems.push(`${at}: ${u} is not an absolute URI without a fragment`);
  }
  return problems;
}

/**
 * Mounts the broker's OpenID Provider on `app`: /authorize (+ its consent form), /userinfo,
 * /revoke, /introspect, /logout, and the upstream login routes. The token endpoint grants are separate
 * (`providerGrants`), for the token endpoint's list. Throws on a configuration problem. Returns
 * the sign-in the broker's own pages use.
 */
export function mountProvider(app: Hono, deps: ProviderDeps): BrowserSignIn {
  const problems = providerConfigProblems(deps);
  if (problems.length > 0) throw new Error(`provider configuration: ${problems.join('; ')}`);
  const issuer = deps.services.settings.issuer;
  const p: Provider = { ...deps, issuer, cookies: cookiePolicy(issuer), consents: new ConsentMemory(), knownScopes: destinationScopes(deps.services.settings) };

  const source = (c: Context) => deps.sourceOf?.(c) ?? UNKNOWN_SOURCE;

  app.get(AUTHORIZE_PATH, (c) => authorizeEndpoint(p, c.req.raw, source(c)));
  app.post(AUTHORIZE_PATH, (c) => authorizeEndpoint(p, c.req.raw, source(c)));
  app.post(CONSENT_PATH, (c) => consentEndpoint(p, c.req.raw, source(c)));
  app.get(USERINFO_PATH, (c) => userinfoEndpoint(p, c.req.raw, source(c)));
  app.post(USERINFO_PATH, (c) => userinfoEndpoint(p, c.req.raw, source(c)));
  const revoke = revocationEndpoint(p);
  app.post(REVOCATION_PATH, (c) => revoke(c.req.raw, source(c)));
  app.all(REVOCATION_PATH, () => postOnly());
  const introspect = introspectionEndpoint(p);
  app.post(INTROSPECTION_PATH, (c) => introspect(c.req.raw, source(c)));
  app.all(INTROSPECTION_PATH, () => postOnly());
  app.get(LOGOUT_PATH, (c) => logoutEndpoint(p, c.req.raw, source(c)));
  app.post(LOGOUT_PATH, (c) => logoutEndpoint(p, c.req.raw, source(c)));
  app.get(OIDC_CALLBACK_PATH, (c) => oidcCallback(p, c.req.raw, c.req.param('id'), source(c)));
  app.post(SAML_ACS_PATH, (c) => samlAcs(p, c.req.raw, c.req.param('id'), source(c)));
  app.get(SAML_METADATA_PATH, (c) => samlMetadata(p, c.req.param('id')));
  app.get(SAML_SLO_PATH, (c) => samlSlo(p, c.req.raw, c.req.param('id'), source(c)));
  app.post(SAML_SLO_PATH, (c) => samlSlo(p, c.req.raw, c.req.param('id'), source(c)));
  return {
    session: (request, now) => currentSession(request, p.services, p.cookies, now),
    start: (request, input) => startReturningLogin(p, request, input),
  };
}

/**
 * The destination scopes the broker knows (any client's, any destination's translation; every
 * client's `delegated_scopes` is one of its destination scopes, as configuration checks): an app
 * asking for one it may not delegate is refused, where a value nobody knows is ignored.
 */
function destinationScopes(settings: BrokerSettings): ReadonlySet<string> {
  const scopes = new Set<string>();
  for (const c of settings.clients) for (const d of Object.values(c.destinations)) for (const scope of d.scopes) scopes.add(scope);
  for (const d of settings.destinations) for (const scope of Object.keys(d.scope_translation)) scopes.add(scope);
  return scopes;
}
