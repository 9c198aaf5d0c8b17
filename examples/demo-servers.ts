/**
 * The servers a demo starts on 127.0.0.1 (Hono apps, and a plain Node listener for oidc-provider),
 * each awaited until it listens, and closed together at the end; and the demo's fresh SQLite file.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { dirname } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';

/** Removes the demo database (and its WAL files) left by an earlier run; makes its folder. */
export function freshDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  mkdirSync(dirname(path), { recursive: true });
}

const listening = (server: ServerType | Server) =>
  new Promise<void>((ok, fail) => {
    server.once('listening', () => ok());
    server.once('error', fail);
  });

export class DemoServers {
  private readonly apps: ServerType[] = [];
  private readonly listeners: Server[] = [];

  /** A fetch handler (a Hono app) on `port`. */
  async serve(fetch: (r: Request) => Response | Promise<Response>, port: number): Promise<void> {
    const server = serve({ fetch, port, hostname: '127.0.0.1' });
    this.apps.push(server);
    await listening(server);
  }

  /** A Node request listener (oidc-provider's) on `port`. */
  async listen(listener: RequestListener, port: number): Promise<void> {
    const server = createServer(listener);
    this.listeners.push(server);
    server.listen(port, '127.0.0.1');
    await listening(server);
  }

  close(): void {
    for (const s of this.apps) s.close();
    for (const s of this.listeners) {
      s.close();
      s.closeAllConnections();
    }
  }
}
