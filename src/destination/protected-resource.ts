/**
 * The resource server's side of discovery: RFC 9728 protected resource metadata and the
 * `WWW-Authenticate: Bearer resource_metadata="…"` challenge (RFC 9728 §5.1, RFC 6750 §3) that
 * lead a client (an MCP client, for instance) from a 401 to the authorization server that mints
 * tokens for this resource. Pure functions; a mistake in what they are given is a `TypeError`,
 * never a malformed document or header on the wire.
 */

/** RFC 9728 §3: the well-known URI suffix under which the metadata is published. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** RFC 6750 §2: where a client may put the token. This kit's helpers read the header only. */
export type BearerMethod = 'header' | 'body' | 'query';

export interface ProtectedResourceMetadataInput {
  /** The resource identifier: an absolute `https` URL (plain `http` on loopback only), no fragment. */
  resource: string;
  /** Issuer identifiers of the authorization servers that mint tokens for this resource (at least one). */
  authorizationServers: readonly string[];
  /** Scopes a client may ask for to reach this resource. */
  scopesSupported?: readonly string[];
  /** Default `['header']`: query and body tokens leak into logs and are best not offered. */
  bearerMethodsSupported?: readonly BearerMethod[];
  resourceName?: string;
  resourceDocumentation?: string;
  /** Only for a resource that signs its responses; an access token's keys are its AS's business. */
  jwksUri?: string;
}

/** RFC 9728 §2, as this kit publishes it. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: BearerMethod[];
  resource_name?: string;
  resource_documentation?: string;
  jwks_uri?: string;
}

/** RFC 6761 §6.3 and the loopback address blocks: where plain `http` carries no token off the machine. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

/**
 * An absolute web URL a client will send tokens to or fetch metadata from: `https`, or `http`
 * on loopback for development; no credentials, no fragment.
 */
export function webUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${what} must be an absolute URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new TypeError(`${what} must use https (plain http only on loopback): ${value}`);
  }
  if (url.username || url.password) throw new TypeError(`${what} must not carry credentials`);
  if (url.hash || value.includes('#')) throw new TypeError(`${what} must not have a fragment: ${value}`);
  return url;
}

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function scopeTokens(scopes: readonly string[], what: string): string[] {
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`${what}: ${JSON.stringify(scope)} is not a scope token (RFC 6749 §3.3)`);
  }
  return [...scopes];
}

/**
 * Builds the RFC 9728 §2 document to serve (as JSON) at {@link protectedResourceMetadataUrl}.
 *
 * @throws {TypeError} when the resource or an authorization server is not an `https` (or
 *   loopback `http`) URL, an authorization server has a query or fragment (an issuer has
 *   neither, RFC 8414 §2), no authorization server or no bearer method is given, or a scope is
 *   not a scope token.
 */
export function buildProtectedResourceMetadata(input: ProtectedResourceMetadataInput): ProtectedResourceMetadata {
  webUrl(input.resource, 'resource');
  if (input.authorizationServers.length === 0) throw new TypeError('name at least one authorization server');
  for (const issuer of input.authorizationServers) {
    if (webUrl(issuer, 'authorization server').search || issuer.includes('?')) throw new TypeError(`authorization server must be an issuer identifier, without a query: ${issuer}`);
  }
  const methods = input.bearerMethodsSupported ?? ['header'];
  if (methods.length === 0) throw new TypeError('list at least one bearer method');
  const metadata: ProtectedResourceMetadata = {
    resource: input.resource,
    authorization_servers: [...input.authorizationServers],
    bearer_methods_supported: [...methods],
  };
  if (input.scopesSupported !== undefined) metadata.scopes_supported = scopeTokens(input.scopesSupported, 'scopesSupported');
  if (input.resourceName !== undefined) metadata.resource_name = input.resourceName;
  if (input.resourceDocumentation !== undefined) metadata.resource_documentation = webUrl(input.resourceDocumentation, 'resourceDocumentation').href;
  if (input.jwksUri !== undefined) metadata.jwks_uri = webUrl(input.jwksUri, 'jwksUri').href;
  return metadata;
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource is its origin, then the well-known suffix, then
 * its path (a lone `/` dropped) and query. `https://mcp.example/mcp` →
 * `https://mcp.example/.well-known/oauth-protected-resource/mcp`.
 *
 * @throws {TypeError} when `resource` is not a resource identifier (see {@link buildProtectedResourceMetadata}).
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = webUrl(resource, 'resource');
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/** RFC 6750 §3.1 error codes a resource server returns. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

const BEARER_ERRORS: ReadonlySet<string> = new Set<BearerErrorCode>(['invalid_request', 'invalid_token', 'insufficient_scope']);

export interface BearerChallengeInput {
  /** The metadata URL ({@link protectedResourceMetadataUrl}); RFC 9728 §5.1 `resource_metadata`. */
  resourceMetadata: string;
  /** Omit when the request carried no token at all (RFC 6750 §3.1). */
  error?: BearerErrorCode;
  /** For humans; RFC 6750 §3 restricts it to printable ASCII without `"` and `\`. */
  errorDescription?: string;
  /** The scope the request needs, with `insufficient_scope`. */
  scope?: readonly string[];
  realm?: string;
}

/** RFC 6750 §3: realm and error_description values are %x20-21 / %x23-5B / %x5D-7E. */
const QUOTABLE = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

function quoted(name: string, value: string): string {
  if (!QUOTABLE.test(value)) throw new TypeError(`${name} holds a character a challenge cannot carry (RFC 6750 §3)`);
  return `${name}="${value}"`;
}

/**
 * Builds the value of the `WWW-Authenticate` header for a 401 (or, with `insufficient_scope`, a
 * 403) from a protected resource: `Bearer resource_metadata="…"` plus the RFC 6750 error
 * attributes that apply.
 *
 * @throws {TypeError} when a value would break the header (quotes, backslashes, control
 *   characters), the metadata URL is not an `https` (or loopback `http`) URL, or the error code
 *   is not one of RFC 6750's.
 */
export function bearerChallenge(input: BearerChallengeInput): string {
  const params: string[] = [];
  if (input.realm !== undefined) params.push(quoted('realm', input.realm));
  webUrl(input.resourceMetadata, 'resource_metadata');
  params.push(quoted('resource_metadata', input.resourceMetadata));
  if (input.error !== undefined) {
    if (!BEARER_ERRORS.has(input.error)) throw new TypeError(`error must be one of RFC 6750's codes, not ${JSON.stringify(input.error)}`);
    params.push(`error="${input.error}"`);
  }
  if (input.errorDescription !== undefined) params.push(quoted('error_description', input.errorDescription));
  if (input.scope !== undefined) {
    if (input.scope.length === 0) throw new TypeError('scope, when given, names at least one scope');
    params.push(`scope="${scopeTokens(input.scope, 'scope').join(' ')}"`);
  }
  return `Bearer ${params.join(', ')}`;
}

/** What an `Authorization` header held: a bearer token, nothing, or a Bearer credential that is malformed. */
export type BearerTokenPresented = { token: string } | { missing: true } | { malformed: true };

/** RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * Reads the bearer token from an `Authorization` header. No header, or another scheme, is
 * `missing` (answer with a bare challenge); a `Bearer` header that is not one b64token is
 * `malformed` (answer `invalid_request`).
 */
export function readBearerToken(authorization: string | null | undefined): BearerTokenPresented {
  if (!authorization || !/^Bearer(\s|$)/i.test(authorization)) return { missing: true };
  const token = BEARER.exec(authorization)?.[1];
  return token === undefined ? { malformed: true } : { token };
}
