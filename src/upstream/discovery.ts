/**
 * IdP discovery: which upstream connection a login goes to. Pure, and protocol-blind: OIDC and
 * SAML connections alike are seen through the minimal shape below.
 *
 * Rules, in order:
 * 1. An explicit connection id wins. An unknown id is refused, never replaced by a guess: the
 *    caller asked for one IdP and must not be sent to another.
 * 2. Else the domain of a `login_hint` that looks like an email, matched case-insensitively and
 *    exactly (no subdomain matching) against each connection's `email_domains`. Two connections
 *    claiming the domain is a configuration conflict: ask rather than pick.
 * 3. Else the only connection, or the one marked `default`.
 * 4. Else the user must be asked.
 */

export type { DiscoverableConnection, DiscoveryConflict } from '../config/discovery-conflicts.js';
export { discoveryConflicts } from '../config/discovery-conflicts.js';
import type { DiscoverableConnection } from '../config/discovery-conflicts.js';

export interface DiscoveryInput {
  connectionId?: string;
  loginHint?: string;
}

export type DiscoveryResult<C extends DiscoverableConnection> =
  | { kind: 'chosen'; connection: C; by: 'connection_id' | 'email_domain' | 'only_connection' | 'default' }
  | { kind: 'ask'; reason: 'no_hint' | 'email_domain_ambiguous' | 'default_ambiguous' }
  | { kind: 'refused'; reason: 'unknown_connection' | 'no_connections' };

const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The domain of a login hint that looks like an email address, lower-cased; undefined otherwise.
 * The last `@` separates it, since a quoted local part may itself contain one.
 */
export function emailDomainOf(loginHint: string): string | undefined {
  const at = loginHint.lastIndexOf('@');
  if (at <= 0) return undefined;
  const domain = loginHint.slice(at + 1).toLowerCase();
  return domain.length <= 253 && DOMAIN.test(domain) ? domain : undefined;
}

function byEmailDomain<C extends DiscoverableConnection>(connections: readonly C[], domain: string): C[] {
  return connections.filter((c) => (c.email_domains ?? []).some((d) => d.toLowerCase() === domain));
}

function byDefault<C extends DiscoverableConnection>(connections: readonly C[]): DiscoveryResult<C> {
  const [only] = connections;
  if (connections.length === 1 && only) return { kind: 'chosen', connection: only, by: 'only_connection' };
  const marked = connections.filter((c) => c.default === true);
  const [chosen] = marked;
  if (marked.length === 1 && chosen) return { kind: 'chosen', connection: chosen, by: 'default' };
  return { kind: 'ask', reason: marked.length > 1 ? 'default_ambiguous' : 'no_hint' };
}

export function chooseConnection<C extends DiscoverableConnection>(connections: readonly C[], input: DiscoveryInput): DiscoveryResult<C> {
  if (input.connectionId !== undefined && input.connectionId !== '') {
    const named = connections.find((c) => c.id === input.connectionId);
    return named ? { kind: 'chosen', connection: named, by: 'connection_id' } : { kind: 'refused', reason: 'unknown_connection' };
  }
  if (connections.length === 0) return { kind: 'refused', reason: 'no_connections' };
  const domain = input.loginHint === undefined ? undefined : emailDomainOf(input.loginHint);
  if (domain !== undefined) {
    const matches = byEmailDomain(connections, domain);
    const [match] = matches;
    if (matches.length === 1 && match) return { kind: 'chosen', connection: match, by: 'email_domain' };
    if (matches.length > 1) return { kind: 'ask', reason: 'email_domain_ambiguous' };
  }
  return byDefault(connections);
}

