/**
 * Issue 7 §6, deciding access requests (the core under the approval console): who may approve,
 * for how long, and that a decision happens once. Every rule broken alone; a refused decision
 * changes nothing.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { GovernanceError } from '../../src/governance/errors.js';
import { approveAccessRequest, denyAccessRequest, submitAccessRequest, type Approver } from '../../src/governance/tasks.js';
import type { AccessRequestRecord } from '../../src/store/ports.js';
import { exchangeParams, IDP, postToken, startTestBroker, type TestBroker } from '../helpers/broker.js';

const POLICIES = `
@id("write-open")
permit (principal, action == Xaa::Action::"mint", resource);
@id("write-needs-approval")
@requestable("approvers=group:admins email:boss@example.com&max_duration=PT4H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" }
unless { context.approved.contains("write-needs-approval") };
`;

const approver = (claims: Record<string, unknown>, principalId = 'approver-1'): Approver => ({ identity: { principalId, upstreamIssuer: IDP, upstreamSubject: principalId, claims }, label: principalId });
const admin = approver({ groups: ['admins'] });

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GovernanceError) return `${err.kind}: ${err.detail}`;
    throw err;
  }
  return 'ok';
}

describe('deciding an access request', () => {
  let b: TestBroker;
  let task: AccessRequestRecord;
  beforeEach(async () => {
    b = await startTestBroker({ policies: POLICIES });
    const res = await postToken(b, await exchangeParams(b, { scope: 'todos.write' }));
    const body = (await res.json()) as { access_request: { request_context: string }; authzen: { subject: { type: string; id: string }; resource: { type: string; id: string }; action: { name: string } } };
    ({ task } = await submitAccessRequest(
      { requestContext: body.access_request.request_context, subject: body.authzen.subject, items: [{ resource: body.authzen.resource, action: body.authzen.action }], requestedDuration: 3600, bodyHash: 'h' },
      'wiki-agent',
      b.services,
      b.clock.now,
      'r0',
    ));
  });
  const stored = async () => (await b.services.store.accessRequests.get(task.id))!;

  it('an approver by group approves; the default is the requested duration', async () => {
    const done = await approveAccessRequest(task.id, admin, undefined, b.services, b.clock.now, 'r1');
    expect(done).toMatchObject({ status: 'approved', decidedBy: 'approver-1', approval: { approvedUntil: b.clock.now + 3600 } });
    expect((await b.services.store.audit.recent(1))[0]).toMatchObject({ event: 'access_request', action: 'approved', actor: 'approver-1', accessRequest: task.id });
  });

  it('an approver by address counts only with a verified email', async () => {
    expect(await kind(approveAccessRequest(task.id, approver({ email: 'Boss@example.com', email_verified: false }), 60, b.services, b.clock.now, 'r1'))).toMatch(/^not_an_approver/);
    expect(await kind(approveAccessRequest(task.id, approver({ email: 'Boss@example.com', email_verified: true }), 60, b.services, b.clock.now, 'r1'))).toBe('ok');
  });

  it('someone outside the approvers is refused, and nothing changes', async () => {
    expect(await kind(approveAccessRequest(task.id, approver({ groups: ['staff'] }), 60, b.services, b.clock.now, 'r1'))).toBe('not_an_approver: not an approver for policy write-needs-approval');
    expect(await kind(denyAccessRequest(task.id, approver({ groups: ['staff'] }), 'no', b.services, b.clock.now, 'r1'))).toMatch(/^not_an_approver/);
    expect((await stored()).status).toBe('pending');
  });

  it('nobody decides their own request, even an approver', async () => {
    expect(await kind(approveAccessRequest(task.id, approver({ groups: ['admins'] }, task.principalId), 60, b.services, b.clock.now, 'r1'))).toMatch(/themselves/);
    expect((await stored()).status).toBe('pending');
  });

  it('an approval is at least a second and at most the policy maximum', async () => {
    expect(await kind(approveAccessRequest(task.id, admin, 4 * 3600 + 1, b.services, b.clock.now, 'r1'))).toBe('invalid_request: the policy allows approvals of at most PT4H');
    expect(await kind(approveAccessRequest(task.id, admin, 0, b.services, b.clock.now, 'r1'))).toMatch(/^invalid_request/);
    expect((await stored()).status).toBe('pending');
  });

  it('a denial needs a reason', async () => {
    expect(await kind(denyAccessRequest(task.id, admin, '   ', b.services, b.clock.now, 'r1'))).toMatch(/^invalid_request/);
    expect(await kind(denyAccessRequest(task.id, admin, 'x'.repeat(501), b.services, b.clock.now, 'r1'))).toMatch(/^invalid_request/);
    expect(await kind(denyAccessRequest(task.id, admin, 'not now', b.services, b.clock.now, 'r1'))).toBe('ok');
    expect(await stored()).toMatchObject({ status: 'denied', reason: 'not now' });
  });

  it('a decided task is decided once; an expired one not at all; an unknown one is unknown', async () => {
    await approveAccessRequest(task.id, admin, 60, b.services, b.clock.now, 'r1');
    expect(await kind(denyAccessRequest(task.id, admin, 'changed my mind', b.services, b.clock.now, 'r2'))).toBe('invalid_task_state: the access request is approved');
    expect(await kind(approveAccessRequest('arq_nope', admin, 60, b.services, b.clock.now, 'r3'))).toMatch(/^unknown_task/);
  });

  it('a task left undecided expires, and then cannot be approved', async () => {
    b.clock.now = task.expiresAt;
    expect(await kind(approveAccessRequest(task.id, admin, 60, b.services, b.clock.now, 'r1'))).toBe('invalid_task_state: the access request is expired');
  });

  it('of two approvers deciding at once, exactly one decision stands', async () => {
    const other = approver({ groups: ['admins'] }, 'approver-2');
    const outcomes = await Promise.all([kind(approveAccessRequest(task.id, admin, 60, b.services, b.clock.now, 'r1')), kind(denyAccessRequest(task.id, other, 'no', b.services, b.clock.now, 'r2'))]);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o.startsWith('invalid_task_state'))).toHaveLength(1);
  });
});
