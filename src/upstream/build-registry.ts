import type { ConnectionConfig } from '../config/schema.js';
import type { BrokerStore } from '../store/ports.js';
import type { Logger } from '../logger.js';
import { createOidcConnection } from './oidc/connection.js';
import type { OidcConnectionInput } from '../config/oidc-connection.js';
import { samlConnectionInputOf, type SamlConnectionInput } from '../config/saml-connection.js';
import type { OidcUpstream, SamlUpstream, UpstreamConnection, UpstreamRegistry } from './registry.js';

export interface RegistryDeps {
  store: BrokerStore;
  clock: () => number;
  fetch?: typeof fetch;
  /** Where upstream events without a request (a failed metadata refresh) are logged. */
  logger?: Logger;
  /**
   * Builds a SAML connection (upstream/saml/factory.ts; each runtime says where responses are
   * verified). Without it a configured SAML connection stops the broker from starting.
   */
  saml?: (config: SamlConnectionInput, common: Common, deps: RegistryDeps) => Promise<SamlUpstream>;
}

export type Common = Pick<UpstreamConnection, 'id' | 'displayName' | 'emailDomains' | 'isDefault'>;

/** Builds every configured upstream connection once, at start-up. */
export async function buildUpstreamRegistry(connections: readonly ConnectionConfig[], deps: RegistryDeps): Promise<UpstreamRegistry> {
  const built: UpstreamConnection[] = [];
  for (const c of connections) built.push(await buildOne(c, deps));
  const byId = new Map(built.map((c) => [c.id, c]));
  return { list: () => built, get: (id) => byId.get(id) };
}

async function buildOne(entry: ConnectionConfig, deps: RegistryDeps): Promise<UpstreamConnection> {
  const { type, display_name, authority: _authority, ...rest } = entry;
  const id = String(rest.id);
  const emailDomains = Array.isArray(rest.email_domains) ? rest.email_domains.map((d) => String(d).toLowerCase()) : [];
  const common: Common = { id, displayName: display_name ?? id, emailDomains, isDefault: rest.default === true };
  if (type === 'oidc') return oidcUpstream(rest as unknown as OidcConnectionInput, common, deps);
  if (!deps.saml) throw new Error(`connection "${id}": this runtime was started without SAML support`);
  return deps.saml(samlConnectionInputOf(entry), common, deps);
}

function oidcUpstream(config: OidcConnectionInput, common: Common, deps: RegistryDeps): OidcUpstream {
  const connection = createOidcConnection(config, {
    transactions: deps.store.logins,
    clock: deps.clock,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  return {
    ...common,
    kind: 'oidc',
    startLogin: (input) =>
      connection.startLogin({
        browserBinding: input.browserBinding,
        ...(input.continuation !== undefined ? { continuation: input.continuation } : {}),
        ...(input.loginHint !== undefined ? { loginHint: input.loginHint } : {}),
        ...(input.prompt !== undefined ? { prompt: input.prompt as never } : {}),
        ...(input.maxAge !== undefined ? { maxAge: input.maxAge } : {}),
      }),
    finishLogin: (url, ctx) => connection.finishLogin(url, ctx),
  };
}
