import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { BrokerServices } from '../grants/services.js';
import { FormParams } from '../http/form.js';
import { InvalidClient, OAuthError, TemporarilyUnavailable } from '../oauth/errors.js';
import { Busy, Forbidden, Unauthorized } from './errors.js';

/** `requester`: any confidential client, for its own access requests (the denial names the client it was issued to). */
export type CallerRole = 'authzen' | 'admin' | 'requester';
const ROLE_NAME: Record<CallerRole, string> = { authzen: 'the PDP', admin: 'the admin endpoints', requester: 'access requests' };
const CHALLENGE_TEXT: Record<CallerRole, string> = {
  authzen: 'authenticate with HTTP Basic as a client configured for the PDP',
  admin: 'authenticate with HTTP Basic as a client configured for the admin endpoints',
  requester: 'authenticate with HTTP Basic as the client the denial was issued to',
};

/**
 * Step: who is asking. A PEP authenticates as a broker client with HTTP Basic (the body is JSON,
 * so no `client_secret_post` or client assertion), through the token endpoint's authenticator:
 * the same secret hashing, per-source failure budget and cache. The client must be configured
 * `authzen: true` (the PDP) or `admin: true` (explain); any other authenticated client is 403. Access
 * requests take any confidential client: which tasks it may touch is decided by the governance core.
 * Missing or wrong credentials are 401 with a Basic challenge (§13.3).
 */
export async function authenticateCaller(authorization: string | undefined, s: BrokerServices, now: number, source: string, role: CallerRole = 'authzen'): Promise<AuthenticatedClient> {
  if (!authorization || !/^basic /i.test(authorization)) throw new Unauthorized(CHALLENGE_TEXT[role]);
  let caller: AuthenticatedClient;
  try {
    // The body is JSON: a client_secret_post client has no form to carry its secret, so Basic stands in (RFC 6749 §2.3.1).
    caller = await s.clients.authenticate(authorization, new FormParams(new Map()), now, source, { basicForPostClients: role === 'requester' });
  } catch (err) {
    if (err instanceof TemporarilyUnavailable) throw new Busy('the server is busy; retry shortly');
    if (err instanceof InvalidClient || err instanceof OAuthError) throw new Unauthorized('client authentication failed');
    throw err;
  }
  // Basic succeeds for secret clients only; the method check keeps a public client out should that change.
  const allowed = role === 'requester' ? caller.method !== 'none' && caller.client.token_endpoint_auth_method !== 'none' : caller.client[role];
  if (!allowed) throw new Forbidden(`this client is not allowed to use ${ROLE_NAME[role]}`);
  return caller;
}
