/**
 * Retention (issue 6 §3): refusals of requests whose client never authenticated are counted per
 * (reason, source) over an interval and written as one summary record each, so a flood cannot
 * grow the audit log by one row per request, while the audit still says what happened.
 */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/ports.js';
import { exchangeParams, postToken, startTestBroker, testSettings, TOKEN_EXCHANGE, type TestBroker } from '../helpers/broker.js';

const INTERVAL = 60;
const SOURCES = ['203.0.113.7', '198.51.100.9', '2001:db8:1:2::99'];

async function floodBroker() {
  return startTestBroker({ settings: await testSettings((s) => void ((s.client_ip = { header: 'X-Forwarded-For' }), (s.retention = { refusal_summary_interval_seconds: INTERVAL }))) });
}

const auditRows = (b: TestBroker) => (b.db.prepare('SELECT record FROM audit_log ORDER BY seq').pluck().all() as string[]).map((r) => JSON.parse(r) as AuditRecord);

/** One unauthenticated request of each kind, in turn: unknown client, wrong secret, unknown grant, no grant_type. */
function unauthenticated(i: number, params: Record<string, string | string[]>): Record<string, string | string[]> {
  switch (i % 4) {
    case 0:
      return { ...params, client_id: 'nobody', client_secret: 'x' };
    case 1:
      return { ...params, client_secret: `wrong-${i}` };
    case 2:
      return { grant_type: 'urn:example:unknown', client_id: 'nobody' };
    default:
      return { client_id: 'nobody' };
  }
}

describe('refusal summaries', () => {
  it('an unauthenticated flood writes one record per (reason, source) per interval, and the counts add up', async () => {
    const b = await floodBroker();
    const params = await exchangeParams(b);
    const start = b.clock.now;
    const N = 800;
    const statuses = new Set<number>();
    for (let i = 0; i < N; i++) {
      // Two intervals' worth of requests.
      if (i === N / 2) b.clock.now = start + INTERVAL;
      const res = await postToken(b, unauthenticated(i, params), { 'x-forwarded-for': SOURCES[i % SOURCES.length]! });
      statuses.add(res.status);
    }
    expect([...statuses].every((s) => s === 400 || s === 401)).toBe(true);
    b.clock.now = start + 3 * INTERVAL;
    await b.maintenance.flush();

    const rows = auditRows(b);
    const summaries = rows.filter((r) => r.event === 'refusal_summary');
    expect(rows.filter((r) => r.event !== 'refusal_summary')).toEqual([]);
    expect(summaries.reduce((n, r) => n + r.count!, 0)).toBe(N);
    // At most (kinds of refusal) x (sources) records per interval, over two intervals.
    const keys = new Set(summaries.map((r) => `${r.reason} ${r.source}`));
    expect(rows.length).toBeLessThanOrEqual(2 * keys.size);
    expect(keys.size).toBeLessThanOrEqual(5 * SOURCES.length);
    expect(new Set(summaries.map((r) => r.source))).toEqual(new Set(['203.0.113.7', '198.51.100.9', '2001:db8:1:2::/64']));
    expect(new Set(summaries.map((r) => r.reason))).toEqual(new Set(['client_unknown', 'client_secret_mismatch', 'client_auth_throttled', 'unsupported_grant_type', 'missing_parameter']));
    for (const s of summaries) {
      expect(s.until! - Math.floor(s.at / INTERVAL) * INTERVAL).toBe(INTERVAL);
      expect(s.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('keeps the interval still open in memory until it ends, and writes it on a final flush (shutdown)', async () => {
    const b = await floodBroker();
    for (let i = 0; i < 5; i++) await postToken(b, { client_id: 'nobody', client_secret: 'x', grant_type: TOKEN_EXCHANGE }, { 'x-forwarded-for': SOURCES[0]! });
    await b.maintenance.flush();
    expect(auditRows(b)).toEqual([]);
    await b.maintenance.flush({ final: true });
    expect(auditRows(b)).toEqual([expect.objectContaining({ event: 'refusal_summary', reason: 'client_unknown', source: SOURCES[0], count: 5 })]);
    await b.maintenance.flush({ final: true });
    expect(auditRows(b)).toHaveLength(1);
  });

  it('still writes one record per refusal once the client has authenticated', async () => {
    const b = await floodBroker();
    const params = await exchangeParams(b, { audience: 'https://nowhere.test' });
    for (let i = 0; i < 3; i++) expect((await postToken(b, params, { 'x-forwarded-for': SOURCES[0]! })).status).toBe(400);
    const rows = auditRows(b);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.event === 'refusal' && r.clientId === 'wiki-agent')).toBe(true);
  });
});
