/**
 * §9: the PDP metadata at `/.well-known/authzen-configuration`. Only the endpoints this PDP
 * serves are listed; their absence tells a PEP the others are not offered (§9.1.1): no
 * subject search (docs/authzen.md says why).
 */
export const AUTHZEN_METADATA_PATH = '/.well-known/authzen-configuration';
export const EVALUATION_PATH = '/access/v1/evaluation';
export const EVALUATIONS_PATH = '/access/v1/evaluations';
export const SEARCH_RESOURCE_PATH = '/access/v1/search/resource';
export const SEARCH_ACTION_PATH = '/access/v1/search/action';

export function pdpMetadata(issuer: string): Record<string, string> {
  const base = issuer.replace(/\/$/, '');
  return {
    // The PDP identifier is the broker's issuer identifier: one name, no mix-up between the two.
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${base}${EVALUATION_PATH}`,
    access_evaluations_endpoint: `${base}${EVALUATIONS_PATH}`,
    search_resource_endpoint: `${base}${SEARCH_RESOURCE_PATH}`,
    search_action_endpoint: `${base}${SEARCH_ACTION_PATH}`,
  };
}
