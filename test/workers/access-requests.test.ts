import { parseDocument } from 'yaml';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { newDenial, signDenial, type DeniedQuestion } from '../../src/governance/denial.js';
import { KeyRing } from '../../src/minting/keys.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { BROKER, call, IDP, SECRET, testFiles, testWorker, TODO_API } from './helpers.js';

/**
 * The AuthZEN Access Request endpoints (src/authzen/access-requests.ts) inside workerd, on D1:
 * a client_secret_basic requester added to the test configuration, a `@requestable` forbid added
 * to its policies, a denial signed with the broker's own key as D1 holds it.
 */
const REQUESTABLE = `
@id("todo-approval")
@requestable("approvers=group:admins&max_duration=P1D")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.approved.contains("todo-approval") };
`;

function accessRequestWorker() {
  const doc = parseDocument(testFiles.broker.text);
  const clients = doc.get('clients') as { add(item: unknown): void };
  const wiki = (doc.toJS() as { clients: Array<{ client_id: string; client_secret_hash: string }> }).clients.find((c) => c.client_id === 'wiki-agent')!;
  for (const id of ['requester', 'someone-else']) clients.add(doc.createNode({ client_id: id, token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: wiki.client_secret_hash }));
  const policies = testFiles.policies.map((p) => ({ ...p, text: `${p.text}\n${REQUESTABLE}` }));
  return testWorker({ files: { ...testFiles, broker: { path: testFiles.broker.path, text: String(doc) }, policies } });
}

describe('Access requests inside workerd, on D1', () => {
  const worker = accessRequestWorker();
  const as = (client: string) => ({ authorization: `Basic ${btoa(`${client}:${SECRET}`)}` });
  const now = () => Math.floor(Date.now() / 1000);
  let context: string;
  let d: DeniedQuestion;

  beforeAll(async () => {
    // The first request makes the broker create its keys in D1; the denial is signed with the active one.
    expect((await call(worker, '/jwks')).status).toBe(200);
    const keys = new KeyRing(createD1Store(env.DB).keys, 'ES256');
    await keys.init(now());
    d = newDenial({ clientId: 'requester', principalId: 'p_alice', upstreamIssuer: IDP, subjectLabel: 'alice@example.com', destination: 'todo', resources: [TODO_API], scopes: ['todos.write'], policies: ['todo-approval'] }, now());
    context = await signDenial(d, BROKER, keys);
  });

  const body = () =>
    JSON.stringify({
      subject: { type: 'user', id: d.principalId },
      resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo' } },
      action: { name: 'mint' },
      context: { business_justification: 'release week' },
      requested_access: { requested_duration: 'PT8H' },
      denial: { evaluation_id: d.id, access_request: { requestable: true, request_context: context } },
    });

  it('advertises the endpoint', async () => {
    const res = await call(worker, '/.well-known/authzen-configuration');
    expect(await res.json()).toMatchObject({ access_request_endpoint: `${BROKER}/access/v1/requests`, jwks_uri: `${BROKER}/jwks`, capabilities: ['urn:openid:authzen:capability:access-request'] });
  });

  it('submits, retries idempotently, reads the status, and cancels once', async () => {
    const headers = { ...as('requester'), 'content-type': 'application/json', 'idempotency-key': 'wk-1' };
    const submitted = await call(worker, '/access/v1/requests', { method: 'POST', headers, body: body() });
    expect(submitted.status).toBe(202);
    const { task } = (await submitted.json()) as { task: { id: string; status: string; status_endpoint: string; links: { cancel: string } } };
    expect(task.status).toBe('pending');
    expect(submitted.headers.get('location')).toBe(task.status_endpoint);
    const stored = await createD1Store(env.DB).accessRequests.get(task.id);
    expect(stored).toMatchObject({ requester: 'requester', denialId: d.id, scopes: ['todos.write'], justification: 'release week', requestedDuration: 8 * 3600, idempotencyKey: 'wk-1' });

    const retry = await call(worker, '/access/v1/requests', { method: 'POST', headers, body: body() });
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { task: { id: string } }).task.id).toBe(task.id);
    const duplicate = await call(worker, '/access/v1/requests', { method: 'POST', headers: { ...headers, 'idempotency-key': 'wk-2' }, body: body() });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get('content-type')).toBe('application/problem+json');
    expect(await duplicate.json()).toMatchObject({ type: 'urn:openid:authzen:access-request:error:duplicate_request', status: 409 });

    const path = task.status_endpoint.slice(BROKER.length);
    const status = await call(worker, path, { headers: as('requester') });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ task: { id: task.id, status: 'pending' } });
    expect((await call(worker, path, { headers: as('someone-else') })).status).toBe(404);

    const cancelPath = task.links.cancel.slice(BROKER.length);
    const cancelled = await call(worker, cancelPath, { method: 'POST', headers: { ...as('requester'), 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'not_needed' }) });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ task: { id: task.id, status: 'cancelled' } });
    const again = await call(worker, cancelPath, { method: 'DELETE', headers: as('requester') });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ type: 'urn:openid:authzen:access-request:error:invalid_task_state' });
    expect(await createD1Store(env.DB).accessRequests.get(task.id)).toMatchObject({ status: 'cancelled', reason: 'not_needed', decidedBy: 'requester' });
  });

  it('refuses a forged request_context and writes nothing', async () => {
    const before = await env.DB.prepare('SELECT count(*) AS n FROM access_requests').first<{ n: number }>();
    const forged = body().replace(context, `${context.slice(0, -4)}AAAA`);
    const res = await call(worker, '/access/v1/requests', { method: 'POST', headers: { ...as('requester'), 'content-type': 'application/json' }, body: forged });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'urn:openid:authzen:access-request:error:invalid_denial_binding' });
    expect(await env.DB.prepare('SELECT count(*) AS n FROM access_requests').first<{ n: number }>()).toEqual(before);
  });
});
