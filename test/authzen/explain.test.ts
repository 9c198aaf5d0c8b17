import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { contentVersion } from '../../src/app.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import { principalIdOf } from '../../src/mapping/principal.js';
import type { Explanation } from '../../src/authzen/explain.js';
import { BASIC_SECRET, IDP, startTestBroker, TEST_IDP_AUTHORITY, testNamespaces, testSettings, type TestBroker } from '../helpers/broker.js';

/**
 * `POST /admin/v1/explain` (src/authzen/explain.ts, docs/authzen.md), black-box through
 * app.request(). `ops` is the admin client; `pep` is a PDP client, which may not ask.
 */

const root = join(import.meta.dirname, '../..');
const OPS = `Basic ${btoa(`ops:${BASIC_SECRET}`)}`;
const PEP = `Basic ${btoa(`pep:${BASIC_SECRET}`)}`;
/** A second upstream whose authority block says nothing of groups. */
const PARTNER = 'https://partner.test';

async function explainSettings() {
  return testSettings((s) => {
    const basic = s.clients!.find((c) => c.client_id === 'basic-agent')!;
    s.clients!.push({ client_id: 'ops', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: basic.client_secret_hash, admin: true });
    s.clients!.push({ client_id: 'pep', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: basic.client_secret_hash, authzen: true });
    s.connections = [
      { type: 'oidc', id: 'corp', issuer: IDP, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/corp/callback', authority: TEST_IDP_AUTHORITY },
      // Believed about email and login methods, not about groups.
      { type: 'oidc', id: 'partner', issuer: PARTNER, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/partner/callback', authority: { email: { domains: ['partner.test'] }, amr: ['pwd', 'mfa'] } },
    ];
  });
}

function post(b: TestBroker, body: unknown, authorization = OPS) {
  return b.request('/admin/v1/explain', { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('POST /admin/v1/explain', () => {
  let b: TestBroker;
  let bob: string;
  let dave: string;
  const ask = (over: Record<string, unknown> = {}) => ({ principal: bob, client_id: 'wiki-agent', destination: 'todo', scope: 'todos.write', amr: ['pwd', 'mfa'], ...over });
  const explain = async (body: unknown) => {
    const res = await post(b, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    return (await res.json()) as Explanation;
  };

  beforeAll(async () => {
    const namespaces = testNamespaces.map((ns) => (ns.strategy === 'table' ? { ...ns, rows: [...ns.rows, { upstream_issuer: PARTNER, upstream_subject: 'dave', subject: 'todo-user-2001' }] } : ns));
    b = await startTestBroker({ settings: await explainSettings(), namespaces });
    bob = await principalIdOf(IDP, 'bob');
    await b.services.store.principals.upsert({ id: bob, upstreamIssuer: IDP, upstreamSubject: 'bob', connectionId: 'corp', claims: { email: 'bob@example.com', email_verified: true, groups: ['staff', 'todo-writers'] }, updatedAt: b.clock.now });
    // Recorded at login through an upstream not believed about groups: none were kept.
    dave = await principalIdOf(PARTNER, 'dave');
    await b.services.store.principals.upsert({ id: dave, upstreamIssuer: PARTNER, upstreamSubject: 'dave', connectionId: 'partner', claims: { email: 'dave@partner.test', email_verified: true }, updatedAt: b.clock.now });
  });

  it('names the permitting policy, the upstream authority, the mapping and the translation of a permitted scope', async () => {
    const e = await explain(ask());
    expect(e.decision).toBe(true);
    expect(e.reason).toBeUndefined();
    expect(e.person!.upstream).toEqual({ issuer: IDP, connection: 'corp', subject: 'bob' });
    expect(e.person!.authority.groups).toMatchObject({ claim: 'groups', allow: TEST_IDP_AUTHORITY.groups.allow });
    expect(e.person!.authority.tenant).toBe('corp');
    expect(e.person!.believed).toEqual({ id: bob, upstreamIssuer: IDP, email: 'bob@example.com', groups: ['staff', 'todo-writers'], tenant: 'corp' });
    expect(e.mapping).toEqual({ namespace: 'todo-users', strategy: 'table', ok: true, subject: 'todo-user-1002', decided_by: 'todo-users/table', would_bind: false });
    expect(e.translation).toEqual({ vocabulary: 'caller', to: ['todos.write'], from: ['todos.write'] });
    expect(e.scopes).toEqual([{ scope: 'todos.write', decision: true, client_may_hold: true, policy: { allowed: true, determining_policies: ['writers-need-group'], errors: [] } }]);
  });

  it('translates a caller-vocabulary scope into the destination scope it stands for', async () => {
    const e = await explain(ask({ scope: 'tasks:read' }));
    expect(e.decision).toBe(true);
    expect(e.translation).toEqual({ vocabulary: 'caller', to: ['todos.read'], from: [] });
    expect(e.scopes.map((s) => [s.scope, s.policy!.determining_policies])).toEqual([['todos.read', ['read-anything']]]);
  });

  it('names the forbid that denies, and the login values the upstream is not believed about', async () => {
    const e = await explain(ask({ amr: ['pwd', 'face'] }));
    expect(e.decision).toBe(false);
    expect(e.reason).toBe('policy_denied');
    expect(e.scopes[0]!.policy).toEqual({ allowed: false, determining_policies: ['mfa-for-write'], errors: [] });
    expect(e.person!.login.amr).toEqual(['pwd']);
    expect(e.person!.login_dropped).toEqual(['amr:face']);
  });

  it('says a scope is untranslatable at the destination, before any policy is asked', async () => {
    const e = await explain(ask({ scope: 'todos.delete' }));
    expect(e.decision).toBe(false);
    expect(e.reason).toBe('scope_untranslatable');
    expect(e.translation).toEqual({ vocabulary: 'none', to: [], from: [] });
    expect(e.scopes).toEqual([{ scope: 'todos.delete', decision: false, reason: 'scope_untranslatable', client_may_hold: false }]);
  });

  it('shows groups absent for a person whose upstream is not believed about groups, and no permit matching', async () => {
    const e = await explain(ask({ principal: dave }));
    expect(e.person!.upstream).toEqual({ issuer: PARTNER, connection: 'partner', subject: 'dave' });
    expect(e.person!.authority.groups).toBe('not believed');
    expect(e.person!.authority.email).toEqual({ domains: ['partner.test'], verified: 'claim' });
    expect(e.person!.believed.groups).toEqual([]);
    expect(e.mapping).toMatchObject({ ok: true, subject: 'todo-user-2001' });
    expect(e.decision).toBe(false);
    expect(e.scopes[0]!.policy).toEqual({ allowed: false, determining_policies: [], errors: [] });
  });

  it('names the mapping refusal when the person has no row in a table namespace', async () => {
    const erin = await principalIdOf(IDP, 'erin');
    await b.services.store.principals.upsert({ id: erin, upstreamIssuer: IDP, upstreamSubject: 'erin', connectionId: 'corp', claims: {}, updatedAt: b.clock.now });
    const e = await explain(ask({ principal: erin }));
    expect(e.reason).toBe('mapping_refused');
    expect(e.mapping).toEqual({ namespace: 'todo-users', strategy: 'table', ok: false, refusal: 'mapping_missing', detail: 'todo-users: no table row' });
    expect(e.scopes).toEqual([]);
  });

  it('explains an unknown principal as subject_unknown, with no person', async () => {
    const e = await explain(ask({ principal: 'p_nobody' }));
    expect(e).toMatchObject({ decision: false, reason: 'subject_unknown' });
    expect(e.person).toBeUndefined();
  });

  it('refuses malformed bodies with precise messages', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...ask(), scope: undefined }, 'scope is required'],
      [ask({ amr: 'mfa' }), 'amr must be an array of strings'],
      [ask({ auth_time: -1 }), 'auth_time must be a non-negative integer (seconds since the epoch)'],
      [ask({ sope: 'x' }), 'unknown member "sope"'],
      ['[1]', 'the body must be a JSON object'],
    ];
    for (const [body, message] of cases) {
      const res = await post(b, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(message);
    }
  });

  it('is for admin clients only: 401 without credentials, 403 for a PDP client, 405 for GET', async () => {
    const none = await b.request('/admin/v1/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask()) });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await post(b, ask(), PEP)).status).toBe(403);
    expect((await post(b, ask(), `Basic ${btoa('ops:wrong')}`)).status).toBe(401);
    expect((await b.request('/admin/v1/explain', { headers: { authorization: OPS } })).status).toBe(405);
  });

  it('refuses admin: true at load on a client that does not authenticate with HTTP Basic', async () => {
    const settings = await testSettings((s) => {
      s.clients!.find((c) => c.client_id === 'wiki-agent')!.admin = true;
    });
    await expect(startTestBroker({ settings })).rejects.toThrow('clients[0].admin: an admin caller authenticates with HTTP Basic: token_endpoint_auth_method must be client_secret_basic');
  });
});

function cli(database: string, ...args: string[]) {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, XAA_DATABASE: database } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** `npm run cli -- explain`, against the demo configuration (broker.config.yaml) and a database a broker has used. */
describe('cli explain', () => {
  const DEMO_IDP = 'http://localhost:9000';
  let database: string;
  let alice: string;

  beforeAll(async () => {
    database = join(mkdtempSync(join(tmpdir(), 'xaa-explain-cli-')), 'broker.sqlite');
    const db = openSqlite(database);
    const store = createSqliteStore(db);
    alice = await principalIdOf(DEMO_IDP, 'alice');
    // Recorded through a login connection the configuration no longer lists: believed about nothing.
    await store.principals.upsert({ id: alice, upstreamIssuer: DEMO_IDP, upstreamSubject: 'alice', connectionId: 'retired', claims: {}, updatedAt: Math.floor(Date.now() / 1000) });
    // What the broker writes from mappings/ at start.
    const rows = [{ namespace: 'todo-users', upstreamIssuer: DEMO_IDP, upstreamSubject: 'alice', subject: 'todo-user-1001' }];
    await store.mappings.replaceTable('todo-users', rows, { version: 1, hash: await contentVersion(rows) });
    db.close();
  });

  const args = (scope: string, ...more: string[]) => ['explain', '--principal', alice, '--client', 'wiki-agent', '--destination', 'todo', '--scope', scope, ...more];

  it('prints a readable explanation of a permit: policy, mapping, translation, what the upstream is believed about', async () => {
    const r = await cli(database, ...args('tasks:read'));
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`PERMIT: client wiki-agent · scope tasks:read · destination todo · principal ${alice}`);
    expect(r.stdout).toContain(`person: alice at ${DEMO_IDP} (connection retired)`);
    expect(r.stdout).toContain('groups [] (groups not believed from this upstream)');
    expect(r.stdout).toContain('mapping: namespace todo-users (table) → subject todo-user-1001, decided by todo-users/table');
    expect(r.stdout).toContain('translation: tasks:read → [todos.read]');
    expect(r.stdout).toContain('scope todos.read: granted; client may hold it: yes; policy permits by [employees-read-todos]');
  }, 60_000);

  it('prints the explanation object with --json and exits 0 on a deny, naming the forbids', async () => {
    const r = await cli(database, ...args('todos.write', '--amr', 'pwd,mfa', '--json'));
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as Explanation;
    expect(e).toMatchObject({ decision: false, reason: 'policy_denied' });
    expect(e.person!.authority).toMatchObject({ tenant: null, groups: 'not believed', email: 'not believed' });
    expect(e.person!.login_dropped).toEqual(['amr:pwd', 'amr:mfa']);
    expect(e.scopes[0]!.policy!.determining_policies).toEqual(['require-mfa-for-write', 'write-only-from-corporate-upstreams']);
  }, 60_000);

  it('exits 2 on bad arguments', async () => {
    const missing = await cli(database, 'explain', '--principal', alice, '--client', 'wiki-agent', '--destination', 'todo');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--scope <scope>' not specified");
    const badAmr = await cli(database, ...args('todos.read', '--amr', 'pwd,'));
    expect(badAmr.code).toBe(2);
    expect(badAmr.stderr).toContain('--amr: "pwd," is not a comma-separated list of values');
  }, 60_000);
});
