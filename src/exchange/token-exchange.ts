import type { ClientConfig, DestinationConfig, NamespaceConfig } from '../config/schema.js';
import { MAX_SCOPE_COUNT } from '../constants.js';
import { InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient, UnsupportedTokenType } from '../oauth/errors.js';
import type { Grant, GrantRequest, TokenResponse } from '../oauth/grants.js';
import type { RefusalReason } from '../oauth/reasons.js';
import { buildIdJagClaims, ID_JAG_TOKEN_TYPE, signIdJag, type IdJagInput } from '../minting/id-jag.js';
import { principalIdOf } from '../mapping/principal.js';
import type { Identity, Resolution } from '../mapping/resolve.js';
import { StoreConflict } from '../store/ports.js';
import { intersectGrant, parseScope, scopesToEvaluate, translateScopes, type ScopeTranslation } from '../policy/scopes.js';
import type { ScopeDecision } from '../policy/types.js';
import type { VerifiedIdToken } from './id-token.js';
import { resolveTarget } from './destination.js';
import type { BrokerServices } from '../services.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** Token types this broker knows but does not (yet) accept as subject tokens here. */
const KNOWN_UNSUPPORTED = new Set([
  'urn:ietf:params:oauth:token-type:access_token',
  'urn:ietf:params:oauth:token-type:refresh_token',
  'urn:ietf:params:oauth:token-type:saml2',
  'urn:ietf:params:oauth:token-type:saml1',
  'urn:ietf:params:oauth:token-type:jwt',
  ID_JAG_TOKEN_TYPE,
]);

interface ExchangeParams {
  subjectToken: string;
  subjectTokenType: string;
  audiences: string[];
  resources: string[];
  scope?: string;
}

/** Step: read and shape-check the RFC 8693 parameters. */
export function readExchangeParams(request: GrantRequest): ExchangeParams {
  const { form } = request;
  const requested = form.get('requested_token_type');
  if (requested === undefined) throw new InvalidRequest('missing_parameter', 'requested_token_type is required');
  if (requested !== ID_JAG_TOKEN_TYPE) throw new InvalidRequest('invalid_parameter', `requested_token_type must be ${ID_JAG_TOKEN_TYPE}`);
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

/** Step: verify the subject token; it must have been issued to this client. */
async function verifySubjectToken(p: ExchangeParams, request: GrantRequest, s: BrokerServices): Promise<VerifiedIdToken> {
  if (p.subjectTokenType !== ID_TOKEN_TYPE) {
    const known = KNOWN_UNSUPPORTED.has(p.subjectTokenType);
    throw new UnsupportedTokenType('unsupported_token_type', known ? 'this subject_token_type is not supported' : 'unknown subject_token_type');
  }
  const client = request.client.client;
  const token = await s.idTokens.verify(p.subjectToken, (issuer) => audiencesAt(issuer, client, s.settings.issuer), request.now);
  request.trail.upstreamIssuer = token.issuer;
  return token;
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
 * Step: who the subject token is about. An upstream ID token names the person directly (issuer,
 * sub). An ID token the broker issued names them in the app's namespace, so the person is found
 * through its session (`sid`), which must still be active: a revoked session mints nothing.
 */
async function identityOf(token: VerifiedIdToken, request: GrantRequest, s: BrokerServices): Promise<Identity> {
  if (token.issuer !== s.settings.issuer) {
    return { principalId: await principalIdOf(token.issuer, token.subject), upstreamIssuer: token.issuer, upstreamSubject: token.subject, claims: token.claims };
  }
  const sid = token.claims.sid;
  if (typeof sid !== 'string') throw new InvalidGrant('claim_missing', 'the subject token is invalid', 'sid');
  const session = await s.store.sessions.active(sid, request.now);
  if (!session) throw new InvalidGrant('session_ended', 'the subject token is invalid');
  const principal = await s.store.principals.get(session.principalId);
  if (!principal) throw new InvalidGrant('mapping_missing', 'the subject cannot be named at this audience', 'no principal record for the session');
  return {
    principalId: principal.id,
    upstreamIssuer: principal.upstreamIssuer,
    upstreamSubject: principal.upstreamSubject,
    claims: principal.claims,
    ...(principal.saml ? { saml: principal.saml } : {}),
  };
}

/** Step: audience and resource name one destination the client is enabled for. */
function chooseDestination(p: ExchangeParams, request: GrantRequest, s: BrokerServices) {
  const target = resolveTarget(p.audiences, p.resources, s.destinations);
  if (!target.ok) throw new InvalidTarget(target.reason, 'the requested audience or resource is not acceptable', target.detail);
  request.trail.destination = target.destination.id;
  const destinations = request.client.client.destinations;
  const grant = Object.hasOwn(destinations, target.destination.id) ? destinations[target.destination.id] : undefined;
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

/**
 * Step: per-scope policy, intersected with what the client may hold there. With several
 * resources, every (resource, scope) pair is a question of its own and a scope is granted only
 * if every resource allows it: the ID-JAG names them all.
 */
function decideScopes(
  translated: ScopeTranslation[],
  clientAllowed: string[],
  question: { identity: Identity; token: VerifiedIdToken; destination: DestinationConfig; resources: string[] },
  request: GrantRequest,
  s: BrokerServices,
): string[] {
  const { identity, token, destination } = question;
  const candidates = scopesToEvaluate(translated, clientAllowed);
  // Who the person is comes from the principal; how they logged in, from the token.
  const attributes = identity.claims;
  const claims = token.claims;
  const ask = (resource: string | undefined): ScopeDecision[] =>
    s.policy.evaluateMint({
      principal: {
        id: identity.principalId,
        upstreamIssuer: identity.upstreamIssuer,
        ...(typeof attributes.email === 'string' ? { email: attributes.email } : {}),
        groups: Array.isArray(attributes.groups) ? attributes.groups.filter((g): g is string => typeof g === 'string') : [],
        ...(typeof attributes.tenant === 'string' ? { tenant: attributes.tenant } : {}),
      },
      clientId: request.client.client.client_id,
      destination: { id: destination.id, issuer: destination.issuer },
      ...(resource ? { resource } : {}),
      scopes: candidates,
      context: {
        ...(typeof claims.acr === 'string' ? { acr: claims.acr } : {}),
        amr: Array.isArray(claims.amr) ? claims.amr.filter((a): a is string => typeof a === 'string') : [],
        ...(typeof claims.auth_time === 'number' ? { authTime: claims.auth_time } : {}),
        ...(typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}),
        now: request.now,
      },
    });
  const resources = question.resources.length > 0 ? question.resources : [undefined];
  const decisions: ScopeDecision[] = candidates.length === 0 ? [] : resources.flatMap(ask);
  const { granted, refused } = intersectGrant({ translated, clientAllowed, decisions });
  request.trail.policy = `${s.policy.version} ${decisions.map((d) => `${d.scope}:${d.allowed ? 'permit' : 'deny'}[${d.policies.join(',')}]`).join(' ')}`.trim();
  const reason: RefusalReason = refused.some((r) => r.why === 'policy_denied') ? 'policy_denied' : 'scope_not_permitted_for_client';
  if (granted.length === 0) throw new InvalidScope(refused.length ? reason : 'no_scope_granted', 'none of the requested scopes can be granted', refused.map((r) => r.scope).join(' '));
  if (refused.length > 0 && destination.partial_scope === 'refuse') throw new InvalidScope(reason, 'some of the requested scopes cannot be granted', refused.map((r) => r.scope).join(' '));
  request.trail.grantedScopes = granted;
  return granted;
}

/** Claims carried from the upstream login into the ID-JAG, as the destination's configuration allows. */
function carriedClaims(token: VerifiedIdToken, person: Record<string, unknown>, destination: DestinationConfig): IdJagInput['carried'] {
  const c = token.claims;
  const carried: IdJagInput['carried'] = {};
  const include = new Set(destination.include_claims);
  if (include.has('auth_time') && typeof c.auth_time === 'number') carried.auth_time = c.auth_time;
  if (include.has('acr') && typeof c.acr === 'string') carried.acr = c.acr;
  if (include.has('amr') && Array.isArray(c.amr)) carried.amr = c.amr.filter((a): a is string => typeof a === 'string');
  if (include.has('email') && typeof person.email === 'string') carried.email = person.email;
  if (include.has('tenant') && typeof person.tenant === 'string') carried.tenant = person.tenant;
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

/** RFC 8693 token exchange → ID-JAG, caller-pushed profile. An ordered list of named steps. */
export const tokenExchangeGrant: Grant<BrokerServices> = {
  grantType: TOKEN_EXCHANGE_GRANT,
  parameters: ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type', 'authorization_details'],

  async handle(request, s): Promise<TokenResponse> {
    const params = readExchangeParams(request);
    requireConfidentialClient(request);
    const token = await verifySubjectToken(params, request, s);
    const { destination, resources, grant } = chooseDestination(params, request, s);
    const translated = translateRequestedScopes(params, destination, grant.default_scopes, request);

    const identity = await identityOf(token, request, s);
    request.trail.principalId = identity.principalId;
    const namespace = s.namespaces.get(destination.namespace)!;
    const mapping = await s.subjects.resolve(namespace, identity, request.now);
    if (!mapping.ok) throw new InvalidGrant(mapping.reason, 'the subject cannot be named at this audience', mapping.detail);
    request.trail.mapping = mapping.decidedBy;

    const scopes = decideScopes(translated, grant.scopes, { identity, token, destination, resources }, request, s);

    const lifetime = Math.min(destination.id_jag_lifetime ?? s.settings.id_jag.lifetime, s.settings.id_jag.lifetime);
    const claims = buildIdJagClaims({
      issuer: s.settings.issuer,
      subject: mapping.subject,
      audience: destination.issuer,
      clientId: grant.client_id,
      resources,
      scopes,
      now: request.now,
      lifetime,
      carried: carriedClaims(token, identity.claims, destination),
      ...(destination.tenant ? { audTenant: destination.tenant } : {}),
    });
    const jwt = await signIdJag(claims, s.keys.signingKey());
    request.trail.jti = claims.jti;

    await commitMint(request, s, namespace, identity, mapping);

    return { access_token: jwt, issued_token_type: ID_JAG_TOKEN_TYPE, token_type: 'N_A', expires_in: lifetime, scope: scopes.join(' ') };
  },
};
