import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/** The demo configuration in a temporary directory, its policies/ holding the demo files plus `extra`. */
function configWithPolicy(name: string, extra: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-check-'));
  mkdirSync(join(dir, 'policies'));
  copyFileSync(join(root, 'policies/demo.cedar'), join(dir, 'policies/demo.cedar'));
  copyFileSync(join(root, 'policies/xaa.cedarschema'), join(dir, 'policies/xaa.cedarschema'));
  writeFileSync(join(dir, 'policies', name), extra);
  const config = join(dir, 'broker.config.yaml');
  writeFileSync(config, `${readFileSync(join(root, 'broker.config.yaml'), 'utf8')}\nmappings_dir: ${join(root, 'mappings')}\n`);
  return config;
}

function check(config: string): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check', '-c', config], { cwd: root }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('npm run check: Cedar errors name the policy file and the line in that file', () => {
  it('a syntax error in the second of two policy files', async () => {
    const r = await check(configWithPolicy('extra.cedar', '// an extra rule\n\npermit(principal, action, resource) when { x };\n'));
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/policies\/extra\.cedar line 3:44: .*invalid variable: x/);
  }, 30_000);

  it('a validation error in the second of two policy files', async () => {
    const r = await check(configWithPolicy('extra.cedar', '\n@id("typo")\npermit(principal, action, resource) when { resource.nam == "todos.read" };\n'));
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/policy "typo" .*policies\/extra\.cedar line 3:44: .*attribute `nam`/);
  }, 30_000);
});
