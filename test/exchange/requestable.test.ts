/**
 * Issue 7 §6–7 at the token endpoint: a mint refused only by `@requestable` forbids is the start of
 * an access request (access_denied with `access_request`), a client that can wait gets a deferral
 * code and polls (RFC 8628 §3.5 codes), and an approval lifts the forbid through Cedar's
 * `context.approved`, never past `approved_until`.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { approveAccessRequest, cancelAccessRequest, denyAccessRequest, submitAccessRequest, type Approver, type Submission } from '../../src/governance/tasks.js';
import { DEFERRED_GRANT } from '../../src/exchange/deferred.js';
import { BASIC_SECRET, exchangeParams, IDP, postToken, SECRET, startTestBroker, testSettings, type TestBroker } from '../helpers/broker.js';

const POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("write-open")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" };
@id("write-needs-approval")
@requestable("approvers=group:admins&max_duration=PT4H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" }
unless { principal.groups.contains("todo-writers") || context.approved.contains("write-needs-approval") };
@id("g1-never-writes")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" && principal.groups.contains("g1") };
`;

const admin: Approver = { identity: { principalId: 'approver-1', upstreamIssuer: IDP, upstreamSubject: 'bob', claims: { groups: ['admins'] } }, label: 'bob' };

type Body = Record<string, unknown> & { access_request?: Record<string, unknown>; authzen?: Record<string, unknown> };

async function write(b: TestBroker, extra: Record<string, string> = {}, user: Record<string, unknown> = {}) {
  const idToken = await b.idp.idToken({ sub: 'alice', email: 'alice@example.com', groups: ['staff'], amr: ['pwd', 'mfa'], ...user }, 'wiki-agent', { now: b.clock.now });
  const res = await postToken(b, await exchangeParams(b, { subject_token: idToken, scope: 'todos.write', ...extra }));
  return { status: res.status, body: (await res.json()) as Body };
}

function submissionOf(body: Body, extra: Partial<Submission> = {}): Submission {
  const authzen = body.authzen as { subject: Submission['subject']; resource: Submission['items'][number]['resource']; action: { name: string } };
  return { requestContext: body.access_request!.request_context as string, subject: authzen.subject, items: [{ resource: authzen.resource, action: authzen.action }], bodyHash: 'h', ...extra };
}

const poll = (b: TestBroker, code: string, client: Record<string, string> = { client_id: 'wiki-agent', client_secret: SECRET }, headers: Record<string, string> = {}) =>
  postToken(b, { grant_type: DEFERRED_GRANT, deferral_code: code, ...client }, headers);
const bodyOf = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });
const lastAudit = async (b: TestBroker) => (await b.services.store.audit.recent(1))[0]!;

describe('requestable denials at the token endpoint', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker({ policies: POLICIES });
  });

  it('a refusal only @requestable forbids made is access_denied with how to ask: access_request, evaluation_id, the AuthZEN items', async () => {
    const { status, body } = await write(b);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'access_denied', evaluation_id: expect.stringMatching(/^den_/) });
    expect(body.access_request).toMatchObject({ requestable: true, endpoint: 'https://broker.test/access/v1/requests', reason: 'approval_required', template: 'write-needs-approval', expires_at: expect.any(String) });
    const jwt = body.access_request!.request_context as string;
    expect(decodeProtectedHeader(jwt).typ).toBe('xaa-denial+jwt');
    expect(decodeJwt(jwt)).toMatchObject({ iss: 'https://broker.test', aud: 'https://broker.test', jti: body.evaluation_id, client_id: 'wiki-agent', destination: 'todo', scopes: ['todos.write'], policies: ['write-needs-approval'] });
    expect(body.authzen).toEqual({ subject: { type: 'user', id: expect.any(String) }, resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo', resource: 'https://api.todo.test/' } }, action: { name: 'mint' } });
    expect(await lastAudit(b)).toMatchObject({ event: 'refusal', reason: 'approval_required' });
  });

  it('a refusal another (non-requestable) forbid shares is plain access_denied: no access_request', async () => {
    const { body } = await write(b, {}, { groups: ['staff', 'g1'] });
    expect(body.error).toBe('access_denied');
    expect(body).not.toHaveProperty('access_request');
    expect((await lastAudit(b)).reason).toBe('policy_denied');
  });

  it('a requestable forbid on a scope no permit allows is not offered: approving it could not help', async () => {
    b = await startTestBroker({ policies: POLICIES.replace('@id("write-open")\npermit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" };', '') });
    const { body } = await write(b);
    expect(body.error).toBe('access_denied');
    expect(body).not.toHaveProperty('access_request');
    expect((await lastAudit(b)).reason).toBe('policy_denied');
  });

  it('a scope the client may never hold, next to a policy-denied one, is invalid_scope: fix the request first', async () => {
    b = await startTestBroker({ policies: POLICIES, settings: await testSettings((s) => void (s.clients![0]!.destinations!.todo = { client_id: 'wiki-at-todo', scopes: ['todos.write'] })) });
    const { body } = await write(b, { scope: 'todos.read todos.write' });
    expect(body.error).toBe('invalid_scope');
  });

  it('once approved, the same exchange mints, and the ID-JAG ends no later than approved_until', async () => {
    const denied = await write(b);
    const { task } = await submitAccessRequest(submissionOf(denied.body, { justification: 'quarterly cleanup', requestedDuration: 600 }), 'wiki-agent', b.services, b.clock.now, 'r1');
    const approved = await approveAccessRequest(task.id, admin, undefined, b.services, b.clock.now, 'r2');
    expect(approved.approval!.approvedUntil).toBe(b.clock.now + 600);
    b.clock.now += 500;
    const { status, body } = await write(b);
    expect(status).toBe(200);
    const claims = decodeJwt(body.access_token as string);
    expect(claims.scope).toBe('todos.write');
    expect(claims.exp).toBeLessThanOrEqual(approved.approval!.approvedUntil);
    expect(body.expires_in).toBe(100);
    expect(await lastAudit(b)).toMatchObject({ event: 'mint', approvals: [approved.approval!.id] });
    // Past approved_until the forbid stands again.
    b.clock.now += 100;
    expect((await write(b)).body).toMatchObject({ error: 'access_denied', access_request: { requestable: true } });
  });

  it('an approval is for the client it was requested for: another client is still refused', async () => {
    const denied = await write(b);
    const { task } = await submitAccessRequest(submissionOf(denied.body), 'wiki-agent', b.services, b.clock.now, 'r1');
    await approveAccessRequest(task.id, admin, 300, b.services, b.clock.now, 'r2');
    // Same person, same destination, through the store's view for another client: nothing approved.
    const person = (decodeJwt(denied.body.access_request!.request_context as string).sub)!;
    expect(await b.services.store.accessRequests.approvals(person, 'other-client', 'todo', b.clock.now)).toEqual([]);
    expect(await b.services.store.accessRequests.approvals(person, 'wiki-agent', 'todo', b.clock.now)).toHaveLength(1);
  });

  it('deferred must be "true" when present', async () => {
    const { body } = await write(b, { deferred: 'yes' });
    expect(body.error).toBe('invalid_request');
  });
});

describe('deferred completion', () => {
  let b: TestBroker;
  let code: string;
  let denial: Body;
  beforeEach(async () => {
    b = await startTestBroker({ policies: POLICIES });
    const { status, body } = await write(b, { deferred: 'true' });
    expect(status).toBe(400);
    denial = body;
    code = body.deferral_code as string;
  });

  it('answers authorization_pending with a single-use deferral code, an interval and the access_request; the issue is audited', async () => {
    expect(denial).toMatchObject({ error: 'authorization_pending', deferral_code: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), interval: 5, expires_in: 3600, access_request: { requestable: true } });
    expect(await lastAudit(b)).toMatchObject({ event: 'deferral', reason: 'approval_required', deferral: expect.any(String) });
    expect(JSON.stringify(await b.services.store.audit.recent(5))).not.toContain(code);
  });

  it('polls: slow_down when too soon (interval +5), pending while undecided, the ID-JAG once approved, then invalid_grant', async () => {
    expect(await bodyOf(await poll(b, code))).toMatchObject({ status: 400, body: { error: 'slow_down', interval: 10 } });
    b.clock.now += 10;
    expect(await bodyOf(await poll(b, code))).toMatchObject({ body: { error: 'authorization_pending', interval: 10 } });
    const { task } = await submitAccessRequest(submissionOf(denial), 'wiki-agent', b.services, b.clock.now, 'r1');
    b.clock.now += 10;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('authorization_pending');
    const approved = await approveAccessRequest(task.id, admin, 120, b.services, b.clock.now, 'r2');
    b.clock.now += 10;
    const done = await bodyOf(await poll(b, code));
    expect(done.status).toBe(200);
    expect(decodeJwt(done.body.access_token as string).exp).toBeLessThanOrEqual(approved.approval!.approvedUntil);
    expect(done.body.expires_in).toBe(110);
    b.clock.now += 10;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('invalid_grant');
    expect((await lastAudit(b)).reason).toBe('deferral_replayed');
  });

  it('a denied request answers access_denied once; a cancelled one likewise', async () => {
    const { task } = await submitAccessRequest(submissionOf(denial), 'wiki-agent', b.services, b.clock.now, 'r1');
    await denyAccessRequest(task.id, admin, 'not this quarter', b.services, b.clock.now, 'r2');
    b.clock.now += 5;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('access_denied');
    b.clock.now += 5;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('invalid_grant');

    const again = await write(b, { deferred: 'true' });
    const t2 = await submitAccessRequest(submissionOf(again.body), 'wiki-agent', b.services, b.clock.now, 'r3');
    await cancelAccessRequest(t2.task.id, 'wiki-agent', undefined, b.services, b.clock.now, 'r4');
    b.clock.now += 5;
    expect(await bodyOf(await poll(b, again.body.deferral_code as string))).toMatchObject({ body: { error: 'access_denied' } });
    expect((await lastAudit(b)).reason).toBe('access_request_cancelled');
  });

  it('expired_token once the deferral is over, then invalid_grant', async () => {
    b.clock.now += 3600;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('expired_token');
    expect((await bodyOf(await poll(b, code))).body.error).toBe('invalid_grant');
  });

  it('expired_token when the access request expired undecided', async () => {
    await submitAccessRequest(submissionOf(denial), 'wiki-agent', b.services, b.clock.now, 'r1');
    b.clock.now += 3 * 24 * 3600;
    // The deferral itself expired earlier: either way the wait is over.
    expect((await bodyOf(await poll(b, code))).body.error).toBe('expired_token');
  });

  it('a code presented by another client is refused and burned: its owner cannot use it either', async () => {
    b.clock.now += 5;
    const foreign = await bodyOf(await poll(b, code, {}, { authorization: `Basic ${btoa(`basic-agent:${BASIC_SECRET}`)}` }));
    expect(foreign.body.error).toBe('invalid_grant');
    expect((await lastAudit(b)).reason).toBe('deferral_foreign');
    b.clock.now += 5;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('invalid_grant');
  });

  it('malformed and unknown codes are invalid_grant; nothing is written', async () => {
    b.clock.now += 5;
    expect((await bodyOf(await poll(b, 'not-a-code'))).body.error).toBe('invalid_grant');
    expect((await lastAudit(b)).reason).toBe('deferral_malformed');
    expect((await bodyOf(await poll(b, 'A'.repeat(43)))).body.error).toBe('invalid_grant');
    expect((await lastAudit(b)).reason).toBe('deferral_unknown');
  });

  it('of concurrent polls after approval exactly one receives the ID-JAG', async () => {
    const { task } = await submitAccessRequest(submissionOf(denial), 'wiki-agent', b.services, b.clock.now, 'r1');
    await approveAccessRequest(task.id, admin, 120, b.services, b.clock.now, 'r2');
    b.clock.now += 5;
    const answers = await Promise.all(Array.from({ length: 4 }, async () => (await poll(b, code)).status));
    expect(answers.filter((s) => s === 200)).toHaveLength(1);
  });

  it('an approval the current policy no longer covers mints nothing: access_denied, and the code is spent', async () => {
    const { task } = await submitAccessRequest(submissionOf(denial), 'wiki-agent', b.services, b.clock.now, 'r1');
    await approveAccessRequest(task.id, admin, 60, b.services, b.clock.now, 'r2');
    b.clock.now += 61;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('access_denied');
    b.clock.now += 10;
    expect((await bodyOf(await poll(b, code))).body.error).toBe('invalid_grant');
  });

  it('the deferred grant is in the server metadata', async () => {
    const meta = (await (await b.request('/.well-known/oauth-authorization-server')).json()) as { grant_types_supported: string[] };
    expect(meta.grant_types_supported).toContain(DEFERRED_GRANT);
  });
});
