import { ID_JAG_REFERENCE_LIFETIME, MAX_REFERENCE_CHARS } from '../constants.js';
import { ID_JAG_REFERENCE_TOKEN_TYPE } from '../destination/limits.js';
import type { DestinationConfig } from '../config/schema.js';
import { boundedAudit } from '../audit/record.js';
import type { Grant, GrantRequest, TokenResponse } from '../grants/grant.js';
import type { BrokerServices } from '../grants/services.js';
import type { Identity } from '../mapping/resolve.js';
import { ID_JAG_TOKEN_TYPE } from '../minting/id-jag.js';
import { InvalidGrant, InvalidRequest, InvalidTarget, OAuthError, ServerError, TemporarilyUnavailable } from '../oauth/errors.js';
import type { RefusalReason } from '../oauth/reasons.js';
import { isRandomToken, randomToken } from '../provider/crypto.js';
import type { IdJagReferenceRecord } from '../store/ports.js';
import { grantAt } from './destination.js';
import { refuseDpop } from './dpop.js';
import { recheckSubject, storedSubject, type StoredSubject } from './stored-subject.js';
import {
  createTokenExchangeGrant,
  decideForSubject,
  evaluateExchange,
  escalating,
  EXCHANGE_PARAMETERS,
  sessionOf,
  mintIdJag,
  readExchangeParams,
  requireConfidentialClient,
  TOKEN_EXCHANGE_GRANT,
  useOnce,
  type TokenExchangeOptions,
} from './token-exchange.js';

/**
 * The resource-pulled profile (docs/profiles/pulled.md). Web standards only.
 *
 * A client asks for an ID-JAG *reference* with the same token exchange as the caller-pushed
 * profile; the broker decides everything then and answers with an opaque, single-use reference
 * that carries no claims. The destination's authorization server redeems it over its back channel,
 * authenticated as its own broker client; the broker consumes the reference, decides again with
 * the facts of that moment and returns the ID-JAG to the destination only. The caller never holds
 * the user's name in the destination's namespace.
 */

/**
 * The token type of an ID-JAG reference: an absolute URI under the project's own namespace
 * (RFC 8693 §3 allows any URI; no registry defines this one). A name, never dereferenced. Defined
 * with the destination kit, which presents the same value.
 */
export { ID_JAG_REFERENCE_TOKEN_TYPE };

const REFUSED = 'the reference is invalid';

/** Step: a reference is only worth issuing for a destination that can redeem it. */
function requirePulledDestination(destination: DestinationConfig) {
  if (destination.backchannel_client === undefined) throw new InvalidTarget('destination_not_pulled', 'this audience does not redeem ID-JAG references');
}

/**
 * Client → broker: token exchange with `requested_token_type` = the reference type. Every step of
 * the pushed profile runs (nothing is skipped, nothing copied); instead of signing, the broker
 * stores the decision's facts under the hash of a fresh reference, with the audit record of the
 * issue, in one write.
 */
async function issueReference(request: GrantRequest, s: BrokerServices, options: TokenExchangeOptions): Promise<TokenResponse> {
  const params = readExchangeParams(request, ID_JAG_REFERENCE_TOKEN_TYPE);
  requireConfidentialClient(request);
  refuseDpop(request);
  // Deferred completion ends in an ID-JAG, not a reference: a requestable refusal here is access_denied with how to ask.
  const decision = await escalating(evaluateExchange(params, request, s, options, requirePulledDestination), false, request, s);
  // A single-use subject token (a SAML assertion) is spent by the issue, as by a pushed mint.
  await useOnce(decision.subject, request, s);

  const reference = randomToken();
  const subject = storedSubject(decision.subject, sessionOf(decision.token, s.settings.issuer));
  const record: IdJagReferenceRecord = {
    id: crypto.randomUUID(),
    clientId: decision.clientId,
    destination: decision.destination.id,
    principalId: decision.subject.identity.principalId,
    resources: decision.resources,
    scopes: decision.scopes,
    subject: subject as unknown as Record<string, unknown>,
    issuedAt: request.now,
    expiresAt: request.now + ID_JAG_REFERENCE_LIFETIME,
  };
  request.trail.reference = record.id;
  const audit = boundedAudit({ ...request.trail, at: request.now, event: 'reference', requestId: request.requestId });
  await s.store.references.issue(await s.tokenDigest(reference), record, audit);
  return { access_token: reference, issued_token_type: ID_JAG_REFERENCE_TOKEN_TYPE, token_type: 'N_A', expires_in: ID_JAG_REFERENCE_LIFETIME, scope: decision.scopes.join(' ') };
}

/**
 * Step: the redemption request. The reference binds audience, resource and scope; a redeemer that
 * sends them is asking for something the reference does not say, and is refused rather than ignored.
 */
function readRedemptionParams(request: GrantRequest): string {
  const { form } = request;
  const requested = form.get('requested_token_type');
  if (requested === undefined) throw new InvalidRequest('missing_parameter', 'requested_token_type is required');
  if (requested !== ID_JAG_TOKEN_TYPE) throw new InvalidRequest('invalid_parameter', `requested_token_type must be ${ID_JAG_TOKEN_TYPE}`);
  for (const name of ['audience', 'resource', 'scope', 'actor_token', 'actor_token_type', 'authorization_details']) {
    if (form.has(name)) throw new InvalidRequest('reference_parameter_not_allowed', `${name} is not allowed when redeeming a reference: the reference binds it`, name);
  }
  const reference = form.require('subject_token');
  // Anything randomToken() could not have produced is refused before it is hashed or looked up.
  if (reference.length > MAX_REFERENCE_CHARS || !isRandomToken(reference)) throw new InvalidGrant('reference_malformed', REFUSED);
  return reference;
}

/** Step: consume the reference, atomically: of two concurrent redemptions exactly one gets here. */
async function consumeReference(reference: string, request: GrantRequest, s: BrokerServices): Promise<IdJagReferenceRecord> {
  const outcome = await s.store.references.consume(await s.tokenDigest(reference), request.now);
  if (outcome.status !== 'unknown') {
    request.trail.reference = outcome.reference.id;
    request.trail.forClient = outcome.reference.clientId;
    request.trail.destination = outcome.reference.destination;
    request.trail.principalId = outcome.reference.principalId;
  }
  if (outcome.status === 'unknown') throw new InvalidGrant('reference_unknown', REFUSED);
  if (outcome.status === 'expired') throw new InvalidGrant('reference_expired', REFUSED);
  if (outcome.status === 'replayed') throw new InvalidGrant('reference_replayed', REFUSED);
  return outcome.reference;
}

/**
 * Step: the authenticated client is the back-channel client of the destination the reference was
 * issued for. Anyone else holding it (another destination, the client itself) has been handed or
 * has taken a reference not meant for them: it is refused, and it stays consumed (burned), so the
 * destination it was meant for cannot be tricked into redeeming it after the leak either.
 */
function requireBoundDestination(reference: IdJagReferenceRecord, request: GrantRequest, s: BrokerServices): DestinationConfig {
  const destination = s.settings.destinations.find((d) => d.id === reference.destination);
  const redeemer = request.client.client.client_id;
  if (!destination || destination.backchannel_client !== redeemer) {
    throw new InvalidGrant('reference_wrong_destination', REFUSED, `presented by ${redeemer}; issued for destination ${reference.destination}; burned`);
  }
  return destination;
}

/** Step: the client the reference was issued to is still enabled for the destination, as configured now. */
function originalGrant(reference: IdJagReferenceRecord, s: BrokerServices) {
  const client = s.settings.clients.find((c) => c.client_id === reference.clientId);
  const grant = client && grantAt(client, reference.destination);
  if (!grant) throw new InvalidGrant('client_not_enabled_for_destination', REFUSED, reference.clientId);
  return grant;
}

/**
 * What the re-check refuses, the redeemer learns as invalid_grant: the destination cannot send the
 * user to step up or pick other scopes; the precise reason stays in the audit record. Failures
 * that are the broker's own (server_error, temporarily_unavailable) stay what they are.
 */
function asRedemptionRefusal(err: unknown): unknown {
  if (!(err instanceof OAuthError) || err instanceof InvalidGrant || err instanceof ServerError || err instanceof TemporarilyUnavailable) return err;
  return new InvalidGrant(err.reason as RefusalReason, REFUSED, err.detail);
}

/**
 * Destination → broker: token exchange with `subject_token` = the reference, authenticated as the
 * destination's back-channel client. Consumed first (single use, whatever follows), then bound,
 * then decided again: session, mapping and policy as they are now, never more than was granted at
 * issue. The ID-JAG goes to the redeeming destination only.
 */
async function redeemReference(request: GrantRequest, s: BrokerServices): Promise<TokenResponse> {
  const presented = readRedemptionParams(request);
  refuseDpop(request);
  const reference = await consumeReference(presented, request, s);
  const destination = requireBoundDestination(reference, request, s);
  request.trail.requestedScopes = reference.scopes;
  request.trail.resource = reference.resources.join(' ') || undefined;
  try {
    const grant = originalGrant(reference, s);
    const subject = await recheckSubject(reference.subject as unknown as StoredSubject, request, s, REFUSED);
    const translated = reference.scopes.map((scope) => ({ from: scope, to: scope }));
    const decision = await decideForSubject({ subject, destination, resources: reference.resources, grant, translated, clientId: reference.clientId }, request, s);
    return await mintIdJag(decision, request, s);
  } catch (err) {
    throw asRedemptionRefusal(err);
  }
}

/**
 * The token-exchange grant with both profiles: a reference presented as the subject token is a
 * redemption; a reference asked for is an issue; anything else is the caller-pushed exchange.
 */
export function createExchangeGrant(options: TokenExchangeOptions = {}): Grant<BrokerServices> {
  const pushed = createTokenExchangeGrant(options);
  return {
    grantType: TOKEN_EXCHANGE_GRANT,
    parameters: EXCHANGE_PARAMETERS,
    // The pushed profile binds; both reference steps refuse a proof (refuseDpop).
    dpop: true,
    handle(request, s) {
      if (request.form.get('subject_token_type') === ID_JAG_REFERENCE_TOKEN_TYPE) return redeemReference(request, s);
      if (request.form.get('requested_token_type') === ID_JAG_REFERENCE_TOKEN_TYPE) return issueReference(request, s, options);
      return pushed.handle(request, s);
    },
  };
}
