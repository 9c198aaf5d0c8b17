/**
 * Builds src/runtime/worker-config.generated.json: the Worker's bundled configuration, parsed
 * and validated here instead of at the first request, and Cedar's answers to the policy set's
 * validation calls (src/runtime/worker-prebuilt.ts says how the Worker uses them, and when not).
 * wrangler.toml's `[build]` runs it before every `wrangler dev` / `wrangler deploy`.
 *
 *   npx tsx scripts/build-worker-config.ts          write it
 *   npx tsx scripts/build-worker-config.ts --check  exit 1 if the committed one is stale
 *
 * The files are those src/runtime/worker-files.ts bundles (test/workers/entry.test.ts keeps that
 * list equal to the directories): broker.config.yaml, mappings/*.yaml, policies/*.cedar and the
 * schema, read here in the same order and under the same paths.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { ConfigFile, ConfigFiles } from '../src/config/load.js';
import { createPolicyEngine } from '../src/policy/cedar-engine.js';
import { loadWorkerConfig } from '../src/runtime/worker-config.js';
import { configFilesDigest, encodePrebuilt, recordingCedar, type PrebuiltWorkerConfig } from '../src/runtime/worker-prebuilt.js';

const root = join(import.meta.dirname, '..');
export const GENERATED = join(root, 'src/runtime/worker-config.generated.json');

/** The files the Worker bundles, read from disk. */
export function workerConfigFiles(): ConfigFiles {
  const read = (path: string): ConfigFile => ({ path, text: readFileSync(join(root, path), 'utf8') });
  const list = (dir: string, ext: string) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .filter((f) => f.endsWith(ext))
          .sort()
          .map((f) => read(`${dir}/${f}`))
      : [];
  const schema = list('policies', '.cedarschema')[0];
  return { broker: read('broker.config.yaml'), mappings: list('mappings', '.yaml'), policies: list('policies', '.cedar'), ...(schema ? { schema } : {}) };
}


/** The generated module's text for the files on disk. Throws ConfigError as the Worker would. */
export async function generatedWorkerConfig(): Promise<string> {
  const files = workerConfigFiles();
  const config = loadWorkerConfig(files);
  const recording = recordingCedar(cedar);
  createPolicyEngine(recording.cedar, config.policies);
  const prebuilt: PrebuiltWorkerConfig = { digest: await configFilesDigest(files), config, cedar: recording.answers };
  return `${encodePrebuilt(prebuilt)}\n`;
}

const isMain = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isMain) {
  const text = await generatedWorkerConfig();
  const current = existsSync(GENERATED) ? readFileSync(GENERATED, 'utf8') : '';
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error('src/runtime/worker-config.generated.json is stale: run `npm run build:worker-config`');
      process.exit(1);
    }
  } else if (current !== text) {
    writeFileSync(GENERATED, text);
    console.error('wrote src/runtime/worker-config.generated.json');
  }
}
