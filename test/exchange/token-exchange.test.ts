import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { ID_JAG_MAX_LIFETIME } from '../../src/constants.js';
import { BROKER, exchangeParams, ID_JAG_TYPE, postToken, startTestBroker, testSettings, TODO, TODO_API, CRM, CRM_API, type TestBroker } from '../helpers/broker.js';

async function errorOf(res: Response) {
  expect(res.headers.get('cache-control')).toBe('no-store');
  return ((await res.json()) as { error: string }).error;
}

describe('caller-pushed token exchange: the happy path', () => {
  let b: TestBroker;
  beforeEach(async () => {
    b = await startTestBroker();
  });

  it('mints an ID-JAG naming the user in the destination namespace', async () => {
    const res = await postToken(b, await exchangeParams(b));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ access_token: expect.any(String), issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: ID_JAG_MAX_LIFETIME, scope: 'todos.read' });
    expect(body).not.toHaveProperty('refresh_token');

    const jwt = body.access_token as string;
    const header = decodeProtectedHeader(jwt);
    expect(header).toMatchObject({ typ: 'oauth-id-jag+jwt', alg: 'ES256', kid: expect.any(String) });
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(b.services.keys.jwks()), { issuer: BROKER, audience: TODO, typ: 'oauth-id-jag+jwt' });
    expect(payload).toMatchObject({
      iss: BROKER,
      sub: 'todo-user-1001',
      aud: TODO,
      client_id: 'wiki-at-todo',
      resource: TODO_API,
      scope: 'todos.read',
      email: 'alice@example.com',
      amr: ['pwd', 'mfa'],
      iat: b.clock.now,
      exp: b.clock.now + ID_JAG_MAX_LIFETIME,
    });
    expect(typeof payload.aud).toBe('string');
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(payload.auth_time).toBe(b.clock.now);
  });

  it('writes a mint audit record naming mapping and policy, without any token', async () => {
    const params = await exchangeParams(b);
    const res = await postToken(b, params);
    const { access_token } = (await res.json()) as { access_token: string };
    const [record] = await b.services.store.audit.recent(1);
    expect(record).toMatchObject({
      event: 'mint',
      clientId: 'wiki-agent',
      destination: 'todo',
      mapping: 'todo-users/table',
      requestedScopes: ['todos.read'],
      grantedScopes: ['todos.read'],
      jti: decodeJwt(access_token).jti,
      requestId: res.headers.get('x-request-id'),
    });
    expect(record!.policy).toContain('todos.read:permit[read-anything]');
    const text = JSON.stringify(record);
    expect(text).not.toContain(access_token);
    expect(text).not.toContain(params.subject_token as string);
    expect(text).not.toContain('wiki-secret-value');
  });

  it('resolves an alias to the canonical issuer in aud', async () => {
    const res = await postToken(b, await exchangeParams(b, { audience: 'todo' }));
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).aud).toBe(TODO);
  });

  it('translates caller scopes into the destination vocabulary', async () => {
    const res = await postToken(b, await exchangeParams(b, { scope: 'tasks:read' }));
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('todos.read');
    expect(decodeJwt(body.access_token).scope).toBe('todos.read');
  });

  it('uses the client default scopes when no scope is requested', async () => {
    const res = await postToken(b, await exchangeParams(b, { scope: undefined }));
    expect(((await res.json()) as { scope: string }).scope).toBe('todos.read');
  });

  it('omits resource when none was requested', async () => {
    const res = await postToken(b, await exchangeParams(b, { resource: undefined }));
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token)).not.toHaveProperty('resource');
  });

  it('narrows to what policy allows and says so in scope', async () => {
    // alice has MFA but is not in todo-writers: write is denied, read granted.
    const res = await postToken(b, await exchangeParams(b, { scope: 'todos.read todos.write' }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { scope: string; access_token: string };
    expect(body.scope).toBe('todos.read');
    expect(decodeJwt(body.access_token).scope).toBe('todos.read');
  });

  it('grants write to a writer with MFA', async () => {
    const idToken = await b.idp.idToken({ sub: 'alice', groups: ['todo-writers'], amr: ['pwd', 'mfa'] }, 'wiki-agent', { now: b.clock.now });
    const res = await postToken(b, await exchangeParams(b, { subject_token: idToken, scope: 'todos.read todos.write' }));
    expect(((await res.json()) as { scope: string }).scope).toBe('todos.read todos.write');
  });

  it('honours a lower per-destination lifetime', async () => {
    b = await startTestBroker({ settings: await testSettings((s) => void (s.destinations![0]!.id_jag_lifetime = 60)) });
    const res = await postToken(b, await exchangeParams(b));
    const body = (await res.json()) as { expires_in: number; access_token: string };
    expect(body.expires_in).toBe(60);
    const p = decodeJwt(body.access_token);
    expect(p.exp! - p.iat!).toBe(60);
  });

  describe('an ID token the broker issued (the app logged in at the broker)', () => {
    async function brokerIdToken(sid: string) {
      const { SignJWT } = await import('jose');
      const key = b.services.keys.signingKey();
      return new SignJWT({ sid, amr: ['pwd', 'mfa'], auth_time: b.clock.now })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .setIssuer(BROKER)
        .setSubject('app-pairwise-sub') // the app's namespace, not the person's upstream sub
        .setAudience('wiki-agent')
        .setIssuedAt(b.clock.now)
        .setExpirationTime(b.clock.now + 300)
        .sign(key.key);
    }
    async function session(id: string) {
      const { principalIdOf } = await import('../../src/mapping/principal.js');
      const principalId = await principalIdOf('https://idp.test', 'alice');
      await b.services.store.principals.upsert({ id: principalId, upstreamIssuer: 'https://idp.test', upstreamSubject: 'alice', connectionId: 'idp', claims: { email: 'alice@example.com' }, updatedAt: b.clock.now });
      await b.services.store.sessions.create({ id, principalId, connectionId: 'idp', authTime: b.clock.now, amr: ['pwd', 'mfa'], createdAt: b.clock.now, expiresAt: b.clock.now + 3600 });
    }

    it('finds the person through the session: the ID-JAG names them in the destination namespace', async () => {
      await session('sid-1');
      const todo = await postToken(b, await exchangeParams(b, { subject_token: await brokerIdToken('sid-1') }));
      expect(todo.status).toBe(200);
      expect(decodeJwt(((await todo.json()) as { access_token: string }).access_token).sub).toBe('todo-user-1001');
      expect((await b.services.store.audit.recent(1))[0]).toMatchObject({ event: 'mint', upstreamIssuer: 'https://idp.test' });
      const crm = await postToken(b, await exchangeParams(b, { subject_token: await brokerIdToken('sid-1'), audience: CRM, resource: CRM_API, scope: 'contacts.read' }));
      expect(decodeJwt(((await crm.json()) as { access_token: string }).access_token).sub).toBe('alice@example.com');
    });

    it('mints nothing once the session has ended', async () => {
      await session('sid-2');
      const token = await brokerIdToken('sid-2');
      await b.services.store.sessions.revoke('sid-2', b.clock.now);
      const res = await postToken(b, await exchangeParams(b, { subject_token: token }));
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toBe('invalid_grant');
      expect((await b.services.store.audit.recent(1))[0]).toMatchObject({ reason: 'session_ended' });
    });

    it('refuses a broker ID token without sid', async () => {
      const { SignJWT } = await import('jose');
      const key = b.services.keys.signingKey();
      const token = await new SignJWT({}).setProtectedHeader({ alg: key.alg, kid: key.kid }).setIssuer(BROKER).setSubject('x').setAudience('wiki-agent').setIssuedAt(b.clock.now).setExpirationTime(b.clock.now + 300).sign(key.key);
      const res = await postToken(b, await exchangeParams(b, { subject_token: token }));
      expect(await errorOf(res)).toBe('invalid_grant');
    });
  });

  it('serves the same mapping from cache on repeat and binds claim subjects once', async () => {
    const params = await exchangeParams(b, { audience: CRM, resource: CRM_API, scope: 'contacts.read' });
    for (let i = 0; i < 3; i++) expect((await postToken(b, params)).status).toBe(200);
    const binding = await b.services.store.mappings.bindingOfSubject('crm-users', 'alice@example.com');
    expect(binding).toMatchObject({ source: 'claim', version: 1 });
  });

  it('creates pairwise secrets at start-up, so no request (even a refused one) writes one', async () => {
    const secret = b.db.prepare("SELECT value FROM broker_secrets WHERE name = 'pairwise:analytics-users'").get() as { value: string } | undefined;
    expect(secret?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('asks policy about every requested resource: one forbidden resource refuses the scope, whatever the order', async () => {
    const R2 = 'https://files.todo.test/';
    const settings = await testSettings((s) => void s.destinations![0]!.resources!.push(R2));
    const policies = `@id("read") permit (principal, action, resource) when { resource.name == "todos.read" };
@id("not-files") forbid (principal, action, resource) when { resource has resource && resource.resource == "${R2}" };`;
    b = await startTestBroker({ settings, policies });
    for (const resource of [[TODO_API, R2], [R2, TODO_API], [R2]]) {
      const res = await postToken(b, await exchangeParams(b, { resource }));
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toBe('access_denied');
    }
    const ok = await postToken(b, await exchangeParams(b, { resource: [TODO_API] }));
    expect(ok.status).toBe(200);
  });

  it('accepts an upstream ID token only with the aud configured for that client at that upstream, never a same-named app', async () => {
    b = await startTestBroker({ settings: await testSettings((s) => void (s.clients![0]!.upstream_client_ids = {})) });
    const res = await postToken(b, await exchangeParams(b)); // aud "wiki-agent" at the IdP: not configured
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('invalid_grant');
    expect((await b.services.store.audit.recent(1))[0]).toMatchObject({ reason: 'aud_mismatch' });
  });

  it('treats a destination id that names an Object.prototype member like any unknown one', async () => {
    const settings = await testSettings((s) => {
      s.destinations!.push({ id: 'constructor', issuer: 'https://ctor.test', namespace: 'todo-users', scope_translation: { 'todos.read': ['todos.read'] } });
    });
    b = await startTestBroker({ settings });
    const res = await postToken(b, await exchangeParams(b, { audience: 'https://ctor.test', resource: undefined }));
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toBe('invalid_target');
  });

  it('returns an error for the wrong HTTP method', async () => {
    const res = await b.request('/token');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await errorOf(res)).toBe('invalid_request');
  });
});
