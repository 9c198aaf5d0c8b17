import { ID_JAG_TOKEN_TYPE } from '../minting/id-jag.js';
import { TOKEN_EXCHANGE_GRANT } from '../exchange/token-exchange.js';
import { ASSERTION_ALGS } from '../clients/authenticate.js';

export const TOKEN_PATH = '/token';
export const JWKS_PATH = '/jwks';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

/** RFC 8414 authorization server metadata. */
export function authorizationServerMetadata(issuer: string) {
  const base = issuer.replace(/\/$/, '');
  return {
    issuer,
    token_endpoint: `${base}${TOKEN_PATH}`,
    jwks_uri: `${base}${JWKS_PATH}`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    // No authorization endpoint yet (the broker's own login is a later milestone).
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    identity_chaining_requested_token_types_supported: [ID_JAG_TOKEN_TYPE],
  };
}

/** OpenID Provider discovery: the same document plus the OIDC fields the broker can state truthfully. */
export function openidConfiguration(issuer: string, signingAlg: string) {
  return {
    ...authorizationServerMetadata(issuer),
    subject_types_supported: ['pairwise', 'public'],
    id_token_signing_alg_values_supported: [signingAlg],
  };
}
