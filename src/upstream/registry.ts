import type { CompletedLogin } from '../identity/types.js';
import type { MetadataStatus } from './saml/metadata-status.js';
import type { SamlSingleLogout } from './saml/logout-types.js';

/**
 * The upstream connections the broker can send a browser to, whatever their protocol. The
 * provider (src/provider) speaks only this; config wiring builds it from OIDC and SAML
 * connections.
 */
interface ConnectionBase {
  id: string;
  displayName: string;
  emailDomains: string[];
  isDefault: boolean;
}

export interface OidcUpstream extends ConnectionBase {
  kind: 'oidc';
  startLogin(input: { browserBinding: string; continuation?: string; loginHint?: string; prompt?: string; maxAge?: number }): Promise<{ transactionId: string; redirectUrl: URL }>;
  /** `callbackUrl` is the full URL the upstream redirected the browser to. */
  finishLogin(callbackUrl: URL, ctx: { browserBinding: string }): Promise<CompletedLogin>;
}

export interface SamlUpstream extends ConnectionBase {
  kind: 'saml';
  /**
   * `forceAuthn` asks the IdP to re-authenticate (prompt=login or max_age at the broker). Without
   * `binding`, the connection's own choice (what the IdP offers, or `sso_binding`).
   */
  startLogin(input: { binding?: 'redirect' | 'post'; browserBinding: string; continuation?: string; forceAuthn?: boolean }): Promise<{
    transactionId: string;
    redirectUrl?: string;
    postForm?: { action: string; fields: Record<string, string> };
  }>;
  /** The ACS: the HTTP-POST binding's form fields. `browserBinding` is absent for IdP-initiated logins. */
  consumeResponse(body: { SAMLResponse?: string; RelayState?: string }, ctx: { browserBinding?: string }): Promise<CompletedLogin>;
  spMetadata(): string;
  /** The IdP metadata's lifecycle (saml/metadata-source.ts): refresh when due, and its status. */
  metadata?: { refreshIfDue(now: number): Promise<MetadataStatus>; status(now: number): MetadataStatus };
  /** SAML Single Logout (docs/saml.md#single-logout); absent when the connection has no SLO URL. */
  logout?: SamlSingleLogout;
}

export type UpstreamConnection = OidcUpstream | SamlUpstream;

export interface UpstreamRegistry {
  list(): readonly UpstreamConnection[];
  get(id: string): UpstreamConnection | undefined;
}

/**
 * The maintenance run's share of the upstreams: every SAML connection's metadata refreshed if due
 * (a failure keeps the last good copy and is reported, never thrown), and each one's status.
 */
export async function refreshUpstreamMetadata(registry: UpstreamRegistry, now: number): Promise<MetadataStatus[]> {
  const out: MetadataStatus[] = [];
  for (const c of registry.list()) if (c.kind === 'saml' && c.metadata) out.push(await c.metadata.refreshIfDue(now));
  return out;
}

/** Thrown by a connection when a login fails; `reason` is internal (audited), never shown. */
export interface UpstreamLoginFailure extends Error {
  connectionId: string;
  reason: string;
}
