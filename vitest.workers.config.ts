import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * The workerd suite (test/workers): tests run inside workerd with the Worker from wrangler.toml
 * (Text/CompiledWasm rules, the DB binding). The files run one after another in one isolate that
 * keeps its module graph (loading it afresh for each file cost 4-6 s a file, 85 % of this suite's
 * time); each file still starts from an empty D1 with the schema (setup.ts), and D1 is the only
 * storage the Worker binds.
 */
const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const listed = (dir: string, ...exts: string[]) =>
  readdirSync(root(dir))
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort()
    .map((f) => `${dir}/${f}`);

/** Key pairs the SAML test files ask for by common name (test/upstream/saml/helpers.ts and the files below). */
const SAML_TEST_KEY_NAMES: [string, 'rsa' | 'ec'][] = [
  ['Test IdP', 'rsa'],
  ['Test IdP (next key)', 'rsa'],
  ['Attacker', 'rsa'],
  ['Broker SP signing', 'rsa'],
  ['Broker SP encryption', 'rsa'],
  ['EC IdP', 'ec'],
  ['EC SP', 'ec'],
  ['Test Federation metadata signer', 'rsa'],
  ['Another federation', 'rsa'],
];

async function samlTestKeys(): Promise<Record<string, { key: string; cert: string }>> {
  const { makeKeyPair } = await import('./test/upstream/saml/key-pairs.js');
  const pairs = await Promise.all(SAML_TEST_KEY_NAMES.map(async ([cn, keyType]) => [`${cn}|${keyType}`, await makeKeyPair(cn, { keyType })] as const));
  return Object.fromEntries(pairs);
}

/** SAML test files that run on Node (vitest.config.ts) and, unchanged, here on workerd. */
const SAML_ON_BOTH_RUNTIMES = [
  'test/upstream/saml/attacks.test.ts',
  'test/upstream/saml/xsw.test.ts',
  'test/upstream/saml/limits.test.ts',
  'test/upstream/saml/connection.test.ts',
  'test/upstream/saml/signature-digest.test.ts',
  'test/upstream/saml/session-not-on-or-after.test.ts',
  'test/upstream/saml/metadata-source.test.ts',
  'test/upstream/saml/slo.test.ts',
  'test/upstream/saml/slo-shapes.test.ts',
  'test/upstream/saml/decryption-key.test.ts',
];

export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(root('./migrations')),
          // workerd cannot run the certificate generator the SAML tests use on Node (test/workers/saml-runtime.ts).
          SAML_TEST_KEYS: await samlTestKeys(),
          // What the bundled file list (src/runtime/worker-files.ts) must match.
          CONFIG_FILES_ON_DISK: ['broker.config.yaml', ...listed('mappings', '.yaml', '.yml'), ...listed('policies', '.cedar', '.cedarschema')],
        },
      },
    })),
  ],
  resolve: {
    alias: [
      // Not in the package's `exports`: wrangler's module rules resolve it, Vite needs the path.
      { find: '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm', replacement: root('./node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm') },
      // The SAML test files below verify as the Worker does (in the isolate), not on Node's threads.
      { find: /^\.\/saml-test-runtime\.js$/, replacement: root('./test/workers/saml-test-runtime.ts') },
    ],
  },
  test: {
    include: ['test/workers/**/*.test.ts', ...SAML_ON_BOTH_RUNTIMES],
    setupFiles: ['test/workers/setup.ts'],
    testTimeout: 20_000,
    // One module graph for every file, files one at a time: setup.ts empties the one D1 they share.
    isolate: false,
    fileParallelism: false,
    // Each test file loads the Worker's module graph afresh; prebundling the larger dependencies
    // saves a few seconds per file.
    deps: { optimizer: { ssr: { enabled: true, include: ['zod', 'yaml', 'jose', 'hono', 'lru-cache'] } } },
  },
});
