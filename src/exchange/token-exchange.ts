import type { ClientConfig, ClientDestinationConfig, DestinationConfig, NamespaceConfig } from '../config/schema.js';
import { MAX_SCOPE_COUNT } from '../constants.js';
import { AccessDenied, InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient, UnsupportedTokenType } from '../oauth/errors.js';
import type { Grant, GrantRequest, TokenResponse } from '../grants/grant.js';
import { buildIdJagClaims, ID_JAG_TOKEN_TYPE, signIdJag, type IdJagInput } from '../minting/id-jag.js';
import { principalIdOf } from '../mapping/principal.js';
import type { Identity, Resolution } from '../mapping/resolve.js';
import { StoreConflict } from '../store/ports.js';
import { intersectGrant, parseScope, scopesToEvaluate, translateScopes, type ScopeTranslation } from '../policy/scopes.js';
import type { MintQuestion, ScopeDecision } from '../policy/types.js';
import { stepUpRefusal } from '../policy/step-up.js';
import { requestableDenial, requestableRefusal } from '../policy/requestable.js';
import { approvedScopes } from '../governance/tasks.js';
import { escalate, readDeferred, RequestableRefusal } from './requestable.js';
import { mintContext, mintPrincipal } from '../policy/question.js';
import type { VerifiedIdToken } from '../upstream/id-token.js';
import { grantAt, resolveTarget } from './destination.js';
import type { BrokerServices } from '../grants/services.js';
import type { RefreshTokenRecord } from '../store/ports.js';
import { REFRESH_TOKEN_TYPE, requireWithinRefreshGrant, subjectOfRefreshToken, verifyRefreshToken } from './refresh-token.js';
import type { SamlSubjectAssertion, SamlSubjectTokenVerifier } from '../identity/saml-subject-token.js';
import { SAML2_TOKEN_TYPE, subjectOfSamlAssertion, verifySamlSubjectToken } from './saml2.js';
import { subjectIdentifierFor } from './sub-id.js';
import { identityOfPrincipal, loginFactsOfClaims, requireRecentAuthentication, type LoginFacts, type Subject } from './subject.js';
import { believe } from '../trust/authority.js';
import { proofOfPossession } from './dpop.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export { REFRESH_TOKEN_TYPE, SAML2_TOKEN_TYPE };
/** Token types this broker knows but does not accept as subject tokens here. */
const KNOWN_UNSUPPORTED = new Set([
  'urn:ietf:params:oauth:token-type:access_token',
  'urn:ietf:params:oauth:token-type:saml1',
  'urn:ietf:params:oauth:token-type:jwt',
  ID_JAG_TOKEN_TYPE,
]);

export interface ExchangeParams {
  subjectToken: string;
  subjectTokenType: string;
  audiences: string[];
  resources: string[];
  scope?: string;
}

/** Step: read and shape-check the RFC 8693 parameters. */
export function readExchangeParams(request: GrantRequest, requestedType: string = ID_JAG_TOKEN_TYPE): ExchangeParams {
  const { form } = request;
  const requested = form.get('requested_token_type');
  if (requested === undefined) throw new InvalidRequest('missing_parameter', 'requested_token_type is required');
  if (requested !== requestedType) throw new InvalidRequest('invalid_parameter', `requested_token_type must be ${requestedType}`);
  if (form.has('actor_token') || form.has('actor_token_type')) throw new InvalidRequest('invalid_parameter', 'actor tokens are not supported for ID-JAGs');
  // Draft -03 §4.3.3: the IdP MUST process authorization_details if present. It cannot yet, so it
  // refuses rather than mint an ID-JAG that silently drops what was asked for.
  if (form.has('authorization_details')) throw new InvalidRequest('authorization_details_unsupported', 'authorization_details is not supported');
  const subjectToken = form.require('subject_token');
  const subjectTokenType = form.require('subject_token_type');
  const audiences = form.all('audience');
  if (audiences.length === 0) throw new InvalidRequest('missing_parameter', 'audience is required');
  const resources = form.all('resource');
  // RFC 8707 §2: an absolute URI without a fragment; anything else is invalid_target.
  for (const r of resources) if (!isAbsoluteUri(r)) throw new InvalidTarget('invalid_parameter', 'resource must be an absolute URI without a fragment');
  const scope = form.get('scope');
  request.trail.resource = resources.join(' ') || undefined;
  return { subjectToken, subjectTokenType, audiences, resources, ...(scope !== undefined ? { scope } : {}) };
}

function isAbsoluteUri(value: string): boolean {
  // `new URL('https://a/#').hash` is '': an empty fragment is still a fragment, so look for '#'.
  if (value.includes('#')) return false;
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

/** Step: only confidential clients may ask for ID-JAGs (draft -03 §8.1; a SHOULD there, a rule here). */
export function requireConfidentialClient(request: GrantRequest) {
  if (request.client.method === 'none') throw new UnauthorizedClient('public_client', 'public clients may not request ID-JAGs');
}

/** What the exchange can be given as a subject token, once verified. */
export type VerifiedSubjectToken =
  | { type: 'id_token'; token: VerifiedIdToken }
  | { type: 'refresh_token'; record: RefreshTokenRecord }
  | { type: 'saml2'; assertion: SamlSubjectAssertion };

/** What the grant is built with: the runtime's optional capabilities. */
export interface TokenExchangeOptions {
  /** Verifies `saml2` subject tokens (supplied when a SAML connection is configured). Without it, that type is unsupported_token_type. */
  saml2?: SamlSubjectTokenVerifier;
}

/** Step: verify the subject token; whatever its type, it must have been issued to this client. */
async function verifySubjectToken(p: ExchangeParams, request: GrantRequest, s: BrokerServices, options: TokenExchangeOptions): Promise<VerifiedSubjectToken> {
  const client = request.client.client;
  switch (p.subjectTokenType) {
    case ID_TOKEN_TYPE: {
      const token = await s.idTokens.verify(p.subjectToken, (issuer) => audiencesAt(issuer, client, s.settings.issuer), request.now);
      request.trail.upstreamIssuer = token.issuer;
      return { type: 'id_token', token };
    }
    case REFRESH_TOKEN_TYPE: {
      request.trail.upstreamIssuer = s.settings.issuer;
      return { type: 'refresh_token', record: await verifyRefreshToken(p.subjectToken, client.client_id, s, request.now) };
    }
    case SAML2_TOKEN_TYPE: {
      const assertion = await verifySamlSubjectToken(p.subjectToken, client, options.saml2, request.now);
      request.trail.upstreamIssuer = assertion.issuer;
      return { type: 'saml2', assertion };
    }
    default: {
      const known = KNOWN_UNSUPPORTED.has(p.subjectTokenType);
      throw new UnsupportedTokenType('unsupported_token_type', known ? 'this subject_token_type is not supported' : 'unknown subject_token_type');
    }
  }
}

/**
 * The `aud` that names this client in an ID token from `issuer`: its own client_id for the
 * broker's tokens; for an upstream, only the id configured for it there. No default: an app
 * that happens to share the name at some upstream is not this client.
 */
function audiencesAt(issuer: string, client: ClientConfig, brokerIssuer: string): string[] {
  if (issuer === brokerIssuer) return [client.client_id];
  return Object.hasOwn(client.upstream_client_ids, issuer) ? [client.upstream_client_ids[issuer]!] : [];
}

/**
 * Step: who an upstream ID token is about, and what of it is believed. The person is (issuer, sub);
 * every other claim, `acr` and `amr` count only as far as the issuer is authoritative for them
 * (its `authority`); the rest is dropped before mapping and policy, and the audit says what.
 */
async function subjectOfUpstreamIdToken(token: VerifiedIdToken, request: GrantRequest, s: BrokerServices): Promise<Subject> {
  const asserted = loginFactsOfClaims(token.claims);
  const believed = believe(s.trust.ofIssuer(token.issuer), { claims: token.claims, ...(asserted.acr !== undefined ? { acr: asserted.acr } : {}), ...(asserted.amr ? { amr: asserted.amr } : {}) });
  if (believed.dropped.length > 0) request.trail.dropped = believed.dropped;
  const identity: Identity = {
    principalId: await principalIdOf(token.issuer, token.subject),
    upstreamIssuer: token.issuer,
    upstreamSubject: token.subject,
    claims: believed.claims,
    ...(believed.tenant !== undefined ? { tenant: believed.tenant } : {}),
  };
  const login: LoginFacts = {
    ...(asserted.authTime !== undefined ? { authTime: asserted.authTime } : {}),
    ...(believed.acr !== undefined ? { acr: believed.acr } : {}),
    ...(believed.amr !== undefined ? { amr: believed.amr } : {}),
  };
  return { identity, login };
}

/**
 * Step: who a broker-issued ID token is about. It names the person in the app's namespace, so the
 * person is found through its session (`sid`), which must still be active: a revoked session
 * mints nothing. What the person's upstream was believed about was settled at login.
 */
async function identityOfBrokerIdToken(token: VerifiedIdToken, request: GrantRequest, s: BrokerServices): Promise<Identity> {
  const sid = token.claims.sid;
  if (typeof sid !== 'string') throw new InvalidGrant('claim_missing', 'the subject token is invalid', 'sid');
  const session = await s.store.sessions.active(sid, request.now);
  if (!session) throw new InvalidGrant('session_ended', 'the subject token is invalid');
  const principal = await s.store.principals.get(session.principalId);
  if (!principal) throw new InvalidGrant('mapping_missing', 'the subject cannot be named at this audience', 'no principal record for the session');
  return identityOfPrincipal(principal, s.trust);
}

/**
 * Step: the person and their login, whatever the subject token. An ID token's login facts are the
 * token's own claims; a refresh token's come from its session; an assertion's from its
 * AuthnStatement. Who the person is comes from the principal (or, for an assertion, from the
 * assertion itself, keyed as the connection keys logins).
 */
async function subjectOf(verified: VerifiedSubjectToken, request: GrantRequest, s: BrokerServices): Promise<Subject> {
  switch (verified.type) {
    case 'id_token':
      if (verified.token.issuer !== s.settings.issuer) return subjectOfUpstreamIdToken(verified.token, request, s);
      return { identity: await identityOfBrokerIdToken(verified.token, request, s), login: loginFactsOfClaims(verified.token.claims) };
    case 'refresh_token':
      return subjectOfRefreshToken(verified.record, s, request.now);
    case 'saml2':
      return subjectOfSamlAssertion(verified.assertion, s.trust, request.trail);
  }
}

/** Step: audience and resource name one destination the client is enabled for. */
function chooseDestination(p: ExchangeParams, request: GrantRequest, s: BrokerServices) {
  const target = resolveTarget(p.audiences, p.resources, s.destinations);
  if (!target.ok) throw new InvalidTarget(target.reason, 'the requested audience or resource is not acceptable', target.detail);
  request.trail.destination = target.destination.id;
  const grant = grantAt(request.client.client, target.destination.id);
  if (!grant) throw new InvalidTarget('client_not_enabled_for_destination', 'the requested audience or resource is not acceptable');
  return { destination: target.destination, resources: target.resources, grant };
}

/** Step: the requested scopes, translated into the destination's vocabulary. Unmapped scopes fail closed. */
function translateRequestedScopes(p: ExchangeParams, destination: DestinationConfig, defaults: string[], request: GrantRequest): ScopeTranslation[] {
  const parsed = parseScope(p.scope, MAX_SCOPE_COUNT);
  if (!parsed.ok) throw new InvalidScope('invalid_parameter', 'scope is malformed');
  if (parsed.scopes.length === 0) {
    // No scope requested: the client's configured defaults, already in destination vocabulary.
    if (defaults.length === 0) throw new InvalidScope('missing_parameter', 'scope is required for this audience');
    request.trail.requestedScopes = defaults;
    return defaults.map((s) => ({ from: s, to: s }));
  }
  request.trail.requestedScopes = parsed.scopes;
  const { translated, untranslatable } = translateScopes(parsed.scopes, destination.scope_translation);
  if (untranslatable.length > 0) throw new InvalidScope('scope_untranslatable', 'a requested scope is not available at this audience', untranslatable.join(' ').slice(0, 200));
  return translated;
}

/** What policy granted, and the approvals (if any) the grant relied on: the ID-JAG ends no later than they do. */
export interface ScopeGrant {
  scopes: string[];
  approvals?: Array<{ id: string; until: number }>;
}

/**
 * Step: per-scope policy, intersected with what the client may hold there. With several
 * resources, every (resource, scope) pair is a question of its own and a scope is granted only
 * if every resource allows it: the ID-JAG names them all. A scope refused only by `@requestable`
 * forbids is asked again with the approvals an approver gave (Cedar's `context.approved`): the
 * store is read only then, never on a mint policy grants outright.
 */
async function decideScopes(
  translated: ScopeTranslation[],
  clientAllowed: string[],
  question: { identity: Identity; login: LoginFacts; destination: DestinationConfig; resources: string[]; clientId: string },
  request: GrantRequest,
  s: BrokerServices,
): Promise<ScopeGrant> {
  const { identity, login, destination } = question;
  const candidates = scopesToEvaluate(translated, clientAllowed);
  // Who the person is comes from the principal; how they logged in, from the subject token.
  const principal = mintPrincipal(identity);
  const loginContext = mintContext(login, identity, request.now);
  const ask = (resource: string | undefined, scopes = candidates, context: MintQuestion['context'] = loginContext): ScopeDecision[] =>
    s.policy.evaluateMint({
      principal,
      clientId: question.clientId,
      destination: { id: destination.id, issuer: destination.issuer },
      ...(resource ? { resource } : {}),
      scopes,
      context,
    });
  const resources = question.resources.length > 0 ? question.resources : [undefined];
  let decisions: ScopeDecision[] = candidates.length === 0 ? [] : resources.flatMap((r) => ask(r));
  let { granted, refused } = intersectGrant({ translated, clientAllowed, decisions });
  let approvals: ScopeGrant['approvals'];
  const policyRefused = refused.filter((r) => r.why === 'policy_denied').map((r) => r.scope);
  if (requestableDenial(decisions, policyRefused, s.policy.requestable)) {
    const approved = await approvedScopes(identity.principalId, question.clientId, destination.id, s, request.now);
    const lifted = policyRefused.filter((scope) => approved.has(scope));
    if (lifted.length > 0) {
      const again = lifted.flatMap((scope) => resources.flatMap((r) => ask(r, [scope], { ...loginContext, approved: approved.get(scope)!.policies })));
      decisions = [...decisions.filter((d) => !lifted.includes(d.scope)), ...again];
      ({ granted, refused } = intersectGrant({ translated, clientAllowed, decisions }));
      const used = lifted.filter((scope) => granted.includes(scope)).flatMap((scope) => approved.get(scope)!.approvals);
      if (used.length > 0) {
        approvals = used;
        request.trail.approvals = [...new Set(used.map((a) => a.id))];
      }
    }
  }
  request.trail.policy = `${s.policy.version} ${decisions.map((d) => `${d.scope}:${d.allowed ? 'permit' : 'deny'}[${d.policies.join(',')}]`).join(' ')}`.trim();
  const refusing = granted.length === 0 || (refused.length > 0 && destination.partial_scope === 'refuse');
  if (refusing) refuse(decisions, refused, granted.length === 0, { ask: (scopes, context) => resources.flatMap((r) => ask(r, scopes, context)), loginContext }, s);
  request.trail.grantedScopes = granted;
  return { scopes: granted, ...(approvals ? { approvals } : {}) };
}

/**
 * Step: why a mint is refused, in the order a client can act on it. A denial a stronger login
 * would lift is a step-up (insufficient_user_authentication); one only `@requestable` forbids
 * made is requestable (access_denied carrying how to ask; exchange/requestable.ts); any other
 * policy denial is access_denied (the grant is valid, the person not entitled); a scope the client
 * may never hold there is invalid_scope.
 */
function refuse(
  decisions: ScopeDecision[],
  refused: Array<{ scope: string; why: string }>,
  nothingGranted: boolean,
  again: { ask: (scopes: string[], context: MintQuestion['context']) => ScopeDecision[]; loginContext: MintQuestion['context'] },
  s: BrokerServices,
): never {
  const scopes = refused.map((r) => r.scope);
  const listed = scopes.join(' ').slice(0, 200);
  if (refused.length === 0) throw new InvalidScope('no_scope_granted', 'none of the requested scopes can be granted');
  const stepUp = stepUpRefusal(decisions, scopes, s.policy, again.ask, again.loginContext);
  if (stepUp) throw stepUp;
  const description = nothingGranted ? 'none of the requested scopes can be granted' : 'some of the requested scopes cannot be granted';
  if (refused.some((r) => r.why !== 'policy_denied')) throw new InvalidScope('scope_not_permitted_for_client', description, listed);
  const requestable = requestableRefusal(decisions, scopes, s.policy, again.ask, again.loginContext);
  if (requestable) throw new RequestableRefusal(requestable, description, listed);
  throw new AccessDenied('policy_denied', description, listed);
}

/**
 * Claims carried into the ID-JAG, as the destination's configuration allows. Only what the person's
 * upstream was believed about reaches here (an email only when verified by an upstream
 * authoritative for its domain); `tenant` is the issuing side's, the broker's own.
 */
function carriedClaims(login: LoginFacts, person: Record<string, unknown>, destination: DestinationConfig, brokerTenant: string | undefined): IdJagInput['carried'] {
  const carried: IdJagInput['carried'] = {};
  const include = new Set(destination.include_claims);
  if (include.has('auth_time') && login.authTime !== undefined) carried.auth_time = login.authTime;
  if (include.has('acr') && login.acr !== undefined) carried.acr = login.acr;
  if (include.has('amr') && login.amr !== undefined) carried.amr = login.amr;
  if (include.has('email') && typeof person.email === 'string' && person.email_verified === true) carried.email = person.email;
  if (include.has('tenant') && brokerTenant !== undefined) carried.tenant = brokerTenant;
  return carried;
}

/**
 * Step: commit the mint (binding, if new, and audit record). When a concurrent request committed a
 * binding for the same principal or subject first, the store refuses ours (StoreConflict): the
 * mapping is resolved again and the mint stands only if it still names the same subject; otherwise
 * it is refused with the mapping's reason. Never a server error, never a second binding.
 */
async function commitMint(request: GrantRequest, s: BrokerServices, namespace: NamespaceConfig, identity: Identity, mapping: Extract<Resolution, { ok: true }>) {
  try {
    if (!mapping.newBinding) return await s.commitMint(request);
    try {
      await s.commitMint(request, mapping.newBinding);
    } catch (err) {
      if (!(err instanceof StoreConflict)) throw err;
      const again = await s.subjects.resolve(namespace, identity, request.now);
      if (!again.ok) throw new InvalidGrant(again.reason, 'the subject cannot be named at this audience', again.detail);
      if (again.newBinding || again.subject !== mapping.subject) throw new InvalidGrant('mapping_changed', 'the subject cannot be named at this audience', 'binding changed concurrently');
      request.trail.mapping = again.decidedBy;
      return await s.commitMint(request);
    }
    s.subjects.remember(namespace, identity, mapping.newBinding);
  } catch (err) {
    // The signed ID-JAG is discarded: the refusal's audit record must not name its jti.
    delete request.trail.jti;
    throw err;
  }
}

/**
 * Step: a subject token that may be used once (a SAML assertion) is recorded now, when nothing but
 * signing and committing is left: a replay is refused, and a refused exchange has burned nothing.
 * The record is atomic in the store, so of two concurrent exchanges of one assertion only one mints.
 */
export async function useOnce(subject: Subject, request: GrantRequest, s: BrokerServices) {
  const once = subject.singleUse;
  if (!once) return;
  const fresh = await s.store.replay.consume(once.scope, once.id, once.until, request.now);
  if (!fresh) throw new InvalidGrant('subject_token_replayed', 'the subject token is invalid');
}

/** What an exchange decided, before anything is signed or written; both profiles end here. */
export interface ExchangeDecision {
  subject: Subject;
  destination: DestinationConfig;
  resources: string[];
  /** The requesting client's entry for the destination: its client_id there, what it may hold. */
  grant: ClientDestinationConfig;
  /** The client at the broker the ID-JAG is for. */
  clientId: string;
  namespace: NamespaceConfig;
  mapping: Extract<Resolution, { ok: true }>;
  subId?: IdJagInput['subId'];
  scopes: string[];
  /** Approvals the granted scopes relied on (governance): the ID-JAG never outlives them. */
  approvals?: Array<{ id: string; until: number }>;
}

/**
 * Steps 3–7 of an exchange (subject token, destination, scopes, subject, policy), shared by the
 * caller-pushed and the resource-pulled profile. Writes nothing. `onDestination` lets a profile
 * refuse a destination before any mapping or policy work is done.
 */
export async function evaluateExchange(
  params: ExchangeParams,
  request: GrantRequest,
  s: BrokerServices,
  options: TokenExchangeOptions,
  onDestination?: (destination: DestinationConfig) => void,
): Promise<ExchangeDecision & { token: VerifiedSubjectToken }> {
  const token = await verifySubjectToken(params, request, s, options);
  const { destination, resources, grant } = chooseDestination(params, request, s);
  onDestination?.(destination);
  const translated = translateRequestedScopes(params, destination, grant.default_scopes, request);
  if (token.type === 'refresh_token') requireWithinRefreshGrant(translated, token.record);
  const subject = await subjectOf(token, request, s);
  const clientId = request.client.client.client_id;
  try {
    const decided = await decideForSubject({ subject, destination, resources, grant, translated, clientId }, request, s);
    return { ...decided, token };
  } catch (err) {
    // A requestable refusal leaves with what escalation needs (exchange/requestable.ts).
    if (err instanceof RequestableRefusal) {
      const sessionId = sessionOf(token, s.settings.issuer);
      err.question = { subject, destination, resources, clientId, scopes: [...new Set(translated.map((t) => t.to))], ...(sessionId !== undefined ? { sessionId } : {}) };
    }
    throw err;
  }
}

/** The broker session behind a subject token, when there is one: references and deferrals re-check it later. */
export function sessionOf(token: VerifiedSubjectToken, brokerIssuer: string): string | undefined {
  if (token.type === 'refresh_token') return token.record.sessionId;
  if (token.type === 'id_token' && token.token.issuer === brokerIssuer && typeof token.token.claims.sid === 'string') return token.token.claims.sid;
  return undefined;
}

/**
 * Steps 6–7 for a known subject: login age, the subject in the destination's namespace, policy.
 * The pulled profile runs them again when a reference is redeemed, with the facts of that moment.
 */
export async function decideForSubject(
  q: { subject: Subject; destination: DestinationConfig; resources: string[]; grant: ClientDestinationConfig; translated: ScopeTranslation[]; clientId: string },
  request: GrantRequest,
  s: BrokerServices,
): Promise<ExchangeDecision> {
  const { subject, destination, resources, grant } = q;
  const { identity, login } = subject;
  request.trail.principalId = identity.principalId;
  requireRecentAuthentication(login, destination.max_auth_age, request.now);
  // The person's own IdP, also when the subject token was one the broker issued.
  request.trail.upstreamIssuer = identity.upstreamIssuer;
  const namespace = s.namespaces.get(destination.namespace)!;
  const mapping = await s.subjects.resolve(namespace, identity, request.now);
  if (!mapping.ok) throw new InvalidGrant(mapping.reason, 'the subject cannot be named at this audience', mapping.detail);
  request.trail.mapping = mapping.decidedBy;
  const subId = destination.sub_id ? subjectIdentifierFor(destination.sub_id, identity) : undefined;

  const { scopes, approvals } = await decideScopes(q.translated, grant.scopes, { identity, login, destination, resources, clientId: q.clientId }, request, s);
  return { subject, destination, resources, grant, clientId: q.clientId, namespace, mapping, ...(subId ? { subId } : {}), scopes, ...(approvals ? { approvals } : {}) };
}

/** Step 8: sign the ID-JAG and commit the mint (binding, if new, and audit record). */
export async function mintIdJag(d: ExchangeDecision, request: GrantRequest, s: BrokerServices): Promise<TokenResponse> {
  const { destination, subject, mapping } = d;
  // Never past `approved_until` of an approval a scope was granted under (AuthZEN Access Request profile).
  const approvedFor = d.approvals ? Math.min(...d.approvals.map((a) => a.until)) - request.now : Infinity;
  const lifetime = Math.min(destination.id_jag_lifetime ?? s.settings.id_jag.lifetime, s.settings.id_jag.lifetime, approvedFor);
  const claims = buildIdJagClaims({
    issuer: s.settings.issuer,
    subject: mapping.subject,
    audience: destination.issuer,
    clientId: d.grant.client_id,
    resources: d.resources,
    scopes: d.scopes,
    now: request.now,
    lifetime,
    carried: carriedClaims(subject.login, subject.identity.claims, destination, s.settings.tenant),
    // Draft §3.1: aud_tenant scopes aud_sub; they travel together or not at all.
    ...(destination.tenant ? { audTenant: destination.tenant, audSub: mapping.subject } : {}),
    ...(d.subId ? { subId: d.subId } : {}),
    ...(request.jkt ? { jkt: request.jkt } : {}),
  });
  await useOnce(subject, request, s);
  const jwt = await signIdJag(claims, s.keys.signingKey());
  request.trail.jti = claims.jti;

  await commitMint(request, s, d.namespace, subject.identity, mapping);

  return { access_token: jwt, issued_token_type: ID_JAG_TOKEN_TYPE, token_type: 'N_A', expires_in: lifetime, scope: d.scopes.join(' ') };
}

/** RFC 8693 token exchange → ID-JAG, caller-pushed profile, with the runtime's optional verifiers. An ordered list of named steps. */
export function createTokenExchangeGrant(options: TokenExchangeOptions = {}): Grant<BrokerServices> {
  return {
    grantType: TOKEN_EXCHANGE_GRANT,
    parameters: EXCHANGE_PARAMETERS,
    dpop: true,

    async handle(request, s): Promise<TokenResponse> {
      const params = readExchangeParams(request);
      const deferred = readDeferred(request);
      requireConfidentialClient(request);
      await proofOfPossession(request, s);
      const decision = await escalating(evaluateExchange(params, request, s, options), deferred, request, s);
      return mintIdJag(decision, request, s);
    },
  };
}

/** Step: a requestable refusal becomes the start of an access request (exchange/requestable.ts). */
export async function escalating<T>(pending: Promise<T>, deferred: boolean, request: GrantRequest, s: BrokerServices): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    throw err instanceof RequestableRefusal ? await escalate(err, deferred, request, s) : err;
  }
}

export const EXCHANGE_PARAMETERS: readonly string[] = ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type', 'authorization_details', 'deferred'];

/** The grant without optional verifiers (no saml2): what a runtime without SAML gets. */
export const tokenExchangeGrant: Grant<BrokerServices> = createTokenExchangeGrant();
