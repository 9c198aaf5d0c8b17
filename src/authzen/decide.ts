import type { ClientConfig, DestinationConfig } from '../config/schema.js';
import type { BrokerServices } from '../grants/services.js';
import { identityOfPrincipal } from '../mapping/identity.js';
import type { Identity } from '../mapping/resolve.js';
import { mintContext, mintPrincipal } from '../policy/question.js';
import type { MintQuestion } from '../policy/types.js';
import { isResourceIndicator, type MintAsk, type MintTarget, type PepLogin } from './question.js';

/**
 * The mint path's decision for one (person, client, destination, resource, scope), without
 * minting: the same checks the token exchange makes, in the same order where they depend on
 * each other, and the same Cedar question (src/exchange/token-exchange.ts `decideScopes`).
 * Reads only: nothing is written, no binding is created, nothing is audited.
 */

/** Why a question was answered `false`; sent as `context.reason` (docs/authzen.md lists them). */
export type DenyReason =
  | 'action_unsupported'
  | 'subject_type_unsupported'
  | 'resource_type_unsupported'
  | 'destination_unknown'
  | 'resource_unknown'
  | 'client_unknown'
  | 'client_public'
  | 'client_not_enabled_for_destination'
  | 'scope_untranslatable'
  | 'scope_not_permitted_for_client'
  | 'subject_unknown'
  | 'authentication_too_old'
  | 'mapping_refused'
  | 'sub_id_evidence_missing'
  | 'policy_denied';

export interface Decision {
  decision: boolean;
  context?: { reason: DenyReason };
}

export const deny = (reason: DenyReason): Decision => ({ decision: false, context: { reason } });
const PERMIT: Decision = { decision: true };

/** Everything but the scope, checked once: what a resource search shares across scopes. */
export interface Prepared {
  destination: DestinationConfig;
  grant: ClientConfig['destinations'][string];
  client: ClientConfig;
  identity: Identity;
  target: MintTarget;
  /** The PEP's report of the login, cut to what the person's upstream is believed about. */
  login: PepLogin;
  now: number;
}

const PERSISTENT_NAMEID = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** Step: destination, resource, client, person, login age, mapping: each refusal of the mint path is a deny here. */
export async function prepare(target: MintTarget, s: BrokerServices, now: number): Promise<Prepared | Decision> {
  const destination = s.settings.destinations.find((d) => d.id === target.destinationId);
  if (!destination) return deny('destination_unknown');
  if (target.resource !== undefined && (!isResourceIndicator(target.resource) || !destination.resources.includes(target.resource))) return deny('resource_unknown');
  const client = s.settings.clients.find((c) => c.client_id === target.clientId);
  if (!client) return deny('client_unknown');
  // The token exchange refuses public clients (requireConfidentialClient).
  if (client.token_endpoint_auth_method === 'none') return deny('client_public');
  const grant = Object.hasOwn(client.destinations, destination.id) ? client.destinations[destination.id] : undefined;
  if (!grant) return deny('client_not_enabled_for_destination');

  const principal = await s.store.principals.get(target.principalId);
  if (!principal) return deny('subject_unknown');
  // Attributes from the broker's record and the trust registry, never from the request.
  const identity = identityOfPrincipal(principal, s.trust);
  const login = believedLogin(target.login, s.trust.ofConnection(principal.connectionId));
  if (destination.max_auth_age !== undefined) {
    const { authTime } = target.login;
    if (authTime === undefined || now - authTime > destination.max_auth_age) return deny('authentication_too_old');
  }
  // resolve() only reads: a binding it would create is returned, not written.
  const mapping = await s.subjects.resolve(s.namespaces.get(destination.namespace)!, identity, now);
  if (!mapping.ok) return deny('mapping_refused');
  // exchange/sub-id.ts: a destination keyed on SAML NameIDs needs the person's persistent one.
  if (destination.sub_id && identity.saml?.nameId.format !== PERSISTENT_NAMEID) return deny('sub_id_evidence_missing');
  return { destination, grant, client, identity, target, login, now };
}

/**
 * An `acr` or `amr` value the person's upstream is not authoritative for never reaches policy on
 * the mint path (trust/authority.ts); a PEP reporting one gets the same treatment.
 */
function believedLogin(login: PepLogin, authority: { acr: readonly string[]; amr: readonly string[] }): PepLogin {
  return {
    ...(login.acr !== undefined && authority.acr.includes(login.acr) ? { acr: login.acr } : {}),
    ...(login.amr !== undefined ? { amr: login.amr.filter((m) => authority.amr.includes(m)) } : {}),
    ...(login.authTime !== undefined ? { authTime: login.authTime } : {}),
  };
}

export function isPrepared(p: Prepared | Decision): p is Prepared {
  return 'destination' in p;
}

/**
 * The destination scopes a mint through this client could ever carry: targets of the
 * translation table and the client's defaults there (already destination vocabulary), in that
 * order, once each.
 */
export function reachableScopes(p: Prepared): string[] {
  return [...new Set([...Object.values(p.destination.scope_translation).flat(), ...p.grant.default_scopes])];
}

/** Step: one scope: reachable, allowed to the client there, and permitted by Cedar without errors. */
export function decideScope(p: Prepared, scope: string, s: BrokerServices): Decision {
  if (!reachableScopes(p).includes(scope)) return deny('scope_untranslatable');
  if (!p.grant.scopes.includes(scope)) return deny('scope_not_permitted_for_client');
  const [decision] = s.policy.evaluateMint(mintQuestion(p, scope));
  return decision && decision.allowed && decision.errors.length === 0 ? PERMIT : deny('policy_denied');
}

/** The Cedar question, built exactly as `decideScopes` builds it for a mint. */
export function mintQuestion(p: Prepared, scope: string): MintQuestion {
  const { identity, target, destination, login } = p;
  return {
    principal: mintPrincipal(identity),
    clientId: p.client.client_id,
    destination: { id: destination.id, issuer: destination.issuer },
    ...(target.resource !== undefined ? { resource: target.resource } : {}),
    scopes: [scope],
    context: mintContext(login, identity, p.now),
  };
}

/**
 * One evaluation, start to end. A batch passes `memo`: items that differ only in scope (the usual
 * batch) share one principal read and one mapping resolution.
 */
export async function decide(ask: MintAsk, s: BrokerServices, now: number, memo?: Map<string, Promise<Prepared | Decision>>): Promise<Decision> {
  const { scope, ...target } = ask;
  const key = JSON.stringify([target.principalId, target.destinationId, target.resource ?? null, target.clientId, target.login.acr ?? null, target.login.amr ?? null, target.login.authTime ?? null]);
  let prepared = memo?.get(key);
  if (!prepared) {
    prepared = prepare(target, s, now);
    memo?.set(key, prepared);
  }
  const p = await prepared;
  return isPrepared(p) ? decideScope(p, scope, s) : p;
}
