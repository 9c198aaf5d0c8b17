// Start-up time of the Node broker: process spawn → the "listening" line → first metadata answer.
// Usage: node scripts/start-time.mjs [runs] -- <command…>   (default: npm start)
// A fresh SQLite file per run (XAA_DATABASE), so key generation on first start is included.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const sep = process.argv.indexOf('--');
const runs = Number(process.argv[2] && process.argv[2] !== '--' ? process.argv[2] : 5);
const command = sep > 0 ? process.argv.slice(sep + 1) : ['npm', 'start', '--silent'];
const port = 18900 + Math.floor(Math.random() * 50);

async function once() {
  const dir = mkdtempSync(join(tmpdir(), 'xaa-start-time-'));
  const t0 = performance.now();
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, PORT: String(port), XAA_DATABASE: join(dir, 'broker.sqlite'), LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const listening = await new Promise((ok, fail) => {
    createInterface({ input: child.stdout }).on('line', (l) => l.startsWith('xaa-broker listening') && ok(performance.now() - t0));
    child.once('exit', (code) => fail(new Error(`exited ${code}`)));
  });
  const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
  await res.arrayBuffer();
  const answered = performance.now() - t0;
  process.kill(-child.pid, 'SIGTERM');
  await new Promise((ok) => child.once('exit', ok));
  rmSync(dir, { recursive: true, force: true });
  return { listening, answered };
}

const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${command.join(' ')}: ${runs} runs`);
console.log(`  listening: median ${median(results.map((r) => r.listening)).toFixed(0)} ms  (${results.map((r) => r.listening.toFixed(0)).join(', ')})`);
console.log(`  first metadata answer: median ${median(results.map((r) => r.answered)).toFixed(0)} ms`);
