import { beforeAll, describe, expect, it } from 'vitest';
import { principalIdOf } from '../../src/mapping/principal.js';
import type { BrokerConfigInput } from '../../src/config/schema.js';
import { BASIC_SECRET, exchangeParams, IDP, postToken, startTestBroker, storeState, TEST_IDP_AUTHORITY, testSettings, TODO_API, type TestBroker } from '../helpers/broker.js';

/**
 * The broker as an AuthZEN 1.0 PDP (src/authzen, docs/authzen.md), black-box through app.request().
 * The PEP is `pep`, a client_secret_basic client flagged `authzen: true`.
 */

const PEP = `Basic ${btoa(`pep:${BASIC_SECRET}`)}`;

/** The test broker plus a PEP client, a login connection for the IdP (the principal's upstream), and a max_auth_age at the CRM. */
export async function pdpSettings(extra: (s: BrokerConfigInput) => void = () => {}) {
  return testSettings((s) => {
    const basic = s.clients!.find((c) => c.client_id === 'basic-agent')!;
    s.clients!.push({ client_id: 'pep', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: basic.client_secret_hash, authzen: true });
    s.connections = [{ type: 'oidc', id: 'corp', issuer: IDP, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/corp/callback', authority: TEST_IDP_AUTHORITY }];
    s.destinations!.find((d) => d.id === 'crm')!.max_auth_age = 600;
    extra(s);
  });
}

/** A person as the broker recorded them at login (claims already filtered by the upstream's authority). */
async function seedPrincipal(b: TestBroker, sub: string, claims: Record<string, unknown>, connectionId = 'corp') {
  const id = await principalIdOf(IDP, sub);
  await b.services.store.principals.upsert({ id, upstreamIssuer: IDP, upstreamSubject: sub, connectionId, claims, updatedAt: b.clock.now });
  return id;
}

function post(b: TestBroker, path: string, body: unknown, headers: Record<string, string> = {}) {
  return b.request(path, { method: 'POST', headers: { authorization: PEP, 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const mint = { name: 'mint' };
const scope = (id: string, destination = 'todo', extra: Record<string, unknown> = {}) => ({ type: 'scope', id, properties: { destination, ...extra } });

describe('AuthZEN PDP', () => {
  let b: TestBroker;
  let alice: string;
  let writer: string;
  let stranger: string;
  const user = (id: string, properties?: Record<string, unknown>) => ({ type: 'user', id, ...(properties ? { properties } : {}) });
  const ctx = (extra: Record<string, unknown> = {}) => ({ client_id: 'wiki-agent', amr: ['pwd'], ...extra });
  const evaluation = (over: Record<string, unknown> = {}) => ({ subject: user(alice), action: mint, resource: scope('todos.read'), context: ctx(), ...over });

  beforeAll(async () => {
    b = await startTestBroker({ settings: await pdpSettings() });
    alice = await seedPrincipal(b, 'alice', { email: 'alice@example.com', email_verified: true, groups: ['staff'] });
    writer = await seedPrincipal(b, 'bob', { email: 'bob@example.com', email_verified: true, groups: ['staff', 'todo-writers'] });
    stranger = await seedPrincipal(b, 'carol', { email: 'carol@example.com', email_verified: true, groups: [] });
  });

  describe('metadata', () => {
    it('publishes the endpoints it serves under the broker issuer (the access request profile’s too), and no subject search', async () => {
      const res = await b.request('/.well-known/authzen-configuration');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({
        policy_decision_point: 'https://broker.test',
        access_evaluation_endpoint: 'https://broker.test/access/v1/evaluation',
        access_evaluations_endpoint: 'https://broker.test/access/v1/evaluations',
        search_resource_endpoint: 'https://broker.test/access/v1/search/resource',
        search_action_endpoint: 'https://broker.test/access/v1/search/action',
        access_request_endpoint: 'https://broker.test/access/v1/requests',
        jwks_uri: 'https://broker.test/jwks',
        capabilities: ['urn:openid:authzen:capability:access-request'],
      });
    });

    it('answers subject search with 404: it is not offered', async () => {
      const res = await post(b, '/access/v1/search/subject', { subject: { type: 'user' }, action: mint, resource: scope('todos.read'), context: ctx() });
      expect(res.status).toBe(404);
    });
  });

  describe('evaluation', () => {
    it('permits what the mint path would grant', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation());
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ decision: true });
    });

    it('a deny is 200 with decision false and the reason in context', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation({ resource: scope('todos.write'), context: ctx({ amr: ['pwd', 'mfa'] }) }));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ decision: false, context: { reason: 'policy_denied' } });
    });

    it('takes groups from the broker’s record, never from subject.properties', async () => {
      const asserted = await post(b, '/access/v1/evaluation', evaluation({ subject: user(alice, { groups: ['todo-writers'] }), resource: scope('todos.write'), context: ctx({ amr: ['mfa'] }) }));
      expect(await asserted.json()).toMatchObject({ decision: false });
      const recorded = await post(b, '/access/v1/evaluation', evaluation({ subject: user(writer), resource: scope('todos.write'), context: ctx({ amr: ['mfa'] }) }));
      expect(await recorded.json()).toEqual({ decision: true });
    });

    it('ignores an amr value the person’s upstream is not believed about, as the mint path does', async () => {
      // bob, a writer, as if his login came through a connection believed about no amr.
      await seedPrincipal(b, 'bob', { groups: ['staff', 'todo-writers'] }, 'unconfigured-connection');
      const res = await post(b, '/access/v1/evaluation', evaluation({ subject: user(writer), resource: scope('todos.write'), context: ctx({ amr: ['mfa'] }) }));
      await seedPrincipal(b, 'bob', { email: 'bob@example.com', email_verified: true, groups: ['staff', 'todo-writers'] });
      expect(await res.json()).toEqual({ decision: false, context: { reason: 'policy_denied' } });
    });

    it('answers a well-formed question about something it does not know with decision false and a reason', async () => {
      const cases: Array<[string, Record<string, unknown>]> = [
        ['subject_unknown', { subject: user('p_nobody') }],
        ['subject_type_unsupported', { subject: { type: 'group', id: alice } }],
        ['action_unsupported', { action: { name: 'read' } }],
        ['resource_type_unsupported', { resource: { type: 'document', id: 'todos.read' } }],
        ['destination_unknown', { resource: scope('todos.read', 'nowhere') }],
        ['resource_unknown', { resource: scope('todos.read', 'todo', { resource: 'https://api.crm.test/' }) }],
        ['client_unknown', { context: ctx({ client_id: 'nobody' }) }],
        ['client_public', { context: ctx({ client_id: 'spa' }) }],
        ['client_not_enabled_for_destination', { resource: scope('contacts.read', 'crm'), context: ctx({ client_id: 'basic-agent', auth_time: b.clock.now }) }],
        ['scope_untranslatable', { resource: scope('todos.delete') }],
        ['scope_not_permitted_for_client', { resource: scope('todos.write'), context: ctx({ client_id: 'basic-agent' }) }],
        ['mapping_refused', { subject: user(stranger) }],
        ['authentication_too_old', { resource: scope('contacts.read', 'crm'), context: ctx({ auth_time: b.clock.now - 601 }) }],
        ['authentication_too_old', { resource: scope('contacts.read', 'crm'), context: ctx() }],
      ];
      for (const [reason, over] of cases) {
        const res = await post(b, '/access/v1/evaluation', evaluation(over));
        expect(res.status, reason).toBe(200);
        expect(await res.json(), reason).toEqual({ decision: false, context: { reason } });
      }
    });

    it('permits with an RFC 8707 resource the destination serves, and a fresh enough login where max_auth_age is set', async () => {
      expect(await (await post(b, '/access/v1/evaluation', evaluation({ resource: scope('todos.read', 'todo', { resource: TODO_API }) }))).json()).toEqual({ decision: true });
      expect(await (await post(b, '/access/v1/evaluation', evaluation({ resource: scope('contacts.read', 'crm'), context: ctx({ auth_time: b.clock.now - 10 }) }))).json()).toEqual({ decision: true });
    });

    it('writes nothing: no binding for a claim namespace, no audit record', async () => {
      const before = storeState(b);
      await post(b, '/access/v1/evaluation', evaluation({ resource: scope('contacts.read', 'crm'), context: ctx({ auth_time: b.clock.now }) }));
      expect(storeState(b)).toEqual(before);
    });

    it('echoes the PEP’s X-Request-ID', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation(), { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' });
      expect(res.headers.get('x-request-id')).toBe('bfe9eb29-ab87-4ca3-be83-a1d5d8305716');
    });
  });

  describe('the same decisions as the mint path', () => {
    it('for every scope and login, permits exactly what a token exchange grants', async () => {
      const logins: Array<{ groups: string[]; amr: string[] }> = [
        { groups: ['staff'], amr: ['pwd'] },
        { groups: ['staff', 'todo-writers'], amr: ['pwd'] },
        { groups: ['staff', 'todo-writers'], amr: ['pwd', 'mfa'] },
        { groups: [], amr: ['mfa'] },
      ];
      for (const login of logins) {
        // The principal as a login through the same upstream would record it.
        const id = await seedPrincipal(b, 'alice', { email: 'alice@example.com', email_verified: true, groups: login.groups });
        for (const s of ['todos.read', 'todos.write']) {
          const idToken = await b.idp.idToken({ sub: 'alice', email: 'alice@example.com', groups: login.groups, amr: login.amr }, 'wiki-agent', { now: b.clock.now });
          const minted = await postToken(b, await exchangeParams(b, { subject_token: idToken, scope: s }));
          const asked = await post(b, '/access/v1/evaluation', evaluation({ subject: user(id), resource: scope(s, 'todo', { resource: TODO_API }), context: ctx({ amr: login.amr }) }));
          const { decision } = (await asked.json()) as { decision: boolean };
          expect(decision, `${s} for ${JSON.stringify(login)}`).toBe(minted.status === 200);
        }
      }
      await seedPrincipal(b, 'alice', { email: 'alice@example.com', email_verified: true, groups: ['staff'] });
    });
  });

  describe('evaluations', () => {
    const three = () => ({
      subject: user(writer),
      action: mint,
      context: ctx(),
      evaluations: [{ resource: scope('todos.read') }, { resource: scope('todos.write') }, { resource: scope('todos.read'), subject: user(alice) }],
    });

    it('applies top-level defaults, lets an item override them, and answers in request order', async () => {
      const res = await post(b, '/access/v1/evaluations', three());
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ evaluations: [{ decision: true }, { decision: false, context: { reason: 'policy_denied' } }, { decision: true }] });
    });

    it('an item’s context replaces the default context whole', async () => {
      const body = { ...three(), evaluations: [{ resource: scope('todos.write'), context: { client_id: 'wiki-agent', amr: ['mfa'] } }] };
      expect(await (await post(b, '/access/v1/evaluations', body)).json()).toEqual({ evaluations: [{ decision: true }] });
    });

    it('execute_all is the default and evaluates every item', async () => {
      const explicit = await post(b, '/access/v1/evaluations', { ...three(), options: { evaluations_semantic: 'execute_all' } });
      expect(((await explicit.json()) as { evaluations: unknown[] }).evaluations).toHaveLength(3);
    });

    it('deny_on_first_deny stops after the first deny', async () => {
      const res = await post(b, '/access/v1/evaluations', { ...three(), options: { evaluations_semantic: 'deny_on_first_deny' } });
      expect(await res.json()).toEqual({ evaluations: [{ decision: true }, { decision: false, context: { reason: 'policy_denied' } }] });
    });

    it('permit_on_first_permit stops after the first permit', async () => {
      const body = three();
      body.evaluations.unshift({ resource: scope('todos.delete') });
      const res = await post(b, '/access/v1/evaluations', { ...body, options: { evaluations_semantic: 'permit_on_first_permit' } });
      expect(await res.json()).toEqual({ evaluations: [{ decision: false, context: { reason: 'scope_untranslatable' } }, { decision: true }] });
    });

    it('without evaluations (or with an empty array) behaves as a single evaluation', async () => {
      expect(await (await post(b, '/access/v1/evaluations', evaluation())).json()).toEqual({ decision: true });
      expect(await (await post(b, '/access/v1/evaluations', { ...evaluation(), evaluations: [] })).json()).toEqual({ decision: true });
    });
  });

  describe('search', () => {
    const search = (over: Record<string, unknown> = {}) => ({ subject: user(writer), action: mint, resource: { type: 'scope', properties: { destination: 'todo' } }, context: ctx({ amr: ['mfa'] }), ...over });

    it('resource search lists the scopes the subject could be granted there, each one an evaluation that permits', async () => {
      const res = await post(b, '/access/v1/search/resource', search());
      expect(res.status).toBe(200);
      const body = (await res.json()) as { page: unknown; results: Array<{ type: string; id: string; properties: Record<string, unknown> }> };
      expect(body).toEqual({ page: { next_token: '', count: 2, total: 2 }, results: [scope('todos.read'), scope('todos.write')] });
      for (const r of body.results) expect(await (await post(b, '/access/v1/evaluation', evaluation({ subject: user(writer), resource: r, context: ctx({ amr: ['mfa'] }) }))).json()).toEqual({ decision: true });
      const fewer = await post(b, '/access/v1/search/resource', search({ subject: user(alice) }));
      expect(((await fewer.json()) as { results: unknown[] }).results).toEqual([scope('todos.read')]);
    });

    it('resource search pages with an opaque token and ends with an empty next_token', async () => {
      const first = (await (await post(b, '/access/v1/search/resource', search({ page: { limit: 1 } }))).json()) as { page: { next_token: string }; results: unknown[] };
      expect(first.results).toEqual([scope('todos.read')]);
      expect(first.page).toMatchObject({ count: 1, total: 2 });
      expect(first.page.next_token).not.toBe('');
      const second = (await (await post(b, '/access/v1/search/resource', search({ page: { limit: 1, token: first.page.next_token } }))).json()) as { page: unknown; results: unknown[] };
      expect(second).toEqual({ page: { next_token: '', count: 1, total: 2 }, results: [scope('todos.write')] });
    });

    it('resource search for something it does not know finds nothing', async () => {
      const res = await post(b, '/access/v1/search/resource', search({ subject: user('p_nobody') }));
      expect(await res.json()).toEqual({ page: { next_token: '', count: 0, total: 0 }, results: [] });
    });

    it('action search answers mint when the evaluation would permit, nothing otherwise', async () => {
      const yes = await post(b, '/access/v1/search/action', { subject: user(alice), resource: scope('todos.read'), context: ctx() });
      expect(await yes.json()).toEqual({ page: { next_token: '', count: 1, total: 1 }, results: [{ name: 'mint' }] });
      const no = await post(b, '/access/v1/search/action', { subject: user(alice), resource: scope('todos.write'), context: ctx() });
      expect(((await no.json()) as { results: unknown[] }).results).toEqual([]);
    });
  });

  describe('callers', () => {
    const raw = (headers: Record<string, string>) =>
      b.request('/access/v1/evaluation', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(evaluation()) });

    it('401 with a Basic challenge without credentials, with a bearer token, or with a wrong secret', async () => {
      for (const authorization of [undefined, 'Bearer abc', `Basic ${btoa('pep:wrong')}`, `Basic ${btoa('nobody:x')}`]) {
        const res = await raw(authorization ? { authorization } : {});
        expect(res.status, authorization).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
        expect(await res.json()).toEqual({ error: { status: 401, message: expect.any(String) } });
      }
    });

    it('403 for an authenticated client not configured as a PDP caller', async () => {
      const res = await raw({ authorization: `Basic ${btoa(`basic-agent:${BASIC_SECRET}`)}` });
      expect(res.status).toBe(403);
    });

    it('a PDP caller must be configured for HTTP Basic: the broker refuses to start otherwise', async () => {
      const settings = await pdpSettings((s) => {
        const pep = s.clients!.find((c) => c.client_id === 'pep')!;
        Object.assign(pep, { token_endpoint_auth_method: 'client_secret_post' });
      });
      await expect(startTestBroker({ settings })).rejects.toThrow(/authzen[\s\S]*client_secret_basic/);
    });

    it('405 for anything but POST', async () => {
      const res = await b.request('/access/v1/evaluations', { headers: { authorization: PEP } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    });
  });

  describe('malformed requests: each rule broken alone', () => {
    const big = 'x'.repeat(70 * 1024);
    let deep: unknown = {};
    for (let i = 0; i < 20; i++) deep = { a: deep };

    it('415 for a body that is not declared application/json', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation(), { 'content-type': 'text/plain' });
      expect(res.status).toBe(415);
    });

    it('413 for a body over the cap', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation({ context: ctx({ pad: big }) }));
      expect(res.status).toBe(413);
    });

    const evaluationCases: Array<[string, () => unknown, RegExp]> = [
      ['empty body', () => '', /empty/],
      ['not JSON', () => '{"subject":', /not valid JSON/],
      ['a top-level array', () => [evaluation()], /JSON object/],
      ['nesting too deep', () => evaluation({ context: ctx({ deep }) }), /deeper/],
      ['no subject', () => ({ ...evaluation(), subject: undefined }), /^subject is required/],
      ['subject not an object', () => evaluation({ subject: 'alice' }), /^subject must be an object/],
      ['subject.type not a string', () => evaluation({ subject: { type: 1, id: alice } }), /^subject.type must be a string/],
      ['subject.id missing', () => evaluation({ subject: { type: 'user' } }), /^subject.id is required/],
      ['subject.id empty', () => evaluation({ subject: { type: 'user', id: '' } }), /^subject.id must not be empty/],
      ['subject.id too long', () => evaluation({ subject: { type: 'user', id: 'p'.repeat(1025) } }), /^subject.id is longer/],
      ['subject.properties not an object', () => evaluation({ subject: { type: 'user', id: alice, properties: [] } }), /^subject.properties must be an object/],
      ['no action', () => ({ ...evaluation(), action: undefined }), /^action is required/],
      ['action.name missing', () => evaluation({ action: {} }), /^action.name is required/],
      ['no resource', () => ({ ...evaluation(), resource: undefined }), /^resource is required/],
      ['resource.id not a string', () => evaluation({ resource: { type: 'scope', id: 5 } }), /^resource.id must be a string/],
      ['context not an object', () => evaluation({ context: 'x' }), /^context must be an object/],
      ['mint without a destination', () => evaluation({ resource: { type: 'scope', id: 'todos.read' } }), /^resource.properties.destination is required/],
      ['mint resource not a string', () => evaluation({ resource: scope('todos.read', 'todo', { resource: 1 }) }), /^resource.properties.resource must be a string/],
      ['mint without a client_id', () => evaluation({ context: { amr: ['pwd'] } }), /^context.client_id is required/],
      ['acr not a string', () => evaluation({ context: ctx({ acr: 2 }) }), /^context.acr must be a string/],
      ['amr not an array', () => evaluation({ context: ctx({ amr: 'mfa' }) }), /^context.amr must be an array/],
      ['amr with a number', () => evaluation({ context: ctx({ amr: ['pwd', 3] }) }), /^context.amr\[1\] must be a string/],
      ['amr too long', () => evaluation({ context: ctx({ amr: Array.from({ length: 21 }, (_, i) => `m${i}`) }) }), /^context.amr has more than/],
      ['auth_time not an integer', () => evaluation({ context: ctx({ auth_time: '2024' }) }), /^context.auth_time must be a non-negative integer/],
      ['auth_time negative', () => evaluation({ context: ctx({ auth_time: -1 }) }), /^context.auth_time must be a non-negative integer/],
    ];
    for (const [name, body, message] of evaluationCases) {
      it(`evaluation: 400 for ${name}`, async () => {
        const value = body();
        const res = await post(b, '/access/v1/evaluation', typeof value === 'string' ? value : JSON.stringify(value));
        expect(res.status).toBe(400);
        const { error } = (await res.json()) as { error: { status: number; message: string } };
        expect(error.status).toBe(400);
        expect(error.message).toMatch(message);
      });
    }

    it('evaluation: 400 for a body that is not UTF-8', async () => {
      const res = await b.request('/access/v1/evaluation', { method: 'POST', headers: { authorization: PEP, 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0xff, 0x7d]) });
      expect(res.status).toBe(400);
    });

    it('evaluation: 400 for an X-Request-ID that is too long', async () => {
      const res = await post(b, '/access/v1/evaluation', evaluation(), { 'x-request-id': 'r'.repeat(201) });
      expect(res.status).toBe(400);
    });

    const many = () => Array.from({ length: 101 }, () => ({ resource: scope('todos.read') }));
    const evaluationsCases: Array<[string, () => Record<string, unknown>, RegExp]> = [
      ['evaluations not an array', () => ({ ...evaluation(), evaluations: {} }), /^evaluations must be an array/],
      ['too many evaluations', () => ({ ...evaluation(), evaluations: many() }), /^evaluations has more than 100/],
      ['an item not an object', () => ({ ...evaluation(), evaluations: [1] }), /^evaluations\[0\] must be an object/],
      ['an item without subject and no default', () => ({ action: mint, context: ctx(), evaluations: [{ resource: scope('todos.read') }] }), /^evaluations\[0\].subject is required/],
      ['a malformed item after a good one', () => ({ ...evaluation(), evaluations: [{}, { resource: { type: 'scope' } }] }), /^evaluations\[1\].resource.id is required/],
      ['a default that is not an object', () => ({ subject: 'x', action: mint, evaluations: [{ subject: user(alice), resource: scope('todos.read'), context: ctx() }] }), /^subject must be an object/],
      ['an item’s mint member missing', () => ({ ...evaluation(), evaluations: [{}, { context: {} }] }), /^evaluations\[1\].context.client_id is required/],
      ['options not an object', () => ({ ...evaluation(), evaluations: [{}], options: 'all' }), /^options must be an object/],
      ['an unknown semantic', () => ({ ...evaluation(), evaluations: [{}], options: { evaluations_semantic: 'first' } }), /^options.evaluations_semantic must be one of/],
    ];
    for (const [name, body, message] of evaluationsCases) {
      it(`evaluations: 400 for ${name}`, async () => {
        const res = await post(b, '/access/v1/evaluations', body());
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
      });
    }

    const searchBody = (over: Record<string, unknown> = {}) => ({ subject: user(alice), action: mint, resource: { type: 'scope', properties: { destination: 'todo' } }, context: ctx(), ...over });
    const searchCases: Array<[string, () => Record<string, unknown>, RegExp]> = [
      ['page not an object', () => searchBody({ page: 2 }), /^page must be an object/],
      ['a negative limit', () => searchBody({ page: { limit: -1 } }), /^page.limit must be a non-negative integer/],
      ['a fractional limit', () => searchBody({ page: { limit: 1.5 } }), /^page.limit must be a non-negative integer/],
      ['a token not a string', () => searchBody({ page: { token: 7 } }), /^page.token must be a string/],
      ['a token it never issued', () => searchBody({ page: { token: 'bm90LWEtdG9rZW4' } }), /^page.token is not one this PDP issued/],
      ['resource without a type', () => searchBody({ resource: { properties: { destination: 'todo' } } }), /^resource.type is required/],
      ['no action', () => searchBody({ action: undefined }), /^action is required/],
    ];
    for (const [name, body, message] of searchCases) {
      it(`resource search: 400 for ${name}`, async () => {
        const res = await post(b, '/access/v1/search/resource', body());
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
      });
    }

    it('resource search: 400 for a token presented with a changed query', async () => {
      const first = (await (await post(b, '/access/v1/search/resource', searchBody({ subject: user(writer), context: ctx({ amr: ['mfa'] }), page: { limit: 1 } }))).json()) as { page: { next_token: string } };
      const res = await post(b, '/access/v1/search/resource', searchBody({ subject: user(writer), context: ctx(), page: { limit: 1, token: first.page.next_token } }));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/different query/);
    });

    it('action search: 400 for a resource without an id', async () => {
      const res = await post(b, '/access/v1/search/action', { subject: user(alice), resource: { type: 'scope', properties: { destination: 'todo' } }, context: ctx() });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^resource.id is required/);
    });
  });
});

describe('AuthZEN PDP: a denial a stronger login would lift', () => {
  const STEP_UP_POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("writers-need-group")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" && principal.groups.contains("todo-writers") };
@id("mfa-for-write")
@step_up("acr_values=urn:corp:loa:2fa&max_age=600&amr=mfa")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.amr.contains("mfa") };
`;

  it('says so with the hints the token endpoint gives (acr_values, max_age); not when a stronger login would not help', async () => {
    const b = await startTestBroker({ settings: await pdpSettings(), policies: STEP_UP_POLICIES });
    const writer = await seedPrincipal(b, 'bob', { groups: ['todo-writers'] });
    const reader = await seedPrincipal(b, 'alice', { groups: ['staff'] });
    const ask = (subject: string) => post(b, '/access/v1/evaluation', { subject: { type: 'user', id: subject }, action: mint, resource: scope('todos.write'), context: { client_id: 'wiki-agent', amr: ['pwd'] } });

    const res = await ask(writer);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ decision: false, context: { reason: 'authentication_insufficient', acr_values: 'urn:corp:loa:2fa', max_age: 600 } });
    // Without the group, MFA would not help: a plain policy denial.
    expect(await (await ask(reader)).json()).toEqual({ decision: false, context: { reason: 'policy_denied' } });
  });
});
