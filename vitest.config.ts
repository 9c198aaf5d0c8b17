import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/workers/**', 'node_modules/**'],
    testTimeout: 20_000,
    // Set-up hooks generate RSA keys (SAML tests): seconds on a loaded 2-core machine.
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
