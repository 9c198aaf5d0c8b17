import { parseDocument } from 'yaml';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { principalIdOf } from '../../src/mapping/principal.js';
import { createD1Store } from '../../src/store/adapters/d1.js';
import { BROKER, call, IDP, SECRET, testFiles, testWorker } from './helpers.js';

/**
 * The AuthZEN PDP (src/authzen) inside workerd, on D1: a PEP client added to the test
 * configuration, a person recorded in D1, decisions from the Cedar build Workers load.
 */
function pdpWorker() {
  const doc = parseDocument(testFiles.broker.text);
  const clients = doc.get('clients') as { add(item: unknown): void };
  const wiki = (doc.toJS() as { clients: Array<{ client_id: string; client_secret_hash: string }> }).clients.find((c) => c.client_id === 'wiki-agent')!;
  clients.add(doc.createNode({ client_id: 'pep', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: wiki.client_secret_hash, authzen: true }));
  return testWorker({ files: { ...testFiles, broker: { path: testFiles.broker.path, text: String(doc) } } });
}

describe('AuthZEN PDP inside workerd', () => {
  const worker = pdpWorker();
  const pep = { authorization: `Basic ${btoa(`pep:${SECRET}`)}`, 'content-type': 'application/json' };
  let alice: string;

  beforeAll(async () => {
    alice = await principalIdOf(IDP, 'alice');
    await createD1Store(env.DB).principals.upsert({ id: alice, upstreamIssuer: IDP, upstreamSubject: 'alice', connectionId: 'corp', claims: { email: 'alice@example.com', groups: ['staff'] }, updatedAt: Math.floor(Date.now() / 1000) });
  });

  it('serves its metadata', async () => {
    const res = await call(worker, '/.well-known/authzen-configuration');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ policy_decision_point: BROKER, access_evaluations_endpoint: `${BROKER}/access/v1/evaluations` });
  });

  it('answers a batch with the mint path’s decisions: a permit, a policy deny, an unknown person', async () => {
    const body = {
      action: { name: 'mint' },
      context: { client_id: 'wiki-agent', amr: ['pwd'] },
      subject: { type: 'user', id: alice },
      evaluations: [
        { resource: { type: 'scope', id: 'todos.read', properties: { destination: 'todo' } } },
        { resource: { type: 'scope', id: 'todos.write', properties: { destination: 'todo' } } },
        { subject: { type: 'user', id: 'p_nobody' }, resource: { type: 'scope', id: 'todos.read', properties: { destination: 'todo' } } },
      ],
    };
    const res = await call(worker, '/access/v1/evaluations', { method: 'POST', headers: pep, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      evaluations: [{ decision: true }, { decision: false, context: { reason: 'policy_denied' } }, { decision: false, context: { reason: 'subject_unknown' } }],
    });
  });

  it('refuses a caller without credentials with 401 and a Basic challenge', async () => {
    const res = await call(worker, '/access/v1/evaluation', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
  });
});
