import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import * as samlify from 'samlify';

// Each file starts from an empty D1 with the schema: the files share one isolate and its D1, one file
// at a time (vitest.workers.config.ts), so what the previous file wrote is dropped first.
const tables = await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).all<{ name: string }>();
if (tables.results.length > 0) await env.DB.batch(['PRAGMA defer_foreign_keys = ON', ...tables.results.map((t) => `DROP TABLE IF EXISTS "${t.name}"`)].map((q) => env.DB.prepare(q)));
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// samlify's schema validator is global to the isolate: a file that let the test IdP parse
// (testIdpParses) must not leave it to the next. A Worker registers none, so samlify refuses to parse.
samlify.setSchemaValidator({ validate: () => Promise.reject(new Error('no schema validator on Workers')) });
