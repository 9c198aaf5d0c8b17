import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createBroker } from '../src/app.js';
import { hashSecret } from '../src/clients/secrets.js';
import { loadConfig } from '../src/config/load.js';
import { pinoLogger } from '../src/runtime/node.js';
import { createSqliteStore, openSqlite } from '../src/store/adapters/sqlite.js';
import { createDemoIdp } from '../examples/demo-idp.js';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

const IDP = 'https://idp.bench';
const TODO = 'https://todo.bench';
const idp = await createDemoIdp(IDP);
const settings = {
  issuer: 'https://broker.bench',
  trusted_issuers: [{ issuer: IDP, jwks: idp.jwks, algorithms: ['ES256'] }],
  clients: [{ client_id: 'bench-agent', token_endpoint_auth_method: 'client_secret_post', client_secret_hash: await hashSecret('bench-secret'), upstream_client_ids: { [IDP]: 'bench-agent' }, destinations: { todo: { client_id: 'bench-at-todo', scopes: ['todos.read', 'todos.write'] } } }],
  destinations: [{ id: 'todo', issuer: TODO, resources: [`${TODO}/api`], namespace: 'todo-users', scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] } }],
};
const N = Number(process.env.N ?? 4000);
const rows = Array.from({ length: N }, (_, i) => ({ upstream_issuer: IDP, upstream_subject: `user-${i}`, subject: `todo-${i}` }));
const root = join(import.meta.dirname, '..');
const config = loadConfig({
  broker: { path: 'bench.yaml', text: stringify(settings) },
  mappings: [{ path: 'mappings/todo-users.yaml', text: stringify({ namespace: 'todo-users', strategy: 'table', version: 1, rows }) }],
  policies: [{ path: 'policies/demo.cedar', text: readFileSync(join(root, 'policies/demo.cedar'), 'utf8') }],
  schema: { path: 'policies/xaa.cedarschema', text: readFileSync(join(root, 'policies/xaa.cedarschema'), 'utf8') },
});
const dir = mkdtempSync(join(tmpdir(), 'xaa-prof-'));
const store = createSqliteStore(openSqlite(join(dir, 'broker.sqlite')));
const { app } = await createBroker({ config, store, cedar, logger: pinoLogger('info', '/dev/null'), ...(process.env.WEB ? {} : { jws: (await import('../src/runtime/node-jws.js')).nodeJws, secretMac: (await import('../src/runtime/node-crypto.js')).nodeSecretMac }) });
const tokens = await Promise.all(Array.from({ length: N }, (_, i) => idp.idToken({ sub: `user-${i}`, amr: ['pwd', 'mfa'] }, 'bench-agent', { lifetime: 3600 })));
const body = (t: string) => new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag', subject_token: t, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: TODO, resource: `${TODO}/api`, scope: 'todos.read todos.write', client_id: 'bench-agent', client_secret: 'bench-secret' }).toString();
const call = async (t: string) => { const r = await app.request('https://broker.bench/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body(t) }); if (r.status !== 200) throw new Error(await r.text()); await r.text(); };
for (let i = 0; i < 200; i++) await call(tokens[i]!);
const session = new Session(); session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start');
const cpu0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 200; i < N; i++) await call(tokens[i]!);
const cpu = process.cpuUsage(cpu0); const wall = performance.now() - t0;
const { profile } = await session.post('Profiler.stop');
writeFileSync('/tmp/mine/cold.cpuprofile', JSON.stringify(profile));
console.log(`cold: ${((cpu.user + cpu.system) / (N - 200)).toFixed(0)} µs CPU/req, ${(wall * 1000 / (N - 200)).toFixed(0)} µs wall/req`);
