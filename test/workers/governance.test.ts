/**
 * Issue 7 §6–7 inside workerd on D1: a requestable denial with deferred completion, the access
 * request decided through the governance core, the polling client receiving its ID-JAG (bounded
 * by approved_until), and concurrent polls with exactly one winner.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEFERRED_GRANT } from '../../src/exchange/deferred.js';
import { approveAccessRequest, submitAccessRequest } from '../../src/governance/tasks.js';
import { silentLogger } from '../../src/logger.js';
import { buildWorkerBroker } from '../../src/runtime/worker.js';
import { BROKER, exchangeParams, IDP, rows, SECRET, testFiles, workerEnv } from './helpers.js';

const POLICIES = `
@id("open") permit (principal, action == Xaa::Action::"mint", resource);
@id("write-needs-approval")
@requestable("approvers=group:admins&max_duration=PT1H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" }
unless { context.approved.contains("write-needs-approval") };
`;

async function setup() {
  const clock = { now: Math.floor(Date.now() / 1000) };
  const broker = await buildWorkerBroker(workerEnv(), { files: { ...testFiles, policies: [{ path: 'governance.cedar', text: POLICIES }] }, logger: silentLogger, clock: () => clock.now });
  const post = async (params: Record<string, string | undefined>) => {
    const body = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
    const res = await broker.app.request(`${BROKER}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  return { broker, clock, post };
}

const admin = { identity: { principalId: 'approver-w', upstreamIssuer: IDP, upstreamSubject: 'bob', claims: { groups: ['admins'] } }, label: 'bob' };

describe('governance inside workerd (D1)', () => {
  it('deferred completion: pending, approved in the store, the ID-JAG to the polling client, never past approved_until', async () => {
    const { broker, clock, post } = await setup();
    const denied = await post(await exchangeParams({ scope: 'todos.write', deferred: 'true' }));
    expect(denied).toMatchObject({ status: 400, body: { error: 'authorization_pending', interval: 5, access_request: { requestable: true } } });
    const code = denied.body.deferral_code as string;
    const poll = () => post({ grant_type: DEFERRED_GRANT, deferral_code: code, client_id: 'wiki-agent', client_secret: SECRET });

    clock.now += 5;
    expect((await poll()).body.error).toBe('authorization_pending');
    const { task } = await submitAccessRequest(
      { requestContext: denied.body.access_request.request_context, subject: denied.body.authzen.subject, items: [{ resource: denied.body.authzen.resource, action: denied.body.authzen.action }], bodyHash: 'h' },
      'wiki-agent',
      broker.services,
      clock.now,
      'w1',
    );
    const approved = await approveAccessRequest(task.id, admin, 90, broker.services, clock.now, 'w2');
    clock.now += 5;
    const done = await poll();
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(decodeJwt(done.body.access_token).exp).toBeLessThanOrEqual(approved.approval!.approvedUntil);
    expect(done.body.scope).toBe('todos.write');
    clock.now += 5;
    expect((await poll()).body.error).toBe('invalid_grant');
    const stored = await rows<{ status: string }>('SELECT status FROM access_requests WHERE id = ?', task.id);
    expect(stored).toEqual([{ status: 'approved' }]);
  });

  it('of concurrent polls after the approval exactly one receives the ID-JAG', async () => {
    const { broker, clock, post } = await setup();
    // D1 is shared by this file's tests: start after the first test's approval has run out.
    clock.now += 120;
    const denied = await post(await exchangeParams({ scope: 'todos.write', deferred: 'true' }));
    expect(denied.body.error).toBe('authorization_pending');
    const { task } = await submitAccessRequest(
      { requestContext: denied.body.access_request.request_context, subject: denied.body.authzen.subject, items: [{ resource: denied.body.authzen.resource, action: denied.body.authzen.action }], bodyHash: 'h' },
      'wiki-agent',
      broker.services,
      clock.now,
      'w3',
    );
    await approveAccessRequest(task.id, admin, 60, broker.services, clock.now, 'w4');
    clock.now += 5;
    const poll = () => post({ grant_type: DEFERRED_GRANT, deferral_code: denied.body.deferral_code, client_id: 'wiki-agent', client_secret: SECRET });
    const answers = await Promise.all([poll(), poll(), poll()]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
  });
});
