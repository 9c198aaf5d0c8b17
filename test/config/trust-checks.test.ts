import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/cedar-engine.js';
import { loadConfig, type ConfigFiles } from '../../src/config/load.js';
import type { NamespaceConfig } from '../../src/config/schema.js';
import { problemsOf } from '../helpers/config.js';
import { IDP, testNamespaces, testSettings } from '../helpers/broker.js';

/** Load-time checks of who is believed about what (issue 6 §1; src/config/trust-checks.ts). */

const root = join(import.meta.dirname, '../..');
const policies = [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }];
const PARTNER = 'https://partner.test';

async function files(mutate: (s: Record<string, any>) => void = () => {}, namespaces: NamespaceConfig[] = testNamespaces): Promise<ConfigFiles> {
  const settings = (await testSettings()) as Record<string, any>;
  mutate(settings);
  return {
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: namespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies,
  };
}

const withPartner = (authority: Record<string, unknown>) => (s: Record<string, any>) => {
  s.trusted_issuers.push({ issuer: PARTNER, jwks_uri: `${PARTNER}/jwks`, algorithms: ['ES256'], authority });
};
const crm = (upstreams?: string[]): NamespaceConfig[] =>
  testNamespaces.map((ns) => (ns.namespace === 'crm-users' ? { namespace: 'crm-users', strategy: 'claim', claim: 'email', ...(upstreams ? { upstreams } : {}) } : ns));

describe('who is believed about what, checked at load', () => {
  it('a namespace keyed on email may list only upstreams authoritative for email', async () => {
    const problems = problemsOf(await files(withPartner({ amr: ['pwd'] }), crm([IDP, PARTNER])));
    expect(problems).toEqual([{ file: 'mappings (namespace crm-users)', at: 'upstreams[1]', message: expect.stringContaining(`${PARTNER} is not authoritative for "email"`) }]);
  });

  it('a namespace keyed on another claim may list only upstreams that may assert that claim', async () => {
    const ns: NamespaceConfig[] = [...testNamespaces, { namespace: 'hr-users', strategy: 'claim', claim: 'employee_id', upstreams: [IDP] }];
    const problems = problemsOf(await files(() => {}, ns));
    expect(problems).toEqual([{ file: 'mappings (namespace hr-users)', at: 'upstreams[0]', message: expect.stringContaining('is not authoritative for "employee_id"') }]);
    const ok = await files((s) => s.trusted_issuers[0].authority.claims.push('employee_id'), ns);
    expect(() => loadConfig(ok)).not.toThrow();
  });

  it('a claim namespace without an upstream list loads, with a warning', async () => {
    const config = loadConfig(await files(() => {}, crm()));
    expect(config.warnings).toEqual([expect.stringMatching(/^mappings \(namespace crm-users\) at upstreams: claim namespace without upstreams/)]);
    expect(loadConfig(await files(() => {}, crm([IDP]))).warnings).toEqual([]);
  });

  it('one upstream is believed about one set of things: a trusted issuer and a connection for it must agree', async () => {
    const problems = problemsOf(
      await files((s) => {
        s.connections = [{ type: 'oidc', id: 'corp', issuer: IDP, client_id: 'broker', client_secret: 'x', redirect_uri: 'https://broker.test/login/oidc/corp/callback', authority: { amr: ['pwd'] } }];
      }, crm([IDP])),
    );
    expect(problems).toEqual([{ file: 'broker.config.yaml', at: 'connections[0].authority', message: expect.stringContaining('differs from trusted_issuers[0].authority') }]);
  });

  it('two upstreams vouching for one email domain is a warning', async () => {
    const config = loadConfig(await files(withPartner({ email: { domains: ['*.example.com'] } }), crm([IDP])));
    expect(config.warnings).toEqual([expect.stringContaining('email domain "*.example.com" overlaps "example.com"')]);
  });

  it('a destination\'s namespace must be its SSO client\'s subject_namespace (the ID-JAG sub is the SSO sub)', async () => {
    const ssoClient = (namespace: string) => (s: Record<string, any>) => {
      s.clients.push({ client_id: 'todo-web', token_endpoint_auth_method: 'client_secret_basic', client_secret_hash: s.clients[1].client_secret_hash, oidc: { redirect_uris: ['https://todo.test/cb'], subject_namespace: namespace } });
      s.destinations[0].sso_client = 'todo-web';
    };
    expect(problemsOf(await files(ssoClient('analytics-users'), crm([IDP])))).toEqual([
      { file: 'broker.config.yaml', at: 'destinations[0].sso_client', message: expect.stringContaining('subject_namespace "analytics-users", but this destination\'s namespace is "todo-users"') },
    ]);
    expect(loadConfig(await files(ssoClient('todo-users'), crm([IDP]))).settings.destinations[0]!.sso_client).toBe('todo-web');
    expect(problemsOf(await files((s) => (s.destinations[0].sso_client = 'nobody'), crm([IDP])))).toEqual([
      { file: 'broker.config.yaml', at: 'destinations[0].sso_client', message: 'no client "nobody" with an oidc block' },
    ]);
  });

  it('authority blocks are validated where they stand, with their path', async () => {
    const problems = problemsOf(await files((s) => (s.trusted_issuers[0].authority = { claims: ['email'] }), crm([IDP])));
    expect(problems[0]).toMatchObject({ file: 'broker.config.yaml', at: 'trusted_issuers[0].authority.claims' });
  });
});

describe('npm run check', () => {
  it('prints the warnings and still succeeds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xaa-check-'));
    cpSync(join(root, 'broker.config.yaml'), join(dir, 'broker.config.yaml'));
    cpSync(join(root, 'policies'), join(dir, 'policies'), { recursive: true });
    mkdirSync(join(dir, 'mappings'));
    for (const f of ['todo-users.yaml', 'analytics-users.yaml']) cpSync(join(root, 'mappings', f), join(dir, 'mappings', f));
    writeFileSync(join(dir, 'mappings', 'crm-users.yaml'), 'namespace: crm-users\nstrategy: claim\nclaim: email\n');
    const run = spawnSync('npx', ['tsx', 'src/cli.ts', '--config', join(dir, 'broker.config.yaml'), 'check'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/configuration is valid/);
    expect(run.stderr).toMatch(/warning: mappings \(namespace crm-users\) at upstreams: claim namespace without upstreams/);
  });
});

describe('docs/configuration.md, the corporate + partner example', () => {
  /** The fenced blocks of one kind under the example's heading, in order. */
  function blocks(lang: string): string[] {
    const doc = readFileSync(join(root, 'docs/configuration.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### A worked example: a corporate IdP and a partner IdP'), doc.indexOf('## Signing keys'));
    return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
  }

  it('loads as written, and its policy validates against the shipped schema', () => {
    const [issuers, namespace] = blocks('yaml');
    const [policy] = blocks('cedar');
    const config = loadConfig({
      broker: { path: 'broker.config.yaml', text: `issuer: https://broker.example\n${issuers}` },
      mappings: [{ path: 'mappings/crm-users.yaml', text: namespace! }],
      policies: [{ path: 'policies/partners.cedar', text: policy! }],
      schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
    });
    expect(config.settings.trusted_issuers.map((t) => t.authority.tenant)).toEqual(['corp', 'partner']);
    expect(config.namespaces.get('crm-users')).toMatchObject({ strategy: 'claim', claim: 'email', upstreams: ['https://login.corp.example'] });
    expect(config.warnings).toEqual([]);
    expect(createPolicyEngine(cedar, config.policies).policyIds).toEqual(['partners-read-only']);
  });
});
