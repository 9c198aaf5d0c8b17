import { Hono, type Context } from 'hono';
import { errors as joseErrors } from 'jose';
import type { BrokerConfig, BrokerSettings } from './config/schema.js';
import { ClientAuthenticator } from './clients/authenticate.js';
import { indexDestinations } from './exchange/destination.js';
import { dpopNonceSource } from './exchange/dpop.js';
import { IdTokenVerifier, type TrustedIssuer } from './upstream/id-token.js';
import { createExchangeGrant } from './exchange/pulled.js';
import type { JwsCrypto } from './minting/jws.js';
import { sha256Base64url } from './provider/crypto.js';
import type { BodyReader } from './http/form.js';
import type { SecretMac } from './clients/authenticate.js';
import { deferredGrant } from './exchange/deferred.js';
import type { SamlSubjectTokenVerifierFactory } from './exchange/saml2.js';
import { NO_STORE } from './http/errors.js';
import { requestSource } from './http/source.js';
import { JWKS_PUBLIC_MAX_AGE } from './constants.js';
import { systemClock } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import { SubjectResolver } from './mapping/resolve.js';
import { KeyRing, type SigningAlg } from './minting/keys.js';
import { JWKS_PATH, serverMetadata, TOKEN_PATH } from './server/metadata.js';
import { browserCors, browserOrigins, mountProvider, providerGrants, USERINFO_PATH, type ProviderClient, type ProviderDeps } from './provider/index.js';
import { buildUpstreamRegistry, type RegistryDeps } from './upstream/build-registry.js';
import { refreshUpstreamMetadata } from './upstream/registry.js';
import { tokenEndpoint } from './server/token-endpoint.js';
import { boundedAudit } from './audit/record.js';
import { createMaintenance, type Maintenance } from './audit/maintenance.js';
import { RefusalSummaries } from './audit/summary.js';
import { createPolicyEngine } from './policy/cedar-engine.js';
import type { CedarModule } from './policy/types.js';
import type { BrokerServices, TokenDigest } from './grants/services.js';
import type { BrokerStore, TableRow } from './store/ports.js';
import { upstreamKeyResolver, type Fetch } from './upstream/jwks.js';
import { UpstreamTrust } from './trust/registry.js';
import { mountAuthzen } from './authzen/index.js';
import { mountConsole } from './console/index.js';

export interface BrokerDeps {
  config: BrokerConfig;
  store: BrokerStore;
  /** @cedar-policy/cedar-wasm, the build that suits the runtime. */
  cedar: CedarModule;
  /** Seconds since epoch. */
  clock?: () => number;
  logger?: Logger;
  /** Used for upstream JWKS; tests pass their own. */
  fetch?: Fetch;
  /** Builds SAML upstream connections (upstream/saml/factory.ts; runtime/node-saml.ts, runtime/worker-saml.ts). */
  saml?: RegistryDeps['saml'];
  /** Verifies SAML assertions presented as `saml2` subject tokens; a runtime supplies it when a SAML connection is configured. */
  samlSubjectTokens?: SamlSubjectTokenVerifierFactory;
  /**
   * The caller's address as the runtime knows it: the TCP peer on Node, `CF-Connecting-IP` on
   * Workers. Used unless `client_ip.header` is configured.
   */
  connectionAddress?: (c: Context) => string | undefined;
  /** Write the table rows from mappings/ into the store at start (default true). */
  importMappingTables?: boolean;
  /** JWS signing and verification (minting/jws.ts): jose over WebCrypto unless the runtime has faster (Node: runtime/node-jws.ts). */
  jws?: JwsCrypto;
  /** The runtime's cheaper way to read a request's body, if it has one (Node: runtime/node-body.ts); the token endpoint uses it. */
  bodyReader?: (c: Context) => BodyReader | undefined;
  /** A fresh keyed MAC for the client authenticator's verified-secret cache (Node: runtime/node-crypto.ts); WebCrypto HMAC otherwise. */
  secretMac?: () => SecretMac;
  /** SHA-256 base64url of stored tokens (provider/crypto.ts); WebCrypto unless the runtime has faster (Node: runtime/node-crypto.ts). */
  tokenDigest?: TokenDigest;
}

export interface Broker {
  app: Hono;
  services: BrokerServices;
  /** Refusal summaries and pruning; the runtime schedules it (docs/operations.md). */
  maintenance: Maintenance;
}


/** Who is believed about what: trusted issuers by issuer, login connections by id (the CLI builds it too). */
export function upstreamTrust(settings: BrokerSettings): UpstreamTrust {
  return new UpstreamTrust(
    new Map(settings.trusted_issuers.map((t) => [t.issuer, t.authority])),
    new Map(settings.connections.filter((c) => typeof c.id === 'string').map((c) => [c.id as string, c.authority])),
  );
}

/**
 * The signing key ring of these settings: `signing.alg`'s keys, and those of the other algorithm
 * clients ask for their ID tokens (docs/provider.md), which rotate with them. The CLI's
 * `rotate-keys` builds the same ring, so it rotates every algorithm a broker signs with.
 */
export function keyRingFor(settings: BrokerSettings, store: Pick<BrokerStore, 'keys' | 'secrets'>, jws?: JwsCrypto): KeyRing {
  const idTokenAlgs = settings.clients.flatMap((c) => (c.oidc?.id_token_signed_response_alg ? [c.oidc.id_token_signed_response_alg as SigningAlg] : []));
  return new KeyRing(store.keys, settings.signing.alg, jws, { algs: idTokenAlgs, secrets: store.secrets });
}

/** Builds the broker from its dependencies. No runtime imports: Node and Workers both call this. */
export async function createBroker(deps: BrokerDeps): Promise<Broker> {
  const { config, store } = deps;
  const { settings } = config;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;

  const keys = keyRingFor(settings, store, deps.jws);
  await keys.init(clock());
  if (deps.importMappingTables !== false) await importMappingTables(config, store, logger);

  const issuers = new Map<string, TrustedIssuer>();
  // The broker trusts its own ID tokens, verified with its own published keys.
  issuers.set(settings.issuer, {
    issuer: settings.issuer,
    algorithms: ['ES256', 'RS256'],
    // The broker's own ID tokens are always typed JWT (provider/tokens.ts); its access tokens at+jwt.
    typing: { accepted: ['JWT'], required: true },
    keys: async (header) => {
      const key = header.kid ? keys.publicKey(header.kid) : undefined;
      if (!key) throw new joseErrors.JWKSNoMatchingKey();
      return key;
    },
  });
  for (const t of settings.trusted_issuers) {
    issuers.set(t.issuer, { issuer: t.issuer, algorithms: t.algorithms, keys: upstreamKeyResolver(t, clock, deps.fetch), typing: { accepted: t.id_token_typ, required: t.require_typ } });
  }

  const subjects = new SubjectResolver(store.mappings, store.secrets, clock);
  await subjects.prepare(config.namespaces.values());

  const dpopNonces = settings.clients.some((c) => c.dpop_nonce) ? await dpopNonceSource(store) : undefined;

  const base = settings.issuer.replace(/\/$/, '');
  const refusals = new RefusalSummaries(settings.retention.refusal_summary_interval_seconds, (record) => store.audit.append(record));
  const services: BrokerServices = {
    settings,
    namespaces: config.namespaces,
    destinations: indexDestinations(settings.destinations),
    store,
    keys,
    clients: new ClientAuthenticator({
      clients: new Map(settings.clients.map((c) => [c.client_id, c])),
      assertionAudiences: [settings.issuer],
      compatibilityAudiences: [`${base}${TOKEN_PATH}`],
      replay: store.replay,
      ...(deps.secretMac ? { secretMac: deps.secretMac() } : {}),
    }),
    idTokens: new IdTokenVerifier(issuers, deps.jws, clock),
    subjects,
    ...(dpopNonces ? { dpopNonces } : {}),
    trust: upstreamTrust(settings),
    policy: createPolicyEngine(deps.cedar, config.policies),
    logger,
    tokenDigest: deps.tokenDigest ?? sha256Base64url,
    refusals,
    commitMint: async (request, binding) => {
      const audit = boundedAudit({ ...request.trail, at: request.now, event: 'mint', requestId: request.requestId });
      await store.commitMint({ ...(binding ? { binding } : {}), audit });
    },
  };

  const app = new Hono();
  app.onError((err, c) => {
    logger.error({ error: `${err.name}: ${err.message}` }, 'unhandled error');
    return c.json({ error: 'server_error' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found' }, 404));

  // CORS for browser apps, before the routes it wraps (docs/provider.md, "CORS").
  const clients = providerClients(settings.clients);
  const origins = browserOrigins(clients.values(), settings.cors_origins);
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', JWKS_PATH]) app.use(path, browserCors(origins, ['GET'], { cacheable: true }));
  app.use(TOKEN_PATH, browserCors(origins, ['POST'], { cacheable: false }));
  app.use(USERINFO_PATH, browserCors(origins, ['GET', 'POST'], { cacheable: false }));

  const metadata = serverMetadata(settings.issuer, settings.signing.alg);
  app.get('/.well-known/oauth-authorization-server', (c) => c.json(metadata));
  app.get('/.well-known/openid-configuration', (c) => c.json(metadata));
  app.get(JWKS_PATH, async (c) => {
    await keys.refresh(clock());
    c.header('Cache-Control', `public, max-age=${JWKS_PUBLIC_MAX_AGE}`);
    return c.json(keys.jwks());
  });
  const sourceOf = (c: Context) => requestSource(c.req.raw.headers, deps.connectionAddress?.(c), settings.client_ip);
  const upstreams = await buildUpstreamRegistry(settings.connections, { store, clock, logger, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.saml ? { saml: deps.saml } : {}) });
  const provider: ProviderDeps = { services, upstreams, clock, clients, sourceOf };
  const signIn = mountProvider(app, provider);
  mountConsole(app, { services, clock, signIn });
  const saml2 = deps.samlSubjectTokens && (await deps.samlSubjectTokens(settings.connections, { clock, logger, ...(deps.fetch ? { fetch: deps.fetch } : {}) }));
  const token = tokenEndpoint([createExchangeGrant(saml2 ? { saml2 } : {}), deferredGrant, ...providerGrants(provider)], services, clock);
  app.post(TOKEN_PATH, (c) => token(c.req.raw, sourceOf(c), deps.bodyReader?.(c)));
  app.all(TOKEN_PATH, (c) => c.json({ error: 'invalid_request', error_description: 'use POST' }, 405, { Allow: 'POST', ...NO_STORE }));
  mountAuthzen(app, { services, clock, sourceOf });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  const maintenance = createMaintenance({ store, summaries: refusals, retention: settings.retention, clock, logger, refreshMetadata: (now) => refreshUpstreamMetadata(upstreams, now) });
  return { app, services, maintenance };
}

/** The clients that log users in at the broker, as the OpenID Provider sees them. */
function providerClients(clients: BrokerConfig['settings']['clients']): ReadonlyMap<string, ProviderClient> {
  const out = new Map<string, ProviderClient>();
  for (const c of clients) {
    if (!c.oidc) continue;
    out.set(c.client_id, {
      client_id: c.client_id,
      ...(c.name ? { name: c.name } : {}),
      redirect_uris: c.oidc.redirect_uris,
      post_logout_redirect_uris: c.oidc.post_logout_redirect_uris,
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      grant_types: c.oidc.grant_types,
      subject_namespace: c.oidc.subject_namespace,
      require_consent: c.oidc.require_consent,
      scopes: c.oidc.scopes,
      ...(c.oidc.delegated_scopes.length > 0 ? { delegated_scopes: c.oidc.delegated_scopes } : {}),
      ...(c.oidc.claim_overrides ? { claim_overrides: c.oidc.claim_overrides } : {}),
      ...(c.oidc.saml_claims !== undefined ? { saml_claims: c.oidc.saml_claims } : {}),
      ...(c.oidc.id_token_signed_response_alg ? { id_token_signed_response_alg: c.oidc.id_token_signed_response_alg as SigningAlg } : {}),
    });
  }
  return out;
}

/**
 * The namespace files are the source of truth for tables that list rows: each table is replaced
 * as a whole (people taken out are deprovisioned), only when its version is higher than the one
 * in the store (a Workers isolate starting cold writes nothing; an older deployment starting after
 * a newer one keeps the newer rows).
 */
async function importMappingTables(config: BrokerConfig, store: BrokerStore, logger: Logger) {
  for (const ns of config.namespaces.values()) {
    if (ns.strategy !== 'table' || ns.rows.length === 0) continue;
    const rows: TableRow[] = ns.rows.map((r) => ({ namespace: ns.namespace, upstreamIssuer: r.upstream_issuer, upstreamSubject: r.upstream_subject, subject: r.subject }));
    // The schema requires a version wherever rows are listed.
    const result = await store.mappings.replaceTable(ns.namespace, rows, { version: ns.version!, hash: await contentVersion(rows) });
    if (result.status === 'older') {
      logger.warn({ namespace: ns.namespace, fileVersion: ns.version, storeVersion: result.current }, 'mapping table in the store is newer than this deployment’s file; kept the store’s rows');
    }
  }
}

export async function contentVersion(value: unknown): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(value)));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
