import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigFiles } from '../../src/config/load.js';
import { loadConfigFromDisk } from '../../src/runtime/config-files.js';
import { problemsOf } from '../helpers/config.js';
import { testNamespaces, testSettings } from '../helpers/broker.js';

const root = join(import.meta.dirname, '../..');
const policies = [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }];

async function files(mutate: (s: Record<string, any>) => void = () => {}, extra: Partial<ConfigFiles> = {}): Promise<ConfigFiles> {
  const settings = (await testSettings()) as Record<string, any>;
  mutate(settings);
  return {
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: testNamespaces.map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies,
    ...extra,
  };
}

describe('configuration validation', () => {
  it('accepts the test configuration', async () => {
    const config = loadConfig(await files());
    expect(config.settings.clients).toHaveLength(3);
    expect(config.namespaces.get('todo-users')?.strategy).toBe('table');
  });

  it('accepts the demo configuration on disk', () => {
    const { config } = loadConfigFromDisk(join(root, 'broker.config.yaml'));
    expect(config.settings.issuer).toBe('http://localhost:8787');
  });

  it.each([
    ['an unknown top-level key', (s: any) => (s.colour = 'blue'), 'broker.config.yaml', '', /unrecognized key/i],
    ['a non-URL issuer', (s: any) => (s.issuer = 'broker'), 'broker.config.yaml', 'issuer', /URL/i],
    ['an http issuer that is not loopback', (s: any) => (s.issuer = 'http://broker.example'), 'broker.config.yaml', 'issuer', /https/],
    ['an issuer with a path', (s: any) => (s.issuer = 'https://broker.example/tenant-a'), 'broker.config.yaml', 'issuer', /path/],
    ['an issuer with a query', (s: any) => (s.issuer = 'https://broker.example/?x=1'), 'broker.config.yaml', 'issuer', /query/],
    ['a secret client without a hash', (s: any) => delete s.clients[0].client_secret_hash, 'broker.config.yaml', 'clients[0].client_secret_hash', /required/],
    ['a malformed secret hash', (s: any) => (s.clients[0].client_secret_hash = 'plaintext'), 'broker.config.yaml', 'clients[0].client_secret_hash', /pbkdf2/],
    ['private_key_jwt without jwks', (s: any) => (s.clients[0] = { client_id: 'x', token_endpoint_auth_method: 'private_key_jwt' }), 'broker.config.yaml', 'clients[0].jwks', /required/],
    ['a public client with a secret', (s: any) => (s.clients[2].client_secret_hash = s.clients[0].client_secret_hash), 'broker.config.yaml', 'clients[2].client_secret_hash', /not allowed/],
    ['a lifetime over 300 s', (s: any) => (s.id_jag = { lifetime: 301 }), 'broker.config.yaml', 'id_jag.lifetime', /300/],
    ['an invalid scope token', (s: any) => (s.destinations[0].scope_translation = { 'a b': ['x'] }), 'broker.config.yaml', 'destinations[0].scope_translation.a b', /key/],
    ['default scopes outside scopes', (s: any) => (s.clients[0].destinations.todo.default_scopes = ['todos.admin']), 'broker.config.yaml', 'clients[0].destinations.todo.default_scopes', /subset/],
    ['a client scope no translation produces', (s: any) => s.clients[0].destinations.todo.scopes.push('todos.admin'), 'broker.config.yaml', 'clients[0].destinations.todo.scopes', /todos.admin/],
    ['a client destination that does not exist', (s: any) => (s.clients[0].destinations.nowhere = { client_id: 'x' }), 'broker.config.yaml', 'clients[0].destinations.nowhere', /no destination/],
    ['a destination namespace without a mappings file', (s: any) => (s.destinations[0].namespace = 'ghosts'), 'broker.config.yaml', 'destinations[0].namespace', /ghosts/],
    ['two destinations sharing an alias', (s: any) => s.destinations[1].aliases = ['todo'], 'broker.config.yaml', 'destinations[1]', /also names/],
    ['duplicate client ids', (s: any) => s.clients.push({ ...s.clients[0] }), 'broker.config.yaml', 'clients[3].client_id', /duplicate/],
    ['a trusted issuer with both jwks and jwks_uri', (s: any) => (s.trusted_issuers[0].jwks = { keys: [{ kty: 'EC' }] }), 'broker.config.yaml', 'trusted_issuers[0]', /exactly one/],
    ['the broker listed as its own trusted issuer', (s: any) => s.trusted_issuers.push({ issuer: s.issuer, jwks: { keys: [{ kty: 'EC' }] } }), 'broker.config.yaml', 'trusted_issuers[1].issuer', /implicitly/],
    ['HS256 for a trusted issuer', (s: any) => (s.trusted_issuers[0].algorithms = ['HS256']), 'broker.config.yaml', 'trusted_issuers[0].algorithms[0]', /.+/],
    ['two clients claiming the same upstream audience', (s: any) => (s.clients[1].upstream_client_ids = { 'https://idp.test': 'wiki-agent' }), 'broker.config.yaml', 'clients[1].upstream_client_ids', /also claimed/],
    ['an upstream client id for an issuer that is not trusted', (s: any) => (s.clients[0].upstream_client_ids = { 'https://other.test': 'x' }), 'broker.config.yaml', 'clients[0].upstream_client_ids', /not a trusted upstream issuer/],
    ['a trusted issuer over plain http', (s: any) => (s.trusted_issuers[0].issuer = 'http://idp.example'), 'broker.config.yaml', 'trusted_issuers[0].issuer', /https/],
    ['a delegated scope the client cannot request at any destination', (s: any) => (s.clients[0].oidc = { redirect_uris: ['https://app.test/cb'], subject_namespace: 'todo-users', delegated_scopes: ['todos.admin'] }), 'broker.config.yaml', 'clients[0].oidc.delegated_scopes[0]', /todos.admin/],
    ['a JWKS URL over plain http', (s: any) => (s.trusted_issuers[0].jwks_uri = 'http://idp.example/jwks'), 'broker.config.yaml', 'trusted_issuers[0].jwks_uri', /https/],
    ['more PBKDF2 iterations than workerd allows', (s: any) => (s.clients[0].client_secret_hash = 'pbkdf2-sha256$200000$AAAA$AAAA'), 'broker.config.yaml', 'clients[0].client_secret_hash', /iterations/],
    ['a client id with a colon', (s: any) => (s.clients[0].client_id = 'a:b'), 'broker.config.yaml', 'clients[0].client_id', /":"/],
  ])('refuses %s, naming file and path', async (_name, mutate, file, at, message) => {
    const problems = problemsOf(await files(mutate));
    expect(problems).toContainEqual(expect.objectContaining({ file, at, message: expect.stringMatching(message) }));
  });

  it('refuses invalid YAML with the line number', async () => {
    const problems = problemsOf({ ...(await files()), broker: { path: 'broker.config.yaml', text: 'issuer: [unclosed\n' } });
    expect(problems[0]).toMatchObject({ file: 'broker.config.yaml', message: expect.stringMatching(/not valid YAML/) });
  });

  it('refuses duplicate YAML keys', async () => {
    const problems = problemsOf({ ...(await files()), broker: { path: 'broker.config.yaml', text: 'issuer: https://a.test\nissuer: https://b.test\n' } });
    expect(problems[0]!.message).toMatch(/not valid YAML/);
  });

  it('refuses a mappings file with an unknown strategy, naming the file', async () => {
    const f = await files();
    f.mappings.push({ path: 'mappings/bad.yaml', text: 'namespace: bad\nstrategy: guess\n' });
    expect(problemsOf(f)).toContainEqual(expect.objectContaining({ file: 'mappings/bad.yaml', at: 'strategy' }));
  });

  it('refuses a namespace defined twice', async () => {
    const f = await files();
    f.mappings.push({ ...f.mappings[0]!, path: 'mappings/again.yaml' });
    expect(problemsOf(f)).toContainEqual(expect.objectContaining({ file: 'mappings/again.yaml', message: expect.stringMatching(/twice/) }));
  });

  it('refuses a configuration without policies', async () => {
    expect(problemsOf(await files(undefined, { policies: [] }))[0]!.message).toMatch(/no Cedar policy/);
  });

  it('reports every problem at once', async () => {
    const problems = problemsOf(await files((s) => {
      s.issuer = 'nope';
      delete s.clients[0].client_secret_hash;
    }));
    expect(problems.length).toBeGreaterThanOrEqual(2);
  });

  it('the check command validates without starting and fails with the file and path', () => {
    const ok = execFileSync('npx', ['tsx', 'src/cli.ts', 'check'], { cwd: root, encoding: 'utf8' });
    expect(ok).toMatch(/configuration is valid/);
    let stderr = '';
    try {
      execFileSync('npx', ['tsx', 'src/cli.ts', '--config', 'test/fixtures/broken.config.yaml', 'check'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      stderr = String((err as { stderr: string }).stderr);
    }
    expect(stderr).toMatch(/test\/fixtures\/broken.config.yaml at clients\[0\]\.client_secret_hash: required for client_secret_post/);
  });
});
