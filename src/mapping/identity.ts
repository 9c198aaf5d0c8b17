import type { PrincipalRecord } from '../store/ports.js';
import type { UpstreamTrust } from '../trust/registry.js';
import type { Identity } from './resolve.js';

/**
 * The person as the broker last recorded them: what their upstream was believed about at the latest
 * login (claims were filtered by its authority then), SAML evidence, and that upstream's tenant.
 */
export function identityOfPrincipal(principal: PrincipalRecord, trust: UpstreamTrust): Identity {
  const tenant = trust.ofConnection(principal.connectionId).tenant;
  return {
    principalId: principal.id,
    upstreamIssuer: principal.upstreamIssuer,
    upstreamSubject: principal.upstreamSubject,
    claims: principal.claims,
    ...(tenant !== undefined ? { tenant } : {}),
    ...(principal.saml ? { saml: principal.saml } : {}),
  };
}
