import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { brokerConfigSchema, namespaceSchema, type BrokerConfig, type NamespaceConfig } from './schema.js';
import { discoveryConflicts } from './discovery-conflicts.js';
import { oidcConnectionSchema } from './oidc-connection.js';
import { samlConnectionSchema } from './saml-connection.js';
import { checkTrust } from './trust-checks.js';

/** A configuration file's name and text; reading them is the runtime's job. */
export interface ConfigFile {
  path: string;
  text: string;
}

export interface ConfigProblem {
  file: string;
  /** Dotted path inside the file, e.g. `clients[0].client_secret_hash`. */
  at: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.at ? ` at ${p.at}` : ''}: ${p.message}`;
}

export interface ConfigFiles {
  broker: ConfigFile;
  mappings: ConfigFile[];
  policies: ConfigFile[];
  schema?: ConfigFile;
}

/** Parses and validates every file, then cross-checks references between them. Throws ConfigError listing every problem. */
export function loadConfig(files: ConfigFiles): BrokerConfig {
  const problems: ConfigProblem[] = [];
  const settings = parseFile(files.broker, brokerConfigSchema, problems);
  const namespaces = new Map<string, NamespaceConfig>();
  for (const file of files.mappings) {
    const ns = parseFile(file, namespaceSchema, problems);
    if (!ns) continue;
    if (namespaces.has(ns.namespace)) problems.push({ file: file.path, at: 'namespace', message: `namespace "${ns.namespace}" is defined twice` });
    namespaces.set(ns.namespace, ns);
  }
  if (files.policies.length === 0) problems.push({ file: '(policies)', at: '', message: 'no Cedar policy files found; a broker without policy would deny everything' });
  const warnings: ConfigProblem[] = [];
  if (settings) {
    crossCheck(files.broker.path, settings, namespaces, problems);
    checkTrust(files.broker.path, settings, namespaces, problems, warnings);
  }
  if (problems.length > 0 || !settings) throw new ConfigError(problems);
  return {
    settings,
    namespaces,
    warnings: warnings.map(formatProblem),
    policies: joinPolicies(files.policies, files.schema),
  };
}

/** One policy set from every file, remembering where each file starts so that errors name it. */
function joinPolicies(policies: ConfigFile[], schema: ConfigFile | undefined): BrokerConfig['policies'] {
  let start = 0;
  const sources = policies.map((f) => {
    const source = { path: f.path, start };
    start += f.text.length + 1;
    return source;
  });
  return {
    policies: policies.map((f) => f.text).join('\n'),
    sources,
    ...(schema ? { schema: schema.text, schemaPath: schema.path } : {}),
  };
}

function parseFile<S extends z.ZodType>(file: ConfigFile, schema: S, problems: ConfigProblem[]): z.output<S> | undefined {
  let data: unknown;
  try {
    data = parseYaml(file.text, { uniqueKeys: true, maxAliasCount: 50 });
  } catch (err) {
    const at = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '';
    problems.push({ file: file.path, at, message: `not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
    return undefined;
  }
  const result = schema.safeParse(data ?? {});
  if (result.success) return result.data;
  for (const issue of result.error.issues) problems.push({ file: file.path, at: formatPath(issue.path), message: issue.message });
  return undefined;
}

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function crossCheck(file: string, s: NonNullable<BrokerConfig['settings']>, namespaces: Map<string, NamespaceConfig>, problems: ConfigProblem[]) {
  const add = (at: string, message: string) => problems.push({ file, at, message });
  const destinationIds = new Set<string>();
  const audiences = new Map<string, string>();
  s.destinations.forEach((d, i) => {
    if (destinationIds.has(d.id)) add(`destinations[${i}].id`, `duplicate destination id "${d.id}"`);
    destinationIds.add(d.id);
    if (!namespaces.has(d.namespace)) add(`destinations[${i}].namespace`, `no mappings file defines namespace "${d.namespace}"`);
    for (const value of [d.issuer, ...d.aliases]) {
      const other = audiences.get(value);
      if (other && other !== d.id) add(`destinations[${i}]`, `audience "${value}" also names destination "${other}"`);
      audiences.set(value, d.id);
    }
    if (d.id_jag_lifetime && d.id_jag_lifetime > s.id_jag.lifetime) add(`destinations[${i}].id_jag_lifetime`, 'longer than id_jag.lifetime');
  });
  const clientIds = new Set<string>();
  const upstreamAudiences = new Map<string, string>();
  s.clients.forEach((c, i) => {
    if (clientIds.has(c.client_id)) add(`clients[${i}].client_id`, `duplicate client_id "${c.client_id}"`);
    clientIds.add(c.client_id);
    for (const [destId, grant] of Object.entries(c.destinations)) {
      const dest = s.destinations.find((d) => d.id === destId);
      if (!dest) {
        add(`clients[${i}].destinations.${destId}`, `no destination with id "${destId}"`);
        continue;
      }
      const known = new Set(Object.values(dest.scope_translation).flat());
      for (const scope of grant.scopes) {
        if (!known.has(scope)) add(`clients[${i}].destinations.${destId}.scopes`, `"${scope}" is not a scope of destination "${destId}" (no scope_translation maps to it)`);
      }
    }
    for (const [issuer, audience] of Object.entries(c.upstream_client_ids)) {
      if (!s.trusted_issuers.some((t) => t.issuer === issuer)) add(`clients[${i}].upstream_client_ids`, `"${issuer}" is not a trusted upstream issuer`);
      // Two clients sharing one upstream audience could each redeem the other's ID tokens.
      const key = `${issuer}\n${audience}`;
      const other = upstreamAudiences.get(key);
      if (other !== undefined) add(`clients[${i}].upstream_client_ids`, `"${audience}" at ${issuer} is also claimed by client "${other}"`);
      upstreamAudiences.set(key, c.client_id);
    }
  });
  s.clients.forEach((c, i) => {
    if (c.oidc && !namespaces.has(c.oidc.subject_namespace)) add(`clients[${i}].oidc.subject_namespace`, `no mappings file defines namespace "${c.oidc.subject_namespace}"`);
    if (c.oidc?.scopes.includes('offline_access') && !c.oidc.grant_types.includes('refresh_token')) add(`clients[${i}].oidc.scopes`, 'offline_access needs the refresh_token grant type');
  });
  s.connections.forEach((c, i) => {
    const schema = c.type === 'oidc' ? oidcConnectionSchema : samlConnectionSchema;
    const { type: _type, display_name: _name, authority: _authority, ...rest } = c;
    const result = schema.safeParse(rest);
    if (!result.success) for (const issue of result.error.issues) add(`connections[${i}]${issue.path.length ? `.${formatPath(issue.path)}` : ''}`, issue.message);
  });
  const connectionIds = new Set<string>();
  s.connections.forEach((c, i) => {
    if (typeof c.id !== 'string') return;
    if (connectionIds.has(c.id)) add(`connections[${i}].id`, `duplicate connection id "${c.id}"`);
    connectionIds.add(c.id);
  });
  // Connections are checked per type above; discovery reads only these three keys of each.
  const discoverable = s.connections.map((c) => ({
    id: String(c.id),
    ...(Array.isArray(c.email_domains) ? { email_domains: c.email_domains.filter((d): d is string => typeof d === 'string') } : {}),
    default: c.default === true,
  }));
  for (const conflict of discoveryConflicts(discoverable)) add(`connections${conflict.at}`, conflict.message);
  const issuers = new Set<string>();
  s.trusted_issuers.forEach((t, i) => {
    if (t.issuer === s.issuer) add(`trusted_issuers[${i}].issuer`, 'the broker trusts itself implicitly; do not list its own issuer');
    if (issuers.has(t.issuer)) add(`trusted_issuers[${i}].issuer`, `duplicate issuer "${t.issuer}"`);
    issuers.add(t.issuer);
  });
}
