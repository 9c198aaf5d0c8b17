import { beforeEach, describe, expect, it } from 'vitest';
import { LOG_IGNORED_PARAMS_MAX, LOG_PARAM_NAME_MAX, MAX_BODY_BYTES } from '../../src/constants.js';
import { capture, type Line } from '../helpers/log.js';
import { BROKER, exchangeParams, startTestBroker, type TestBroker } from '../helpers/broker.js';


function form(params: Record<string, string | string[]>, extra = ''): string {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of ([] as string[]).concat(v)) body.append(k, one);
  return `${body.toString()}${extra}`;
}

describe('token endpoint logging of unrecognised parameters', () => {
  let b: TestBroker;
  let lines: Line[];
  beforeEach(async () => {
    b = await startTestBroker();
    lines = [];
    b.services.logger = capture(lines);
  });

  async function ignoredLine(body: string) {
    expect(body.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
    const res = await b.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(res.status, await res.text()).toBe(200);
    const line = lines.find((l) => l.message === 'ignored unrecognised parameters');
    expect(line).toBeDefined();
    return line!;
  }

  it('thousands of unknown parameters give one bounded line: their count and the first few names', async () => {
    const unknown = Array.from({ length: 4000 }, (_, i) => `&p${i}=1`).join('');
    const line = await ignoredLine(form(await exchangeParams(b), unknown));
    expect(line.fields.count).toBe(4000);
    expect(line.fields.ignored).toEqual(Array.from({ length: LOG_IGNORED_PARAMS_MAX }, (_, i) => `p${i}`));
  });

  it('a huge parameter name is truncated in the log line', async () => {
    const huge = 'n'.repeat(40_000);
    const line = await ignoredLine(form(await exchangeParams(b), `&${huge}=1&${'m'.repeat(20_000)}=2`));
    expect(line.fields.count).toBe(2);
    const names = line.fields.ignored as string[];
    expect(names).toHaveLength(2);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(LOG_PARAM_NAME_MAX + 1);
    expect(names[0]!.startsWith('n'.repeat(LOG_PARAM_NAME_MAX))).toBe(true);
    // The whole line stays small whatever the request held.
    expect(JSON.stringify(line.fields).length).toBeLessThan(2_000);
  });
});

/** A body that delivers `head` and then fails, as a socket does when the client goes away mid-body. */
function abortingBody(head: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new TextEncoder().encode(head));
      } else controller.error(new Error('aborted'));
    },
  });
}

describe('a client that disconnects mid-body', () => {
  let b: TestBroker;
  let lines: Line[];
  beforeEach(async () => {
    b = await startTestBroker();
    lines = [];
    b.services.logger = capture(lines);
  });

  it('is answered invalid_request (400), audited as body_incomplete, and logged without an error line', async () => {
    const body = abortingBody('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_tok');
    const res = await b.app.request(`${BROKER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // Refused before the client authenticated: counted in a refusal summary, written on flush.
    await b.maintenance.flush({ final: true });
    const [record] = await b.services.store.audit.recent(1);
    expect(record).toMatchObject({ event: 'refusal_summary', reason: 'body_incomplete', count: 1 });
  });
});
