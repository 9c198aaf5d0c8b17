import { DEFERRAL_INTERVAL, DEFERRAL_LIFETIME } from '../constants.js';
import { boundedAudit } from '../audit/record.js';
import type { DestinationConfig } from '../config/schema.js';
import { newDenial, subjectLabelOf } from '../governance/denial.js';
import { accessRequestObject } from '../governance/escalation.js';
import type { GrantRequest } from '../grants/grant.js';
import type { BrokerServices } from '../grants/services.js';
import { AccessDenied, AuthorizationPending, InvalidRequest } from '../oauth/errors.js';
import type { RequestableDenial } from '../policy/requestable.js';
import { randomToken } from '../provider/crypto.js';
import type { DeferralRecord } from '../store/ports.js';
import { storedSubject, type StoredSubject } from './stored-subject.js';
import type { Subject } from './subject.js';

/**
 * Denial as the start of escalation (docs/access-requests.md). A mint refused only by
 * `@requestable` forbids is answered access_denied with the AuthZEN Access Request profile's
 * `access_request` object (a broker-signed `request_context` binding the denied question) and the
 * AuthZEN items to submit; a client that asked for deferred completion (`deferred=true`) gets
 * authorization_pending with a single-use deferral code instead, and polls. Web standards only.
 */

/** What the exchange knew when policy refused: enough to sign the denial and, deferred, to decide again later. */
export interface RefusedQuestion {
  subject: Subject;
  /** The broker session the subject token rode on, re-checked at completion. */
  sessionId?: string;
  destination: DestinationConfig;
  resources: string[];
  clientId: string;
  /** Everything the client asked for there (destination vocabulary): decided again at completion. */
  scopes: string[];
}

/** A refusal only `@requestable` forbids made; the exchange attaches what it knew (`question`) on its way out. */
export class RequestableRefusal extends AccessDenied {
  question?: RefusedQuestion;
  constructor(
    readonly denied: RequestableDenial,
    description: string,
    detail?: string,
  ) {
    super('approval_required', description, detail);
  }
}

/** Step: `deferred=true` asks for deferred completion; any other value is a mistake, not a "no". */
export function readDeferred(request: GrantRequest): boolean {
  const value = request.form.get('deferred');
  if (value === undefined) return false;
  if (value !== 'true') throw new InvalidRequest('deferral_parameter_invalid', 'deferred must be "true" when present');
  return true;
}

/** The AuthZEN subject and items a client submits for this denial (docs/authzen.md "Access requests"). */
function authzenItems(denied: RequestableDenial, q: RefusedQuestion) {
  const resource = (scope: string) => ({ type: 'scope', id: scope, properties: { destination: q.destination.id, ...(q.resources.length === 1 ? { resource: q.resources[0] } : {}) } });
  const subject = { type: 'user', id: q.subject.identity.principalId };
  return denied.scopes.length === 1
    ? { subject, resource: resource(denied.scopes[0]!), action: { name: 'mint' } }
    : { subject, items: denied.scopes.map((scope) => ({ resource: resource(scope), action: { name: 'mint' } })) };
}

/**
 * Step: the refusal, escalated. Signs the denial; with `deferred`, also stores a deferral (its
 * issue audited) and answers authorization_pending. Either way the client learns how to ask:
 * `access_request` (profile shape), `evaluation_id`, and the AuthZEN `authzen` members to submit.
 */
export async function escalate(err: RequestableRefusal, deferred: boolean, request: GrantRequest, s: BrokerServices): Promise<AccessDenied | AuthorizationPending> {
  const q = err.question;
  if (!q) return err;
  const { identity } = q.subject;
  const denial = newDenial(
    { clientId: q.clientId, principalId: identity.principalId, upstreamIssuer: identity.upstreamIssuer, subjectLabel: subjectLabelOf(identity), destination: q.destination.id, resources: q.resources, scopes: err.denied.scopes, policies: err.denied.policies },
    request.now,
  );
  const members: Record<string, unknown> = {
    evaluation_id: denial.id,
    access_request: await accessRequestObject(denial, s.settings.issuer, s.keys),
    authzen: authzenItems(err.denied, q),
  };
  if (!deferred) return new AccessDenied('approval_required', err.description, err.detail, members);

  const code = randomToken();
  const record: DeferralRecord = {
    id: crypto.randomUUID(),
    denialId: denial.id,
    clientId: q.clientId,
    principalId: identity.principalId,
    destination: q.destination.id,
    resources: q.resources,
    scopes: q.scopes,
    subject: storedSubject(q.subject, q.sessionId) as unknown as Record<string, unknown>,
    issuedAt: request.now,
    expiresAt: request.now + DEFERRAL_LIFETIME,
  };
  request.trail.deferral = record.id;
  const audit = boundedAudit({ ...request.trail, at: request.now, event: 'deferral', requestId: request.requestId, reason: 'approval_required', ...(err.detail ? { detail: err.detail } : {}) });
  await s.store.deferrals.issue(await s.tokenDigest(code), record, DEFERRAL_INTERVAL, audit);
  return new AuthorizationPending('deferral_pending', 'approval is required; submit the access request, then poll with the deferral code', {
    ...members,
    deferral_code: code,
    interval: DEFERRAL_INTERVAL,
    expires_in: DEFERRAL_LIFETIME,
  });
}

