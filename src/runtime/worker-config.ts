import { parseDocument } from 'yaml';
import { ConfigError, loadConfig, type ConfigFiles, type ConfigProblem } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';

/**
 * Loads the bundled configuration for the Worker. An `ISSUER` variable replaces `issuer` in
 * the broker config before validation, so the usual checks (URL shape, not listed as a
 * trusted issuer, …) apply to the value actually served. Throws ConfigError.
 */
export function loadWorkerConfig(files: ConfigFiles, issuer?: string): BrokerConfig {
  return withoutFiles(loadWithIssuer(files, issuer), files);
}

/**
 * What the configuration may ask of Node but not of a Worker, which has no file system: a SAML
 * connection's `idp_metadata_file`. Refused here, at build (scripts/build-worker-config.ts) and
 * at the first request, rather than as an unreadable file when the broker starts.
 */
function withoutFiles(config: BrokerConfig, files: ConfigFiles): BrokerConfig {
  const problems: ConfigProblem[] = config.settings.connections.flatMap((c, i) =>
    c.type === 'saml' && c.idp_metadata_file !== undefined
      ? [{ file: files.broker.path, at: `connections[${i}].idp_metadata_file`, message: 'a Worker has no file system: use idp_metadata_url, or put the metadata itself in idp_metadata_xml' }]
      : [],
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function loadWithIssuer(files: ConfigFiles, issuer?: string): BrokerConfig {
  if (!issuer) return loadConfig(files);
  const doc = parseDocument(files.broker.text);
  // A broken file is reported by loadConfig with its position; only patch a parsed mapping.
  if (doc.errors.length === 0 && doc.contents && typeof doc.contents === 'object' && 'set' in doc.contents) doc.set('issuer', issuer);
  try {
    return loadConfig({ ...files, broker: { ...files.broker, text: doc.errors.length === 0 ? String(doc) : files.broker.text } });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const causedByIssuer = issuerProblems(err.problems, files);
    throw new ConfigError(err.problems.map((p) => (causedByIssuer(p) ? { ...p, file: `${p.file} (issuer from ISSUER)` } : p)));
  }
}

/**
 * Which problems the ISSUER value caused: those about `issuer` itself, and those the files without
 * the override do not have (e.g. ISSUER equal to a trusted issuer). The rest are the file's own.
 */
function issuerProblems(problems: readonly ConfigProblem[], files: ConfigFiles): (p: ConfigProblem) => boolean {
  const key = (p: ConfigProblem) => `${p.file}\n${p.at}\n${p.message}`;
  let own = new Set<string>();
  try {
    loadConfig(files);
  } catch (err) {
    if (err instanceof ConfigError) own = new Set(err.problems.map(key));
  }
  return (p) => p.file === files.broker.path && (p.at === 'issuer' || !own.has(key(p)));
}
