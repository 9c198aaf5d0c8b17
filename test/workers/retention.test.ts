/**
 * Retention on workerd: the Worker's `scheduled` handler (cron trigger) writes refusal summaries
 * and prunes D1, and unauthenticated refusals are counted per CF-Connecting-IP.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/ports.js';
import { postToken, rows, testWorker, TOKEN_EXCHANGE, workerEnv } from './helpers.js';

async function runScheduled(w: Pick<ReturnType<typeof testWorker>, 'scheduled'>) {
  const ctx = createExecutionContext();
  await w.scheduled(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), workerEnv(), ctx);
  await waitOnExecutionContext(ctx);
}

const summaries = async () => (await rows<{ record: string }>("SELECT record FROM audit_log WHERE event = 'refusal_summary'")).map((r) => JSON.parse(r.record) as AuditRecord);

describe('Workers retention', () => {
  it('the scheduled handler prunes expired state from D1 and keeps live state', async () => {
    const now = Math.floor(Date.now() / 1000);
    await env.DB.batch([
      env.DB.prepare('INSERT INTO replay (scope, id, expires_at) VALUES (?, ?, ?), (?, ?, ?)').bind('s', 'dead', now - 10, 's', 'live', now + 600),
      env.DB.prepare('INSERT INTO login_transactions (id, record, expires_at) VALUES (?, ?, ?)').bind('tx-dead', '{}', now - 10),
      env.DB.prepare('INSERT INTO authorization_codes (code_hash, record, expires_at) VALUES (?, ?, ?)').bind('code-dead', '{}', now - 10),
      env.DB.prepare('INSERT INTO sessions (id, principal_id, record, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').bind('sess-dead', 'p', '{}', now - 100, now - 10),
      env.DB.prepare('INSERT INTO refresh_tokens (token_hash, family_id, client_id, session_id, record, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)').bind('rt-dead', 'f', 'c', 's', '{}', now - 100, now - 10),
      env.DB.prepare('INSERT INTO audit_log (at, event, request_id, record) VALUES (?, ?, ?, ?)').bind(now - 400 * 86_400, 'mint', 'ancient', '{}'),
    ]);
    await runScheduled(testWorker());
    expect(await rows('SELECT id FROM replay WHERE scope = ?', 's')).toEqual([{ id: 'live' }]);
    for (const table of ['login_transactions', 'authorization_codes', 'sessions', 'refresh_tokens']) {
      expect(await rows(`SELECT count(*) AS n FROM ${table} WHERE expires_at < ?`, now), table).toEqual([{ n: 0 }]);
    }
    expect(await rows("SELECT count(*) AS n FROM audit_log WHERE request_id = 'ancient'")).toEqual([{ n: 0 }]);
  });

  it('counts unauthenticated refusals per CF-Connecting-IP and writes the summaries after the interval', async () => {
    const clock = { now: 1_900_000_020 };
    const w = testWorker({ clock: () => clock.now });
    const body = { grant_type: TOKEN_EXCHANGE, client_id: 'nobody', client_secret: 'x' };
    for (let i = 0; i < 30; i++) {
      const res = await postToken(w, body, { 'cf-connecting-ip': i % 3 === 0 ? '2001:db8:5:6::1' : '192.0.2.44' });
      expect(res.status).toBe(401);
    }
    expect(await summaries()).toEqual([]);
    clock.now += 120;
    await runScheduled(w);
    const written = await summaries();
    expect(written).toHaveLength(2);
    expect(written).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'client_unknown', source: '192.0.2.44', count: 20 }),
        expect.objectContaining({ reason: 'client_unknown', source: '2001:db8:5:6::/64', count: 10 }),
      ]),
    );
  });
});
