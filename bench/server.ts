/**
 * The process under load: the broker (file-backed SQLite, pino logging to /dev/null, the demo
 * policies, the Todo destination's back-channel client for the resource-pulled profile) and the
 * baseline endpoint, on two loopback ports. Prints one JSON line with the ports, a pool of subject
 * tokens and the back-channel client's credentials, then serves until killed.
 */
import { serve } from '@hono/node-server';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { Hono } from 'hono';
import { SignJWT, generateKeyPair } from 'jose';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { hashSecret } from '../src/clients/secrets.js';
import { loadConfig } from '../src/config/load.js';
import { readForm } from '../src/http/form.js';
import { pinoLogger } from '../src/runtime/node.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';
import { createDemoIdp } from '../examples/demo-idp.js';
import { readFileSync } from 'node:fs';

const IDP = 'https://idp.bench';
const TODO = 'https://todo.bench';
const USERS = 1000;
const BACKCHANNEL = { client_id: 'bench-todo-as', client_secret: 'bench-todo-as-secret' };

const idp = await createDemoIdp(IDP);
const settings = {
  issuer: 'https://broker.bench',
  trusted_issuers: [{ issuer: IDP, jwks: idp.jwks, algorithms: ['ES256'] }],
  clients: [
    {
      client_id: 'bench-agent',
      token_endpoint_auth_method: 'client_secret_post',
      client_secret_hash: await hashSecret('bench-secret'),
      upstream_client_ids: { [IDP]: 'bench-agent' },
      destinations: { todo: { client_id: 'bench-at-todo', scopes: ['todos.read', 'todos.write'] } },
    },
    // The Todo AS's back channel, which redeems ID-JAG references (the resource-pulled profile).
    { client_id: BACKCHANNEL.client_id, token_endpoint_auth_method: 'client_secret_post', client_secret_hash: await hashSecret(BACKCHANNEL.client_secret) },
  ],
  destinations: [
    { id: 'todo', issuer: TODO, resources: [`${TODO}/api`], namespace: 'todo-users', scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] }, backchannel_client: BACKCHANNEL.client_id },
  ],
};
const rows = Array.from({ length: USERS }, (_, i) => ({ upstream_issuer: IDP, upstream_subject: `user-${i}`, subject: `todo-${i}` }));
const root = join(import.meta.dirname, '..');
const config = loadConfig({
  broker: { path: 'bench.yaml', text: stringify(settings) },
  mappings: [{ path: 'mappings/todo-users.yaml', text: stringify({ namespace: 'todo-users', strategy: 'table', version: 1, rows }) }],
  policies: [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }],
  schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
});

const dir = mkdtempSync(join(tmpdir(), 'xaa-bench-'));
const store = createSqliteStore(openSqlite(join(dir, 'broker.sqlite')));
// The production logger, writing to /dev/null instead of stdout.
const logger = pinoLogger('info', '/dev/null');
const { app } = await createBroker({ config, store, cedar, logger });

// Baseline: parse the form, sign one ES256 JWT. The floor any token endpoint pays.
const { privateKey } = await generateKeyPair('ES256');
const baseline = new Hono();
baseline.post('/token', async (c) => {
  const form = await readForm(c.req.raw);
  const jwt = await new SignJWT({ sub: form.get('subject_token_type') ?? 'x', scope: form.get('scope') })
    .setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt', kid: 'k' })
    .setIssuer('http://baseline.bench')
    .setAudience(TODO)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return c.json({ access_token: jwt, token_type: 'N_A', expires_in: 300 }, 200, { 'Cache-Control': 'no-store' });
});

const listen = (fetch: (r: Request) => Response | Promise<Response>) =>
  new Promise<number>((ok) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => ok(info.port));
    void s;
  });
const brokerPort = await listen(app.fetch);
const baselinePort = await listen(baseline.fetch);
const tokens = await Promise.all(
  Array.from({ length: USERS }, (_, i) => idp.idToken({ sub: `user-${i}`, amr: ['pwd', 'mfa'] }, 'bench-agent', { lifetime: 3600 })),
);
process.stdout.write(`${JSON.stringify({ brokerPort, baselinePort, tokens, audience: TODO, resource: `${TODO}/api`, backchannel: BACKCHANNEL })}\n`);
// Exit cleanly on a signal so --cpu-prof and friends can write their output.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
