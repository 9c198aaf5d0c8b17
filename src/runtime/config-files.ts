import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type ConfigFile } from '../config/load.js';
import type { BrokerConfig } from '../config/schema.js';

export const DEFAULT_CONFIG_PATH = 'broker.config.yaml';

function read(path: string): ConfigFile {
  return { path: relative(process.cwd(), path) || path, text: readFileSync(path, 'utf8') };
}

function listFiles(dir: string, ext: string): ConfigFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => read(join(dir, f)));
}

/** Reads broker.config.yaml plus the mappings/ and policies/ it names, then validates them all. */
export function loadConfigFromDisk(configPath = process.env.XAA_CONFIG ?? DEFAULT_CONFIG_PATH): { config: BrokerConfig; baseDir: string } {
  const absolute = resolve(configPath);
  const baseDir = dirname(absolute);
  const broker = read(absolute);
  // The directories are settings inside the file; read them before full validation (which reports any mistake).
  const { mappingsDir: dirs, policiesDir: pdir } = directoriesOf(broker.text);
  const policyDir = resolve(baseDir, pdir);
  const schemas = listFiles(policyDir, '.cedarschema');
  const config = loadConfig({
    broker,
    mappings: [...listFiles(resolve(baseDir, dirs), '.yaml'), ...listFiles(resolve(baseDir, dirs), '.yml')],
    policies: listFiles(policyDir, '.cedar'),
    ...(schemas[0] ? { schema: schemas[0] } : {}),
  });
  resolveMetadataFiles(config, baseDir);
  return { config, baseDir };
}

function directoriesOf(text: string): { mappingsDir: string; policiesDir: string } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    doc = undefined;
  }
  const get = (key: string, fallback: string) => {
    const v = doc && typeof doc === 'object' ? (doc as Record<string, unknown>)[key] : undefined;
    return typeof v === 'string' ? v : fallback;
  };
  return { mappingsDir: get('mappings_dir', 'mappings'), policiesDir: get('policies_dir', 'policies') };
}

/** A relative `idp_metadata_file` names a file beside the configuration, wherever the broker is started from. */
function resolveMetadataFiles(config: BrokerConfig, baseDir: string): void {
  for (const c of config.settings.connections) {
    if (c.type === 'saml' && typeof c.idp_metadata_file === 'string') c.idp_metadata_file = resolve(baseDir, c.idp_metadata_file);
  }
}
