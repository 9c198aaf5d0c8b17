import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';

const root = join(import.meta.dirname, '../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm start`'s command (src/runtime/node.ts under tsx) from `cwd` to its end, with only the
 * broker settings named in `env` (none inherited from the shell that runs the tests).
 */
export function runBroker(env: Record<string, string>, cwd = root): Promise<Run> {
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
export function oneLine(r: Run): string {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  for (const out of [r.stdout, r.stderr]) expect(out).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

/**
 * Starts a long-running process (a broker), collecting its output lines; `waitFor` polls them for
 * a pattern (up to 15 s) and returns everything printed so far.
 */
export function startProcess(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 300 && !lines.some((l) => re.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
    return lines.join('\n');
  };
  return { child, lines, exited, waitFor };
}
