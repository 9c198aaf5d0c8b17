/**
 * Workers names the suite uses, declared against the DOM lib the rest of the project is typed
 * with (the global @cloudflare/workers-types would replace it and re-type src/). The Worker's
 * bindings are in Cloudflare.Env, which `env` from cloudflare:workers / cloudflare:test has.
 */
import type { D1Database as WorkersD1Database } from '@cloudflare/workers-types';
import type { ExecutionContext as HonoExecutionContext } from 'hono';
import type { D1Migration } from 'cloudflare:test';

declare global {
  type D1Database = WorkersD1Database;
  type ExecutionContext = HonoExecutionContext;
  namespace Cloudflare {
    interface Env {
      DB: WorkersD1Database;
      ISSUER?: string;
      TEST_MIGRATIONS: D1Migration[];
      CONFIG_FILES_ON_DISK: string[];
      /** Key pairs for the SAML tests, by `common name|key type` (vitest.workers.config.ts). */
      SAML_TEST_KEYS: Record<string, { key: string; cert: string }>;
    }
  }
}
