/**
 * Errors operators see (issue 6 §5): a configuration file that is not there is one clear line
 * naming XAA_CONFIG or the default path, a non-zero exit and no stack trace, like the other
 * start-up errors (node-errors.test.ts). Spawns the process as `npm start` does.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, runBroker } from '../helpers/process.js';

const root = join(import.meta.dirname, '../..');
const tempDir = () => mkdtempSync(join(tmpdir(), 'xaa-config-'));

describe('npm start: the configuration file', () => {
  it('XAA_CONFIG naming a file that does not exist: one line naming the file and XAA_CONFIG', async () => {
    const missing = join(tempDir(), 'nowhere', 'broker.config.yaml');
    const line = oneLine(await runBroker({ XAA_CONFIG: missing }));
    expect(line).toBe(`xaa-broker will not start: config file ${missing} does not exist; check XAA_CONFIG`);
  });

  it('no XAA_CONFIG and no broker.config.yaml where it starts: one line naming the default path and XAA_CONFIG', async () => {
    const dir = tempDir();
    const line = oneLine(await runBroker({}, dir));
    expect(line).toBe(`xaa-broker will not start: config file ${join(dir, 'broker.config.yaml')} does not exist (the default: broker.config.yaml in the working directory); start from the directory that holds it or set XAA_CONFIG to its path`);
  });

  it('XAA_CONFIG naming a directory: one line saying so', async () => {
    const dir = join(tempDir(), 'conf');
    mkdirSync(dir);
    const line = oneLine(await runBroker({ XAA_CONFIG: dir }));
    expect(line).toBe(`xaa-broker will not start: config file ${dir} is a directory, not a file; check XAA_CONFIG`);
  });
});

describe('npm run cli: the configuration file', () => {
  it('a --config that does not exist: one line naming the file and --config, exit 1, no stack', () => {
    const missing = join(tempDir(), 'nowhere.yaml');
    const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli.ts'), '--config', missing, 'check'], { cwd: root, encoding: 'utf8' });
    expect(oneLine({ code: r.status, stdout: r.stdout, stderr: r.stderr })).toBe(`config file ${missing} does not exist; check --config`);
  });
});
