import { GovernanceError, type GovernanceErrorKind } from '../governance/errors.js';
import { AUTHZEN_CHALLENGE, AuthzenError, NotAllowed, Unauthorized } from './errors.js';

/**
 * The one place a refusal of the access request endpoints becomes a response: RFC 9457
 * `application/problem+json`. The profile's own refusals carry its problem types
 * (`urn:openid:authzen:access-request:error:<kind>`) and statuses (§ "Error Responses"); the
 * broker's own (a broken shape, authentication, media type, size, load) are `about:blank` with
 * the HTTP status's title, as RFC 9457 §4.2.1 asks. `detail` names the rule broken, never a secret.
 */

const PROFILE_ERROR = 'urn:openid:authzen:access-request:error:';

const KINDS: Record<GovernanceErrorKind, { status: number; title: string; profile: boolean }> = {
  not_requestable: { status: 400, title: 'Access is not requestable', profile: true },
  expired_denial: { status: 410, title: 'The requestable denial has expired', profile: true },
  invalid_denial_binding: { status: 400, title: 'The request cannot be bound to the denial', profile: true },
  duplicate_request: { status: 409, title: 'Duplicate access request', profile: true },
  unknown_task: { status: 404, title: 'Unknown task', profile: true },
  task_expired: { status: 410, title: 'The task has expired', profile: true },
  invalid_task_state: { status: 409, title: 'Invalid task state', profile: true },
  invalid_request: { status: 400, title: 'Bad Request', profile: false },
  // Never raised by these endpoints (approvals are the console's); mapped so no kind falls through.
  not_an_approver: { status: 403, title: 'Forbidden', profile: false },
};

const STATUS_TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
};

/** The wire identity of a refusal: for the response and for its log line. */
export function problemOf(err: GovernanceError | AuthzenError): { type: string; title: string; status: number; detail: string } {
  if (err instanceof GovernanceError) {
    const k = KINDS[err.kind];
    return { type: k.profile ? `${PROFILE_ERROR}${err.kind}` : 'about:blank', title: k.title, status: k.status, detail: err.detail };
  }
  return { type: 'about:blank', title: STATUS_TITLE[err.status] ?? 'Error', status: err.status, detail: err.message };
}

export function problemResponse(err: GovernanceError | AuthzenError, headers: Record<string, string>): Response {
  const problem = problemOf(err);
  const out: Record<string, string> = { 'Content-Type': 'application/problem+json', ...headers };
  if (err instanceof Unauthorized) out['WWW-Authenticate'] = AUTHZEN_CHALLENGE;
  if (err instanceof NotAllowed) out.Allow = err.allow;
  return new Response(JSON.stringify(problem), { status: problem.status, headers: out });
}
