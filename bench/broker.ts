/**
 * The broker as a user runs it: a configuration directory (broker.config.yaml, mappings/,
 * policies/) and the production entry in a process of its own, with XAA_CONFIG, XAA_DATABASE
 * and PORT set, its pino logs going to stdout (here /dev/null).
 *
 * `brokerCommand` is the one place that says how the broker process is started: today
 * `node --import tsx src/runtime/node.ts` (what `npm start` runs, without npm's and tsx's own
 * parent processes, so the pid measured is the one serving). When `npm start` runs compiled
 * JavaScript, change it to that entry.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hashSecret } from '../src/clients/secrets.js';
import { AGENT, IDP, type BenchIdp } from './id-tokens.js';
import { spawnTarget, type Target } from './process.js';

const ROOT = join(import.meta.dirname, '..');
export const TODO = 'https://todo.bench';
export const BACKCHANNEL = { client_id: 'bench-todo-as', client_secret: 'bench-todo-as-secret' };
export const AGENT_SECRET = 'bench-secret';

/** How the broker process is started (the production entry). */
export function brokerCommand(): string[] {
  const compiled = join(ROOT, 'dist/runtime/node.js');
  return existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(ROOT, 'src/runtime/node.ts')];
}

/**
 * Writes the bench's configuration into `dir`: the bench IdP trusted with inline keys, the agent
 * (client_secret_post) allowed the Todo destination, the Todo AS's back-channel client (the
 * resource-pulled profile), the demo policies, and a `pairwise` namespace: a person's subject is
 * bound on their first mint, so a person never seen before costs a binding write.
 */
export async function writeBrokerConfig(dir: string, idp: BenchIdp): Promise<string> {
  mkdirSync(join(dir, 'mappings'), { recursive: true });
  mkdirSync(join(dir, 'policies'), { recursive: true });
  const settings = {
    issuer: 'https://broker.bench',
    trusted_issuers: [{ issuer: IDP, jwks: idp.jwks, algorithms: ['ES256'] }],
    clients: [
      {
        client_id: AGENT,
        token_endpoint_auth_method: 'client_secret_post',
        client_secret_hash: await hashSecret(AGENT_SECRET),
        upstream_client_ids: { [IDP]: AGENT },
        destinations: { todo: { client_id: 'bench-at-todo', scopes: ['todos.read', 'todos.write'] } },
      },
      { client_id: BACKCHANNEL.client_id, token_endpoint_auth_method: 'client_secret_post', client_secret_hash: await hashSecret(BACKCHANNEL.client_secret) },
    ],
    destinations: [
      { id: 'todo', issuer: TODO, resources: [`${TODO}/api`], namespace: 'todo-users', scope_translation: { 'todos.read': ['todos.read'], 'todos.write': ['todos.write'] }, backchannel_client: BACKCHANNEL.client_id },
    ],
  };
  writeFileSync(join(dir, 'broker.config.yaml'), stringify(settings));
  writeFileSync(join(dir, 'mappings/todo-users.yaml'), stringify({ namespace: 'todo-users', strategy: 'pairwise' }));
  for (const f of ['demo.cedar', 'xaa.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(dir, 'policies', f));
  return join(dir, 'broker.config.yaml');
}

/** Starts one broker process on its own database; resolves once it listens. */
export function startBroker(name: string, configPath: string, database: string): Promise<Target> {
  return spawnTarget(name, { args: brokerCommand(), env: { XAA_CONFIG: configPath, XAA_DATABASE: database, LOG_LEVEL: 'info' } });
}
