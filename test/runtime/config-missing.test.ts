/**
 * Errors operators see (issue 6 §5): a configuration file that is not there is one clear line
 * naming XAA_CONFIG or the default path, a non-zero exit and no stack trace, like the other
 * start-up errors (node-errors.test.ts). Spawns the process as `npm start` does.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const tempDir = () => mkdtempSync(join(tmpdir(), 'xaa-config-'));

/** `npm start`'s command, from `cwd`, with only the settings named in `env`. */
function run(env: Record<string, string>, cwd = root): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const all: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'silent', ...env };
  for (const name of ['XAA_CONFIG', 'XAA_DATABASE', 'HOST', 'PORT']) if (!(name in env)) delete all[name];
  // Absolute paths, so the process can start from a directory without node_modules.
  const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/runtime/node.ts')], { cwd, env: all, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill(), 25_000);
  return new Promise((done) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    }),
  );
}

/** One line on stderr, no stack trace anywhere, a non-zero exit: returns that line. */
function oneLine(r: { code: number | null; stdout: string; stderr: string }): string {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  for (const out of [r.stdout, r.stderr]) expect(out).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('npm start: the configuration file', () => {
  it('XAA_CONFIG naming a file that does not exist: one line naming the file and XAA_CONFIG', async () => {
    const missing = join(tempDir(), 'nowhere', 'broker.config.yaml');
    const line = oneLine(await run({ XAA_CONFIG: missing }));
    expect(line).toBe(`xaa-broker will not start: config file ${missing} does not exist; check XAA_CONFIG`);
  });

  it('no XAA_CONFIG and no broker.config.yaml where it starts: one line naming the default path and XAA_CONFIG', async () => {
    const dir = tempDir();
    const line = oneLine(await run({}, dir));
    expect(line).toBe(`xaa-broker will not start: config file ${join(dir, 'broker.config.yaml')} does not exist (the default: broker.config.yaml in the working directory); start from the directory that holds it or set XAA_CONFIG to its path`);
  });

  it('XAA_CONFIG naming a directory: one line saying so', async () => {
    const dir = join(tempDir(), 'conf');
    mkdirSync(dir);
    const line = oneLine(await run({ XAA_CONFIG: dir }));
    expect(line).toBe(`xaa-broker will not start: config file ${dir} is a directory, not a file; check XAA_CONFIG`);
  });
});
