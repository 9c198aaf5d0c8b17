import { z } from 'zod';
import { isLoopback, parsedUrl, webUrl } from './urls.js';
import { OIDC_HTTP_TIMEOUT, OIDC_HTTP_TIMEOUT_MAX } from '../constants.js';

/**
 * One upstream OpenID Provider the broker federates. Unknown keys are mistakes, not extensions.
 * HTTP (not HTTPS) is accepted only for loopback hosts and only when the connection says so, for
 * tests and the demo.
 */

/** Scope tokens per RFC 6749 §3.3 (NQCHAR, no spaces). */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token');

/** A DNS name with at least one dot, compared lower-case (IDNs are written in their A-label form). */
const emailDomain = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'not a domain name')
  .transform((d) => d.toLowerCase());

/** OIDC Core §5.5: each requested claim is null (default) or an object saying how. */
const claimRequest = z
  .object({
    essential: z.boolean().optional(),
    value: z.unknown().optional(),
    values: z.array(z.unknown()).optional(),
  })
  .strict()
  .nullable();
const claimsRequest = z
  .object({
    id_token: z.record(z.string(), claimRequest).optional(),
    userinfo: z.record(z.string(), claimRequest).optional(),
  })
  .strict();

export const oidcClientAuthMethods = ['client_secret_basic', 'client_secret_post', 'none'] as const;

export const oidcConnectionSchema = z
  .object({
    /** Appears in the callback path and the audit log. */
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, _ and -, at most 64'),
    /** The OP's Issuer Identifier: discovery is read from it and every `iss` must equal it. */
    issuer: webUrl,
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    client_auth: z.enum(oidcClientAuthMethods).default('client_secret_basic'),
    scopes: z.array(scopeToken).min(1).default(['openid', 'email', 'profile']),
    /** Fetch userinfo after the code exchange and merge it under the ID token's claims. */
    use_userinfo: z.boolean().default(false),
    /** The broker's callback URL for this connection, exactly as registered at the OP. */
    redirect_uri: webUrl.refine((u) => !u.includes('?'), 'must not contain a query'),
    /** For IdP discovery: a login_hint at one of these domains picks this connection. */
    email_domains: z.array(emailDomain).default([]),
    /** Picked when no connection id or email domain decides (IdP discovery). */
    default: z.boolean().default(false),
    /** Only for issuers (and redirect URIs) on localhost: tests and the demo. */
    allow_insecure_http_for_loopback: z.boolean().default(false),
    /** OIDC Core §5.5 `claims` request parameter, sent as is. */
    claims: claimsRequest.optional(),
    /** Timeout for each request to the OP, in seconds. */
    timeout_seconds: z.number().positive().max(OIDC_HTTP_TIMEOUT_MAX).default(OIDC_HTTP_TIMEOUT),
  })
  .strict()
  .refine((c) => c.scopes.includes('openid'), { message: 'scopes must include openid', path: ['scopes'] })
  .refine((c) => (c.client_auth === 'none') === (c.client_secret === undefined), {
    message: 'client_secret is required for client_secret_basic and client_secret_post, and must be absent for none',
    path: ['client_secret'],
  })
  .superRefine((c, ctx) => {
    for (const key of ['issuer', 'redirect_uri'] as const) {
      const url = parsedUrl(c[key]);
      if (!url || url.protocol === 'https:') continue;
      if (!isLoopback(url.hostname)) ctx.addIssue({ code: 'custom', path: [key], message: 'must be https (http only for loopback hosts)' });
      else if (!c.allow_insecure_http_for_loopback) ctx.addIssue({ code: 'custom', path: [key], message: 'http needs allow_insecure_http_for_loopback' });
    }
  });

export type OidcConnectionInput = z.input<typeof oidcConnectionSchema>;
export type OidcConnectionConfig = z.output<typeof oidcConnectionSchema>;
