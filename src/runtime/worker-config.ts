import { parseDocument } from 'yaml';
import { loadConfig, type ConfigFiles } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';

/**
 * Loads the bundled configuration for the Worker. An `ISSUER` variable replaces `issuer` in
 * the broker config before validation, so the usual checks (URL shape, not listed as a
 * trusted issuer, …) apply to the value actually served. Throws ConfigError.
 */
export function loadWorkerConfig(files: ConfigFiles, issuer?: string): BrokerConfig {
  if (!issuer) return loadConfig(files);
  const doc = parseDocument(files.broker.text);
  // A broken file is reported by loadConfig with its position; only patch a parsed mapping.
  if (doc.errors.length === 0 && doc.contents && typeof doc.contents === 'object' && 'set' in doc.contents) doc.set('issuer', issuer);
  return loadConfig({ ...files, broker: { path: `${files.broker.path} (issuer from ISSUER)`, text: doc.errors.length === 0 ? String(doc) : files.broker.text } });
}
