import type { AuditRecord } from '../store/ports.js';
import { boundedAudit } from '../audit/record.js';
import { base64url } from 'jose';
import type { Context, Hono } from 'hono';
import { ACCESS_REQUESTS_PATH } from '../governance/denial.js';
import { GovernanceError } from '../governance/errors.js';
import { cancelAccessRequest, handleExpiresAt, submitAccessRequest, taskForRequester, taskView } from '../governance/tasks.js';
import type { AccessRequestRecord } from '../store/ports.js';
import { authenticateCaller } from './caller.js';
import { AuthzenError, NotAllowed } from './errors.js';
import { answerHeaders, readBody, requireJson, requireValidRequestId } from './http.js';
import { AUTHZEN_MAX_TASK_ID } from './limits.js';
import type { AuthzenDeps } from './index.js';
import { problemOf, problemResponse } from './problem.js';
import { parseJsonBody } from './request.js';
import { readCancellation, readIdempotencyKey, readSubmission } from './submission.js';

/**
 * The AuthZEN Access Request profile's endpoints (docs/authzen.md, "Access requests"): submit a
 * requestable denial, read the task, cancel it. The caller is the confidential client the denial
 * was issued to (HTTP Basic); the governance core (governance/tasks.ts) decides everything else.
 * Each endpoint is ordered steps; every refusal is one problem response; each request one log line.
 */

const TASK_PATH = `${ACCESS_REQUESTS_PATH}/:id`;
const CANCEL_PATH = `${ACCESS_REQUESTS_PATH}/:id/cancel`;
/** Task ids the broker issues are `arq_` + 43 base64url characters; anything far off is unknown without a lookup. */
const TASK_ID = new RegExp(`^[A-Za-z0-9_-]{1,${AUTHZEN_MAX_TASK_ID}}$`);

type Outcome = { status: number; body: Record<string, unknown>; task: AccessRequestRecord; location?: string };
type Operation = (c: Context, requester: string, now: number, requestId: string) => Promise<Outcome>;

export function mountAccessRequests(app: Hono, deps: AuthzenDeps) {
  const base = deps.services.settings.issuer.replace(/\/$/, '');
  const statusEndpoint = (id: string) => `${base}${ACCESS_REQUESTS_PATH}/${id}`;
  const ops = { submit: submit(deps, statusEndpoint), status: status(deps, statusEndpoint), cancel: cancel(deps, statusEndpoint) };

  app.post(ACCESS_REQUESTS_PATH, (c) => endpoint(c, 'submit', ops.submit, deps));
  app.all(ACCESS_REQUESTS_PATH, (c) => endpoint(c, 'submit', new NotAllowed('use POST', 'POST'), deps));
  app.post(CANCEL_PATH, (c) => endpoint(c, 'cancel', ops.cancel, deps));
  app.delete(CANCEL_PATH, (c) => endpoint(c, 'cancel', ops.cancel, deps));
  app.all(CANCEL_PATH, (c) => endpoint(c, 'cancel', new NotAllowed('use POST or DELETE', 'POST, DELETE'), deps));
  app.get(TASK_PATH, (c) => endpoint(c, 'status', ops.status, deps));
  app.all(TASK_PATH, (c) => endpoint(c, 'status', new NotAllowed('use GET', 'GET'), deps));
}

/** `op` is the operation, or the refusal of a method the path does not serve (answered before any credentials are checked). */
async function endpoint(c: Context, name: string, op: Operation | NotAllowed, deps: AuthzenDeps): Promise<Response> {
  const { services: s } = deps;
  const now = deps.clock();
  const { headers, badRequestId } = answerHeaders(c);
  const requestId = headers['X-Request-ID'];
  let caller: string | undefined;
  try {
    requireValidRequestId(badRequestId);
    if (op instanceof NotAllowed) throw op;
    caller = (await authenticateCaller(c.req.header('authorization'), s, now, deps.sourceOf(c), 'requester')).client.client_id;
    const out = await op(c, caller, now, requestId);
    s.logger.info({ requestId, event: 'access_request_api', endpoint: name, caller, task: out.task.id, status: out.status, taskStatus: (out.body.task as { status: string }).status }, 'access request answered');
    const extra: Record<string, string> = out.location ? { Location: out.location } : {};
    return new Response(JSON.stringify(out.body), { status: out.status, headers: { 'Content-Type': 'application/json', ...headers, ...extra } });
  } catch (err) {
    if (!(err instanceof AuthzenError) && !(err instanceof GovernanceError)) throw err;
    const p = problemOf(err);
    s.logger.info({ requestId, event: 'access_request_api_error', endpoint: name, ...(caller ? { caller } : {}), status: p.status, type: p.type, message: p.detail }, 'access request refused');
    // A refusal of an authenticated client's request (a forged, expired or foreign denial or task)
    // is audited like a refused mint; before authentication, the log line is all.
    if (caller !== undefined && err instanceof GovernanceError) await auditRefusal(s, { at: now, event: 'refusal', requestId, clientId: caller, endpoint: `access_request_${name}`, reason: `access_request_${err.kind}`, detail: err.detail });
    return problemResponse(err, headers);
  }
}

/** Submit: a requestable denial becomes a pending task (202); the same Idempotency-Key and body gets the same task. */
function submit(deps: AuthzenDeps, statusEndpoint: (id: string) => string): Operation {
  return async (c, requester, now, requestId) => {
    requireJson(c.req.header('content-type'));
    const idempotencyKey = readIdempotencyKey(c.req.header('idempotency-key'));
    const bytes = await readBody(c.req.raw);
    const submission = readSubmission(parseJsonBody(bytes), now);
    // Of the bytes as sent: a retry is the same request only if it is the same body.
    const bodyHash = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes))));
    const { task } = await submitAccessRequest({ ...submission, bodyHash, ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) }, requester, deps.services, now, requestId);
    const location = statusEndpoint(task.id);
    return { status: 202, body: taskView(task, location, now), task, location };
  };
}

/** Status: the requester's own task, while its handle lasts. */
function status(deps: AuthzenDeps, statusEndpoint: (id: string) => string): Operation {
  return async (c, requester, now) => {
    const task = await liveTask(c.req.param('id'), requester, deps, now);
    return { status: 200, body: taskView(task, statusEndpoint(task.id), now), task };
  };
}

/** Cancel (POST or DELETE on links.cancel): a pending task becomes cancelled; a finished one is invalid_task_state. */
function cancel(deps: AuthzenDeps, statusEndpoint: (id: string) => string): Operation {
  return async (c, requester, now, requestId) => {
    const reason = readCancellation(await optionalJsonBody(c));
    const task = await liveTask(c.req.param('id'), requester, deps, now);
    const cancelled = await cancelAccessRequest(task.id, requester, reason, deps.services, now, requestId);
    return { status: 200, body: taskView(cancelled, statusEndpoint(cancelled.id), now), task: cancelled };
  };
}

/**
 * Step: the requester's task, unless its handle has expired. The handle lasts as long as the
 * task view's `expires_at` (the pending lifetime, or the approval's end if later); after it, the
 * profile has the status endpoint answer task_expired.
 */
async function liveTask(id: string | undefined, requester: string, deps: AuthzenDeps, now: number): Promise<AccessRequestRecord> {
  if (id === undefined || !TASK_ID.test(id)) throw new GovernanceError('unknown_task', 'no such access request');
  const task = await taskForRequester(id, requester, deps.services);
  if (handleExpiresAt(task) <= now) throw new GovernanceError('task_expired', 'the access request has expired');
  return task;
}

/** Step: the cancellation body is optional; when sent it is JSON. */
async function optionalJsonBody(c: Context) {
  const bytes = await readBody(c.req.raw);
  if (bytes.length === 0) return undefined;
  requireJson(c.req.header('content-type'));
  return parseJsonBody(bytes);
}

async function auditRefusal(s: AuthzenDeps['services'], record: AuditRecord): Promise<void> {
  try {
    await s.store.audit.append(boundedAudit(record));
  } catch (err) {
    s.logger.error({ requestId: record.requestId, error: err instanceof Error ? err.message : 'unknown' }, 'audit write failed');
  }
}
