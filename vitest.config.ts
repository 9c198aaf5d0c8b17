import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/workers/**', 'node_modules/**'],
    testTimeout: 20_000,
    // Set-up hooks generate RSA keys (SAML tests): seconds on a loaded 2-core machine.
    hookTimeout: 60_000,
    pool: 'forks',
    // A throwaway PostgreSQL server for the PostgreSQL store's tests (test/store/pg-*.test.ts and others).
    globalSetup: ['test/helpers/pg-server.ts'],
  },
});
