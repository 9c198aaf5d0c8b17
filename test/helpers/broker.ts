import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { nodeJws } from '../../src/runtime/node-jws.js';
import { nodeSecretMac, nodeTokenDigest } from '../../src/runtime/node-crypto.js';
import { createBroker, type Broker, type BrokerDeps } from '../../src/app.js';
import { hashSecret } from '../../src/clients/secrets.js';
import { loadConfig, type ConfigFile } from '../../src/config/load.js';
import type { BrokerConfigInput, NamespaceConfig } from '../../src/config/schema.js';
import { createSqliteStore, openSqlite } from '../../src/store/adapters/sqlite.js';
import type { BrokerStore } from '../../src/store/ports.js';
import { createDemoIdp, type DemoIdp } from '../../examples/demo-idp.js';

export const BROKER = 'https://broker.test';
export const IDP = 'https://idp.test';
export const TODO = 'https://todo.test';
export const TODO_API = 'https://api.todo.test/';
export const CRM = 'https://crm.test';
export const CRM_API = 'https://api.crm.test/';
export const SECRET = 'wiki-secret-value';
export const BASIC_SECRET = 'basic-secret-value';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const root = join(import.meta.dirname, '../..');
const schemaFile = (): ConfigFile => ({ path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') });

/** What the tests' corporate IdP is believed about: its email domain, its groups, its login methods. */
export const TEST_IDP_AUTHORITY = {
  tenant: 'corp',
  email: { domains: ['example.com'] },
  groups: { allow: ['staff', 'todo-writers', 'engineering', 'oncall', 'admins', 'g1', 'g2', 'g3'] },
  acr: ['urn:corp:loa:pwd', 'urn:corp:loa:2fa', 'urn:mace:incommon:iap:silver'],
  amr: ['pwd', 'mfa', 'otp', 'hwk', 'sc', 'pin'],
  claims: ['name', 'given_name', 'family_name', 'preferred_username'],
};

/** Policies for tests: reads are open, writes need the group and MFA. */
export const TEST_POLICIES = `
@id("read-anything")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name like "*.read" };
@id("writers-need-group")
permit (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" && principal.groups.contains("todo-writers") };
@id("mfa-for-write")
forbid (principal, action == Xaa::Action::"mint", resource) when { resource.name == "todos.write" } unless { context.amr.contains("mfa") };
`;

let secretHashes: Promise<[string, string]> | undefined;

/** A broker configuration for tests: an upstream IdP, two destinations, clients of every kind. */
export async function testSettings(overrides: (s: BrokerConfigInput) => void = () => {}): Promise<BrokerConfigInput> {
  secretHashes ??= Promise.all([hashSecret(SECRET, 10_000), hashSecret(BASIC_SECRET, 10_000)]);
  const [postHash, basicHash] = await secretHashes;
  const settings: BrokerConfigInput = {
    issuer: BROKER,
    trusted_issuers: [{ issuer: IDP, jwks_uri: `${IDP}/jwks`, algorithms: ['ES256'], authority: TEST_IDP_AUTHORITY }],
    clients: [
      {
        client_id: 'wiki-agent',
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: postHash,
        upstream_client_ids: { [IDP]: 'wiki-agent' },
        destinations: {
          todo: { client_id: 'wiki-at-todo', scopes: ['todos.read', 'todos.write'], default_scopes: ['todos.read'] },
          crm: { client_id: 'wiki-at-crm', scopes: ['contacts.read'] },
        },
      },
      {
        client_id: 'basic-agent',
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret_hash: basicHash,
        upstream_client_ids: { [IDP]: 'basic-agent' },
        destinations: { todo: { client_id: 'basic-at-todo', scopes: ['todos.read'] } },
      },
      { client_id: 'spa', token_endpoint_auth_method: 'none', upstream_client_ids: { [IDP]: 'spa' }, destinations: { todo: { client_id: 'spa-at-todo', scopes: ['todos.read'] } } },
    ],
    destinations: [
      {
        id: 'todo',
        issuer: TODO,
        aliases: ['todo'],
        resources: [TODO_API],
        namespace: 'todo-users',
        scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'], 'tasks:read': ['todos.read'] },
        include_claims: ['acr', 'amr', 'auth_time', 'email'],
      },
      {
        id: 'crm',
        issuer: CRM,
        resources: [CRM_API],
        namespace: 'crm-users',
        scope_translation: { 'contacts.read': ['contacts.read'] },
      },
    ],
  };
  overrides(settings);
  return settings;
}

export const testNamespaces: NamespaceConfig[] = [
  {
    namespace: 'todo-users',
    strategy: 'table',
    version: 1,
    rows: [
      { upstream_issuer: IDP, upstream_subject: 'alice', subject: 'todo-user-1001' },
      { upstream_issuer: IDP, upstream_subject: 'bob', subject: 'todo-user-1002' },
    ],
  },
  { namespace: 'crm-users', strategy: 'claim', claim: 'email' },
  { namespace: 'analytics-users', strategy: 'pairwise', sector: 'analytics.test' },
];

export interface TestBroker extends Broker {
  idp: DemoIdp;
  /** The test clock (seconds); move it with `clock.now += n`. */
  clock: { now: number };
  /** The in-memory SQLite database behind `services.store`, for tests that inspect state directly. */
  db: Database.Database;
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** A broker on an in-memory SQLite store, the demo IdP reachable through an injected fetch. */
export async function startTestBroker(
  options: {
    settings?: BrokerConfigInput;
    namespaces?: NamespaceConfig[];
    policies?: string;
    /** The test clock's start (seconds); default now. */
    now?: number;
    /** Further createBroker dependencies (e.g. the Node SAML factory). */
    deps?: Partial<Pick<BrokerDeps, 'saml' | 'samlSubjectTokens'>>;
    /** An open database to share with another broker (default: a fresh in-memory one). */
    db?: Database.Database;
    /** Another store instead of SQLite (e.g. PostgreSQL, test/helpers/pg.ts); `db` is then unused. */
    store?: BrokerStore;
    /** The upstream IdP to trust (default: a new demo IdP): two brokers of one deployment share it. */
    idp?: DemoIdp;
  } = {},
): Promise<TestBroker> {
  const settings = options.settings ?? (await testSettings());
  const idp = options.idp ?? (await createDemoIdp(IDP));
  const config = loadConfig({
    broker: { path: 'broker.config.yaml', text: stringify(settings) },
    mappings: (options.namespaces ?? testNamespaces).map((ns) => ({ path: `mappings/${ns.namespace}.yaml`, text: stringify(ns) })),
    policies: [{ path: 'policies/test.cedar', text: options.policies ?? TEST_POLICIES }],
    schema: schemaFile(),
  });
  const clock = { now: options.now ?? Math.floor(Date.now() / 1000) };
  const db = options.db ?? openSqlite(':memory:');
  const store = options.store ?? createSqliteStore(db);
  const broker = await createBroker({
    config,
    store,
    cedar,
    clock: () => clock.now,
    fetch: async (input, init) => idp.app.request(String(input instanceof Request ? input.url : input), init),
    // The Node runtime's JWS (node:crypto), as `npm start` runs; the WebCrypto path runs in test/workers.
    jws: nodeJws,
    secretMac: nodeSecretMac,
    tokenDigest: nodeTokenDigest,
    ...options.deps,
  });
  return { ...broker, idp, clock, db, request: (path, init) => Promise.resolve(broker.app.request(`${BROKER}${path}`, init)) };
}

/** Form-encodes and posts to the token endpoint. */
export function postToken(b: TestBroker, params: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  return b.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: body.toString() });
}

/** A valid caller-pushed exchange for alice at the Todo AS; override any parameter. */
export async function exchangeParams(b: TestBroker, overrides: Record<string, string | string[] | undefined> = {}) {
  const idToken = await b.idp.idToken({ sub: 'alice', email: 'alice@example.com', groups: ['staff'], amr: ['pwd', 'mfa'] }, 'wiki-agent', { now: b.clock.now });
  const params: Record<string, string | string[] | undefined> = {
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: idToken,
    subject_token_type: ID_TOKEN_TYPE,
    audience: TODO,
    resource: TODO_API,
    scope: 'todos.read',
    client_id: 'wiki-agent',
    client_secret: SECRET,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string | string[]>;
}

/** Every table's rows except the audit log, plus the audit log's length: compare before and after a request. */
export function storeState(b: TestBroker): { tables: Record<string, unknown[]>; auditCount: number } {
  const tables: Record<string, unknown[]> = {};
  for (const table of ['signing_keys', 'mapping_table', 'subject_bindings', 'replay', 'broker_secrets']) {
    tables[table] = b.db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all();
  }
  const auditCount = b.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
  return { tables, auditCount };
}
