/**
 * Retention behaviour every adapter must have: SQLite in test/store, D1 inside workerd in
 * test/workers. Storage may be shared by the tests of a file, so each test checks its own rows
 * and table-wide bounds only.
 */
import { describe, expect, it } from 'vitest';
import { ACCESS_REQUEST_RETAIN_AFTER } from '../../src/constants.js';
import type { AuditRecord, BrokerStore, RetentionPolicy } from '../../src/store/ports.js';

const NOW = 1_800_000_000;
const DAY = 86_400;
const keepAllAudit = { auditBefore: 0, auditMaxRows: 1_000_000_000 };

export function retentionContract(name: string, makeStore: () => Promise<BrokerStore>) {
  const u = (id: string) => `${id}:${crypto.randomUUID()}`;

  async function seedExpiringState(s: BrokerStore, id: (x: string) => string, expiresAt: number) {
    await s.replay.consume('test', id('jti'), expiresAt, NOW - 1_000);
    await s.logins.put({ id: id('tx'), connectionId: 'c', browserBinding: 'b', createdAt: NOW - 1_000, expiresAt });
    await s.sessions.create({ id: id('sess'), principalId: 'p', connectionId: 'c', authTime: NOW - 1_000, amr: [], createdAt: NOW - 1_000, expiresAt });
    await s.samlSessions.link({ sessionId: id('sess'), connectionId: 'c', nameId: { value: id('nameid') }, createdAt: NOW - 1_000, expiresAt });
    await s.codes.put(id('code'), { clientId: 'app', redirectUri: 'https://app/cb', sessionId: id('sess'), principalId: 'p', scopes: ['openid'], authTime: NOW, amr: [], issuedAt: NOW - 1_000, expiresAt });
    await s.refreshTokens.issue(id('rt'), { familyId: id('fam'), clientId: 'app', sessionId: id('sess'), principalId: 'p', scopes: ['openid'], createdAt: NOW - 1_000, expiresAt });
    // A task is kept ACCESS_REQUEST_RETAIN_AFTER past its expiry, so it expires that much earlier here.
    await s.accessRequests.submit(
      {
        id: id('task'),
        denialId: id('denial'),
        requester: 'app',
        clientId: 'app',
        principalId: 'p',
        upstreamIssuer: 'https://idp.test',
        subjectLabel: 'p',
        destination: 'todo',
        resources: [],
        scopes: ['todos.write'],
        policies: ['needs-approval'],
        createdAt: NOW - 1_000 - ACCESS_REQUEST_RETAIN_AFTER,
        expiresAt: expiresAt - ACCESS_REQUEST_RETAIN_AFTER,
        status: 'pending',
      },
      { at: NOW - 1_000, event: 'access_request', requestId: id('req-task') },
    );
    const deferral = { id: id('deferral'), denialId: id('denial'), clientId: 'app', principalId: 'p', destination: 'todo', resources: [], scopes: [], subject: {}, issuedAt: NOW - 1_000, expiresAt };
    await s.deferrals.issue(id('deferral-code'), deferral, 5, { at: NOW - 1_000, event: 'deferral', requestId: id('req-deferral') });
  }

  describe(`${name}: retention`, () => {
    it('prunes expired replay records, login transactions, codes, sessions, refresh tokens, access requests and deferrals, and keeps live ones', async () => {
      const s = await makeStore();
      const dead = u('dead');
      const live = u('live');
      await seedExpiringState(s, (x) => `${dead}:${x}`, NOW - 1);
      await seedExpiringState(s, (x) => `${live}:${x}`, NOW + 3_600);

      const first = await s.retention.prune({ now: NOW, ...keepAllAudit });
      expect(first.complete).toBe(true);
      for (const table of ['replay', 'login_transactions', 'authorization_codes', 'sessions', 'saml_sessions', 'refresh_tokens', 'access_requests', 'deferrals']) {
        expect(first.deleted[table], table).toBeGreaterThanOrEqual(1);
      }
      // Everything expired is gone: a second run finds nothing.
      const second = await s.retention.prune({ now: NOW, ...keepAllAudit });
      expect(Object.values(second.deleted).every((n) => n === 0)).toBe(true);

      // The live state is untouched and still works.
      expect(await s.sessions.active(`${live}:sess`, NOW)).toBeDefined();
      expect(await s.samlSessions.ofSession(`${live}:sess`)).toBeDefined();
      expect(await s.samlSessions.ofSession(`${dead}:sess`)).toBeUndefined();
      expect(await s.refreshTokens.active(`${live}:rt`, NOW)).toBeDefined();
      expect((await s.codes.consume(`${live}:code`, NOW)).status).toBe('ok');
      expect(await s.logins.take(`${live}:tx`, NOW)).toBeDefined();
      expect(await s.replay.consume('test', `${live}:jti`, NOW + 3_600, NOW)).toBe(false);
      expect(await s.accessRequests.get(`${live}:task`)).toBeDefined();
      expect(await s.accessRequests.get(`${dead}:task`)).toBeUndefined();
      expect((await s.deferrals.poll(`${live}:deferral-code`, NOW, 5)).status).not.toBe('unknown');
      expect(await s.deferrals.poll(`${dead}:deferral-code`, NOW, 5)).toEqual({ status: 'unknown' });
    });

    it('deletes audit records older than the retention age, and only those', async () => {
      const s = await makeStore();
      const tag = u('age');
      for (const [i, at] of [NOW - 100 * DAY, NOW - 91 * DAY, NOW - 89 * DAY, NOW - DAY].entries()) {
        await s.audit.append({ at, event: 'refusal', requestId: `${tag}-${i}`, reason: 'client_unknown' });
      }
      const policy: RetentionPolicy = { now: NOW, auditBefore: NOW - 90 * DAY, auditMaxRows: 1_000_000_000 };
      const { deleted } = await s.retention.prune(policy);
      expect(deleted.audit_log).toBeGreaterThanOrEqual(2);
      const left = (await s.audit.since(0, 0, 100_000)).map((r) => r.record);
      expect(left.every((r) => r.at >= policy.auditBefore)).toBe(true);
      expect(left.filter((r) => r.requestId.startsWith(tag)).map((r) => r.requestId)).toEqual([`${tag}-2`, `${tag}-3`]);
    });

    it('keeps at most the configured number of audit records, the newest', async () => {
      const s = await makeStore();
      const tag = u('count');
      for (let i = 0; i < 30; i++) await s.audit.append({ at: NOW + i, event: 'refusal', requestId: `${tag}-${i}`, reason: 'client_unknown' });
      await s.retention.prune({ now: NOW, auditBefore: 0, auditMaxRows: 10 });
      const left = (await s.audit.since(0, 0, 100_000)).map((r) => r.record);
      expect(left.length).toBeLessThanOrEqual(10);
      expect(left.map((r) => r.requestId)).toEqual(Array.from({ length: 10 }, (_, i) => `${tag}-${20 + i}`));
    });

    it('pages audit records by time, oldest first, for export', async () => {
      const s = await makeStore();
      const tag = u('page');
      const records: AuditRecord[] = Array.from({ length: 5 }, (_, i) => ({ at: NOW + 10 * DAY + i, event: 'mint', requestId: `${tag}-${i}` }));
      for (const r of records) await s.audit.append(r);
      const first = await s.audit.since(NOW + 10 * DAY + 1, 0, 2);
      expect(first.map((r) => r.record.requestId)).toEqual([`${tag}-1`, `${tag}-2`]);
      const next = await s.audit.since(NOW + 10 * DAY + 1, first[1]!.seq, 10);
      expect(next.map((r) => r.record.requestId)).toEqual([`${tag}-3`, `${tag}-4`]);
    });
  });
}
