import { describe, expect, it } from 'vitest';
import { CLIENT_AUTH_MAX_FAILURES } from '../../src/constants.js';
import { exchangeParams, postToken, SECRET, startTestBroker, testSettings } from '../helpers/broker.js';

describe('token endpoint: client lockout', () => {
  it('a fresh broker accepts the right secret from one source after wrong secrets from another (client_ip.header)', async () => {
    const b = await startTestBroker({ settings: await testSettings((s) => void (s.client_ip = { header: 'X-Forwarded-For' })) });
    const params = await exchangeParams(b);
    for (let i = 0; i <= CLIENT_AUTH_MAX_FAILURES + 2; i++) {
      const res = await postToken(b, { ...params, client_secret: `wrong-${i}` }, { 'x-forwarded-for': '203.0.113.7' });
      expect(res.status).toBe(401);
    }
    const throttled = await postToken(b, { ...params, client_secret: SECRET }, { 'x-forwarded-for': '203.0.113.7' });
    expect(throttled.status).toBe(401);
    const ok = await postToken(b, params, { 'x-forwarded-for': '192.0.2.10' });
    expect(ok.status).toBe(200);
    await b.maintenance.flush({ final: true });
    const summaries = (await b.services.store.audit.recent(100)).filter((r) => r.event === 'refusal_summary');
    expect(summaries).toContainEqual(expect.objectContaining({ reason: 'client_secret_mismatch', source: '203.0.113.7', count: CLIENT_AUTH_MAX_FAILURES }));
    expect(summaries).toContainEqual(expect.objectContaining({ reason: 'client_auth_throttled', source: '203.0.113.7', count: 4 }));
  });
});
