import { ACCESS_REQUEST_PENDING_LIFETIME, MAX_DECISION_REASON_CHARS } from '../constants.js';
import type { BrokerServices } from '../grants/services.js';
import type { Identity } from '../mapping/resolve.js';
import { formatDuration } from '../policy/duration.js';
import type { RequestableRule } from '../policy/types.js';
import { randomToken } from '../provider/crypto.js';
import type { AccessRequestDecision, AccessRequestRecord, AccessRequestStatus, AuditRecord } from '../store/ports.js';
import { longestApproval, mayDecide } from './approvers.js';
import { verifyDenial, type DeniedQuestion } from './denial.js';
import { GovernanceError } from './errors.js';
import { rfc3339 } from './escalation.js';

/**
 * The access request lifecycle (AuthZEN Access Request profile; docs/access-requests.md):
 * submit a requestable denial → a pending task → approved / denied / expired / cancelled. Plain
 * data in, a task out; the HTTP endpoints and the approval console are thin layers over this.
 */

export type GovernanceServices = Pick<BrokerServices, 'settings' | 'store' | 'keys' | 'policy'>;

/** One denied (resource, action) pair as submitted: a scope at a destination, action `mint`. */
export interface SubmittedItem {
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  action: { name: string };
}

/** A submission, shape-checked by its HTTP layer (authzen/access-requests.ts). */
export interface Submission {
  /** `denial.access_request.request_context`: the broker-signed binding. */
  requestContext: string;
  /** `denial.evaluation_id`, when sent: it must be the denial's id. */
  evaluationId?: string;
  subject: { type: string; id: string };
  /** The top-level resource/action as one item, or `items`. */
  items: SubmittedItem[];
  justification?: string;
  /** Seconds, from `requested_access.requested_duration` or `requested_until`. */
  requestedDuration?: number;
  idempotencyKey?: string;
  /** SHA-256 of the body, to tell a retry from a different request under one Idempotency-Key. */
  bodyHash: string;
}

/** The status a task has at `now`: a pending task past its expiry is expired, with nothing run to make it so. */
export function effectiveStatus(task: AccessRequestRecord, now: number): AccessRequestStatus {
  return task.status === 'pending' && task.expiresAt <= now ? 'expired' : task.status;
}

/** Step: the signed denial, verified and matched against what the submission says was denied. */
async function boundDenial(sub: Submission, requester: string, s: GovernanceServices, now: number): Promise<DeniedQuestion> {
  const verified = await verifyDenial(sub.requestContext, s.settings.issuer, s.keys, now);
  if (!verified.ok) {
    if (verified.reason === 'denial_expired') throw new GovernanceError('expired_denial', 'the requestable denial has expired; ask again to get a fresh one');
    throw new GovernanceError('invalid_denial_binding', 'denial.access_request.request_context is not a denial this broker issued');
  }
  const d = verified.denial;
  const mismatch = (what: string) => new GovernanceError('invalid_denial_binding', `${what} does not match the denial`);
  if (d.submitter !== requester) throw new GovernanceError('invalid_denial_binding', 'the denial was issued to another client');
  if (sub.evaluationId !== undefined && sub.evaluationId !== d.id) throw mismatch('denial.evaluation_id');
  if (sub.subject.type !== 'user' || sub.subject.id !== d.principalId) throw mismatch('subject');
  const scopes = new Set<string>();
  for (const [i, item] of sub.items.entries()) {
    const props = item.resource.properties ?? {};
    if (item.action.name !== 'mint') throw mismatch(`items[${i}].action`);
    if (item.resource.type !== 'scope' || props.destination !== d.destination) throw mismatch(`items[${i}].resource`);
    if (props.resource !== undefined && !d.resources.includes(props.resource as string)) throw mismatch(`items[${i}].resource.properties.resource`);
    scopes.add(item.resource.id);
  }
  if (scopes.size !== d.scopes.length || !d.scopes.every((sc) => scopes.has(sc))) throw mismatch('the set of resources (scopes)');
  return d;
}

/** Step: every policy that denied is still requestable, and the duration asked for is one it allows. */
function requireStillRequestable(d: Pick<DeniedQuestion, 'policies'>, requestedDuration: number | undefined, s: GovernanceServices): RequestableRule[] {
  const rules = d.policies.map((id) => s.policy.requestable?.get(id));
  if (rules.some((r) => r === undefined)) throw new GovernanceError('not_requestable', 'the policy that denied this no longer allows access requests');
  const longest = longestApproval(rules as RequestableRule[]);
  if (requestedDuration !== undefined && requestedDuration > longest) {
    throw new GovernanceError('invalid_request', `requested_access asks for longer than the policy allows (at most ${formatDuration(longest)})`);
  }
  return rules as RequestableRule[];
}

/** Submits an access request. A retry under the same Idempotency-Key with the same body gets the same task. */
export async function submitAccessRequest(sub: Submission, requester: string, s: GovernanceServices, now: number, requestId: string): Promise<{ task: AccessRequestRecord; created: boolean }> {
  const d = await boundDenial(sub, requester, s, now);
  requireStillRequestable(d, sub.requestedDuration, s);
  const task: AccessRequestRecord = {
    id: `arq_${randomToken()}`,
    denialId: d.id,
    requester,
    ...(sub.idempotencyKey !== undefined ? { idempotencyKey: sub.idempotencyKey, bodyHash: sub.bodyHash } : {}),
    clientId: d.clientId,
    principalId: d.principalId,
    upstreamIssuer: d.upstreamIssuer,
    subjectLabel: d.subjectLabel,
    destination: d.destination,
    resources: d.resources,
    scopes: d.scopes,
    policies: d.policies,
    ...(sub.justification !== undefined ? { justification: sub.justification } : {}),
    ...(sub.requestedDuration !== undefined ? { requestedDuration: sub.requestedDuration } : {}),
    createdAt: now,
    expiresAt: now + ACCESS_REQUEST_PENDING_LIFETIME,
    status: 'pending',
  };
  const audit = auditOf(task, 'submitted', requester, now, requestId);
  const outcome = await s.store.accessRequests.submit(task, audit);
  if (outcome.status === 'created') return { task, created: true };
  const existing = outcome.task;
  // A retry clashes on its denial and its key at once; which one the store names is not the point: the same requester, key and body is the same request.
  const retry = sub.idempotencyKey !== undefined && existing.requester === requester && existing.idempotencyKey === sub.idempotencyKey && existing.bodyHash === sub.bodyHash;
  if (retry) return { task: existing, created: false };
  throw new GovernanceError('duplicate_request', outcome.clash === 'denial' ? 'an access request was already submitted for this denial' : 'this Idempotency-Key was used for a different request');
}

/** A task as its requester may see it: someone else's task does not exist for them. */
export async function taskForRequester(id: string, requester: string, s: GovernanceServices): Promise<AccessRequestRecord> {
  const task = await s.store.accessRequests.get(id);
  if (!task || task.requester !== requester) throw new GovernanceError('unknown_task', 'no such access request');
  return task;
}

export async function cancelAccessRequest(id: string, requester: string, reason: string | undefined, s: GovernanceServices, now: number, requestId: string): Promise<AccessRequestRecord> {
  await taskForRequester(id, requester, s);
  return transition(id, { status: 'cancelled', decidedAt: now, decidedBy: requester, decidedByLabel: `client ${requester}`, ...(reason ? { reason } : {}) }, requester, s, now, requestId);
}

/** Who decides: the approver's believed identity and what the console shows of them. */
export interface Approver {
  identity: Identity;
  label: string;
}

/** Step: the approver may decide this task (every denying policy names them; not their own request). */
async function eligibleTask(id: string, approver: Approver, s: GovernanceServices, now: number): Promise<{ task: AccessRequestRecord; rules: RequestableRule[] }> {
  const task = await s.store.accessRequests.get(id);
  if (!task) throw new GovernanceError('unknown_task', 'no such access request');
  const rules = task.policies.map((pid) => ({ id: pid, rule: s.policy.requestable?.get(pid) }));
  const check = mayDecide(approver.identity, rules, task.principalId);
  if (!check.ok) throw new GovernanceError('not_an_approver', check.why);
  if (effectiveStatus(task, now) !== 'pending') throw new GovernanceError('invalid_task_state', `the access request is ${effectiveStatus(task, now)}`);
  return { task, rules: rules.map((r) => r.rule!) };
}

/**
 * Approves for `duration` seconds (default: what was requested, else the longest allowed), never
 * longer than every denying policy's `max_duration`. The approval is what later mints find.
 */
export async function approveAccessRequest(id: string, approver: Approver, duration: number | undefined, s: GovernanceServices, now: number, requestId: string): Promise<AccessRequestRecord> {
  const { task, rules } = await eligibleTask(id, approver, s, now);
  const longest = longestApproval(rules);
  const seconds = duration ?? Math.min(task.requestedDuration ?? longest, longest);
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new GovernanceError('invalid_request', 'the approval must last at least one second');
  if (seconds > longest) throw new GovernanceError('invalid_request', `the policy allows approvals of at most ${formatDuration(longest)}`);
  const approval = { id: `apr_${randomToken()}`, approvedAt: now, approvedUntil: now + seconds };
  return transition(task.id, { status: 'approved', decidedAt: now, decidedBy: approver.identity.principalId, decidedByLabel: approver.label, approval }, approver.identity.principalId, s, now, requestId);
}

export async function denyAccessRequest(id: string, approver: Approver, reason: string, s: GovernanceServices, now: number, requestId: string): Promise<AccessRequestRecord> {
  const { task } = await eligibleTask(id, approver, s, now);
  const why = reason.trim();
  if (why === '' || why.length > MAX_DECISION_REASON_CHARS) throw new GovernanceError('invalid_request', `a denial needs a reason of 1 to ${MAX_DECISION_REASON_CHARS} characters`);
  return transition(task.id, { status: 'denied', decidedAt: now, decidedBy: approver.identity.principalId, decidedByLabel: approver.label, reason: why }, approver.identity.principalId, s, now, requestId);
}

/** Step: the store's atomic transition; losing a race (or a task that expired meanwhile) is invalid_task_state. */
async function transition(id: string, decision: AccessRequestDecision, actor: string, s: GovernanceServices, now: number, requestId: string): Promise<AccessRequestRecord> {
  const current = await s.store.accessRequests.get(id);
  if (!current) throw new GovernanceError('unknown_task', 'no such access request');
  const audit = auditOf({ ...current, ...decision }, decision.status, actor, now, requestId);
  const outcome = await s.store.accessRequests.transition(id, decision, audit, now);
  if (outcome.status === 'unknown') throw new GovernanceError('unknown_task', 'no such access request');
  if (outcome.status === 'conflict') throw new GovernanceError('invalid_task_state', `the access request is already ${effectiveStatus(outcome.task, now)}`);
  return outcome.task;
}

function auditOf(task: AccessRequestRecord, action: string, actor: string, now: number, requestId: string): AuditRecord {
  return {
    at: now,
    event: 'access_request',
    requestId,
    accessRequest: task.id,
    action,
    actor,
    clientId: task.clientId,
    principalId: task.principalId,
    upstreamIssuer: task.upstreamIssuer,
    destination: task.destination,
    requestedScopes: task.scopes,
    policy: `${task.policies.join(',')}`,
    ...(task.approval ? { approvals: [task.approval.id] } : {}),
    ...(task.reason ? { detail: task.reason } : {}),
  };
}

/**
 * The mint path's view of approvals: for (person, client, destination) at `now`, which
 * `@requestable` policies are approved for which scope, by which approvals and until when.
 */
export interface ApprovedScope {
  policies: string[];
  approvals: Array<{ id: string; until: number }>;
}

export async function approvedScopes(principalId: string, clientId: string, destination: string, s: Pick<GovernanceServices, 'store'>, now: number): Promise<Map<string, ApprovedScope>> {
  const byScope = new Map<string, ApprovedScope>();
  for (const task of await s.store.accessRequests.approvals(principalId, clientId, destination, now)) {
    if (!task.approval || task.approval.approvedUntil <= now) continue;
    for (const scope of task.scopes) {
      const entry = byScope.get(scope) ?? { policies: [], approvals: [] };
      entry.policies = [...new Set([...entry.policies, ...task.policies])].sort();
      entry.approvals.push({ id: task.approval.id, until: task.approval.approvedUntil });
      byScope.set(scope, entry);
    }
  }
  return byScope;
}

/** When a task's handle ends: the pending lifetime, or the approval's end if later (its `expires_at`). */
export function handleExpiresAt(task: AccessRequestRecord): number {
  return task.approval ? Math.max(task.expiresAt, task.approval.approvedUntil) : task.expiresAt;
}

/** The wire form of a task (the profile's `task`, with `result` once approved). */
export function taskView(task: AccessRequestRecord, statusEndpoint: string, now: number): Record<string, unknown> {
  const status = effectiveStatus(task, now);
  const view: Record<string, unknown> = {
    task: {
      id: task.id,
      status,
      status_endpoint: statusEndpoint,
      expires_at: rfc3339(handleExpiresAt(task)),
      ...(status === 'pending' ? { links: { cancel: `${statusEndpoint}/cancel` } } : {}),
    },
  };
  if (status === 'approved' && task.approval) {
    view.result = {
      mode: 'reevaluate',
      approval: { id: task.approval.id, approved_at: rfc3339(task.approval.approvedAt), approved_until: rfc3339(task.approval.approvedUntil) },
      approval_context: { approval_id: task.approval.id },
    };
  }
  return view;
}
