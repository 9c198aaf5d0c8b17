import { ACCESS_REQUEST_CAPABILITY, ACCESS_REQUESTS_PATH } from '../governance/denial.js';
import { JWKS_PATH } from '../server/metadata.js';

/**
 * §9: the PDP metadata at `/.well-known/authzen-configuration`. Only the endpoints this PDP
 * serves are listed; their absence tells a PEP the others are not offered (§9.1.1): no
 * subject search (docs/authzen.md says why). The Access Request profile adds its endpoint, its
 * capability and `jwks_uri`: the broker's own JWKS, whose keys sign the denials' request_context.
 */
export const AUTHZEN_METADATA_PATH = '/.well-known/authzen-configuration';
export const EVALUATION_PATH = '/access/v1/evaluation';
export const EVALUATIONS_PATH = '/access/v1/evaluations';
export const SEARCH_RESOURCE_PATH = '/access/v1/search/resource';
export const SEARCH_ACTION_PATH = '/access/v1/search/action';

export function pdpMetadata(issuer: string): Record<string, string | string[]> {
  const base = issuer.replace(/\/$/, '');
  return {
    // The PDP identifier is the broker's issuer identifier: one name, no mix-up between the two.
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${base}${EVALUATION_PATH}`,
    access_evaluations_endpoint: `${base}${EVALUATIONS_PATH}`,
    search_resource_endpoint: `${base}${SEARCH_RESOURCE_PATH}`,
    search_action_endpoint: `${base}${SEARCH_ACTION_PATH}`,
    access_request_endpoint: `${base}${ACCESS_REQUESTS_PATH}`,
    jwks_uri: `${base}${JWKS_PATH}`,
    capabilities: [ACCESS_REQUEST_CAPABILITY],
  };
}
