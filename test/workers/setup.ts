import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

// Storage is isolated per test file: give each file's D1 the schema (idempotent per file).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
