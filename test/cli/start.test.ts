/**
 * `xaa-broker start` (issue 9 §6): runs the broker with the --config it is given, in a node that
 * has `npm start`'s start-up V8 flag (it re-runs itself with it), and a SIGTERM to the command
 * stops the broker it runs; a configuration that cannot be read is one line and exit 1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const PORT = 18963;

function start(args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env, PORT: String(PORT), XAA_DATABASE: join(mkdtempSync(join(tmpdir(), 'xaa-cli-start-')), 'broker.sqlite'), LOG_LEVEL: 'silent', NODE_OPTIONS: '' };
  delete env.XAA_CONFIG;
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), ...args], { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 600 && !lines.some((l) => re.test(l)) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    return lines.join('\n');
  };
  return { child, lines, exited, waitFor };
}

/** The command line of each child process of `pid` (Linux /proc). */
function childCommandLines(pid: number): string[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return children.map((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' '));
}

describe('xaa-broker start', () => {
  it('runs the broker of --config (from any directory) in a node with --max-semi-space-size=4; SIGTERM to the command stops it, exit 0', async () => {
    const s = start(['start', '--config', join(root, 'broker.config.yaml')]);
    try {
      const out = await s.waitFor(/^metadata:/);
      expect(out).toMatch(new RegExp(`^xaa-broker listening on port ${PORT} \\(ready in \\d+ ms\\)$`, 'm'));
      const metadata = (await (await fetch(`http://127.0.0.1:${PORT}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      expect(metadata.issuer).toBe('http://localhost:8787');
      const [broker] = childCommandLines(s.child.pid!);
      expect(broker).toContain('--max-semi-space-size=4');
      expect(broker).toContain('src/cli.ts start --config');
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      await expect(fetch(`http://127.0.0.1:${PORT}/.well-known/oauth-authorization-server`)).rejects.toThrow();
    } finally {
      // Still running after a failed expectation: SIGTERM, which the command passes on to the broker.
      if (s.child.exitCode === null) s.child.kill('SIGTERM');
    }
  }, 60_000);

  it('a --config that does not exist: one line naming it and --config, exit 1', async () => {
    const missing = join(tmpdir(), 'xaa-nowhere', 'broker.config.yaml');
    const s = start(['start', '--config', missing]);
    expect(await s.exited).toBe(1);
    expect(s.lines).toEqual([`xaa-broker will not start: config file ${missing} does not exist; check --config`]);
  }, 60_000);
});
