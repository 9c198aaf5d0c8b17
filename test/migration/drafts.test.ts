import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfigFromDisk } from '../../src/runtime/config-files.js';
import { SP_FIXTURES } from './saml-fixtures.js';

/**
 * Item 1 of issue 10: the draft `import-sp-metadata` prints loads as printed. For every SP metadata
 * fixture: run the CLI, make exactly the edits the output asks for (append the client under
 * `clients:`, save the namespace document as mappings/<namespace>.yaml), then load the result
 * through the real configuration loader and through `check` (the CLI command `npm run check` runs).
 */

const root = join(import.meta.dirname, '../..');
const run = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/** A minimal broker configuration the drafts are added to (policies: the repository's). */
function baseConfig(dir: string): Record<string, unknown> {
  mkdirSync(join(dir, 'mappings'), { recursive: true });
  return { issuer: 'https://broker.example.org', database: 'broker.sqlite', policies_dir: join(root, 'policies'), clients: [] };
}

/** Exactly the edits the draft asks for: its client appended under `clients:`, its namespace document saved where it says. */
function applyDraft(dir: string, config: Record<string, unknown>, draft: string): { clientId: string; namespace: string } {
  const docs = parseAllDocuments(draft);
  expect(docs).toHaveLength(2);
  for (const d of docs) expect(d.errors).toEqual([]);
  const [clientText, nsText] = draft.split(/^---$/m) as [string, string];
  expect(clientText).toMatch(/append this entry under clients:/);
  const clients = docs[0]!.toJS() as Array<{ client_id: string }>;
  (config.clients as unknown[]).push(...clients);
  const file = /mappings\/([^\s]+\.yaml)/.exec(nsText)?.[1];
  expect(file, 'the namespace document names its file').toBeDefined();
  const ns = docs[1]!.toJS() as { namespace: string };
  writeFileSync(join(dir, 'mappings', file!), nsText);
  return { clientId: clients[0]!.client_id, namespace: ns.namespace };
}

const drafts = new Map<string, Promise<{ code: number; stdout: string; stderr: string }>>();
const draftOf = (path: string) => {
  if (!drafts.has(path)) drafts.set(path, run('import-sp-metadata', path));
  return drafts.get(path)!;
};

describe('import-sp-metadata drafts load as printed', () => {
  it.each(SP_FIXTURES.map((f) => [f.name, f.path]))('%s: the draft loads through the configuration loader', async (_name, path) => {
    const draft = await draftOf(path);
    expect(draft.code, draft.stderr).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'xaa-draft-'));
    const config = baseConfig(dir);
    const { clientId, namespace } = applyDraft(dir, config, draft.stdout);
    writeFileSync(join(dir, 'broker.config.yaml'), stringify(config));
    const { config: loaded } = loadConfigFromDisk(join(dir, 'broker.config.yaml'));
    const client = loaded.settings.clients.find((c) => c.client_id === clientId)!;
    expect(client.oidc?.subject_namespace).toBe(namespace);
    expect(loaded.namespaces.has(namespace)).toBe(true);
  }, 60_000);

  it('every fixture draft together passes `check`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xaa-drafts-'));
    const config = baseConfig(dir);
    for (const f of SP_FIXTURES) {
      const draft = await draftOf(f.path);
      expect(draft.code, draft.stderr).toBe(0);
      applyDraft(dir, config, draft.stdout);
    }
    writeFileSync(join(dir, 'broker.config.yaml'), stringify(config));
    const check = await run('--config', join(dir, 'broker.config.yaml'), 'check');
    expect(check.stderr).not.toMatch(/invalid/);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`configuration is valid: ${SP_FIXTURES.length} clients`));
  }, 120_000);

  it('prints the generated client secret once, on stderr, never in the draft', async () => {
    const draft = await draftOf(SP_FIXTURES[0]!.path);
    const secret = /client secret[^:]*: (\S+)/i.exec(draft.stderr)?.[1];
    expect(secret, draft.stderr).toBeDefined();
    expect(draft.stdout).not.toContain(secret!);
    const client = (parse(draft.stdout.split(/^---$/m)[0]!) as Array<Record<string, unknown>>)[0]!;
    expect(client.client_secret_hash).toMatch(/^pbkdf2-sha256\$/);
  }, 60_000);
});
