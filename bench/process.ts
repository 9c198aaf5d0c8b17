/**
 * The bench's side of a target process: spawning it (each target in its own process), waiting
 * until it listens (the spawn → listening time is reported), and reading its CPU time and RSS.
 *
 * CPU and RSS come from /proc/<pid>/stat (utime + stime) and /proc/<pid>/status (VmRSS), so the
 * target runs unmodified. Where /proc is absent (macOS), the target is started with
 * bench/probe.ts preloaded and answers process.cpuUsage() and RSS over an IPC channel.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

const HAS_PROC = existsSync('/proc/self/stat');
const CLK_TCK = (() => {
  if (!HAS_PROC) return 100;
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** How long a target may take to listen before the bench gives up. */
const START_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 5;

export interface Target {
  name: string;
  pid: number;
  port: number;
  /** Spawn → the port accepts connections, in ms. */
  startupMs: number;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): Promise<number>;
  /** Resident set size now, bytes. */
  rssBytes(): Promise<number>;
  stop(): void;
}

/** A free loopback port (released just before the target binds it). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      ok(true);
    });
    socket.once('error', () => ok(false));
  });
}

/**
 * Spawns `node [--import tsx] entry` with PORT set and waits until the port accepts a connection.
 * Its stdout goes to /dev/null (the broker's production logger writes there, as in a deployment
 * that discards logs); stderr is kept for the error message if it exits.
 */
export async function spawnTarget(name: string, o: { args: string[]; env?: Record<string, string>; cwd?: string }): Promise<Target> {
  const port = await freePort();
  const probe = HAS_PROC ? [] : ['--import', join(import.meta.dirname, 'probe.ts')];
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [...probe, ...o.args], {
    cwd: o.cwd ?? join(import.meta.dirname, '..'),
    env: { ...process.env, ...o.env, PORT: String(port) },
    stdio: ['ignore', devNull, 'pipe', ...(HAS_PROC ? [] : ['ipc' as const])],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
  while (!(await accepts(port))) {
    if (exited !== undefined) throw new Error(`${name} exited with ${exited} before listening: ${stderr.trim()}`);
    if (performance.now() - started > START_TIMEOUT_MS) {
      child.kill();
      throw new Error(`${name} did not listen within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  const startupMs = performance.now() - started;
  const pid = child.pid!;
  /** A target that dies during the run stops the bench with its own last words. */
  const alive = () => {
    if (exited !== undefined) throw new Error(`${name} (pid ${pid}) exited with ${exited}: ${stderr.trim() || 'nothing on stderr'}`);
  };
  return {
    name,
    pid,
    port,
    startupMs,
    cpuSeconds: async () => (alive(), HAS_PROC ? procCpuSeconds(pid) : ask(child, 'cpu')),
    rssBytes: async () => (alive(), HAS_PROC ? procRssBytes(pid) : ask(child, 'rss')),
    stop: () => void child.kill('SIGTERM'),
  };
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function procRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function ask(child: ChildProcess, what: 'cpu' | 'rss'): Promise<number> {
  return new Promise((ok) => {
    child.once('message', (m: { cpu: number; rss: number }) => ok(m[what]));
    child.send(what);
  });
}

export const cpuSource = HAS_PROC ? '/proc/<pid>/stat utime+stime, /proc/<pid>/status VmRSS' : 'process.cpuUsage() and memoryUsage().rss over IPC (bench/probe.ts)';
