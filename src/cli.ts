#!/usr/bin/env node
/**
 * The `xaa-broker` command's entry: installed, the package's bin (dist/runtime/cli.js); in this
 * repository `npm run cli -- <command>` (or `npm run check`) runs it from the sources. The commands
 * are in src/cli/commands.ts.
 *
 * `start` needs node started with `--max-semi-space-size` (V8 reads it only at start-up, and
 * `npm start` passes it): without it, this command line is re-run once in a child node that has
 * it, decided here before the commands are loaded so that the waiting parent stays a bare node.
 */
import { spawn } from 'node:child_process';
import { NODE_MAX_SEMI_SPACE_MB } from './constants.js';

const flag = `--max-semi-space-size=${NODE_MAX_SEMI_SPACE_MB}`;
// Any `start` in the arguments (even an option's value): a needless re-run is harmless.
if (process.argv.slice(2).includes('start') && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) rerunWith(flag);
else (await import('./cli/commands.js')).run();

/** Runs this same command line in a child node with `flag` added, passing on signals and its exit. */
function rerunWith(flag: string): void {
  const child = spawn(process.execPath, [flag, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.once('error', (err) => {
    console.error(`xaa-broker will not start: cannot run node with ${flag}: ${err.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1)));
}
