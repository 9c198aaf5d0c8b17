/**
 * vitest globalSetup (vitest.config.ts): a throwaway PostgreSQL cluster for the Node suite, on a
 * real server, never a mock. `initdb` in a temp dir, `pg_ctl` on a free loopback port with its
 * unix socket in that dir, the URL provided to the tests as `pgUrl` (test/helpers/pg.ts gives
 * each file its own database), stopped and deleted at the end. Missing binaries fail the run with
 * one line: install Debian's `postgresql`.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test cluster's superuser URL (database `postgres`). */
    pgUrl: string;
  }
}

/** The directory holding initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest). */
export function pgBinDir(path = process.env.PATH ?? '', root = '/usr/lib/postgresql'): string | undefined {
  for (const dir of path.split(':')) if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/** PostgreSQL refuses to run as root: there, the cluster is owned and run by the `postgres` user. */
function asServerUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a throwaway cluster (also used by bench/pg-instances.ts): its superuser URL, and `stop`,
 * which stops it and deletes its directory.
 */
export const PG_MISSING = "PostgreSQL's initdb and pg_ctl were not found: install Debian's `postgresql` package (apt-get install postgresql); .ci/run does";

export async function startPgCluster(findBinaries: () => string | undefined = pgBinDir): Promise<{ url: string; stop: () => void }> {
  const bin = findBinaries();
  if (!bin) throw new Error(PG_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'xaa-pg-'));
  const data = join(dir, 'data');
  const user = asServerUser();
  if (user) chownSync(dir, user.uid, user.gid);
  const exec = (cmd: string, args: string[]) =>
    execFileSync(join(bin, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}), env: { ...process.env, LC_ALL: 'C' } });
  const port = await freePort();
  try {
    exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    // Durability is not under test against a crash of the machine: no fsync; enough connections for parallel files.
    writeFileSync(
      join(data, 'postgresql.auto.conf'),
      `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = off\nmax_connections = 200\n`,
    );
    if (user) chownSync(join(data, 'postgresql.auto.conf'), user.uid, user.gid);
    exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`the test PostgreSQL server did not start: ${stderr || (err as Error).message}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export default async function setup(project: TestProject) {
  const cluster = await startPgCluster();
  project.provide('pgUrl', cluster.url);
  return cluster.stop;
}
