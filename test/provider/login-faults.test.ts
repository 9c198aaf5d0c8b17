import { describe, expect, it } from 'vitest';
import { capture, type Line } from '../helpers/log.js';
import { location, loginThroughUpstream, startProvider, webAppRequest } from './harness.js';

/**
 * Issue 11 §3: a login that fails because of the broker itself (a table missing because the
 * migrations were not applied, a store error) is said on the console, not only in the audit log.
 * A login the upstream or the browser got refused stays a warning-level refusal.
 */
async function providerWithLog() {
  const b = await startProvider();
  const lines: Line[] = [];
  b.services.logger = capture(lines);
  return { b, lines };
}

const noSuchTable = () => Object.assign(new Error('D1_ERROR: no such table: login_transactions: SQLITE_ERROR'), { name: 'Error' });

describe('login failures of the broker itself', () => {
  it('at the start: an error line naming the connection, the error and the migrations', async () => {
    const { b, lines } = await providerWithLog();
    b.oidc.startLogin = async () => {
      throw noSuchTable();
    };
    const res = await b.browser().get(webAppRequest());
    expect(res.status).toBeGreaterThanOrEqual(300);
    const line = lines.find((l) => l.level === 'error');
    expect(line).toMatchObject({
      message: 'login start failed: server error',
      fields: { connection: 'corp', step: 'start', error: 'Error: D1_ERROR: no such table: login_transactions: SQLITE_ERROR', hint: expect.stringContaining('apply the migrations') },
    });
  });

  it('at the callback: an error line with the request id the audit record carries', async () => {
    const { b, lines } = await providerWithLog();
    b.oidc.finishLogin = async () => {
      throw noSuchTable();
    };
    const res = await loginThroughUpstream(b.browser(), webAppRequest());
    expect(res.status).toBe(400);
    const line = lines.find((l) => l.level === 'error');
    expect(line).toMatchObject({ message: 'login finish failed: server error', fields: { connection: 'corp', step: 'finish', hint: expect.stringContaining('apply the migrations') } });
    expect(typeof line!.fields.requestId).toBe('string');
  });

  it('a refused login (the upstream said no) is no error line', async () => {
    const { b, lines } = await providerWithLog();
    const res = await loginThroughUpstream(b.browser(), webAppRequest(), { error: 'access_denied' });
    expect(location(res).searchParams.get('error')).toBe('access_denied');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.some((l) => l.level === 'warn')).toBe(true);
  });
});
