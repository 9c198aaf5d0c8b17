import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { ConfigFiles } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { createWorker, type BrokerWorker, type WorkerEnv, type WorkerOptions } from '../../src/runtime/worker.js';
import schema from '../../policies/xaa.cedarschema';
import brokerConfig from './fixtures/broker.config.yaml';
import crmUsers from './fixtures/mappings/crm-users.yaml';
import todoUsers from './fixtures/mappings/todo-users.yaml';
import testPolicies from './fixtures/test.cedar';
import keys from './fixtures/keys.json';

export const BROKER = 'https://broker.test';
export const IDP = 'https://idp.test';
export const TODO = 'https://todo.test';
export const TODO_API = 'https://api.todo.test/';
export const CRM = 'https://crm.test';
export const SECRET = 'worker-test-secret';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The test configuration, carried into workerd as Text modules like the bundled one. */
export const testFiles: ConfigFiles = {
  broker: { path: 'test/workers/fixtures/broker.config.yaml', text: brokerConfig },
  mappings: [
    { path: 'test/workers/fixtures/mappings/crm-users.yaml', text: crmUsers },
    { path: 'test/workers/fixtures/mappings/todo-users.yaml', text: todoUsers },
  ],
  policies: [{ path: 'test/workers/fixtures/test.cedar', text: testPolicies }],
  schema: { path: 'policies/xaa.cedarschema', text: schema },
};

export const workerEnv = (extra: Partial<WorkerEnv> = {}): WorkerEnv => ({ DB: env.DB, ...extra });

/** A Worker built from `testFiles` (or other options); each one is a separate "isolate" build. */
export function testWorker(options: Partial<WorkerOptions> = {}): BrokerWorker {
  return createWorker({ files: testFiles, logger: silentLogger, ...options });
}

/** Sends a request through a Worker's fetch handler, as workerd would, and waits for waitUntil work. */
export async function call(worker: BrokerWorker, path: string, init?: RequestInit, extraEnv: Partial<WorkerEnv> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BROKER}${path}`, init), workerEnv(extraEnv), ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function postToken(worker: BrokerWorker, params: Record<string, string | undefined>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body.append(k, v);
  return call(worker, '/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: body.toString() });
}

const now = () => Math.floor(Date.now() / 1000);

async function sign(jwk: JWK & { kid: string }, payload: Record<string, unknown>, typ: string) {
  const key = await importJWK(jwk, 'ES256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ }).sign(key);
}

/** An ID token from the test upstream IdP (fixed key; its public half is inline in the test config). */
export function idToken(sub: string, audience: string, claims: Record<string, unknown> = {}) {
  const t = now();
  // Like a workforce directory, the test IdP has verified the addresses it sends.
  const verified = 'email' in claims ? { email_verified: true } : {};
  return sign(keys.idp, { iss: IDP, sub, aud: audience, iat: t, exp: t + 600, auth_time: t, amr: ['pwd'], ...verified, ...claims }, 'JWT');
}

/** A private_key_jwt client assertion for `key-agent`. */
export function clientAssertion(jti: string) {
  const t = now();
  return sign(keys.client, { iss: 'key-agent', sub: 'key-agent', aud: BROKER, iat: t, exp: t + 60, jti }, 'JWT');
}

/** A caller-pushed exchange for alice at the Todo AS by wiki-agent; override any parameter. */
export async function exchangeParams(overrides: Record<string, string | undefined> = {}): Promise<Record<string, string | undefined>> {
  return {
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    subject_token: await idToken('alice', 'wiki-agent', { email: 'alice@example.com' }),
    subject_token_type: ID_TOKEN_TYPE,
    audience: TODO,
    resource: TODO_API,
    scope: 'todos.read',
    client_id: 'wiki-agent',
    client_secret: SECRET,
    ...overrides,
  };
}

export async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: string }).error;
}

/** Rows straight from D1, for checking what the store wrote. */
export async function rows<T>(sql: string, ...params: unknown[]): Promise<T[]> {
  return (await env.DB.prepare(sql).bind(...params).all<T>()).results;
}
