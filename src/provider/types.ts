import type { Context } from 'hono';
import type { ClaimMapOverrides } from '../migration/claims.js';
import type { BrokerServices } from '../grants/services.js';
import type { SigningAlg } from '../minting/keys.js';
import type { UpstreamRegistry } from '../upstream/registry.js';

/** The grants a downstream app may use at the broker's token endpoint. */
export type ProviderGrantType = 'authorization_code' | 'refresh_token';

/**
 * What the provider needs to know about one downstream app (an OpenID relying party). The lead
 * builds these from config; `client_id` and `token_endpoint_auth_method` must agree with the
 * client's entry in `settings.clients`, which the token endpoint authenticates against.
 */
export interface ProviderClient {
  client_id: string;
  /** Shown on the consent page; defaults to the client_id. */
  name?: string;
  /** Exact strings: a redirect_uri matches only if it is one of these, character for character. */
  redirect_uris: readonly string[];
  /** Exact strings, for RP-initiated logout. */
  post_logout_redirect_uris: readonly string[];
  /** `none` makes a public client: PKCE (S256) is then required. */
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  /** Must include `authorization_code`; `refresh_token` allows refresh tokens (with offline_access). */
  grant_types: readonly ProviderGrantType[];
  /** The namespace (a file in mappings/) its ID tokens' `sub` comes from: the same as its AS's ID-JAGs. */
  subject_namespace: string;
  /** Show a consent page before issuing a code. */
  require_consent: boolean;
  /**
   * For an app migrated from SAML: its claim table (attribute Name → claim, or null to drop) over
   * the default one. The app then receives its SAML identity contract as claims, custom ones
   * included (docs/migration.md).
   */
  claim_overrides?: ClaimMapOverrides;
  /**
   * The app receives the SAML attributes of the login as claims, through the default table and
   * `claim_overrides` (the config's `oidc.saml_claims`). Absent: it does when `claim_overrides` is set.
   */
  saml_claims?: boolean;
  /** Scopes it may request; must include `openid`. Others: `email`, `profile`, `offline_access`. */
  scopes: readonly string[];
  /**
   * Caller-vocabulary scopes at its destinations that the app may ask the user to delegate at
   * /authorize. Its refresh tokens carry them, and a refresh token used as a token-exchange subject
   * mints only scopes among them.
   */
  delegated_scopes?: readonly string[];
  /** How its ID tokens are signed (OIDC Registration §2); absent: the broker's `signing.alg`. Its access tokens never change. */
  id_token_signed_response_alg?: SigningAlg;
}

export interface ProviderDeps {
  services: BrokerServices;
  upstreams: UpstreamRegistry;
  /** Seconds since epoch. */
  clock: () => number;
  clients: ReadonlyMap<string, ProviderClient>;
  /**
   * The request's source key (http/source.ts), as the token endpoint gets it: what anonymous
   * refusals are counted under. Without it every request is from `unknown`.
   */
  sourceOf?: (c: Context) => string;
}
