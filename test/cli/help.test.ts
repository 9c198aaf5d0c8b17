/**
 * `xaa-broker --help` (issue 9 §6): the one screen an operator reads lists every command with its
 * description and every option of each command with its own description. The commands and options
 * are read from the program itself, so a command added later without descriptions fails here.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { program } from '../../src/cli/commands.js';

const root = join(import.meta.dirname, '../..');
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
/** Commander wraps long lines to the terminal width: compare with whitespace collapsed. */
const flat = (text: string) => text.replace(/\s+/g, ' ');

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
}

describe('xaa-broker --help', () => {
  it('lists every command with its description and every option of each command with its description, and exits 0', () => {
    const r = cli(['--help']);
    expect(r.status, r.stderr).toBe(0);
    const help = flat(r.stdout);
    expect(program.commands.length).toBeGreaterThan(5);
    for (const command of program.commands) {
      expect(command.description(), command.name()).not.toBe('');
      expect(help).toContain(`${command.name()}`);
      expect(help).toContain(flat(command.description()));
      for (const option of command.options) {
        expect(option.description, `${command.name()} ${option.flags}`).not.toBe('');
        expect(help).toContain(`${command.name()} ${option.flags}`);
        expect(help).toContain(flat(option.description));
      }
    }
  }, 30_000);

  it('has a start command that takes --config, and its own help says so', () => {
    expect(program.commands.map((c) => c.name())).toContain('start');
    const r = cli(['start', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-c, --config <file>/);
    expect(flat(r.stdout)).toContain('run the broker');
  }, 30_000);
});
