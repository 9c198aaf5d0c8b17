/**
 * The broker as a user runs it: a configuration directory (broker.config.yaml, mappings/,
 * policies/) and the production entry in a process of its own, with XAA_CONFIG, XAA_DATABASE
 * and PORT set, its pino logs going to stdout (here /dev/null).
 *
 * `brokerCommand` is the one place that says how the broker process is started.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hashSecret } from '../src/clients/secrets.js';
import { AGENT, IDP, type BenchIdp } from './id-tokens.js';
import { spawnTarget, type Target } from './process.js';

const ROOT = join(import.meta.dirname, '..');
export const TODO = 'https://todo.bench';
export const BACKCHANNEL = { client_id: 'bench-todo-as', client_secret: 'bench-todo-as-secret' };
export const AGENT_SECRET = 'bench-secret';

/**
 * How the broker process is started: `npm start`'s own script when the project has one that runs
 * compiled JavaScript (scripts/start.mjs, which builds dist/ when stale), else the TypeScript
 * entry under tsx (what `npm start` ran before the build step). Node is spawned directly, not
 * through npm, so the pid measured is the serving process.
 */
export function brokerCommand(): string[] {
  const start = join(ROOT, 'scripts/start.mjs');
  // BENCH_BROKER_NODE_ARGS: extra node flags for the broker only (e.g. `--cpu-prof --cpu-prof-dir=…`
  // to see where its CPU goes; NODE_OPTIONS refuses --cpu-prof).
  const extra = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (!existsSync(start)) return [...extra, '--import', 'tsx', join(ROOT, 'src/runtime/node.ts')];
  return [...startFlags(), ...extra, start];
}

/** The node flags `npm start` passes (package.json: `node <flags> scripts/start.mjs`), so the bench runs what users run. */
function startFlags(): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts?.start ?? '';
  const flags = /^node((?:\s+--\S+)*)\s+scripts\/start\.mjs$/.exec(script.trim());
  if (!flags) throw new Error(`package.json's start script is not \`node [flags] scripts/start.mjs\`: ${script}`);
  return flags[1]!.split(/\s+/).filter(Boolean);
}

/** Builds dist/ beforehand when stale (a build script exists), so the start-up time measured is a start's, not a build's. */
export function prepareBroker(): void {
  const build = join(ROOT, 'scripts/build.mjs');
  if (existsSync(build)) execFileSync(process.execPath, [build, '--if-stale'], { cwd: ROOT, stdio: 'ignore' });
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
