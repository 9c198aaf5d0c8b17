/**
 * Every CLI error is one line on stderr and a non-zero exit, with no stack trace (issue 9 §6):
 * commander's own errors (unknown command or option, missing option or argument) as well as the
 * commands' (an unreadable configuration, a malformed input file).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { oneLine } from '../helpers/process.js';

const root = join(import.meta.dirname, '../..');
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const tempDir = () => mkdtempSync(join(tmpdir(), 'xaa-cli-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, XAA_CONFIG: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('xaa-broker: errors are one line and a non-zero exit', () => {
  it('an unknown command', () => {
    expect(oneLine(cli(['frobnicate']))).toBe("error: unknown command 'frobnicate'");
  }, 30_000);

  it('a misspelt command: the suggestion stays on the same line', () => {
    expect(oneLine(cli(['chek']))).toBe("error: unknown command 'chek' (Did you mean check?)");
  }, 30_000);

  it('an unknown option', () => {
    expect(oneLine(cli(['check', '--frobnicate']))).toMatch(/^error: unknown option '--frobnicate'/);
  }, 30_000);

  it('a missing required option', () => {
    expect(oneLine(cli(['remap', '--namespace', 'wiki']))).toBe("error: required option '--issuer <upstream issuer>' not specified");
  }, 30_000);

  it('a missing argument', () => {
    expect(oneLine(cli(['import-mappings']))).toBe("error: missing required argument 'file'");
  }, 30_000);

  it('a --config naming a directory (unreadable as a file)', () => {
    const dir = tempDir();
    expect(oneLine(cli(['--config', dir, 'check']))).toBe(`config file ${dir} is a directory, not a file; check --config`);
  }, 30_000);

  it('a configuration that is not YAML: one line naming the file', () => {
    const file = join(tempDir(), 'broker.config.yaml');
    writeFileSync(file, 'issuer: [unclosed\n  port: : :\n');
    const line = oneLine(cli(['check', '--config', file]));
    expect(line).toMatch(/^configuration is invalid: .*broker\.config\.yaml/);
  }, 30_000);

  it('a configuration with several problems: still one line, every problem on it', () => {
    const file = join(tempDir(), 'broker.config.yaml');
    writeFileSync(file, 'issuer: not a url\nport: -1\n');
    const line = oneLine(cli(['check', '--config', file]));
    expect(line).toMatch(/^configuration is invalid: .*issuer.*; .*port/);
  }, 30_000);

  it('a malformed input file (import-mappings): one line naming what is wrong', () => {
    const file = join(tempDir(), 'table.yaml');
    writeFileSync(file, 'namespace: wiki\nversion: zero\nrows: []\n');
    const line = oneLine(cli(['import-mappings', file], { XAA_DATABASE: join(tempDir(), 'db.sqlite') }));
    expect(line).toMatch(/version/);
  }, 30_000);
});
