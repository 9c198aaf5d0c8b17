import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JSONWebKeySet } from 'jose';
import { MAX_BODY_BYTES } from '../../src/constants.js';
import {
  InvalidClient,
  InvalidDpopProof,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  OAuthError,
  PayloadTooLarge,
  ServerError,
} from '../../src/oauth/errors.js';
import {
  DPOP_ALGORITHMS,
  JWT_BEARER_GRANT_TYPE,
  JWT_DPOP_GRANT_TYPE,
  MemoryReplayStore,
  createDpopVerifier,
  TOKEN_EXCHANGE_GRANT_TYPE,
  checkResourceIndicator,
  createIdJagVerifier,
  createReferenceRedeemer,
  parseJwtBearerRequest,
  parseReferenceExchangeRequest,
  type BrokerBackChannel,
  type ReferenceRedeemer,
  type IdJagClaims,
  type ReplayStore,
  type TrustedIssuer,
} from '../../src/destination/index.js';
import {
  ACCESS_TOKEN_LIFETIME,
  generateAccessTokenKey,
  mintAccessToken,
  verifyAccessToken,
  type AccessTokenKey,
} from './access-token.js';
import { authenticateClient, type RegisteredClient } from './client-auth.js';

export type { RegisteredClient } from './client-auth.js';

/** A broker this destination trusts, with its keys inline or at its `jwks_uri`. */
export interface BrokerTrust {
  issuer: string;
  jwks?: JSONWebKeySet;
  jwksUri?: string | URL;
  /**
   * Todo lists of this broker's people, keyed by `sub` in this destination's namespace at that
   * broker. Accounts are keyed on (`iss`, `sub`): a `sub` is unique only within its issuer, so the
   * same `sub` from another trusted broker is another person.
   */
  todos?: Readonly<Record<string, readonly Todo[]>>;
  /**
   * Resource-pulled profile: this AS's back-channel client at the broker, to redeem ID-JAG
   * references clients present here. Without it, references from this broker are refused.
   */
  backChannel?: Omit<BrokerBackChannel, 'issuer'>;
}

export interface Todo {
  id: string;
  title: string;
  done: boolean;
}

export interface DestinationAsOptions {
  /** This AS's issuer identifier, an origin such as `https://todo.example`. ID-JAGs must name it in `aud`. */
  issuer: string;
  brokers: readonly BrokerTrust[];
  clients: readonly RegisteredClient[];
  now?: () => Date;
  /** The resource its access tokens are for (their `aud`; an ID-JAG's `resource` must name it). Default `<issuer>/api`. */
  resource?: string;
  /** Scopes this AS can grant. Default `todos.read todos.write`. */
  scopes?: readonly string[];
  /** Default: in memory, which is right for one process only. */
  replayStore?: ReplayStore;
  /** Signing key for access tokens. Default: a fresh ES256 key. */
  accessTokenKey?: AccessTokenKey;
  /** Sees every refusal with its internal reason and detail; the wire carries neither. */
  onRefusal?: (error: OAuthError) => void;
  /** Used to redeem references at the brokers; default the global fetch. */
  fetch?: typeof fetch;
}

const DEFAULT_SCOPES = ['todos.read', 'todos.write'];
/** Draft -03 §7: the grant profile a Resource Authorization Server advertises in its metadata. */
const ID_JAG_GRANT_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** An account: the person `sub` as named by the broker `iss` (never `sub` alone). */
function accountKey(iss: string, sub: string): string {
  return JSON.stringify([iss, sub]);
}

function originIssuer(issuer: string): string {
  const url = new URL(issuer);
  if (url.pathname !== '/' || url.search || url.hash) {
    throw new TypeError('this reference AS serves its endpoints at the root: issuer must be an origin');
  }
  return url.origin;
}

function toTrustedIssuer({ issuer, jwks, jwksUri }: BrokerTrust): TrustedIssuer {
  if ((jwks === undefined) === (jwksUri === undefined)) {
    throw new TypeError(`broker ${issuer}: give exactly one of jwks or jwksUri`);
  }
  return { issuer, jwks: jwks ?? new URL(jwksUri!) };
}

function scopeList(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

/**
 * This AS's own policy: it grants what the broker granted, narrowed to what this AS knows and,
 * if the client asked for less, to what it asked for. Never more than the ID-JAG carries.
 */
function grantedScope(grant: IdJagClaims, requested: string | undefined, known: readonly string[]): string {
  const requestedScopes = requested === undefined ? undefined : scopeList(requested);
  const granted = scopeList(grant.scope).filter(
    (scope) => known.includes(scope) && (requestedScopes === undefined || requestedScopes.includes(scope)),
  );
  if (granted.length === 0) throw new InvalidScope('no_scope_granted', 'No requested scope can be granted');
  return [...new Set(granted)].join(' ');
}

/**
 * An ID-JAG that names a resource must name ours; otherwise it was minted for another API.
 * Returns the resource granted, for the token response (draft -03 §4.4.1), or undefined when
 * the ID-JAG named none.
 */
function grantedResource(grant: IdJagClaims, resource: string): string | undefined {
  if (grant.resource === undefined) return undefined;
  const resources = typeof grant.resource === 'string' ? [grant.resource] : grant.resource;
  if (!resources.includes(resource)) {
    throw new InvalidGrant('resource_audience_mismatch', 'The assertion is not valid for this authorization server');
  }
  return resource;
}

/**
 * Draft -03 §4.4.1: authorization details in the ID-JAG must each be processed. This AS
 * understands no authorization details type, so it cannot honour any and must not ignore them.
 */
function checkAuthorizationDetails(grant: IdJagClaims): void {
  const details = grant.authorization_details;
  if (details === undefined || details.length === 0) return;
  throw new InvalidGrant(
    'authorization_details_unsupported',
    'The assertion is not valid for this authorization server',
    `authorization_details_unsupported: ${[...new Set(details.map((detail) => detail.type))].join(' ')}`,
  );
}

/** RFC 6749 §5.1: token responses, errors included, must not be cached. */
function noStore(c: Context): void {
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
}

async function readForm(request: Request): Promise<URLSearchParams> {
  if (!FORM_CONTENT_TYPE.test(request.headers.get('content-type') ?? '')) {
    throw new InvalidRequest('bad_content_type', 'Expected application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await request.text());
}

/** RFC 6750 §2.1 `Bearer` or RFC 9449 §7.1 `DPoP`: the scheme, and the token68 it carries. */
function accessTokenOf(authorization: string | undefined): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '');
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/**
 * Builds the reference destination authorization server: it redeems ID-JAGs with the
 * jwt-bearer grant (caller-pushed profile) or ID-JAG references by token exchange, redeemed at
 * the broker over its back channel (resource-pulled profile), and mints its own RFC 9068 access
 * tokens for a small todo API.
 *
 * Routes: `GET /.well-known/oauth-authorization-server`, `GET /jwks`, `POST /token`,
 * `GET /api/todos`.
 */
export async function createDestinationAs(options: DestinationAsOptions): Promise<Hono> {
  const issuer = originIssuer(options.issuer);
  const apiAudience = options.resource ?? `${issuer}/api`;
  const now = options.now ?? (() => new Date());
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  const clients = new Map(options.clients.map((client) => [client.client_id, client]));
  const todos = new Map<string, readonly Todo[]>();
  for (const b of options.brokers) for (const [sub, list] of Object.entries(b.todos ?? {})) todos.set(accountKey(b.issuer, sub), list);
  const key = options.accessTokenKey ?? (await generateAccessTokenKey());
  const replayStore = options.replayStore ?? new MemoryReplayStore({ now });
  const verifyIdJag = createIdJagVerifier({
    audience: issuer,
    trustedIssuers: options.brokers.map(toTrustedIssuer),
    replayStore,
    now,
  });
  // DPoP (docs/dpop.md): proofs at /token (a key-bound ID-JAG) and at the API (a DPoP-bound access token).
  const verifyDpop = createDpopVerifier({ replayStore, now });
  // Resource-pulled profile: one redeemer per broker with a back channel, all ending in the same verifier.
  const redeemers = new Map<string, ReferenceRedeemer>();
  for (const b of options.brokers) {
    if (!b.backChannel) continue;
    redeemers.set(b.issuer, createReferenceRedeemer({ broker: { ...b.backChannel, issuer: b.issuer }, verifyIdJag, now, ...(options.fetch ? { fetch: options.fetch } : {}) }));
  }

  /**
   * A reference carries nothing that says which broker issued it: it is redeemed at the broker the
   * presenting client is registered through (`RegisteredClient.broker`), or the only one there is.
   */
  function redeemerFor(clientId: string): ReferenceRedeemer {
    const registered = clients.get(clientId)?.broker;
    const redeemer = registered !== undefined ? redeemers.get(registered) : redeemers.size === 1 ? [...redeemers.values()][0] : undefined;
    if (!redeemer) throw new InvalidGrant('destination_not_pulled', 'The reference is not valid for this authorization server', `no back channel for client ${clientId}`);
    return redeemer;
  }

  /** RFC 6749 §5.2. Only the code and a generic description leave; the reason goes to `onRefusal`. */
  function tokenError(c: Context, caught: unknown): Response {
    const error =
      caught instanceof OAuthError
        ? caught
        : new ServerError('internal_error', undefined, caught instanceof Error ? caught.message : String(caught));
    options.onRefusal?.(error);
    noStore(c);
    if (error instanceof InvalidClient && error.usedBasic) {
      c.header('WWW-Authenticate', `Basic realm="${issuer}", charset="UTF-8"`);
    }
    const body = error.description === undefined ? { error: error.code } : { error: error.code, error_description: error.description };
    return c.json(body, error.status as ContentfulStatusCode);
  }

  /**
   * RFC 6750 §3 (and RFC 9449 §7.1 for the DPoP scheme): a challenge names the failure; the body
   * repeats it for humans. A DPoP challenge lists the proof algorithms accepted.
   */
  function bearerError(c: Context, status: 401 | 403, error?: 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof', scheme: 'Bearer' | 'DPoP' = 'Bearer'): Response {
    const params = [`realm="${issuer}"`];
    if (error) params.push(`error="${error}"`);
    if (error === 'insufficient_scope') params.push('scope="todos.read"');
    if (scheme === 'DPoP') params.push(`algs="${DPOP_ALGORITHMS.join(' ')}"`);
    c.header('WWW-Authenticate', `${scheme} ${params.join(', ')}`);
    // §3.1: a request that carried no token gets a bare challenge, no error code.
    return error ? c.json({ error }, status) : c.body(null, status);
  }

  const app = new Hono();

  app.get('/.well-known/oauth-authorization-server', (c) =>
    c.json({
      issuer,
      token_endpoint: `${issuer}/token`,
      // Not needed by RFC 8414 without an authorization-code grant, but the MCP client SDK requires it (docs/mcp.md).
      authorization_endpoint: `${issuer}/authorize`,
      jwks_uri: `${issuer}/jwks`,
      grant_types_supported: redeemers.size > 0 ? [JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE] : [JWT_BEARER_GRANT_TYPE, JWT_DPOP_GRANT_TYPE],
      // RFC 9449 §5.1: this AS checks DPoP proofs and issues DPoP-bound access tokens.
      dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      authorization_grant_profiles_supported: [ID_JAG_GRANT_PROFILE],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: scopes,
      // Required by RFC 8414; empty because this AS has no authorization endpoint.
      response_types_supported: [],
    }),
  );

  app.get('/jwks', (c) => c.json(key.jwks));

  // RFC 6749 §4.1.2.1: no client has a redirect URI here, so every request is refused in place.
  app.get('/authorize', (c) => c.json({ error: 'unsupported_response_type', error_description: 'This authorization server has no authorization endpoint flow' }, 400));

  app.post(
    '/token',
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => tokenError(c, new PayloadTooLarge('body_too_large')) }),
    async (c) => {
      try {
        const form = await readForm(c.req.raw);
        const clientId = await authenticateClient(clients, c.req.header('authorization'), form);
        checkResourceIndicator(form, [apiAudience]); // RFC 8707: before the grant, so a wrong resource spends no ID-JAG
        // A DPoP proof, when there is one, is checked whatever the grant: its key binds what is issued.
        const dpop = c.req.raw.headers.has('dpop') ? await verifyDpop({ header: c.req.header('dpop'), method: 'POST', url: `${issuer}/token` }) : undefined;
        // Both profiles end in the same validated ID-JAG claims; everything after is shared.
        const pulled = form.get('grant_type') === TOKEN_EXCHANGE_GRANT_TYPE && redeemers.size > 0;
        let grant: IdJagClaims;
        let requestedScope: string | undefined;
        if (pulled) {
          const request = parseReferenceExchangeRequest(form);
          grant = await redeemerFor(clientId)(request.reference, { clientId });
          requestedScope = request.scope;
        } else {
          const request = parseJwtBearerRequest(form);
          // The jwt-dpop grant is proof of possession by definition: without a proof it is no grant.
          if (request.grantType === JWT_DPOP_GRANT_TYPE && !dpop) throw new InvalidGrant('dpop_missing', 'Proof of possession required for this authorization grant');
          grant = await verifyIdJag(request.assertion, { clientId, ...(dpop ? { dpop } : {}) });
          requestedScope = request.scope;
        }
        const resource = grantedResource(grant, apiAudience);
        checkAuthorizationDetails(grant);
        const scope = grantedScope(grant, requestedScope, scopes);
        // ID-JAG draft: the access token is bound to the key the client proved (the ID-JAG's, if it was bound).
        const accessToken = await mintAccessToken(key, { issuer, audience: apiAudience, grant, scope, now: now(), ...(dpop ? { jkt: dpop.jkt } : {}) });
        noStore(c);
        // RFC 8693 §2.2.1: a token exchange response says what it issued; RFC 9449 §5: a bound token is of type DPoP.
        const body = { access_token: accessToken, ...(pulled ? { issued_token_type: ACCESS_TOKEN_TYPE } : {}), token_type: dpop ? 'DPoP' : 'Bearer', expires_in: ACCESS_TOKEN_LIFETIME, scope };
        // Draft -03 §4.4.1: the granted resource (if any) goes in the response alongside scope.
        return c.json(resource === undefined ? body : { ...body, resource });
      } catch (error) {
        return tokenError(c, error);
      }
    },
  );

  app.get('/api/todos', async (c) => {
    const presented = accessTokenOf(c.req.header('authorization'));
    if (presented === undefined) return bearerError(c, 401);
    const { scheme, token } = presented;
    let claims;
    try {
      claims = await verifyAccessToken(key, token, { issuer, audience: apiAudience, now: now() });
    } catch {
      return bearerError(c, 401, 'invalid_token', scheme);
    }
    // RFC 9449 §7: a bound token only under the DPoP scheme (§7.2: never as Bearer), an unbound one never under it.
    if ((claims.jkt !== undefined) !== (scheme === 'DPoP')) return bearerError(c, 401, 'invalid_token', claims.jkt !== undefined ? 'DPoP' : scheme);
    if (claims.jkt !== undefined) {
      try {
        const proof = await verifyDpop({ header: c.req.header('dpop'), method: 'GET', url: `${issuer}/api/todos`, accessToken: token });
        if (proof.jkt !== claims.jkt) return bearerError(c, 401, 'invalid_token', 'DPoP');
      } catch (error) {
        if (!(error instanceof InvalidDpopProof)) throw error;
        return bearerError(c, 401, 'invalid_dpop_proof', 'DPoP');
      }
    }
    if (!claims.scopes.includes('todos.read')) return bearerError(c, 403, 'insufficient_scope', scheme);
    return c.json({ sub: claims.sub, todos: todos.get(accountKey(claims.subjectIssuer, claims.sub)) ?? [] });
  });

  return app;
}
