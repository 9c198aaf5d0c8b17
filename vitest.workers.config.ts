import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * The workerd suite (test/workers): tests run inside workerd with the Worker from wrangler.toml
 * (Text/CompiledWasm rules, the DB binding). Storage is isolated per test file; setup.ts applies
 * migrations/ to each file's D1 before it runs.
 */
const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const listed = (dir: string, ...exts: string[]) =>
  readdirSync(root(dir))
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort()
    .map((f) => `${dir}/${f}`);

export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(root('./migrations')),
          // What the bundled file list (src/runtime/worker-files.ts) must match.
          CONFIG_FILES_ON_DISK: ['broker.config.yaml', ...listed('mappings', '.yaml', '.yml'), ...listed('policies', '.cedar', '.cedarschema')],
        },
      },
    })),
  ],
  resolve: {
    alias: {
      // Not in the package's `exports`: wrangler's module rules resolve it, Vite needs the path.
      '@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm': root('./node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm'),
    },
  },
  test: {
    include: ['test/workers/**/*.test.ts'],
    setupFiles: ['test/workers/setup.ts'],
    testTimeout: 20_000,
    // Each test file loads the Worker's module graph afresh; prebundling the larger dependencies
    // saves a few seconds per file.
    deps: { optimizer: { ssr: { enabled: true, include: ['zod', 'yaml', 'jose', 'hono', 'lru-cache'] } } },
  },
});
