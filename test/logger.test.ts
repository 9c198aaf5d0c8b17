import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { consoleLogger, REDACTED, redactSensitive } from '../src/logger.js';

describe('redactSensitive: token and secret fields never reach a log line', () => {
  it('redacts a sensitive field at the top level, and leaves the caller its object', () => {
    const fields = { event: 'mint', subject_token: 'eyJ.secret.sig', client_secret: 's3cret' };
    expect(redactSensitive(fields)).toEqual({ event: 'mint', subject_token: REDACTED, client_secret: REDACTED });
    expect(fields.subject_token).toBe('eyJ.secret.sig');
  });

  it('redacts one level down, inside a top-level object', () => {
    const fields = { request: { grant_type: 'authorization_code', code: 'abc', refresh_token: 'r' }, other: 1 };
    expect(redactSensitive(fields)).toEqual({ request: { grant_type: 'authorization_code', code: REDACTED, refresh_token: REDACTED }, other: 1 });
    expect(fields.request.code).toBe('abc');
  });

  it('returns the very object when there is nothing to redact (no copy on the hot path)', () => {
    const fields = { requestId: 'r1', event: 'mint', clientId: 'wiki-agent', jti: 'j', nested: { a: 1 }, list: ['code'] };
    expect(redactSensitive(fields)).toBe(fields);
  });

  it("leaves an Error whole: its `code` is an error code and a copy would lose its message", () => {
    const err = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const out = redactSensitive({ err });
    expect(out.err).toBe(err);
  });

  it('applies on the Workers console logger', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      consoleLogger({ runtime: 'workers' }).info({ id_token: 'eyJ.x.y', event: 'login' }, 'done');
      const line = JSON.parse(String(log.mock.calls[0]![0])) as Record<string, unknown>;
      expect(line).toMatchObject({ id_token: REDACTED, event: 'login', msg: 'done', runtime: 'workers' });
    } finally {
      log.mockRestore();
    }
  });
});

describe("the Node runtime's pino logger", () => {
  it('writes redacted lines', async () => {
    const { pinoLogger } = await import('../src/runtime/node.js');
    const file = join(mkdtempSync(join(tmpdir(), 'xaa-log-')), 'log.jsonl');
    const logger = pinoLogger('info', file);
    logger.info({ event: 'mint', assertion: 'eyJ.a.b', request: { client_assertion: 'eyJ.c.d', scope: 'x' } }, 'minted');
    logger.warn({ err: Object.assign(new Error('locked'), { code: 'SQLITE_BUSY' }) }, 'write failed');
    // The destination buffers 4 KiB (the runtime flushes the rest on exit): fill past it, then wait.
    for (let i = 0; i < 100; i++) logger.info({ filler: i }, 'filler line to fill the buffer');
    let text = '';
    for (let i = 0; i < 500 && text.split('\n').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      text = readFileSync(file, 'utf8');
    }
    expect(text).not.toContain('eyJ');
    const [minted, failed] = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(minted).toMatchObject({ event: 'mint', assertion: REDACTED, request: { client_assertion: REDACTED, scope: 'x' }, msg: 'minted' });
    expect(failed).toMatchObject({ err: { message: 'locked', code: 'SQLITE_BUSY' } });
  }, 30_000);
});
