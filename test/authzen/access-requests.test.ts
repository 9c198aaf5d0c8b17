import { generateKeyPair, SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { ACCESS_REQUEST_PENDING_LIFETIME, MAX_DECISION_REASON_CHARS, MAX_IDEMPOTENCY_KEY_CHARS, MAX_JUSTIFICATION_CHARS, REQUESTABLE_DENIAL_LIFETIME } from '../../src/constants.js';
import { newDenial, signDenial, type DeniedQuestion } from '../../src/governance/denial.js';
import { AUTHZEN_MAX_BODY_BYTES, AUTHZEN_MAX_REQUEST_ITEMS, AUTHZEN_MAX_TASK_ID } from '../../src/authzen/limits.js';
import { BASIC_SECRET, BROKER, IDP, SECRET, startTestBroker, TEST_POLICIES, testSettings, TODO_API, type TestBroker } from '../helpers/broker.js';
import { capture, type Line } from '../helpers/log.js';

/**
 * The AuthZEN Access Request profile's endpoints (src/authzen/access-requests.ts, docs/authzen.md
 * "Access requests"), black-box through app.request(). The requester is `basic-agent`, a
 * client_secret_basic client; `other-agent` is a second one. Denials are made as the token
 * endpoint makes them: newDenial + signDenial with the broker's own KeyRing.
 */

const AS = (client: string, secret = BASIC_SECRET) => `Basic ${btoa(`${client}:${secret}`)}`;
const REQUESTER = AS('basic-agent');
const OTHER = AS('other-agent');
const PROFILE = 'urn:openid:authzen:access-request:error:';
const HOUR = 3600;

const POLICIES = `${TEST_POLICIES}
@id("todo-approval")
@requestable("approvers=group:admins&max_duration=P1D")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.approved.contains("todo-approval") };
`;

async function accessRequestBroker() {
  const settings = await testSettings((s) => {
    const basic = s.clients!.find((c) => c.client_id === 'basic-agent')!;
    s.clients!.push({ client_id: 'other-agent', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: basic.client_secret_hash, destinations: { todo: { client_id: 'other-at-todo', scopes: ['todos.read'] } } });
  });
  return startTestBroker({ settings, policies: POLICIES });
}

type Denial = DeniedQuestion & { context: string };

async function denial(b: TestBroker, over: Partial<Omit<DeniedQuestion, 'id' | 'issuedAt' | 'expiresAt'>> = {}): Promise<Denial> {
  const d = newDenial({ clientId: 'basic-agent', principalId: 'p_alice', upstreamIssuer: IDP, subjectLabel: 'alice@example.com', destination: 'todo', resources: [TODO_API], scopes: ['todos.write', 'todos.read'], policies: ['todo-approval'], ...over }, b.clock.now);
  return { ...d, context: await signDenial(d, BROKER, b.services.keys) };
}

const scopeItem = (id: string, destination = 'todo', extra: Record<string, unknown> = { resource: TODO_API }) => ({ resource: { type: 'scope', id, properties: { destination, ...extra } }, action: { name: 'mint' } });

/** A well-formed submission for `d`; `over` replaces top-level members (undefined removes one). */
function submission(d: Denial, over: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    subject: { type: 'user', id: d.principalId },
    items: d.scopes.map((sc) => scopeItem(sc, d.destination)),
    context: { business_justification: 'Quarterly planning needs write access' },
    requested_access: { requested_duration: 'PT4H' },
    denial: { evaluation_id: d.id, decision: { decision: false }, access_request: { requestable: true, request_context: d.context } },
    ...over,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function submit(b: TestBroker, body: unknown, headers: Record<string, string> = {}) {
  return b.request('/access/v1/requests', { method: 'POST', headers: { authorization: REQUESTER, 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Every access request row and the audit log's length: compare before and after a request. */
function snapshot(b: TestBroker) {
  return { tasks: b.db.prepare('SELECT * FROM access_requests ORDER BY rowid').all(), audit: b.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number };
}

/**
 * The response is the problem `type` with `status`, no-store, and nothing was written but, for a
 * governance refusal of an authenticated client (every profile problem type), its audit record.
 */
async function expectProblem(b: TestBroker, call: () => Promise<Response>, status: number, type: string) {
  const before = snapshot(b);
  const res = await call();
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('cache-control')).toBe('no-store');
  const problem = JSON.parse(text) as Record<string, unknown>;
  expect(problem.type, text).toBe(type.startsWith('about:') ? type : `${PROFILE}${type}`);
  expect(problem.status).toBe(status);
  expect(typeof problem.title).toBe('string');
  expect(typeof problem.detail).toBe('string');
  expect(text).not.toMatch(/at .*\.ts|Error:|secret/);
  const after = snapshot(b);
  expect(after.tasks).toEqual(before.tasks);
  const added = b.db.prepare('SELECT record FROM audit_log ORDER BY seq DESC LIMIT ?').pluck().all(after.audit - before.audit).map((r) => JSON.parse(r as string) as Record<string, unknown>);
  if (!type.startsWith('about:')) expect(added).toHaveLength(1);
  expect(added.length).toBeLessThanOrEqual(1);
  for (const record of added) expect(record).toMatchObject({ event: 'refusal', reason: type.startsWith('about:') ? expect.stringMatching(/^access_request_/) : `access_request_${type}` });
  return { res, problem };
}

describe('AuthZEN access requests', () => {
  let b: TestBroker;
  let lines: Line[];

  beforeEach(async () => {
    b = await accessRequestBroker();
    lines = [];
    b.services.logger = capture(lines);
  });

  describe('metadata', () => {
    it('advertises the access request endpoint, the broker’s JWKS and the capability', async () => {
      const res = await b.request('/.well-known/authzen-configuration');
      expect(await res.json()).toMatchObject({
        access_request_endpoint: `${BROKER}/access/v1/requests`,
        jwks_uri: `${BROKER}/jwks`,
        capabilities: ['urn:openid:authzen:capability:access-request'],
      });
      // The jwks_uri serves the key that verifies a denial's request_context.
      const d = await denial(b);
      const kid = JSON.parse(atob(d.context.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/'))).kid;
      const jwks = (await (await b.request('/jwks')).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    });
  });

  describe('submit', () => {
    it('turns a requestable denial into a pending task: 202, Location, the task view, one row and one audit record', async () => {
      const d = await denial(b);
      const before = snapshot(b);
      const res = await submit(b, submission(d), { 'x-request-id': 'req-1' });
      expect(res.status).toBe(202);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-request-id')).toBe('req-1');
      const body = (await res.json()) as { task: Record<string, unknown> };
      const id = body.task.id as string;
      expect(id).toMatch(/^arq_[A-Za-z0-9_-]{43}$/);
      const statusEndpoint = `${BROKER}/access/v1/requests/${id}`;
      expect(res.headers.get('location')).toBe(statusEndpoint);
      expect(body).toEqual({
        task: {
          id,
          status: 'pending',
          status_endpoint: statusEndpoint,
          expires_at: new Date((b.clock.now + ACCESS_REQUEST_PENDING_LIFETIME) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          links: { cancel: `${statusEndpoint}/cancel` },
        },
      });
      const task = await b.services.store.accessRequests.get(id);
      expect(task).toMatchObject({ denialId: d.id, requester: 'basic-agent', clientId: 'basic-agent', principalId: 'p_alice', destination: 'todo', scopes: d.scopes, policies: ['todo-approval'], justification: 'Quarterly planning needs write access', requestedDuration: 4 * HOUR, status: 'pending' });
      expect(task!.idempotencyKey).toBeUndefined();
      const after = snapshot(b);
      expect(after.tasks.length).toBe(before.tasks.length + 1);
      expect(after.audit).toBe((before.audit as number) + 1);
    });

    it('accepts the single resource + action form for a one-scope denial, and requested_until as seconds from now', async () => {
      const d = await denial(b, { scopes: ['todos.write'] });
      const until = new Date((b.clock.now + 2 * HOUR + 0.9) * 1000).toISOString();
      const { resource, action } = scopeItem('todos.write');
      const res = await submit(b, submission(d, { items: undefined, resource, action, requested_access: { requested_until: until } }));
      expect(res.status).toBe(202);
      const { task } = (await res.json()) as { task: { id: string } };
      expect((await b.services.store.accessRequests.get(task.id))!.requestedDuration).toBe(2 * HOUR);
    });

    it('ignores members it does not know, and takes a submission without justification, duration, evaluation_id or decision', async () => {
      const d = await denial(b);
      const res = await submit(b, submission(d, { context: { time: 'now' }, requested_access: { emergency: true }, client: { id: 'x' }, callback: { endpoint: 'https://x' }, unknown: 1, denial: { access_request: { requestable: true, request_context: d.context } } }));
      expect(res.status).toBe(202);
      const { task } = (await res.json()) as { task: { id: string } };
      const stored = await b.services.store.accessRequests.get(task.id);
      expect(stored!.justification).toBeUndefined();
      expect(stored!.requestedDuration).toBeUndefined();
    });

    it('logs one line per request, naming the caller and the task, never the request_context', async () => {
      const d = await denial(b);
      const res = await submit(b, submission(d));
      const { task } = (await res.json()) as { task: { id: string } };
      expect(lines).toHaveLength(1);
      expect(lines[0]!.fields).toMatchObject({ event: 'access_request_api', endpoint: 'submit', caller: 'basic-agent', task: task.id, status: 202, taskStatus: 'pending' });
      await submit(b, submission(d));
      expect(lines).toHaveLength(2);
      expect(lines[1]!.fields).toMatchObject({ event: 'access_request_api_error', endpoint: 'submit', caller: 'basic-agent', status: 409, type: `${PROFILE}duplicate_request` });
      expect(JSON.stringify(lines)).not.toContain(d.context);
    });
  });

  describe('idempotency', () => {
    it('a retry under the same Idempotency-Key with the same body gets the same task, and writes nothing more', async () => {
      const d = await denial(b);
      const raw = JSON.stringify(submission(d));
      const first = await submit(b, raw, { 'idempotency-key': 'key-1' });
      expect(first.status).toBe(202);
      const { task } = (await first.json()) as { task: { id: string } };
      expect((await b.services.store.accessRequests.get(task.id))!.idempotencyKey).toBe('key-1');
      const before = snapshot(b);
      const retry = await submit(b, raw, { 'idempotency-key': 'key-1' });
      expect(retry.status).toBe(202);
      expect(retry.headers.get('location')).toBe(`${BROKER}/access/v1/requests/${task.id}`);
      expect(((await retry.json()) as { task: { id: string } }).task.id).toBe(task.id);
      expect(snapshot(b)).toEqual(before);
    });

    it('the same Idempotency-Key with a different body is duplicate_request', async () => {
      const d = await denial(b);
      expect((await submit(b, submission(d), { 'idempotency-key': 'key-2' })).status).toBe(202);
      await expectProblem(b, () => submit(b, submission(d, { context: { business_justification: 'something else' } }), { 'idempotency-key': 'key-2' }), 409, 'duplicate_request');
      // The same bytes re-ordered are a different body: the key covers the body as sent.
      const other = await denial(b);
      const body = submission(other);
      expect((await submit(b, JSON.stringify(body), { 'idempotency-key': 'key-3' })).status).toBe(202);
      await expectProblem(b, () => submit(b, JSON.stringify(body, null, 1), { 'idempotency-key': 'key-3' }), 409, 'duplicate_request');
    });

    it('a second request for the same denial is duplicate_request, with or without a new key', async () => {
      const d = await denial(b);
      expect((await submit(b, submission(d))).status).toBe(202);
      await expectProblem(b, () => submit(b, submission(d)), 409, 'duplicate_request');
      await expectProblem(b, () => submit(b, submission(d), { 'idempotency-key': 'fresh' }), 409, 'duplicate_request');
    });

    it('an Idempotency-Key is scoped to its requester', async () => {
      const mine = await denial(b);
      const theirs = await denial(b, { clientId: 'other-agent' });
      expect((await submit(b, submission(mine), { 'idempotency-key': 'shared' })).status).toBe(202);
      expect((await submit(b, submission(theirs), { 'idempotency-key': 'shared', authorization: OTHER })).status).toBe(202);
    });

    it('refuses an Idempotency-Key that is empty, too long or not visible ASCII', async () => {
      const d = await denial(b);
      for (const key of ['', 'k'.repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1), 'has space', 'clé']) {
        await expectProblem(b, () => submit(b, submission(d), { 'idempotency-key': key }), 400, 'about:blank');
      }
      expect((await submit(b, submission(d), { 'idempotency-key': 'k'.repeat(MAX_IDEMPOTENCY_KEY_CHARS) })).status).toBe(202);
    });
  });

  describe('shape', () => {
    const cases: Array<[string, (d: Denial) => Record<string, unknown>]> = [
      ['subject missing', (d) => submission(d, { subject: undefined })],
      ['subject not an object', (d) => submission(d, { subject: 'p_alice' })],
      ['subject.id missing', (d) => submission(d, { subject: { type: 'user' } })],
      ['neither items nor resource/action', (d) => submission(d, { items: undefined })],
      ['resource without action', (d) => submission(d, { items: undefined, resource: scopeItem('todos.write').resource })],
      ['action without resource', (d) => submission(d, { items: undefined, action: { name: 'mint' } })],
      ['items with a top-level resource', (d) => submission(d, { resource: scopeItem('todos.write').resource })],
      ['items with a top-level action', (d) => submission(d, { action: { name: 'mint' } })],
      ['items not an array', (d) => submission(d, { items: scopeItem('todos.write') })],
      ['items empty', (d) => submission(d, { items: [] })],
      ['more items than the cap', (d) => submission(d, { items: Array.from({ length: AUTHZEN_MAX_REQUEST_ITEMS + 1 }, (_, i) => scopeItem(`s${i}`)) })],
      ['an item not an object', (d) => submission(d, { items: ['todos.write'] })],
      ['an item without action', (d) => submission(d, { items: [{ resource: scopeItem('todos.write').resource }] })],
      ['an item without resource', (d) => submission(d, { items: [{ action: { name: 'mint' } }] })],
      ['an item resource without id', (d) => submission(d, { items: [{ resource: { type: 'scope' }, action: { name: 'mint' } }] })],
      ['a per-item denial', (d) => submission(d, { items: d.scopes.map((sc) => ({ ...scopeItem(sc), denial: { access_request: { requestable: true, request_context: d.context } } })) })],
      ['a per-item requested_access', (d) => submission(d, { items: d.scopes.map((sc) => ({ ...scopeItem(sc), requested_access: { requested_duration: 'PT1H' } })) })],
      ['context not an object', (d) => submission(d, { context: 'why' })],
      ['business_justification not a string', (d) => submission(d, { context: { business_justification: 42 } })],
      ['business_justification empty', (d) => submission(d, { context: { business_justification: '  ' } })],
      ['business_justification too long', (d) => submission(d, { context: { business_justification: 'j'.repeat(MAX_JUSTIFICATION_CHARS + 1) } })],
      ['requested_access not an object', (d) => submission(d, { requested_access: 'PT4H' })],
      ['requested_duration in months', (d) => submission(d, { requested_access: { requested_duration: 'P1M' } })],
      ['requested_duration zero', (d) => submission(d, { requested_access: { requested_duration: 'PT0S' } })],
      ['requested_duration not a string', (d) => submission(d, { requested_access: { requested_duration: 3600 } })],
      ['requested_until not RFC 3339', (d) => submission(d, { requested_access: { requested_until: 'tomorrow' } })],
      ['requested_until without a zone', (d) => submission(d, { requested_access: { requested_until: '2099-01-01T00:00:00' } })],
      ['requested_until in the past', (d) => submission(d, { requested_access: { requested_until: new Date((d.issuedAt - 60) * 1000).toISOString() } })],
      ['requested_until now', (d) => submission(d, { requested_access: { requested_until: new Date(d.issuedAt * 1000).toISOString() } })],
      ['both requested_duration and requested_until', (d) => submission(d, { requested_access: { requested_duration: 'PT1H', requested_until: new Date((d.issuedAt + HOUR) * 1000).toISOString() } })],
      ['denial not an object', (d) => submission(d, { denial: d.context })],
      ['denial.evaluation_id not a string', (d) => submission(d, { denial: { evaluation_id: 7, access_request: { requestable: true, request_context: d.context } } })],
      ['denial.decision not an object', (d) => submission(d, { denial: { decision: false, access_request: { requestable: true, request_context: d.context } } })],
    ];
    for (const [name, body] of cases) {
      it(`refuses ${name} (400) and writes nothing`, async () => {
        const d = await denial(b);
        const { problem } = await expectProblem(b, () => submit(b, body(d)), 400, 'about:blank');
        expect(problem.title).toBe('Bad Request');
        // The same denial, well-formed, is still accepted: the refusal consumed nothing.
        expect((await submit(b, submission(d))).status).toBe(202);
      });
    }

    it('refuses a body that is not JSON, not an object, empty, or too deep (400)', async () => {
      for (const raw of ['{', '[]', '', '"x"', `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`]) await expectProblem(b, () => submit(b, raw), 400, 'about:blank');
    });

    it('refuses another media type (415) and a body over the cap (413)', async () => {
      const d = await denial(b);
      await expectProblem(b, () => submit(b, submission(d), { 'content-type': 'text/plain' }), 415, 'about:blank');
      await expectProblem(b, () => submit(b, submission(d, { pad: 'x'.repeat(AUTHZEN_MAX_BODY_BYTES) })), 413, 'about:blank');
    });
  });

  describe('denial', () => {
    it('not_requestable: requestable not true, no access_request, or a decision that was not a denial', async () => {
      const d = await denial(b);
      for (const bad of [
        { access_request: { requestable: false, request_context: d.context } },
        { access_request: { requestable: 'true', request_context: d.context } },
        { access_request: { request_context: d.context } },
        { evaluation_id: d.id },
        { decision: { decision: true }, access_request: { requestable: true, request_context: d.context } },
      ]) {
        await expectProblem(b, () => submit(b, submission(d, { denial: bad })), 400, 'not_requestable');
      }
    });

    it('not_requestable: a policy that denied is no longer @requestable', async () => {
      const d = await denial(b, { policies: ['todo-approval', 'mfa-for-write'] });
      await expectProblem(b, () => submit(b, submission(d)), 400, 'not_requestable');
    });

    it('invalid_denial_binding: no denial, or no request_context (an evaluation_id alone binds nothing here)', async () => {
      const d = await denial(b);
      await expectProblem(b, () => submit(b, submission(d, { denial: undefined })), 400, 'invalid_denial_binding');
      await expectProblem(b, () => submit(b, submission(d, { denial: { evaluation_id: d.id, access_request: { requestable: true } } })), 400, 'invalid_denial_binding');
      await expectProblem(b, () => submit(b, submission(d, { denial: { evaluation_id: d.id, access_request: { requestable: true, request_context: 42 } } })), 400, 'invalid_denial_binding');
    });

    it('invalid_denial_binding: a forged or altered request_context', async () => {
      const d = await denial(b);
      const [header, payload, signature] = d.context.split('.') as [string, string, string];
      const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
      const altered = btoa(JSON.stringify({ ...claims, scopes: ['todos.write'] })).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const { privateKey } = await generateKeyPair('ES256');
      const kid = JSON.parse(atob(header.replace(/-/g, '+').replace(/_/g, '/'))).kid;
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'xaa-denial+jwt', kid }).sign(privateKey);
      for (const context of [`${header}.${altered}.${signature}`, forged, `${d.context}x`, 'not-a-jws']) {
        await expectProblem(b, () => submit(b, submission(d, { denial: { access_request: { requestable: true, request_context: context } } })), 400, 'invalid_denial_binding');
      }
      // The altered one, matched item for item, is still refused: the signature covers the scopes.
      await expectProblem(b, () => submit(b, submission(d, { items: [scopeItem('todos.write')], denial: { access_request: { requestable: true, request_context: `${header}.${altered}.${signature}` } } })), 400, 'invalid_denial_binding');
    });

    it('invalid_denial_binding: a denial issued to another client', async () => {
      const theirs = await denial(b, { clientId: 'other-agent' });
      await expectProblem(b, () => submit(b, submission(theirs)), 400, 'invalid_denial_binding');
      expect((await submit(b, submission(theirs), { authorization: OTHER })).status).toBe(202);
    });

    it('invalid_denial_binding: what the submission names differs from what was denied', async () => {
      const d = await denial(b);
      const items = (f: (sc: string) => Record<string, unknown>) => d.scopes.map(f);
      const mismatches: Array<[string, Record<string, unknown>]> = [
        ['another subject', { subject: { type: 'user', id: 'p_bob' } }],
        ['another subject type', { subject: { type: 'agent', id: 'p_alice' } }],
        ['a missing scope', { items: [scopeItem('todos.write')] }],
        ['an extra scope', { items: [...items((sc) => scopeItem(sc)), scopeItem('todos.delete')] }],
        ['another destination', { items: items((sc) => scopeItem(sc, 'crm')) }],
        ['another resource', { items: items((sc) => scopeItem(sc, 'todo', { resource: 'https://api.crm.test/' })) }],
        ['another resource type', { items: items((sc) => ({ ...scopeItem(sc), resource: { type: 'document', id: sc, properties: { destination: 'todo' } } })) }],
        ['another action', { items: items((sc) => ({ ...scopeItem(sc), action: { name: 'read' } })) }],
        ['another evaluation_id', { denial: { evaluation_id: 'den_other', access_request: { requestable: true, request_context: d.context } } }],
      ];
      for (const [, over] of mismatches) await expectProblem(b, () => submit(b, submission(d, over)), 400, 'invalid_denial_binding');
      expect((await submit(b, submission(d))).status).toBe(202);
    });

    it('expired_denial: the request_context is past its lifetime (410)', async () => {
      const d = await denial(b);
      b.clock.now += REQUESTABLE_DENIAL_LIFETIME;
      await expectProblem(b, () => submit(b, submission(d)), 410, 'expired_denial');
      b.clock.now -= 1;
      expect((await submit(b, submission(d))).status).toBe(202);
    });

    it('a duration longer than every denying policy allows is refused (400), at the limit it is accepted', async () => {
      const d = await denial(b);
      await expectProblem(b, () => submit(b, submission(d, { requested_access: { requested_duration: 'P1DT1S' } })), 400, 'about:blank');
      await expectProblem(b, () => submit(b, submission(d, { requested_access: { requested_until: new Date((b.clock.now + 86_401) * 1000).toISOString() } })), 400, 'about:blank');
      expect((await submit(b, submission(d, { requested_access: { requested_duration: 'P1D' } }))).status).toBe(202);
    });
  });

  describe('callers', () => {
    it('refuses no credentials, a wrong secret, a public client and a wrong client_secret_post secret with 401 and a Basic challenge', async () => {
      const d = await denial(b);
      const callers: Array<Record<string, string>> = [{}, { authorization: AS('basic-agent', 'wrong') }, { authorization: AS('spa', 'anything') }, { authorization: AS('wiki-agent', 'wrong') }, { authorization: 'Bearer x' }];
      for (const headers of callers) {
        const { res } = await expectProblem(b, () => b.request('/access/v1/requests', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(submission(d)) }), 401, 'about:blank');
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    });

    it('a client_secret_post client sends its secret with Basic here (the body is JSON; RFC 6749 §2.3.1) and submits for its own denial', async () => {
      const d = await denial(b, { clientId: 'wiki-agent' });
      const res = await b.request('/access/v1/requests', { method: 'POST', headers: { 'content-type': 'application/json', authorization: AS('wiki-agent', SECRET) }, body: JSON.stringify(submission(d)) });
      expect(res.status).toBe(202);
    });

    it('answers a method a path does not serve with 405 and Allow', async () => {
      const d = await denial(b);
      const res = await submit(b, submission(d));
      const { task } = (await res.json()) as { task: { id: string } };
      const cases: Array<[string, string, string]> = [
        ['/access/v1/requests', 'GET', 'POST'],
        [`/access/v1/requests/${task.id}`, 'PUT', 'GET'],
        [`/access/v1/requests/${task.id}`, 'DELETE', 'GET'],
        [`/access/v1/requests/${task.id}/cancel`, 'GET', 'POST, DELETE'],
      ];
      for (const [path, method, allow] of cases) {
        const { res: r } = await expectProblem(b, () => b.request(path, { method, headers: { authorization: REQUESTER } }), 405, 'about:blank');
        expect(r.headers.get('allow'), `${method} ${path}`).toBe(allow);
      }
    });

    it('refuses an X-Request-ID it cannot echo (400)', async () => {
      const d = await denial(b);
      await expectProblem(b, () => submit(b, submission(d), { 'x-request-id': 'x'.repeat(201) }), 400, 'about:blank');
    });
  });

  describe('status', () => {
    async function submitted(): Promise<{ id: string; endpoint: string }> {
      const res = await submit(b, submission(await denial(b)));
      const { task } = (await res.json()) as { task: { id: string } };
      return { id: task.id, endpoint: `/access/v1/requests/${task.id}` };
    }

    it('shows the requester its task; another client, an unknown id and a malformed id are unknown_task (404)', async () => {
      const { id, endpoint } = await submitted();
      const res = await b.request(endpoint, { headers: { authorization: REQUESTER } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toMatchObject({ task: { id, status: 'pending', status_endpoint: `${BROKER}${endpoint}` } });
      await expectProblem(b, () => b.request(endpoint, { headers: { authorization: OTHER } }), 404, 'unknown_task');
      await expectProblem(b, () => b.request('/access/v1/requests/arq_nothing', { headers: { authorization: REQUESTER } }), 404, 'unknown_task');
      await expectProblem(b, () => b.request(`/access/v1/requests/${'a'.repeat(AUTHZEN_MAX_TASK_ID + 1)}`, { headers: { authorization: REQUESTER } }), 404, 'unknown_task');
      await expectProblem(b, () => b.request(endpoint), 401, 'about:blank');
    });

    it('shows the result once approved, and the handle lasts until the approval ends', async () => {
      const { id, endpoint } = await submitted();
      const now = b.clock.now;
      const approval = { id: 'apr_test', approvedAt: now, approvedUntil: now + ACCESS_REQUEST_PENDING_LIFETIME + HOUR };
      const audit = { at: now, event: 'access_request' as const, requestId: 't', accessRequest: id, action: 'approved', clientId: 'basic-agent' };
      expect((await b.services.store.accessRequests.transition(id, { status: 'approved', decidedAt: now, decidedBy: 'p_admin', approval }, audit, now)).status).toBe('done');
      const res = await b.request(endpoint, { headers: { authorization: REQUESTER } });
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ task: { id, status: 'approved' }, result: { mode: 'reevaluate', approval: { id: 'apr_test' }, approval_context: { approval_id: 'apr_test' } } });
      expect((body.task as Record<string, unknown>).links).toBeUndefined();
      b.clock.now += ACCESS_REQUEST_PENDING_LIFETIME;
      expect((await b.request(endpoint, { headers: { authorization: REQUESTER } })).status).toBe(200);
      b.clock.now += HOUR;
      await expectProblem(b, () => b.request(endpoint, { headers: { authorization: REQUESTER } }), 410, 'task_expired');
    });

    it('a pending task past its lifetime is task_expired (410) for status and cancel', async () => {
      const { endpoint } = await submitted();
      b.clock.now += ACCESS_REQUEST_PENDING_LIFETIME - 1;
      expect((await b.request(endpoint, { headers: { authorization: REQUESTER } })).status).toBe(200);
      b.clock.now += 1;
      await expectProblem(b, () => b.request(endpoint, { headers: { authorization: REQUESTER } }), 410, 'task_expired');
      await expectProblem(b, () => b.request(`${endpoint}/cancel`, { method: 'POST', headers: { authorization: REQUESTER } }), 410, 'task_expired');
    });
  });

  describe('cancel', () => {
    async function submitted(): Promise<{ id: string; cancel: string }> {
      const res = await submit(b, submission(await denial(b)));
      const { task } = (await res.json()) as { task: { id: string; links: { cancel: string } } };
      return { id: task.id, cancel: task.links.cancel.slice(BROKER.length) };
    }

    it('cancels a pending task (POST, no body): 200, status cancelled, no cancel link, audited', async () => {
      const { id, cancel } = await submitted();
      const before = snapshot(b);
      const res = await b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { task: Record<string, unknown> };
      expect(body.task).toMatchObject({ id, status: 'cancelled' });
      expect(body.task.links).toBeUndefined();
      expect(await b.services.store.accessRequests.get(id)).toMatchObject({ status: 'cancelled', decidedBy: 'basic-agent' });
      expect(snapshot(b).audit).toBe((before.audit as number) + 1);
      expect(((await (await b.request(`/access/v1/requests/${id}`, { headers: { authorization: REQUESTER } })).json()) as { task: { status: string } }).task.status).toBe('cancelled');
    });

    it('cancels with DELETE, and keeps the reason and comment for the record', async () => {
      const { id, cancel } = await submitted();
      const res = await b.request(cancel, { method: 'DELETE', headers: { authorization: REQUESTER, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no_longer_needed', comment: 'done by hand' }) });
      expect(res.status).toBe(200);
      expect(await b.services.store.accessRequests.get(id)).toMatchObject({ status: 'cancelled', reason: 'no_longer_needed: done by hand' });
    });

    it('cancelling a finished task is invalid_task_state (409); an approved one stays approved', async () => {
      const { id, cancel } = await submitted();
      expect((await b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER } })).status).toBe(200);
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER } }), 409, 'invalid_task_state');
      const other = await submitted();
      const now = b.clock.now;
      const audit = { at: now, event: 'access_request' as const, requestId: 't', accessRequest: other.id, action: 'approved', clientId: 'basic-agent' };
      await b.services.store.accessRequests.transition(other.id, { status: 'approved', decidedAt: now, approval: { id: 'apr_x', approvedAt: now, approvedUntil: now + HOUR } }, audit, now);
      await expectProblem(b, () => b.request(other.cancel, { method: 'DELETE', headers: { authorization: REQUESTER } }), 409, 'invalid_task_state');
      expect((await b.services.store.accessRequests.get(other.id))!.status).toBe('approved');
      expect((await b.services.store.accessRequests.get(id))!.status).toBe('cancelled');
    });

    it('another client cannot cancel (404 unknown_task); a bad body is refused; neither changes the task', async () => {
      const { id, cancel } = await submitted();
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: OTHER } }), 404, 'unknown_task');
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER, 'content-type': 'application/json' }, body: '{"reason": 5}' }), 400, 'about:blank');
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER, 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'c'.repeat(MAX_DECISION_REASON_CHARS + 1) }) }), 400, 'about:blank');
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER, 'content-type': 'text/plain' }, body: 'please' }), 415, 'about:blank');
      await expectProblem(b, () => b.request(cancel, { method: 'POST', headers: { authorization: REQUESTER, 'content-type': 'application/json' }, body: 'nope' }), 400, 'about:blank');
      expect((await b.services.store.accessRequests.get(id))!.status).toBe('pending');
    });
  });
});
