import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { BrokerServices } from '../grants/services.js';
import { FormParams } from '../http/form.js';
import { InvalidClient, OAuthError, TemporarilyUnavailable } from '../oauth/errors.js';
import { Busy, Forbidden, Unauthorized } from './errors.js';

export type CallerRole = 'authzen' | 'admin';
const ROLE_NAME: Record<CallerRole, string> = { authzen: 'the PDP', admin: 'the admin endpoints' };

/**
 * Step: who is asking. A PEP authenticates as a broker client with HTTP Basic (the body is JSON,
 * so no `client_secret_post` or client assertion), through the token endpoint's authenticator:
 * the same secret hashing, per-source failure budget and cache. The client must be configured
 * `authzen: true` (the PDP) or `admin: true` (explain); any other authenticated client is 403.
 * Missing or wrong credentials are 401 with a Basic challenge (§13.3).
 */
export async function authenticateCaller(authorization: string | undefined, s: BrokerServices, now: number, source: string, role: CallerRole = 'authzen'): Promise<AuthenticatedClient> {
  if (!authorization || !/^basic /i.test(authorization)) throw new Unauthorized(`authenticate with HTTP Basic as a client configured for ${ROLE_NAME[role]}`);
  let caller: AuthenticatedClient;
  try {
    caller = await s.clients.authenticate(authorization, new FormParams(new Map()), now, source);
  } catch (err) {
    if (err instanceof TemporarilyUnavailable) throw new Busy('the server is busy; retry shortly');
    if (err instanceof InvalidClient || err instanceof OAuthError) throw new Unauthorized('client authentication failed');
    throw err;
  }
  if (!caller.client[role]) throw new Forbidden(`this client is not allowed to use ${ROLE_NAME[role]}`);
  return caller;
}
