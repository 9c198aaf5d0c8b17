import { z } from 'zod';
import { isLoopback, urlCheck, webUrl } from './urls.js';
import { subjectSourceSchema } from '../migration/subject.js';
import { claimMapOverridesSchema } from '../migration/claims.js';
import {
  AUDIT_DEFAULT_MAX_AGE_DAYS,
  AUDIT_DEFAULT_MAX_ROWS,
  ID_JAG_MAX_LIFETIME,
  MAX_AUTH_AGE_LIMIT,
  PBKDF2_ITERATIONS,
  PBKDF2_MIN_ITERATIONS,
  REFUSAL_SUMMARY_DEFAULT_INTERVAL,
} from '../constants.js';
import { authoritySchema } from '../trust/authority.js';

/**
 * The broker's configuration, as files: `broker.config.yaml` (settings, clients, destinations,
 * trusted upstream issuers), `mappings/*.yaml` (subject namespaces) and `policies/` (Cedar).
 * Everything is validated before the broker starts; unknown keys are mistakes, not extensions.
 */



/** Scope tokens per RFC 6749 §3.3 (NQCHAR, no spaces). */
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token');

const jwk = z.record(z.string(), z.unknown());
const jwks = z.object({ keys: z.array(jwk).min(1) }).strict();

const asymmetricAlg = z.enum(['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']);

/** An https URL, or http on loopback only (local development): keys fetched over plain http could be swapped in transit. */
const secureUrl = webUrl.refine((u) => urlCheck(u, (url) => url.protocol === 'https:' || isLoopback(url.hostname)), 'must use https (http only for localhost)');

export const trustedIssuerSchema = z
  .object({
    issuer: secureUrl,
    /** Where to fetch the issuer's keys; or give them inline with `jwks`. */
    jwks_uri: secureUrl.optional(),
    jwks: jwks.optional(),
    algorithms: z.array(asymmetricAlg).min(1).default(['RS256', 'ES256']),
    /** What this issuer's ID tokens are believed about (docs/configuration.md, "Who is believed about what"). Nothing by default. */
    authority: authoritySchema.default({ acr: [], amr: [], claims: [] }),
    /** JWS `typ` values this issuer puts on its ID tokens; a subject token with another `typ` is refused. */
    id_token_typ: z.array(z.string().min(1).max(100)).min(1).default(['JWT']),
    /** This issuer always types its ID tokens: an untyped subject token is refused. */
    require_typ: z.boolean().default(false),
  })
  .strict()
  .refine((t) => Boolean(t.jwks_uri) !== Boolean(t.jwks), 'exactly one of jwks_uri or jwks is required');

const clientDestinationSchema = z
  .object({
    /** The client's own client_id at the destination AS; it differs from its id at the broker. */
    client_id: z.string().min(1),
    /** Destination-vocabulary scopes this client may ever hold there. */
    scopes: z.array(scopeToken).default([]),
    /** Requested when the client sends no `scope`; must be a subset of `scopes`. */
    default_scopes: z.array(scopeToken).default([]),
  })
  .strict()
  .refine((d) => d.default_scopes.every((s) => d.scopes.includes(s)), {
    message: 'default_scopes must be a subset of scopes',
    path: ['default_scopes'],
  });

/** A relying party of the broker's own OpenID Provider. */
const oidcAppSchema = z
  .object({
    redirect_uris: z.array(webUrl).min(1),
    post_logout_redirect_uris: z.array(webUrl).default([]),
    grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).default(['authorization_code']),
    /** The namespace (mappings/) its ID token `sub` comes from: the same one its authorization server's ID-JAGs use. */
    subject_namespace: z.string().min(1),
    require_consent: z.boolean().default(false),
    scopes: z.array(z.enum(['openid', 'email', 'profile', 'offline_access'])).default(['openid', 'email', 'profile']),
    /**
     * Scopes at its destinations (caller vocabulary: keys of their scope_translation) the app may ask
     * the user to delegate at /authorize; its refresh tokens carry them, and a refresh token used as
     * a subject token mints only these.
     */
    delegated_scopes: z.array(scopeToken).default([]),
    /**
     * For an app migrated from SAML: it receives the upstream SAML attributes as claims, through the
     * default table and its `claim_overrides` (docs/migration.md, docs/provider.md). Default: true
     * when `claim_overrides` is given (even `{}`), false otherwise.
     */
    saml_claims: z.boolean().optional(),
    /** For an app migrated from SAML: its claim table over the default one (docs/migration.md). */
    claim_overrides: claimMapOverridesSchema.optional(),
    /**
     * OpenID Connect Dynamic Client Registration §2: how its ID tokens are signed, `ES256` or
     * `RS256`. Default: the broker's `signing.alg`. Checked in clientSchema, to name the client.
     */
    id_token_signed_response_alg: z.string().optional(),
  })
  .strict()
  .refine((o) => !(o.saml_claims === false && o.claim_overrides !== undefined), {
    message: 'claim_overrides apply to the SAML attributes an app receives: remove them, or set saml_claims: true',
    path: ['claim_overrides'],
  });

/**
 * An upstream login connection. The protocol's own schema (src/upstream/oidc, src/upstream/saml)
 * validates the rest; load.ts reports its problems under this entry's path.
 */
const connectionSchema = z
  .object({
    type: z.enum(['oidc', 'saml']),
    /** Shown on the chooser page. */
    display_name: z.string().min(1).max(100).optional(),
    /** What logins through this connection are believed about. Nothing by default. */
    authority: authoritySchema.default({ acr: [], amr: [], claims: [] }),
  })
  .passthrough();

export const clientSchema = z
  .object({
    client_id: z.string().min(1).regex(/^[\x20-\x7E]+$/, 'printable ASCII only').refine((s) => !s.includes(':'), 'must not contain ":" (HTTP Basic)'),
    name: z.string().optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']),
    /** `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`; produce with `npm run cli -- hash-secret`. */
    client_secret_hash: z
      .string()
      .regex(/^pbkdf2-sha256\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, 'expected pbkdf2-sha256$iterations$salt$hash')
      .refine((h) => Number(h.split('$')[1]) >= PBKDF2_MIN_ITERATIONS && Number(h.split('$')[1]) <= PBKDF2_ITERATIONS, `iterations must be between ${PBKDF2_MIN_ITERATIONS} and ${PBKDF2_ITERATIONS} (workerd's maximum)`)
      .optional(),
    jwks: jwks.optional(),
    /**
     * private_key_jwt: the `aud` its assertions may carry. RFC 7523bis: the broker's issuer
     * identifier only; `issuer_or_token_endpoint` also accepts the token endpoint URL, for clients
     * built before it.
     */
    assertion_audience: z.enum(['issuer', 'issuer_or_token_endpoint']).default('issuer'),
    /** This client's client_id at upstream issuers, when its ID tokens come from there (keyed by issuer). */
    upstream_client_ids: z.record(webUrl, z.string().min(1)).default({}),
    /**
     * SAML assertions this client may present as `saml2` subject tokens: SAML connection id → the
     * Audience the IdP puts in assertions it issues to this client (the app's own SP entity id at
     * that IdP). An assertion is accepted only from a listed connection and only with that Audience.
     */
    saml_audiences: z.record(z.string().min(1), z.string().min(1).max(1024).regex(/^\S+$/, 'no whitespace')).default({}),
    /** Destinations this client may request ID-JAGs for, keyed by destination id. */
    destinations: z.record(z.string(), clientDestinationSchema).default({}),
    /** Present when the client is also an app that logs users in at the broker (OpenID Connect). */
    oidc: oidcAppSchema.optional(),
    /** A policy enforcement point allowed to ask the broker's AuthZEN PDP (docs/authzen.md); HTTP Basic only. */
    authzen: z.boolean().default(false),
    /**
     * An operator tool allowed to ask `POST /admin/v1/explain` (docs/authzen.md): it sees what the
     * broker believes of a person (email, groups, mapped subject), more than a PDP decision tells. HTTP Basic only.
     */
    admin: z.boolean().default(false),
    /**
     * DPoP (docs/dpop.md; RFC 9449 §5.2's `dpop_bound_access_tokens`): every ID-JAG this client
     * gets must be bound to a key it proves possession of, so a token exchange without a proof is refused.
     */
    require_dpop: z.boolean().default(false),
    /** DPoP proofs from this client must carry a server nonce (RFC 9449 §8; `use_dpop_nonce` hands one out). */
    dpop_nonce: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.authzen && c.token_endpoint_auth_method !== 'client_secret_basic') ctx.addIssue({ code: 'custom', path: ['authzen'], message: 'a PDP caller authenticates with HTTP Basic: token_endpoint_auth_method must be client_secret_basic' });
    if (c.admin && c.token_endpoint_auth_method !== 'client_secret_basic') ctx.addIssue({ code: 'custom', path: ['admin'], message: 'an admin caller authenticates with HTTP Basic: token_endpoint_auth_method must be client_secret_basic' });
    const secret = c.token_endpoint_auth_method === 'client_secret_basic' || c.token_endpoint_auth_method === 'client_secret_post';
    if (secret && !c.client_secret_hash) ctx.addIssue({ code: 'custom', path: ['client_secret_hash'], message: `required for ${c.token_endpoint_auth_method}` });
    if (!secret && c.client_secret_hash) ctx.addIssue({ code: 'custom', path: ['client_secret_hash'], message: `not allowed for ${c.token_endpoint_auth_method}` });
    if (c.token_endpoint_auth_method === 'private_key_jwt' && !c.jwks) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'required for private_key_jwt' });
    const idTokenAlg = c.oidc?.id_token_signed_response_alg;
    if (idTokenAlg !== undefined && !(ID_TOKEN_ALGS as readonly string[]).includes(idTokenAlg)) {
      ctx.addIssue({ code: 'custom', path: ['oidc', 'id_token_signed_response_alg'], message: `client "${c.client_id}": id_token_signed_response_alg "${idTokenAlg}" is not supported (${ID_TOKEN_ALGS.join(' or ')})` });
    }
  });

/** The algorithms the broker signs ID tokens with (`signing.alg`'s keys, and the other's for clients that ask for it). */
export const ID_TOKEN_ALGS = ['ES256', 'RS256'] as const;

export const destinationSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
    /** The destination AS's issuer identifier: the `aud` of every ID-JAG minted for it. */
    issuer: webUrl,
    /** Other values a client may send as `audience` for this destination. */
    aliases: z.array(z.string().min(1)).default([]),
    /** Resource indicators (RFC 8707) this destination serves; `resource` must be one of them. */
    resources: z.array(webUrl).default([]),
    /** The subject namespace (a file in mappings/) users are named in at this destination. */
    namespace: z.string().min(1),
    /** Caller-vocabulary scope → destination scopes. A scope absent here is refused. */
    scope_translation: z.record(scopeToken, z.array(scopeToken).min(1)).default({}),
    /** What to do when policy grants only some of the requested scopes. */
    partial_scope: z.enum(['narrow', 'refuse']).default('narrow'),
    /** The destination's tenant: ID-JAGs then carry `aud_tenant` with `aud_sub` (draft §3.1 pairs them). */
    tenant: z.string().min(1).max(255).optional(),
    /**
     * The broker client the destination's own app logs users in with (OpenID Connect). Its
     * `oidc.subject_namespace` must be this destination's `namespace`: the ID-JAG `sub` must be
     * the `sub` the app already knows from SSO.
     */
    sso_client: z.string().min(1).optional(),
    /**
     * Seconds: a mint whose login is older, or whose login time is unknown, is refused with
     * insufficient_user_authentication and this as the `max_age` hint (RFC 9470).
     */
    max_auth_age: z.number().int().min(0).max(MAX_AUTH_AGE_LIMIT).optional(),
    /** ID-JAG lifetime for this destination; never above the broker's. */
    id_jag_lifetime: z.number().int().min(10).max(ID_JAG_MAX_LIFETIME).optional(),
    /** Claims copied from the subject token into the ID-JAG when present (draft -03 §3.1 recommends email). */
    include_claims: z.array(z.enum(['email', 'acr', 'amr', 'auth_time', 'tenant'])).default(['email', 'acr', 'amr', 'auth_time']),
    /**
     * For a destination that still keys users on SAML NameIDs: its ID-JAGs also carry `sub_id`
     * (RFC 9493) of this format, built from the person's persistent NameID. A person without one
     * gets no ID-JAG for this destination (see docs/subject-tokens.md).
     */
    sub_id: z.enum(['saml-nameid']).optional(),
    /**
     * Resource-pulled profile (docs/profiles/pulled.md): the broker client this destination's
     * authorization server authenticates as when it redeems ID-JAG references over its back
     * channel. Confidential, and the back channel of this destination only. Without it, no
     * reference is issued for this destination.
     */
    backchannel_client: z.string().min(1).optional(),
  })
  .strict();

/**
 * Where a caller's address comes from, for the per-source budgets and the aggregated audit of
 * unauthenticated refusals. Without `header`: the TCP connection on Node, `CF-Connecting-IP` on
 * Workers. Name a header only if a proxy you run sets it: clients can send any header.
 */
const clientIpSchema = z
  .object({ header: z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name').max(100).optional() })
  .strict()
  .default({});

/** How long the database keeps what it keeps (docs/operations.md). Expired tokens and sessions are always pruned. */
const retentionSchema = z
  .object({
    /** Audit records older than this are deleted; export them first with `cli audit-export`. */
    audit_max_age_days: z.number().int().min(1).max(36_500).default(AUDIT_DEFAULT_MAX_AGE_DAYS),
    /** At most this many audit records are kept; the oldest go first. */
    audit_max_rows: z.number().int().min(1_000).default(AUDIT_DEFAULT_MAX_ROWS),
    /** Refusals of unauthenticated requests are counted per (reason, source) over this interval, one record each. */
    refusal_summary_interval_seconds: z.number().int().min(10).max(3_600).default(REFUSAL_SUMMARY_DEFAULT_INTERVAL),
  })
  .strict()
  .default({ audit_max_age_days: AUDIT_DEFAULT_MAX_AGE_DAYS, audit_max_rows: AUDIT_DEFAULT_MAX_ROWS, refusal_summary_interval_seconds: REFUSAL_SUMMARY_DEFAULT_INTERVAL });

/** Exactly a serialised http(s) origin, as browsers send it in `Origin`: no path, no trailing slash, lower case. */
const corsOrigin = z
  .string()
  .refine((o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol) && new URL(o).origin === o, 'must be an origin: http(s)://host[:port], lower case, no path or trailing slash');

export const brokerConfigSchema = z
  .object({
    /**
     * RFC 8414 §2: https, no query or fragment. Plain http only for loopback (local development).
     * No path either: the broker serves its endpoints and metadata at the root.
     */
    issuer: secureUrl
      .refine((u) => urlCheck(u, (url) => url.search === ''), 'must not have a query')
      .refine((u) => urlCheck(u, (url) => url.pathname === '/'), 'must not have a path (endpoints are served at the root)'),
    port: z.number().int().min(1).max(65535).default(8787),
    /** SQLite file for the Node runtime (relative to the config file). */
    database: z.string().default('data/broker.sqlite'),
    signing: z
      .object({ alg: z.enum(['ES256', 'RS256']).default('ES256') })
      .strict()
      .default({ alg: 'ES256' }),
    id_jag: z
      .object({ lifetime: z.number().int().min(10).max(ID_JAG_MAX_LIFETIME).default(ID_JAG_MAX_LIFETIME) })
      .strict()
      .default({ lifetime: ID_JAG_MAX_LIFETIME }),
    /** The broker's own tenant, sent as the ID-JAG `tenant` claim (the issuing IdP's tenant) when set. */
    tenant: z.string().min(1).max(255).optional(),
    mappings_dir: z.string().default('mappings'),
    policies_dir: z.string().default('policies'),
    trusted_issuers: z.array(trustedIssuerSchema).default([]),
    /** Upstream IdPs people log in through (OIDC or SAML), for the broker's own login. */
    connections: z.array(connectionSchema).default([]),
    clients: z.array(clientSchema).default([]),
    destinations: z.array(destinationSchema).default([]),
    client_ip: clientIpSchema,
    retention: retentionSchema,
    /**
     * Origins (scheme://host[:port]) of browser apps allowed to call discovery, the JWKS, /token and
     * /userinfo cross-origin, beside the origins of the OIDC clients' redirect URIs (docs/provider.md).
     */
    cors_origins: z.array(corsOrigin).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    checkSamlAudiences(s.clients, s.connections, ctx);
    checkDelegatedScopes(s.clients, s.destinations, ctx);
    checkBackchannelClients(s.clients, s.destinations, ctx);
  });

/**
 * A destination's back-channel client exists, is confidential (it redeems references that name
 * users: a public client could be anyone) and serves that destination alone, so that the client
 * that redeems a reference names the one destination the reference may be redeemed for.
 */
function checkBackchannelClients(clients: readonly z.output<typeof clientSchema>[], destinations: readonly z.output<typeof destinationSchema>[], ctx: z.RefinementCtx) {
  const servedBy = new Map<string, string>();
  destinations.forEach((d, i) => {
    if (d.backchannel_client === undefined) return;
    const path = ['destinations', i, 'backchannel_client'];
    const client = clients.find((c) => c.client_id === d.backchannel_client);
    if (!client) ctx.addIssue({ code: 'custom', path, message: `no client "${d.backchannel_client}"` });
    else if (client.token_endpoint_auth_method === 'none') ctx.addIssue({ code: 'custom', path, message: `client "${d.backchannel_client}" is public (token_endpoint_auth_method none); a back-channel client must authenticate with a secret or private_key_jwt` });
    const other = servedBy.get(d.backchannel_client);
    if (other !== undefined) ctx.addIssue({ code: 'custom', path, message: `client "${d.backchannel_client}" is already the back-channel client of destination "${other}"` });
    servedBy.set(d.backchannel_client, d.id);
  });
}

/** A delegated scope must be one the client can request at one of its destinations. */
function checkDelegatedScopes(clients: readonly z.output<typeof clientSchema>[], destinations: readonly z.output<typeof destinationSchema>[], ctx: z.RefinementCtx) {
  clients.forEach((c, i) => {
    const requestable = new Set(
      destinations.filter((d) => Object.hasOwn(c.destinations, d.id)).flatMap((d) => Object.keys(d.scope_translation)),
    );
    (c.oidc?.delegated_scopes ?? []).forEach((scope, j) => {
      if (!requestable.has(scope)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'oidc', 'delegated_scopes', j], message: `"${scope}" is not a scope this client can request at any of its destinations` });
    });
  });
}

/**
 * `saml_audiences` names SAML connections; the Audience must not be the broker's own SP entity id
 * there (those assertions are logins, redeemed at the ACS); and no two clients may claim one
 * Audience at one connection, or each could redeem the other's assertions.
 */
function checkSamlAudiences(clients: readonly z.output<typeof clientSchema>[], connections: readonly z.output<typeof connectionSchema>[], ctx: z.RefinementCtx) {
  const claimed = new Map<string, string>();
  clients.forEach((c, i) => {
    for (const [connectionId, audience] of Object.entries(c.saml_audiences)) {
      const path = ['clients', i, 'saml_audiences', connectionId];
      const connection = connections.find((k) => k.id === connectionId);
      if (!connection || connection.type !== 'saml') {
        ctx.addIssue({ code: 'custom', path, message: `no SAML connection with id "${connectionId}"` });
        continue;
      }
      if (audience === connection.sp_entity_id) ctx.addIssue({ code: 'custom', path, message: "must be the client's own Audience at this IdP, not the broker's sp_entity_id" });
      const key = `${connectionId}\n${audience}`;
      const other = claimed.get(key);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path, message: `"${audience}" at connection "${connectionId}" is also claimed by client "${other}"` });
      claimed.set(key, c.client_id);
    }
  });
}

/**
 * The upstreams (issuer, or SAML IdP entity id) whose asserted values a namespace keyed on an
 * upstream value accepts. A value asserted by any other upstream never binds or resolves.
 */
const upstreamList = z.array(z.string().min(1).max(1024)).min(1).max(100);

export const namespaceSchema = z.discriminatedUnion('strategy', [
  z
    .object({
      namespace: z.string().min(1),
      strategy: z.literal('table'),
      /** Rows imported into the store at start-up (and by `cli import-mappings`). */
      rows: z
        .array(
          z.object({ upstream_issuer: webUrl, upstream_subject: z.string().min(1), subject: z.string().min(1).max(255) }).strict(),
        )
        .default([]),
      /**
       * Of the rows: raised with every change to them. The store keeps the highest version written,
       * so an older deployment starting later never brings back rows a newer one removed.
       */
      version: z.number().int().positive().optional(),
    })
    .strict()
    .superRefine((ns, ctx) => {
      if (ns.rows.length > 0 && ns.version === undefined) {
        ctx.addIssue({ code: 'custom', path: ['version'], message: 'a table that lists rows needs a version (a positive integer, raised with every change to the rows)' });
      }
    }),
  z
    .object({
      namespace: z.string().min(1),
      strategy: z.literal('claim'),
      /** The upstream claim whose value is the subject in this namespace (a single string). */
      claim: z.string().min(1),
      upstreams: upstreamList.optional(),
    })
    .strict(),
  z
    .object({
      namespace: z.string().min(1),
      /**
       * For apps migrated from SAML: the subject is what the app used to receive (persistent NameID,
       * an attribute, subject-id or pairwise-id), bound once like a claim (see docs/migration.md).
       */
      strategy: z.literal('saml_subject'),
      subject_source: subjectSourceSchema,
      upstreams: upstreamList.optional(),
    })
    .strict(),
  z
    .object({
      namespace: z.string().min(1),
      strategy: z.literal('pairwise'),
      /** Sector identifier mixed into the derivation; defaults to the namespace name. */
      sector: z.string().min(1).optional(),
    })
    .strict(),
]);

export type BrokerConfigInput = z.input<typeof brokerConfigSchema>;
export type BrokerSettings = z.output<typeof brokerConfigSchema>;
export type ClientConfig = z.output<typeof clientSchema>;
export type DestinationConfig = z.output<typeof destinationSchema>;
/** A client's entry for one destination (`clients[].destinations.<id>`). */
export type ClientDestinationConfig = z.output<typeof clientDestinationSchema>;
export type TrustedIssuerConfig = z.output<typeof trustedIssuerSchema>;
export type NamespaceConfig = z.output<typeof namespaceSchema>;
export type ConnectionConfig = z.output<typeof connectionSchema>;
export type OidcAppConfig = z.output<typeof oidcAppSchema>;

/** Everything the app factory needs, already validated and cross-checked. */
export interface BrokerConfig {
  settings: BrokerSettings;
  namespaces: Map<string, NamespaceConfig>;
  /** The policy files joined into one set; `sources` says where each file starts in it (for error positions). */
  policies: { policies: string; sources?: { path: string; start: number }[]; schema?: string; schemaPath?: string };
  /** Things that are allowed but probably a mistake (`npm run check` prints them; the broker logs them at start). */
  warnings?: string[];
}
