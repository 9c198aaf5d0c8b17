import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { CORS_MAX_AGE } from './limits.js';
import type { ProviderClient } from './types.js';

/**
 * CORS for browser apps (single-page apps, public clients) on the endpoints they call cross-origin:
 * discovery, the JWKS, /token and /userinfo. Only listed origins get `Access-Control-Allow-Origin`,
 * echoed exactly (never `*`), and never with credentials: these endpoints take a Bearer token or
 * client credentials in the request, never cookies.
 */

/** The origins browser apps call from: those of the OIDC clients' http(s) redirect URIs, and the configured ones. */
export function browserOrigins(clients: Iterable<Pick<ProviderClient, 'redirect_uris'>>, configured: readonly string[]): ReadonlySet<string> {
  const origins = new Set(configured);
  for (const client of clients) {
    for (const uri of client.redirect_uris) {
      // A native app's private-use scheme has the opaque origin "null": no browser origin to allow.
      const origin = URL.canParse(uri) ? new URL(uri).origin : 'null';
      if (origin !== 'null') origins.add(origin);
    }
  }
  return origins;
}

/**
 * The middleware for one endpoint, answering preflights for `methods`.
 *
 * `cacheable`: the endpoint's answers may be stored by shared caches (discovery, the JWKS), so
 * every answer says `Vary: Origin`, browser or not. The others (`/token`, `/userinfo`) answer
 * `no-store`; a request without an `Origin` (a server-side client: nearly all token requests)
 * passes by untouched: a header added after the handler makes Hono rebuild the response as a
 * streamed one, which the Node adapter can no longer write out in one go.
 */
export function browserCors(origins: ReadonlySet<string>, methods: readonly string[], { cacheable }: { cacheable: boolean }): MiddlewareHandler {
  const middleware = cors({
    origin: (origin) => (origins.has(origin) ? origin : null),
    allowMethods: [...methods],
    // DPoP: a browser client sends its proof (RFC 9449 §4.1) and must read the server's nonce (§8).
    allowHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    // A browser app reads the Bearer challenge of /userinfo and the Basic one of /token, the DPoP nonce, and the id to report.
    exposeHeaders: ['WWW-Authenticate', 'DPoP-Nonce', 'X-Request-Id'],
    maxAge: CORS_MAX_AGE,
    credentials: false,
  });
  if (cacheable) return middleware;
  // OPTIONS is always answered by the middleware: a preflight, or a caller probing what is allowed.
  return (c, next) => (c.req.header('origin') === undefined && c.req.method !== 'OPTIONS' ? next() : middleware(c, next));
}
