import type { ClientConfig, DestinationConfig, NamespaceConfig } from '../config/schema.js';
import type { BrokerServices } from '../grants/services.js';
import { identityOfPrincipal } from '../mapping/identity.js';
import type { Identity, Resolution } from '../mapping/resolve.js';
import { authenticationTooOld, mintContext, mintPrincipal } from '../policy/question.js';
import { stepUpRefusal } from '../policy/step-up.js';
import { requestableRefusal } from '../policy/requestable.js';
import type { MintQuestion, ScopeDecision } from '../policy/types.js';
import type { PrincipalRecord } from '../store/ports.js';
import { approvedScopes, type ApprovedScope } from '../governance/tasks.js';
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
  | 'policy_denied'
  | 'authentication_insufficient'
  | 'approval_required';

export interface Decision {
  decision: boolean;
  /**
   * Why not; for a step-up, the RFC 9470 hints the token endpoint would give (acr_values, max_age);
   * for a requestable denial, the AuthZEN Access Request profile's members (added by index.ts).
   */
  context?: { reason: DenyReason; acr_values?: string; max_age?: number; [member: string]: unknown };
}

/** A requestable denial as decided, before index.ts signs its binding: what was denied, by which policies. */
export interface RequestableDecision extends Decision {
  requestable: { prepared: Prepared; scope: string; policies: string[] };
}

export function isRequestable(d: Decision): d is RequestableDecision {
  return 'requestable' in d;
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
  /** Approved `@requestable` forbids by scope (governance), as the mint path asks Cedar with them. */
  approved: ReadonlyMap<string, ApprovedScope>;
}

const PERSISTENT_NAMEID = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** What `prepare` and `decideScope` read of the broker: the explanation (explain.ts) builds only these. */
export type DecideServices = Pick<BrokerServices, 'settings' | 'store' | 'trust' | 'namespaces' | 'subjects' | 'policy'>;

/**
 * Everything the mint path's checks looked at, up to the first refusal (`refused`): what
 * `prepare` decides from, and what an explanation shows.
 */
export interface Trace {
  destination?: DestinationConfig;
  client?: ClientConfig;
  grant?: ClientConfig['destinations'][string];
  principal?: PrincipalRecord;
  identity?: Identity;
  login?: PepLogin;
  namespace?: NamespaceConfig;
  mapping?: Resolution;
  refused?: DenyReason;
}

/** Step: destination, resource, client, person, login age, mapping: each refusal of the mint path is a deny here. */
export async function trace(target: MintTarget, s: DecideServices, now: number): Promise<Trace> {
  const t: Trace = {};
  const stop = (reason: DenyReason) => ({ ...t, refused: reason });
  t.destination = s.settings.destinations.find((d) => d.id === target.destinationId);
  const { destination } = t;
  if (!destination) return stop('destination_unknown');
  if (target.resource !== undefined && (!isResourceIndicator(target.resource) || !destination.resources.includes(target.resource))) return stop('resource_unknown');
  t.client = s.settings.clients.find((c) => c.client_id === target.clientId);
  const { client } = t;
  if (!client) return stop('client_unknown');
  // The token exchange refuses public clients (requireConfidentialClient).
  if (client.token_endpoint_auth_method === 'none') return stop('client_public');
  t.grant = Object.hasOwn(client.destinations, destination.id) ? client.destinations[destination.id] : undefined;
  if (!t.grant) return stop('client_not_enabled_for_destination');

  t.principal = await s.store.principals.get(target.principalId);
  if (!t.principal) return stop('subject_unknown');
  // Attributes from the broker's record and the trust registry, never from the request.
  const identity = (t.identity = identityOfPrincipal(t.principal, s.trust));
  t.login = believedLogin(target.login, s.trust.ofConnection(t.principal.connectionId));
  if (authenticationTooOld(target.login.authTime, destination.max_auth_age, now) !== undefined) return stop('authentication_too_old');
  t.namespace = s.namespaces.get(destination.namespace)!;
  // resolve() only reads: a binding it would create is returned, not written.
  t.mapping = await s.subjects.resolve(t.namespace, identity, now);
  if (!t.mapping.ok) return stop('mapping_refused');
  // exchange/sub-id.ts: a destination keyed on SAML NameIDs needs the person's persistent one.
  if (destination.sub_id && identity.saml?.nameId.format !== PERSISTENT_NAMEID) return stop('sub_id_evidence_missing');
  return t;
}

export async function prepare(target: MintTarget, s: DecideServices, now: number): Promise<Prepared | Decision> {
  const t = await trace(target, s, now);
  return preparedOf(t, target, now, t.refused ? NO_APPROVALS : await approvalsOf(target, s, now));
}

const NO_APPROVALS: ReadonlyMap<string, ApprovedScope> = new Map();

/**
 * The approvals the mint path would find for this (person, client, destination): read only when
 * policy has `@requestable` forbids, so a PDP without them never touches the store for this.
 */
export async function approvalsOf(target: MintTarget, s: DecideServices, now: number): Promise<ReadonlyMap<string, ApprovedScope>> {
  if (!s.policy.requestable || s.policy.requestable.size === 0) return NO_APPROVALS;
  return approvedScopes(target.principalId, target.clientId, target.destinationId, s, now);
}

/** A trace that got through every check, as what the scope steps need; else its refusal. */
export function preparedOf(t: Trace, target: MintTarget, now: number, approved: ReadonlyMap<string, ApprovedScope> = NO_APPROVALS): Prepared | Decision {
  if (t.refused) return deny(t.refused);
  return { destination: t.destination!, grant: t.grant!, client: t.client!, identity: t.identity!, target, login: t.login!, now, approved };
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

/** How one scope fares: reachable, allowed to the client there, and what Cedar said (asked only past both). */
export interface ScopeTrace {
  reachable: boolean;
  clientMayHold: boolean;
  policy?: ScopeDecision;
}

export function traceScope(p: Prepared, scope: string, s: Pick<DecideServices, 'policy'>): ScopeTrace {
  const reachable = reachableScopes(p).includes(scope);
  const clientMayHold = p.grant.scopes.includes(scope);
  if (!reachable || !clientMayHold) return { reachable, clientMayHold };
  const [policy] = s.policy.evaluateMint(mintQuestion(p, scope));
  return { reachable, clientMayHold, ...(policy ? { policy } : {}) };
}

/** The decision a scope trace amounts to; any Cedar error is a deny (fail closed). */
export function scopeDecision(t: ScopeTrace): Decision {
  if (!t.reachable) return deny('scope_untranslatable');
  if (!t.clientMayHold) return deny('scope_not_permitted_for_client');
  return t.policy && t.policy.allowed && t.policy.errors.length === 0 ? PERMIT : deny('policy_denied');
}

/**
 * Step: one scope: reachable, allowed to the client there, and permitted by Cedar without errors.
 * A denial a stronger login would lift says so, with the hints the token endpoint would give
 * (the same `@step_up` rule, src/policy/step-up.ts).
 */
export function decideScope(p: Prepared, scope: string, s: Pick<DecideServices, 'policy'>): Decision {
  const t = traceScope(p, scope, s);
  const decision = scopeDecision(t);
  if (decision.decision || !t.policy || decision.context?.reason !== 'policy_denied') return decision;
  const question = mintQuestion(p, scope);
  const stepUp = stepUpRefusal([t.policy], [scope], s.policy, (scopes, context) => s.policy.evaluateMint({ ...question, scopes, context }), question.context);
  if (stepUp) return { decision: false, context: { reason: 'authentication_insufficient', ...stepUp.hints } };
  // The same rule as the token endpoint's requestable access_denied.
  const requestable = requestableRefusal([t.policy], [scope], s.policy, (scopes, context) => s.policy.evaluateMint({ ...question, scopes, context }), question.context);
  if (!requestable) return decision;
  const out: RequestableDecision = { decision: false, context: { reason: 'approval_required' }, requestable: { prepared: p, scope, policies: requestable.policies } };
  return out;
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
    context: { ...mintContext(login, identity, p.now), ...(p.approved.has(scope) ? { approved: p.approved.get(scope)!.policies } : {}) },
  };
}

/**
 * One evaluation, start to end. A batch passes `memo`: items that differ only in scope (the usual
 * batch) share one principal read and one mapping resolution.
 */
export async function decide(ask: MintAsk, s: DecideServices, now: number, memo?: Map<string, Promise<Prepared | Decision>>): Promise<Decision> {
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
