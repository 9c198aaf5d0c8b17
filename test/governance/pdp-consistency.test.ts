/**
 * The AuthZEN PDP gives the mint path's decisions (issue 7 §5), approvals included (§6): before an
 * approval a requestable forbid denies at both; after it both permit; past approved_until both deny.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { principalIdOf } from '../../src/mapping/principal.js';
import { approveAccessRequest, submitAccessRequest } from '../../src/governance/tasks.js';
import { BASIC_SECRET, exchangeParams, IDP, postToken, startTestBroker, TEST_IDP_AUTHORITY, testSettings, type TestBroker } from '../helpers/broker.js';

/** The test broker plus a PEP client (`authzen: true`) and a login connection for the IdP (the principal's upstream). */
const pdpSettings = () =>
  testSettings((s) => {
    const basic = s.clients!.find((c) => c.client_id === 'basic-agent')!;
    s.clients!.push({ client_id: 'pep', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: basic.client_secret_hash, authzen: true });
    s.connections = [{ type: 'oidc', id: 'corp', issuer: IDP, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/corp/callback', authority: TEST_IDP_AUTHORITY }];
  });

const POLICIES = `
@id("open") permit (principal, action == Xaa::Action::"mint", resource);
@id("write-needs-approval")
@requestable("approvers=group:admins&max_duration=PT1H")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" }
unless { context.approved.contains("write-needs-approval") };
`;

async function pdp(b: TestBroker, principal: string): Promise<unknown> {
  const res = await b.request('/access/v1/evaluation', {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`pep:${BASIC_SECRET}`)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: { type: 'user', id: principal }, action: { name: 'mint' }, resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo' } }, context: { client_id: 'wiki-agent', amr: ['pwd', 'mfa'] } }),
  });
  return res.json();
}

describe('PDP and mint path agree about approvals', () => {
  it('deny, then permit under the approval, then deny past approved_until', async () => {
    const b = await startTestBroker({ settings: await pdpSettings(), policies: POLICIES });
    const alice = await principalIdOf(IDP, 'alice');
    await b.services.store.principals.upsert({ id: alice, upstreamIssuer: IDP, upstreamSubject: 'alice', connectionId: 'corp', claims: { email: 'alice@example.com', email_verified: true, groups: ['staff'] }, updatedAt: b.clock.now });
    expect(await pdp(b, alice)).toMatchObject({ decision: false, context: { reason: 'approval_required', access_request: { requestable: true } } });

    const denied = (await (await postToken(b, await exchangeParams(b, { scope: 'todos.write' }))).json()) as { access_request: { request_context: string }; authzen: { subject: { type: string; id: string }; resource: { type: string; id: string }; action: { name: string } } };
    expect(denied.authzen.subject.id).toBe(alice);
    const { task } = await submitAccessRequest({ requestContext: denied.access_request.request_context, subject: denied.authzen.subject, items: [{ resource: denied.authzen.resource, action: denied.authzen.action }], bodyHash: 'h' }, 'wiki-agent', b.services, b.clock.now, 'r1');
    const admin = { identity: { principalId: 'approver', upstreamIssuer: IDP, upstreamSubject: 'bob', claims: { groups: ['admins'] }, ...(TEST_IDP_AUTHORITY.tenant ? { tenant: TEST_IDP_AUTHORITY.tenant } : {}) }, label: 'bob' };
    await approveAccessRequest(task.id, admin, 600, b.services, b.clock.now, 'r2');

    expect(await pdp(b, alice)).toEqual({ decision: true });
    expect((await postToken(b, await exchangeParams(b, { scope: 'todos.write' }))).status).toBe(200);

    b.clock.now += 600;
    expect(await pdp(b, alice)).toMatchObject({ decision: false, context: { reason: 'approval_required' } });
  });

  it('a requestable denial from the PDP carries the profile members, and the PEP that asked submits it', async () => {
    const b = await startTestBroker({ settings: await pdpSettings(), policies: POLICIES });
    const alice = await principalIdOf(IDP, 'alice');
    await b.services.store.principals.upsert({ id: alice, upstreamIssuer: IDP, upstreamSubject: 'alice', connectionId: 'corp', claims: { email: 'alice@example.com', email_verified: true, groups: ['staff'] }, updatedAt: b.clock.now });
    const answer = (await pdp(b, alice)) as { decision: boolean; context: { evaluation_id: string; evaluated_at: string; access_request: { request_context: string; endpoint: string; template: string; expires_at: string } } };
    expect(answer.context).toMatchObject({ evaluation_id: expect.stringMatching(/^den_/), evaluated_at: expect.any(String), access_request: { endpoint: 'https://broker.test/access/v1/requests', template: 'write-needs-approval' } });
    expect(decodeJwt(answer.context.access_request.request_context)).toMatchObject({ jti: answer.context.evaluation_id, client_id: 'wiki-agent', submitter: 'pep', scopes: ['todos.write'] });

    const submission = {
      subject: { type: 'user', id: alice },
      resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo' } },
      action: { name: 'mint' },
      context: { business_justification: 'needs to write' },
      denial: { evaluation_id: answer.context.evaluation_id, decision: { decision: false }, access_request: answer.context.access_request },
    };
    const submit = (who: string, secret: string) =>
      b.request('/access/v1/requests', { method: 'POST', headers: { authorization: `Basic ${btoa(`${who}:${secret}`)}`, 'content-type': 'application/json' }, body: JSON.stringify(submission) });
    // Not the client the mint is about, not another client: the PEP that asked.
    expect((await submit('basic-agent', BASIC_SECRET)).status).toBe(400);
    const res = await submit('pep', BASIC_SECRET);
    expect(res.status).toBe(202);
    const { task } = (await res.json()) as { task: { id: string } };
    expect(await b.services.store.accessRequests.get(task.id)).toMatchObject({ requester: 'pep', clientId: 'wiki-agent', scopes: ['todos.write'] });
  });

  it('a denial no approval could lift is not offered as requestable by the PDP either', async () => {
    const b = await startTestBroker({ settings: await pdpSettings(), policies: POLICIES.replace('@id("open") permit (principal, action == Xaa::Action::"mint", resource);', '@id("open") permit (principal, action == Xaa::Action::"mint", resource) when { resource.name != "todos.write" };') });
    const alice = await principalIdOf(IDP, 'alice');
    await b.services.store.principals.upsert({ id: alice, upstreamIssuer: IDP, upstreamSubject: 'alice', connectionId: 'corp', claims: { groups: ['staff'] }, updatedAt: b.clock.now });
    expect(await pdp(b, alice)).toEqual({ decision: false, context: { reason: 'policy_denied' } });
  });
});
