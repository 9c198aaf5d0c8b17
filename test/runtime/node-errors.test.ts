import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { startNodeBroker } from '../../src/runtime/node.js';

interface Line {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function capture(lines: Line[]): Logger {
  const at = (level: Line['level']) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

const tempDb = () => join(mkdtempSync(join(tmpdir(), 'xaa-errors-')), 'broker.sqlite');

describe('a real Node server and a client that disconnects mid-body', () => {
  it('refuses the request as body_incomplete at warn level, with no error line and no unhandled error', async () => {
    const lines: Line[] = [];
    const { server } = await startNodeBroker({ port: 0, database: tempDb(), logger: capture(lines) });
    try {
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((done, fail) => {
        const socket = connect(port, '127.0.0.1', () => {
          // Promise 1000 bytes, send a few, then vanish.
          socket.write('POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=abc&sub');
          socket.once('data', () => undefined);
          setImmediate(() => socket.destroy());
        });
        socket.once('close', () => done());
        socket.once('error', fail);
      });
      // Wait (bounded) until the broker has dealt with the broken request.
      for (let i = 0; i < 200 && !lines.some((l) => l.message === 'refused' || l.level === 'error'); i++) await new Promise((r) => setTimeout(r, 25));
      expect(lines.filter((l) => l.level === 'error')).toEqual([]);
      const refusal = lines.find((l) => l.message === 'refused');
      expect(refusal).toMatchObject({ level: 'warn', fields: { error: 'invalid_request', reason: 'body_incomplete' } });
    } finally {
      await new Promise((done) => server.close(done));
    }
  }, 30_000);
});
