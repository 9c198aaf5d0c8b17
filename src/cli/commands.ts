/**
 * The commands of `xaa-broker` (src/cli.ts is its entry): `start` runs the broker; the operator
 * commands are `check`, `hash-secret`, `rotate-keys`, `import-mappings`, `remap`,
 * `import-sp-metadata`, `contract-report`, `audit`, `audit-export`, `prune`, `explain`.
 */
import { Command, type Help } from 'commander';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { hashSecret, generateSecret } from '../clients/secrets.js';
import { ConfigError, formatProblem } from '../config/load.js';
import { principalIdOf } from '../mapping/principal.js';
import { createPolicyEngine } from '../policy/cedar-engine.js';
import { loadConfigFromDisk } from '../runtime/config-files.js';
import { checkStartup } from '../runtime/check.js';
import { configFileError } from '../runtime/startup.js';
import { databaseLocation, openNodeStore, type NodeStore } from '../runtime/node-store.js';
import { contentVersion, keyRingFor, upstreamTrust } from '../app.js';
import { systemClock } from '../clock.js';
import { explain, formatExplanation } from '../authzen/explain.js';
import { SubjectResolver } from '../mapping/resolve.js';
import { AUDIT_EXPORT_PAGE, KEY_RELOAD_INTERVAL, WASM_TIERING_BUDGET } from '../constants.js';
import { claimMapOverridesSchema, effectiveClaimMap } from '../migration/claims.js';
import { contractReport, formatContractReport } from '../migration/contract-report.js';
import { importSpMetadata, toYaml } from '../migration/import-sp-metadata.js';
import { parseLegacyAssertion } from '../migration/legacy-assertion.js';
import { subjectSourceSchema } from '../migration/subject.js';

export const program = new Command('xaa-broker')
  .description('Cross-App Access identity broker: run it (start) and operate it')
  .option('-c, --config <file>', 'broker config file (or XAA_CONFIG)', process.env.XAA_CONFIG || 'broker.config.yaml')
  // Errors are one line: a suggestion ("Did you mean …?") joins the line it follows.
  .configureOutput({ outputError: (text, write) => write(`${oneLine(text)}\n`) })
  .configureHelp({ showGlobalOptions: true });

/**
 * Cedar's WebAssembly is compiled when its module is imported; the commands that evaluate policies
 * import it when they run, so that `start` sets the tiering budget first (WASM_TIERING_BUDGET).
 */
const loadCedar = () => import('@cedar-policy/cedar-wasm/nodejs');

/** The configuration the command runs with; an unreadable file is one line naming `--config` (or XAA_CONFIG). */
function loadCliConfig() {
  const path: string = program.opts().config;
  try {
    return { ...loadConfigFromDisk(path), configFile: relative(process.cwd(), resolve(path)) || resolve(path) };
  } catch (err) {
    const source = program.getOptionValueSource('config') === 'cli' ? '--config' : process.env.XAA_CONFIG ? 'XAA_CONFIG' : undefined;
    throw configFileError(err, resolve(path), source) ?? err;
  }
}

/** Stores a command opened: closed (a PostgreSQL pool ended) when the command is done. */
const opened: NodeStore[] = [];

/** The broker's store, as `npm start` would open it: a SQLite file, or PostgreSQL for a postgres:// URL. */
async function openStore() {
  const { config, baseDir, configFile } = loadCliConfig();
  const fromEnv = process.env.XAA_DATABASE !== undefined;
  const database = process.env.XAA_DATABASE ?? databaseLocation(config.settings.database, baseDir);
  const store = await openNodeStore(database, fromEnv ? 'XAA_DATABASE' : `\`database\` in ${configFile}`);
  opened.push(store);
  return { config, store: store.store, file: store.display };
}

program
  .command('start')
  .description('run the broker (what `npm start` does) with the configuration of --config, until SIGINT or SIGTERM')
  .action(async () => {
    const configPath: string = program.opts().config;
    const source = program.getOptionValueSource('config') === 'cli' ? '--config' : process.env.XAA_CONFIG ? 'XAA_CONFIG' : undefined;
    // The other start-up flag, --max-semi-space-size, is given to node by src/cli.ts.
    setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
    const { main } = await import('../runtime/node.js');
    main({ configPath, ...(source ? { configSource: source } : {}) });
  });

program
  .command('check')
  .description('validate the configuration, mappings and policies without starting')
  .action(async () => {
    const { config, configFile } = loadCliConfig();
    const engine = createPolicyEngine(await loadCedar(), config.policies);
    const s = config.settings;
    for (const w of config.warnings ?? []) console.warn(`warning: ${w}`);
    // What start-up validates beyond the files (SAML metadata and keys), off the network.
    const startup = await checkStartup(config, configFile);
    if (startup.problems.length > 0) throw new ConfigError(startup.problems);
    for (const n of startup.notes) console.warn(`note: ${n}`);
    console.log(`configuration is valid: ${s.clients.length} clients, ${s.destinations.length} destinations, ${config.namespaces.size} namespaces, ${s.trusted_issuers.length} trusted issuers, policy set ${engine.version}`);
  });

program
  .command('hash-secret')
  .description('hash a client secret for client_secret_hash (reads it from stdin, or generates one)')
  .option('--generate', 'generate a new random secret and print it with its hash')
  .action(async (opts: { generate?: boolean }) => {
    const secret = opts.generate ? generateSecret() : readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (!secret) throw new Error('empty secret on stdin');
    if (opts.generate) console.log(`secret: ${secret}`);
    console.log(`client_secret_hash: ${await hashSecret(secret)}`);
  });

program
  .command('rotate-keys')
  .description('promote the next signing keys, retire the active ones, publish fresh next keys (every algorithm the broker signs with, at once)')
  .action(async () => {
    const { config, store } = await openStore();
    // The broker's own ring: signing.alg's keys and those of clients' id_token_signed_response_alg.
    const ring = keyRingFor(config.settings, store);
    await ring.init(systemClock());
    const { others, ...own } = await ring.rotate(systemClock());
    for (const r of [own, ...others]) console.log(`${r.alg} active: ${r.activated}\n${r.alg} retired: ${r.retired ?? '(none)'}\n${r.alg} next: ${r.next}`);
    console.log(`running brokers pick the new keys up within ${KEY_RELOAD_INTERVAL} s (KEY_RELOAD_INTERVAL)`);
  });

const tableFile = z.object({
  namespace: z.string().min(1),
  /** Raised with every import: the store refuses a version lower than the one it holds. */
  version: z.number().int().positive(),
  rows: z.array(z.object({ upstream_issuer: z.string().url(), upstream_subject: z.string().min(1), subject: z.string().min(1).max(255) }).strict()),
});

program
  .command('import-mappings <file>')
  .description('replace a table namespace with the rows of a YAML file (namespace, version, rows), all or nothing')
  .action(async (file: string) => {
    const { config, store } = await openStore();
    const data = tableFile.parse(parseYaml(readFileSync(file, 'utf8')));
    const ns = config.namespaces.get(data.namespace);
    if (!ns || ns.strategy !== 'table') throw new Error(`namespace "${data.namespace}" is not a table namespace in the configuration`);
    if (ns.rows.length > 0) throw new Error(`${data.namespace} lists its rows in mappings/; edit that file instead (it is the source of truth and would undo this import)`);
    const rows = data.rows.map((r) => ({ namespace: data.namespace, upstreamIssuer: r.upstream_issuer, upstreamSubject: r.upstream_subject, subject: r.subject }));
    const result = await store.mappings.replaceTable(data.namespace, rows, { version: data.version, hash: await contentVersion(rows) });
    if (result.status === 'older') throw new Error(`${file}: version ${data.version} is older than version ${result.current} in the store; nothing imported`);
    if (result.status === 'unchanged') console.log(`${data.namespace} already holds version ${data.version} of these rows`);
    else console.log(`${data.namespace} now holds the ${result.written} rows of ${file}, version ${data.version} (rows not in the file were removed); running brokers use them from their next mint`);
  });

program
  .command('remap')
  .description('bind a person to a (new) subject in a claim or pairwise namespace, after an upstream identifier changed')
  .requiredOption('--namespace <ns>', 'the claim or pairwise namespace')
  .requiredOption('--issuer <upstream issuer>', "the person's upstream issuer")
  .requiredOption('--upstream-subject <sub>', "the person's subject at that upstream")
  .requiredOption('--to <subject>', 'the subject to bind them to in the namespace')
  .action(async (o: { namespace: string; issuer: string; upstreamSubject: string; to: string }) => {
    const { config, store } = await openStore();
    const ns = config.namespaces.get(o.namespace);
    if (!ns) throw new Error(`unknown namespace "${o.namespace}"`);
    if (ns.strategy === 'table') throw new Error('table namespaces are changed with import-mappings');
    if ('upstreams' in ns && ns.upstreams && !ns.upstreams.includes(o.issuer)) throw new Error(`${o.namespace} does not accept people from ${o.issuer} (its upstreams: ${ns.upstreams.join(', ')})`);
    const principalId = await principalIdOf(o.issuer, o.upstreamSubject);
    const b = await store.mappings.remap({ namespace: o.namespace, principalId, subject: o.to, source: 'operator', upstreamIssuer: o.issuer }, systemClock());
    await store.audit.append({ at: systemClock(), event: 'remap', requestId: `cli-${crypto.randomUUID()}`, reason: 'operator_remap', principalId, mapping: `${b.namespace}/${b.source}@v${b.version}` });
    console.log(`${o.namespace}: ${principalId} → ${b.subject} (version ${b.version})`);
  });

program
  .command('import-sp-metadata <metadata>')
  .description("draft an app's OIDC client and subject namespace from its legacy SAML SP metadata (prints YAML)")
  .option('--client-id <id>', 'client_id to use (default: derived from the entityID)')
  .option('--namespace <ns>', 'subject namespace name (default: derived from the client id)')
  .option('--entity-id <id>', 'pick one SP out of a metadata aggregate')
  .action(async (file: string, o: { clientId?: string; namespace?: string; entityId?: string }) => {
    const result = importSpMetadata(readFileSync(file, 'utf8'), {
      ...(o.clientId ? { clientId: o.clientId } : {}),
      ...(o.namespace ? { subjectNamespace: o.namespace } : {}),
      ...(o.entityId ? { entityId: o.entityId } : {}),
    });
    // The draft must load as printed: it carries the hash of a fresh secret, and the secret goes
    // to the operator once, on stderr, so that redirecting stdout to a file never stores it.
    const secret = generateSecret();
    const draft = toYaml(result, { clientSecretHash: await hashSecret(secret) });
    console.error(`client secret for ${result.client.client_id} (shown once; give it to the app, it is stored nowhere): ${secret}`);
    process.stdout.write(draft);
  });

program
  .command('contract-report')
  .description("compare what a migrated app receives over OIDC with what its legacy SAML assertion gave it; exits 1 on any difference")
  .requiredOption('--legacy <file>', 'a saved SAML assertion or response (XML, or a base64 SAMLResponse)')
  .requiredOption('--claims <file>', 'the OIDC claims the app receives now, as JSON (ID token payload or userinfo, with sub)')
  .option('--claim-overrides <file>', "the app's claim table overrides, as JSON (attribute Name → claim name or null)")
  .option('--subject-source <json>', 'how the legacy subject was chosen, e.g. {"kind":"persistent_nameid"}')
  .action((o: { legacy: string; claims: string; claimOverrides?: string; subjectSource?: string }) => {
    const legacy = parseLegacyAssertion(readFileSync(o.legacy, 'utf8'));
    const claims = z.record(z.string(), z.unknown()).parse(JSON.parse(readFileSync(o.claims, 'utf8')));
    if (typeof claims.sub !== 'string') throw new Error(`${o.claims} has no sub`);
    const overrides = o.claimOverrides ? claimMapOverridesSchema.parse(JSON.parse(readFileSync(o.claimOverrides, 'utf8'))) : {};
    const report = contractReport({
      legacy: { ...(legacy.nameId ? { nameId: legacy.nameId } : {}), attributes: legacy.attributes },
      oidc: { sub: claims.sub, claims },
      claimMap: effectiveClaimMap(overrides),
      ...(o.subjectSource ? { subjectSource: subjectSourceSchema.parse(JSON.parse(o.subjectSource)) } : {}),
    });
    for (const w of legacy.warnings) console.error(`warning: ${w}`);
    console.log(formatContractReport(report));
    if (!report.summary.unchanged) process.exitCode = 1;
  });

program
  .command('audit')
  .description('print the most recent audit records as JSON lines')
  .option('-n, --limit <n>', 'how many', '20')
  .action(async (o: { limit: string }) => {
    const { store } = await openStore();
    for (const r of (await store.audit.recent(Number(o.limit))).reverse()) console.log(JSON.stringify(r));
  });

/** `--since`: epoch seconds, or an ISO 8601 date or date-time. */
function parseSince(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`--since: "${value}" is neither an ISO 8601 date nor epoch seconds`);
  return Math.floor(ms / 1000);
}

program
  .command('audit-export')
  .description('write audit records (refusal summaries included) as JSON lines to stdout, oldest first: run it before retention deletes them')
  .option('--since <time>', 'only records at or after this time (ISO 8601 or epoch seconds)', '0')
  .action(async (o: { since: string }) => {
    const since = parseSince(o.since);
    const { store } = await openStore();
    let after = 0;
    for (;;) {
      const page = await store.audit.since(since, after, AUDIT_EXPORT_PAGE);
      if (page.length === 0) break;
      const text = page.map((r) => `${JSON.stringify(r.record)}\n`).join('');
      if (!process.stdout.write(text)) await new Promise((ok) => process.stdout.once('drain', ok));
      after = page[page.length - 1]!.seq;
    }
  });

program
  .command('prune')
  .description('delete expired state and audit records past retention now (what a running broker does every few minutes)')
  .action(async () => {
    const { config, store } = await openStore();
    const now = systemClock();
    const r = config.settings.retention;
    for (;;) {
      const { deleted, complete } = await store.retention.prune({ now, auditBefore: now - r.audit_max_age_days * 86_400, auditMaxRows: r.audit_max_rows });
      console.log(JSON.stringify(deleted));
      if (complete) break;
    }
  });

/** A bad argument to `explain`: exit 2, as for a malformed command line. */
class UsageError extends Error {}

function csv(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const values = value.split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new UsageError(`${name}: "${value}" is not a comma-separated list of values`);
  return values;
}

program
  .command('explain')
  .description('why a client would (not) get a scope at a destination for a person: upstream authority, mapping, scope translation, determining policies')
  .requiredOption('--principal <id>', "the person's broker principal id (p_…)")
  .requiredOption('--client <client_id>', 'the client asking for the ID-JAG')
  .requiredOption('--destination <id>', 'the destination id from the configuration')
  .requiredOption('--scope <scope>', "one scope, in the caller's vocabulary or the destination's")
  .option('--resource <uri>', 'RFC 8707 resource indicator')
  .option('--acr <acr>', 'the login acr, as it would be reported')
  .option('--amr <list>', 'the login amr values, comma-separated (e.g. pwd,mfa)')
  .option('--auth-time <seconds>', 'when the person authenticated (epoch seconds)')
  .option('--json', 'print the explanation as JSON')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .action(async (o: { principal: string; client: string; destination: string; scope: string; resource?: string; acr?: string; amr?: string; authTime?: string; json?: boolean }) => {
    const amr = csv('--amr', o.amr);
    if (o.authTime !== undefined && !/^\d+$/.test(o.authTime)) throw new UsageError(`--auth-time: "${o.authTime}" is not epoch seconds`);
    const { config, store } = await openStore();
    const subjects = new SubjectResolver(store.mappings, store.secrets, systemClock);
    await subjects.prepare(config.namespaces.values());
    const services = { settings: config.settings, namespaces: config.namespaces, store, subjects, trust: upstreamTrust(config.settings), policy: createPolicyEngine(await loadCedar(), config.policies) };
    const login = { ...(o.acr !== undefined ? { acr: o.acr } : {}), ...(amr ? { amr } : {}), ...(o.authTime !== undefined ? { authTime: Number(o.authTime) } : {}) };
    const e = await explain({ principalId: o.principal, clientId: o.client, destinationId: o.destination, scope: o.scope, ...(o.resource !== undefined ? { resource: o.resource } : {}), login }, services, systemClock());
    console.log(o.json ? JSON.stringify(e, null, 2) : formatExplanation(e));
  });

/** The top-level help also lists each command's options, so that one screen says everything. */
program.addHelpText('after', () => {
  const help: Help = program.createHelp();
  const rows = program.commands.flatMap((c) => help.visibleOptions(c).filter((o) => !o.long?.startsWith('--help')).map((o) => [`${c.name()} ${o.flags}`, o.description] as const));
  const width = Math.max(...rows.map(([term]) => term.length));
  return `\nOptions of the commands (\`xaa-broker help <command>\` for one command):\n${rows.map(([term, text]) => `  ${term.padEnd(width)}  ${text}`).join('\n')}\n`;
});

/** One line: a multi-line message (commander's suggestions, a YAML code frame) joined on spaces. */
function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

/** What the operator sees of an error: one line, no stack. */
export function errorLine(err: unknown): string {
  if (err instanceof ConfigError) return `configuration is invalid: ${err.problems.map((p) => oneLine(formatProblem(p))).join('; ')}`;
  if (err instanceof z.ZodError) return `invalid input: ${err.issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`;
  return oneLine(err instanceof Error ? err.message : String(err));
}

/** Parses the command line and runs the command; an error is one line on stderr and a non-zero exit. */
export function run(): void {
  program
    .parseAsync()
    .then(() => Promise.all(opened.map((o) => o.close())))
    .catch((err: unknown) => {
      console.error(errorLine(err));
      process.exit(err instanceof UsageError ? 2 : 1);
    });
}
