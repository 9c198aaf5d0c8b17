import { MAX_DECISION_REASON_CHARS, MAX_IDEMPOTENCY_KEY_CHARS, MAX_JUSTIFICATION_CHARS } from '../constants.js';
import { GovernanceError } from '../governance/errors.js';
import type { Submission, SubmittedItem } from '../governance/tasks.js';
import { parseDuration } from '../policy/duration.js';
import { BadRequest } from './errors.js';
import { AUTHZEN_MAX_REQUEST_ITEMS } from './limits.js';
import { isObject, optionalObject, optionalString, readAction, readEntity, requireObject, type Json } from './request.js';

/**
 * The AuthZEN Access Request profile's submission (§ "Access Request Submission") and cancellation
 * bodies, read by pure functions with the clock passed in. A broken shape is BadRequest (the
 * broker's `invalid_request`); a denial that is not requestable or carries no binding is the
 * profile's own problem type. Unknown members are ignored; known members the broker does not
 * support (per-item bindings and overrides) are refused rather than silently dropped.
 */

/** A submission as read from the body: what the governance core needs, minus the transport's parts. */
export type ReadSubmission = Omit<Submission, 'bodyHash' | 'idempotencyKey'>;

export function readSubmission(body: Json, now: number): ReadSubmission {
  const subject = readEntity(requireObject(body, 'subject', 'subject'), 'subject');
  const items = readItems(body);
  const justification = readJustification(body);
  const requestedDuration = readRequestedAccess(body, now);
  const { requestContext, evaluationId } = readDenial(body);
  return {
    requestContext,
    ...(evaluationId !== undefined ? { evaluationId } : {}),
    subject: { type: subject.type, id: subject.id },
    items,
    ...(justification !== undefined ? { justification } : {}),
    ...(requestedDuration !== undefined ? { requestedDuration } : {}),
  };
}

/** `resource` + `action` (one item), XOR a non-empty `items` array of {resource, action}. */
function readItems(body: Json): SubmittedItem[] {
  const toItem = (parent: Json, at: (k: string) => string): SubmittedItem => {
    const resource = readEntity(requireObject(parent, 'resource', at('resource')), at('resource'));
    const action = readAction(requireObject(parent, 'action', at('action')), at('action'));
    return { resource, action: { name: action.name } };
  };
  if (body.items === undefined) return [toItem(body, (k) => k)];
  if (body.resource !== undefined || body.action !== undefined) throw new BadRequest('resource and action must be omitted when items is present');
  if (!Array.isArray(body.items)) throw new BadRequest('items must be an array');
  if (body.items.length === 0) throw new BadRequest('items must not be empty');
  if (body.items.length > AUTHZEN_MAX_REQUEST_ITEMS) throw new BadRequest(`items may hold at most ${AUTHZEN_MAX_REQUEST_ITEMS} entries`);
  return body.items.map((item: unknown, i) => {
    const path = `items[${i}]`;
    if (!isObject(item)) throw new BadRequest(`${path} must be an object`);
    // One signed denial binds the whole bundle here: a per-item binding or duration would be ignored, so it is refused.
    if (item.denial !== undefined) throw new BadRequest(`${path}.denial is not supported: the top-level denial binds every item`);
    if (item.requested_access !== undefined) throw new BadRequest(`${path}.requested_access is not supported: use the top-level requested_access`);
    return toItem(item, (k) => `${path}.${k}`);
  });
}

/** `context.business_justification`: what approvers read. */
function readJustification(body: Json): string | undefined {
  const context = optionalObject(body, 'context', 'context');
  const text = context?.business_justification;
  if (text === undefined) return undefined;
  if (typeof text !== 'string') throw new BadRequest('context.business_justification must be a string');
  if (text.trim() === '') throw new BadRequest('context.business_justification must not be empty');
  if (text.length > MAX_JUSTIFICATION_CHARS) throw new BadRequest(`context.business_justification is longer than ${MAX_JUSTIFICATION_CHARS} characters`);
  return text;
}

/** RFC 3339 date-time with a zone (`Z` or an offset); Date.parse alone accepts far more. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** `requested_access.requested_duration` (ISO 8601) or `requested_until` (RFC 3339, in the future), as seconds from `now`. */
function readRequestedAccess(body: Json, now: number): number | undefined {
  const access = optionalObject(body, 'requested_access', 'requested_access');
  if (!access) return undefined;
  const { requested_duration: duration, requested_until: until } = access;
  // The profile: both present is refused unless the deployment defines a reconciliation; this one does not.
  if (duration !== undefined && until !== undefined) throw new BadRequest('requested_access may carry requested_duration or requested_until, not both');
  if (duration !== undefined) {
    const seconds = typeof duration === 'string' ? parseDuration(duration) : undefined;
    if (seconds === undefined) throw new BadRequest('requested_access.requested_duration must be an ISO 8601 duration of weeks, days, hours, minutes or seconds (such as PT4H or P1D)');
    return seconds;
  }
  if (until !== undefined) {
    const at = typeof until === 'string' && RFC3339.test(until) ? Date.parse(until) : NaN;
    if (Number.isNaN(at)) throw new BadRequest('requested_access.requested_until must be an RFC 3339 date-time');
    // Whole seconds, rounded down: an approval never ends later than asked.
    const seconds = Math.floor(at / 1000) - now;
    if (seconds < 1) throw new BadRequest('requested_access.requested_until must be in the future');
    return seconds;
  }
  return undefined;
}

/** `denial`: requestable (`access_request.requestable: true`, a decision that was a denial) and bound by the signed `request_context`. */
function readDenial(body: Json): { requestContext: string; evaluationId?: string } {
  if (body.denial === undefined) throw new GovernanceError('invalid_denial_binding', 'denial is required: it carries the binding to the denied request');
  const denial = requireObject(body, 'denial', 'denial');
  const decision = optionalObject(denial, 'decision', 'denial.decision');
  if (decision && decision.decision !== false) throw new GovernanceError('not_requestable', 'denial.decision is not a denial');
  const accessRequest = denial.access_request;
  if (!isObject(accessRequest) || accessRequest.requestable !== true) throw new GovernanceError('not_requestable', 'denial.access_request.requestable is not true');
  const requestContext = accessRequest.request_context;
  // Only the broker's signed request_context binds: it keeps no table of evaluation ids to resolve one alone.
  if (typeof requestContext !== 'string' || requestContext === '') throw new GovernanceError('invalid_denial_binding', 'denial.access_request.request_context is required: the broker binds a request by it');
  const evaluationId = optionalString(denial, 'evaluation_id', 'denial.evaluation_id');
  return { requestContext, ...(evaluationId !== undefined ? { evaluationId } : {}) };
}

/** The `Idempotency-Key` header: 1 to MAX_IDEMPOTENCY_KEY_CHARS visible ASCII characters, or absent. */
export function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length < 1 || header.length > MAX_IDEMPOTENCY_KEY_CHARS || !/^[\x21-\x7E]+$/.test(header)) {
    throw new BadRequest(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters`);
  }
  return header;
}

/** The profile's cancellation body: optional `reason` (a code) and `comment` (a note), kept as one reason for the record. */
export function readCancellation(body: Json | undefined): string | undefined {
  if (!body) return undefined;
  const reason = optionalString(body, 'reason', 'reason');
  const comment = optionalString(body, 'comment', 'comment');
  const text = [reason, comment].filter((t) => t !== undefined).join(': ');
  if (text.length > MAX_DECISION_REASON_CHARS) throw new BadRequest(`reason and comment together may be at most ${MAX_DECISION_REASON_CHARS} characters`);
  return text === '' ? undefined : text;
}
