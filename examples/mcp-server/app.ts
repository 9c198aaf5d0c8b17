import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { Hono, type Context } from 'hono';
import {
  bearerChallenge,
  buildProtectedResourceMetadata,
  createAccessTokenVerifier,
  protectedResourceMetadataUrl,
  readBearerToken,
  type AccessTokenRejectionReason,
  type BearerErrorCode,
} from '../../src/destination/index.js';
import type { OAuthError } from '../../src/oauth/errors.js';
import { generateAccessTokenKey, type AccessTokenKey } from '../destination-as/access-token.js';
import { createDestinationAs, type BrokerTrust, type RegisteredClient } from '../destination-as/app.js';
import { NOTE_SCOPES, NoteBook, notesServer } from './tools.js';

export interface McpServerAppOptions {
  /**
   * The origin both roles share: the authorization server's issuer (the reference destination AS,
   * mounted at the root) and the MCP server's origin. The MCP endpoint is `<origin>/mcp`.
   */
  origin: string;
  /** Brokers whose ID-JAGs the AS redeems (issuer, and `jwks` or `jwksUri`). */
  brokers: readonly Pick<BrokerTrust, 'issuer' | 'jwks' | 'jwksUri'>[];
  /** MCP clients registered at the AS (`client_id` = the ID-JAG's `client_id`). */
  clients: readonly RegisteredClient[];
  /** Notes to start with, per account (broker issuer, `sub` in this server's namespace there). */
  notes?: readonly { broker: string; sub: string; text: string }[];
  /** The AS's access-token key; default a fresh ES256 key. The MCP server trusts its public half only. */
  accessTokenKey?: AccessTokenKey;
  now?: () => Date;
  /** Sees every refusal's internal reason: the AS's (OAuth error reason) and the MCP server's (access token). */
  onRefusal?: (reason: string) => void;
}

const MCP_PATH = '/mcp';
const INVALID_TOKEN_DESCRIPTION = 'The access token is not valid for this resource';

/**
 * The example MCP server behind the reference destination AS, on one origin:
 *
 * - the AS (examples/destination-as) at the root: RFC 8414 metadata, `/token` (jwt-bearer with an
 *   ID-JAG), `/jwks`; it mints RFC 9068 access tokens whose `aud` is the MCP endpoint;
 * - `GET /.well-known/oauth-protected-resource/mcp`: RFC 9728 metadata naming that AS;
 * - `/mcp`: Streamable HTTP (stateless, JSON responses; POST only, GET and DELETE 405); without a
 *   valid token for *this* resource, 401 with `WWW-Authenticate: Bearer resource_metadata="…"`
 *   (RFC 9728 §5.1).
 */
export async function createMcpServerApp(options: McpServerAppOptions): Promise<Hono> {
  const origin = new URL(options.origin).origin;
  const resource = `${origin}${MCP_PATH}`;
  const metadataUrl = protectedResourceMetadataUrl(resource);
  const metadata = buildProtectedResourceMetadata({
    resource,
    authorizationServers: [origin],
    scopesSupported: NOTE_SCOPES,
    resourceName: 'Notes (xaa-broker example MCP server)',
  });
  const key = options.accessTokenKey ?? (await generateAccessTokenKey());
  const now = options.now ?? (() => new Date());
  const authorizationServer = await createDestinationAs({
    issuer: origin,
    resource,
    scopes: NOTE_SCOPES,
    brokers: options.brokers,
    clients: options.clients,
    accessTokenKey: key,
    now,
    onRefusal: (error: OAuthError) => options.onRefusal?.(error.reason),
  });
  // The MCP server verifies with the AS's public keys, as it would across a network.
  const verifyAccessToken = createAccessTokenVerifier({ issuer: origin, resource, jwks: key.jwks, now });
  const notes = new NoteBook();
  for (const note of options.notes ?? []) notes.add(NoteBook.account(note.broker, note.sub), note.text);

  function challenge(c: Context, status: 400 | 401, error?: BearerErrorCode, reason?: AccessTokenRejectionReason | 'malformed_header'): Response {
    if (reason !== undefined) options.onRefusal?.(reason);
    const description = error === 'invalid_token' ? INVALID_TOKEN_DESCRIPTION : undefined;
    c.header('WWW-Authenticate', bearerChallenge({ resourceMetadata: metadataUrl, ...(error ? { error } : {}), ...(description ? { errorDescription: description } : {}) }));
    return error ? c.json({ error, ...(description ? { error_description: description } : {}) }, status) : c.body(null, status);
  }

  const app = new Hono();
  app.get(new URL(metadataUrl).pathname, (c) => c.json(metadata));

  app.all(MCP_PATH, async (c) => {
    const presented = readBearerToken(c.req.header('authorization'));
    // RFC 6750 §3.1: no credentials, a bare challenge; a malformed Bearer header, invalid_request.
    if ('missing' in presented) return challenge(c, 401);
    if ('malformed' in presented) return challenge(c, 400, 'invalid_request', 'malformed_header');
    const verdict = await verifyAccessToken(presented.token);
    if (!verdict.ok) return challenge(c, 401, 'invalid_token', verdict.reason);

    // Stateless: no sessions to end (DELETE) and no server-initiated stream (GET), which the
    // Streamable HTTP transport lets a server decline with 405.
    if (c.req.method !== 'POST') return c.body(null, 405, { Allow: 'POST' });

    const server = notesServer(notes, verdict.token);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    const authInfo = { token: presented.token, clientId: verdict.token.client_id, scopes: verdict.token.scopes, expiresAt: verdict.token.exp, resource: new URL(resource) };
    // JSON responses: the exchange is complete when handleRequest resolves, so this request's server can go.
    try {
      return await transport.handleRequest(c.req.raw, { authInfo });
    } finally {
      await server.close();
    }
  });

  app.route('/', authorizationServer);
  return app;
}
