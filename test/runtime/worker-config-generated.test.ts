import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED, generatedWorkerConfig, workerConfigFiles } from '../../scripts/build-worker-config.js';
import { loadWorkerConfig } from '../../src/runtime/worker-config.js';
import { decodePrebuilt } from '../../src/runtime/worker-prebuilt.js';

/**
 * The Worker's configuration validated at build (src/runtime/worker-config.generated.json):
 * committed, so it must be what the generator writes for the files on disk today, and it must
 * carry the very configuration loading the YAML gives.
 */
describe('the Worker configuration validated at build', () => {
  it('is up to date with broker.config.yaml, mappings/ and policies/ (else: npm run build:worker-config)', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(await generatedWorkerConfig());
  });

  it('decodes to the configuration loading the YAML gives, Maps included', () => {
    const prebuilt = decodePrebuilt(JSON.parse(readFileSync(GENERATED, 'utf8')));
    const loaded = loadWorkerConfig(workerConfigFiles());
    expect(prebuilt.config).toEqual(loaded);
    expect(prebuilt.config.namespaces).toBeInstanceOf(Map);
    expect(Object.keys(prebuilt.cedar).sort()).toEqual(['checkParsePolicySet', 'checkParseSchema', 'validate']);
  });
});
