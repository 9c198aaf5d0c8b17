import { ID_JAG_TOKEN_TYPE } from '../minting/id-jag.js';
import { TOKEN_EXCHANGE_GRANT } from '../exchange/token-exchange.js';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../exchange/pulled.js';
import { DEFERRED_GRANT } from '../exchange/deferred.js';
import { ASSERTION_ALGS } from '../clients/authenticate.js';
import { providerMetadata } from '../provider/metadata.js';
import { DPOP_ALGORITHMS } from '../dpop/proof.js';

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
    // Deferred completion of a requestable denial (docs/access-requests.md).
    grant_types_supported: [TOKEN_EXCHANGE_GRANT, DEFERRED_GRANT],
    response_types_supported: [] as string[],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    identity_chaining_requested_token_types_supported: [ID_JAG_TOKEN_TYPE],
    /** Resource-pulled profile (docs/profiles/pulled.md): the reference type a client may request and a destination redeem. */
    id_jag_reference_token_types_supported: [ID_JAG_REFERENCE_TOKEN_TYPE],
    /** RFC 9449 §5.1: proofs the token exchange accepts; its ID-JAGs are then bound (docs/dpop.md). */
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}

/**
 * The full server metadata: RFC 8414 plus the broker's OpenID Provider. Served at both
 * /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
 */
export function serverMetadata(issuer: string, signingAlg: string) {
  const base = authorizationServerMetadata(issuer);
  const provider = providerMetadata(issuer, signingAlg);
  return {
    ...base,
    ...provider,
    grant_types_supported: [...base.grant_types_supported, ...provider.grant_types_supported],
    token_endpoint_auth_methods_supported: [...base.token_endpoint_auth_methods_supported, ...provider.token_endpoint_auth_methods_supported],
  };
}
