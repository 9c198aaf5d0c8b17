import { ID_TOKEN_ALGS } from '../config/schema.js';
import { STANDARD_CLAIMS, SUPPORTED_SCOPES } from './tokens.js';

/** Paths under the broker issuer. */
export const AUTHORIZE_PATH = '/authorize';
export const CONSENT_PATH = '/authorize/consent';
export const USERINFO_PATH = '/userinfo';
export const LOGOUT_PATH = '/logout';
/** RFC 7009 token revocation and RFC 7662 introspection of the provider's own tokens. */
export const REVOCATION_PATH = '/revoke';
export const INTROSPECTION_PATH = '/introspect';
export const OIDC_CALLBACK_PATH = '/login/oidc/:id/callback';
export const SAML_ACS_PATH = '/login/saml/:id/acs';
export const SAML_METADATA_PATH = '/login/saml/:id/metadata';
/** The SAML SingleLogoutService (HTTP-Redirect: GET; HTTP-POST: POST). */
export const SAML_SLO_PATH = '/login/saml/:id/slo';

export const AUTHORIZATION_CODE_GRANT = 'authorization_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';

/** How confidential clients authenticate at the token endpoint (clients/authenticate.ts), and so at /revoke and /introspect. */
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

export function endpointUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/$/, '')}${path}`;
}

/**
 * The OpenID Provider metadata fields this module implements (OIDC Discovery §3, RFC 8414, RFC 9207,
 * RP-Initiated Logout §3), to merge into /.well-known/openid-configuration and
 * /.well-known/oauth-authorization-server. `grant_types_supported` and
 * `token_endpoint_auth_methods_supported` are additions to the lists already published.
 */
export function providerMetadata(issuer: string, signingAlg: string) {
  return {
    authorization_endpoint: endpointUrl(issuer, AUTHORIZE_PATH),
    userinfo_endpoint: endpointUrl(issuer, USERINFO_PATH),
    end_session_endpoint: endpointUrl(issuer, LOGOUT_PATH),
    revocation_endpoint: endpointUrl(issuer, REVOCATION_PATH),
    // Public clients revoke their own tokens with their client_id (RFC 7009 §5).
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS, 'none'],
    introspection_endpoint: endpointUrl(issuer, INTROSPECTION_PATH),
    // Confidential clients only: RFC 7662 §2.1 requires authorization.
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT],
    token_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: SUPPORTED_SCOPES,
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'sid', 'at_hash', ...STANDARD_CLAIMS],
    subject_types_supported: ['pairwise', 'public'],
    // OIDC Discovery §3: RS256 must be among them. Per client: id_token_signed_response_alg.
    id_token_signing_alg_values_supported: [signingAlg, ...ID_TOKEN_ALGS.filter((a) => a !== signingAlg)],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    authorization_response_iss_parameter_supported: true,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    frontchannel_logout_supported: false,
    backchannel_logout_supported: false,
  };
}
