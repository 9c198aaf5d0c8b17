import { describe, expect, it } from 'vitest';
import generated from '../../src/runtime/worker-config.generated.json';
import { bundledConfigFiles } from '../../src/runtime/worker-files.js';
import { buildWorkerBroker } from '../../src/runtime/worker.js';
import { decodePrebuilt, type PrebuiltWorkerConfig } from '../../src/runtime/worker-prebuilt.js';
import { silentLogger } from '../../src/logger.js';
import { workerEnv } from './helpers.js';

/**
 * The Worker takes the configuration validated at build (worker-config.generated.json) only when
 * it was built from the very files the Worker bundles and no ISSUER variable changes the issuer;
 * otherwise it validates its files at the first request, as before. Which one it used shows in
 * the issuer it serves: the prebuilt configuration here carries a marker issuer.
 */
const MARKED = 'https://prebuilt.example';

function marked(): PrebuiltWorkerConfig {
  const prebuilt = decodePrebuilt(generated);
  return { ...prebuilt, config: { ...prebuilt.config, settings: { ...prebuilt.config.settings, issuer: MARKED } } };
}

async function issuerServed(env: ReturnType<typeof workerEnv>, files: typeof bundledConfigFiles, prebuilt: PrebuiltWorkerConfig): Promise<string> {
  const { app } = await buildWorkerBroker(env, { files, prebuilt, logger: silentLogger });
  const res = await app.request('http://localhost:8787/.well-known/oauth-authorization-server');
  expect(res.status).toBe(200);
  return ((await res.json()) as { issuer: string }).issuer;
}

describe('the configuration validated at build (Workers)', () => {
  it('is used when built from the bundled files: no YAML or validation at the first request', async () => {
    expect(await issuerServed(workerEnv(), bundledConfigFiles, marked())).toBe(MARKED);
  });

  it('is ignored when the bundled files differ from those it was built from (stale): the files are validated', async () => {
    const edited = { ...bundledConfigFiles, broker: { ...bundledConfigFiles.broker, text: `${bundledConfigFiles.broker.text}\n# edited after the build\n` } };
    expect(await issuerServed(workerEnv(), edited, marked())).toBe('http://localhost:8787');
  });

  it('is ignored when ISSUER names another issuer: the files are validated with it', async () => {
    expect(await issuerServed({ ...workerEnv(), ISSUER: 'https://broker.example.com' }, bundledConfigFiles, marked())).toBe('https://broker.example.com');
  });
});
