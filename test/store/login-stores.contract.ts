/**
 * The behaviour every adapter's login stores must have. Run against SQLite in test/store and
 * against D1 inside workerd in test/workers.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { BrokerStore, RefreshTokenRecord } from '../../src/store/ports.js';

const NOW = 1_800_000_000;

/** An id unique to the running test. */
let u: (id: string) => string;

const refresh = (over: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
  familyId: u('fam-1'),
  clientId: 'app',
  sessionId: u('sess-1'),
  principalId: 'p1',
  scopes: ['openid'],
  createdAt: NOW,
  expiresAt: NOW + 3600,
  ...over,
});

export function loginStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  // Unique ids per test: D1 storage is shared by the tests of a file.
  let suffix = '';
  beforeEach(() => {
    suffix = crypto.randomUUID();
    u = (id) => `${id}:${suffix}`;
  });

  describe(`${name}: login transactions`, () => {
    it('are taken once', async () => {
      const s = await makeStore();
      await s.logins.put({ id: u('tx1'), connectionId: 'c', browserBinding: 'b', createdAt: NOW, expiresAt: NOW + 600, nonce: 'n' });
      expect(await s.logins.take(u('tx1'), NOW + 1)).toMatchObject({ id: u('tx1'), nonce: 'n' });
      expect(await s.logins.take(u('tx1'), NOW + 2)).toBeUndefined();
    });

    it('are gone once expired, and taking one consumes it anyway', async () => {
      const s = await makeStore();
      await s.logins.put({ id: u('tx2'), connectionId: 'c', browserBinding: 'b', createdAt: NOW, expiresAt: NOW + 600 });
      expect(await s.logins.take(u('tx2'), NOW + 600)).toBeUndefined();
      expect(await s.logins.take(u('unknown'), NOW)).toBeUndefined();
    });
  });

  describe(`${name}: sessions and principals`, () => {
    it('a session is active until it expires or is revoked', async () => {
      const s = await makeStore();
      await s.sessions.create({ id: u('s1'), principalId: u('p1'), connectionId: 'c', authTime: NOW, amr: ['pwd'], createdAt: NOW, expiresAt: NOW + 100 });
      expect(await s.sessions.active(u('s1'), NOW + 99)).toMatchObject({ principalId: u('p1'), amr: ['pwd'] });
      expect(await s.sessions.active(u('s1'), NOW + 100)).toBeUndefined();
      await s.sessions.revoke(u('s1'), NOW + 1);
      expect(await s.sessions.active(u('s1'), NOW + 2)).toBeUndefined();
    });

    it('a principal upsert keeps the latest evidence', async () => {
      const s = await makeStore();
      const base = { id: u('p1'), upstreamIssuer: 'https://idp', upstreamSubject: 'alice', connectionId: 'c' };
      await s.principals.upsert({ ...base, claims: { email: 'a@x' }, updatedAt: NOW });
      await s.principals.upsert({ ...base, claims: { email: 'a@y' }, updatedAt: NOW + 1 });
      expect(await s.principals.get(u('p1'))).toMatchObject({ claims: { email: 'a@y' }, updatedAt: NOW + 1 });
      expect(await s.principals.get(u('p2'))).toBeUndefined();
    });

    it('an older login\'s upsert landing after a newer one (two instances, one person) does not bring back the older evidence', async () => {
      const s = await makeStore();
      const base = { id: u('p1'), upstreamIssuer: 'https://idp', upstreamSubject: 'alice', connectionId: 'c' };
      // The newer login (the admins group removed upstream) commits first; the older one, slower to verify, after it.
      await s.principals.upsert({ ...base, claims: { groups: [] }, updatedAt: NOW + 2 });
      await s.principals.upsert({ ...base, claims: { groups: ['admins'] }, updatedAt: NOW });
      expect(await s.principals.get(u('p1'))).toMatchObject({ claims: { groups: [] }, updatedAt: NOW + 2 });
      // Two logins within one second: the later write is the latest evidence.
      await s.principals.upsert({ ...base, claims: { groups: ['staff'] }, updatedAt: NOW + 2 });
      expect(await s.principals.get(u('p1'))).toMatchObject({ claims: { groups: ['staff'] } });
    });
  });

  describe(`${name}: authorization codes`, () => {
    const codeFor = () => ({ clientId: 'app', redirectUri: 'https://app/cb', sessionId: u('s1'), principalId: u('p1'), scopes: ['openid'], authTime: NOW, amr: [], issuedAt: NOW, expiresAt: NOW + 60 });

    it('are consumed once; a second use reports reuse with the record', async () => {
      const s = await makeStore();
      const code = codeFor();
      await s.codes.put(u('h1'), code);
      expect(await s.codes.consume(u('h1'), NOW + 1)).toEqual({ status: 'ok', code });
      expect(await s.codes.consume(u('h1'), NOW + 2)).toEqual({ status: 'reused', code });
    });

    it('an expired or unknown code is unknown', async () => {
      const s = await makeStore();
      await s.codes.put(u('h2'), codeFor());
      expect(await s.codes.consume(u('h2'), NOW + 60)).toEqual({ status: 'unknown' });
      expect(await s.codes.consume(u('nope'), NOW)).toEqual({ status: 'unknown' });
    });
  });

  describe(`${name}: refresh tokens`, () => {
    it('rotate once; reuse of a rotated token revokes the whole family', async () => {
      const s = await makeStore();
      await s.refreshTokens.issue(u('r1'), refresh());
      const first = await s.refreshTokens.rotate(u('r1'), { tokenHash: u('r2'), token: refresh({ createdAt: NOW + 1 }) }, NOW + 1);
      expect(first).toMatchObject({ status: 'rotated', previous: { familyId: u('fam-1') } });
      expect(await s.refreshTokens.active(u('r1'), NOW + 1)).toBeUndefined();
      expect(await s.refreshTokens.active(u('r2'), NOW + 1)).toMatchObject({ familyId: u('fam-1') });

      expect((await s.refreshTokens.rotate(u('r1'), { tokenHash: u('r3'), token: refresh() }, NOW + 2)).status).toBe('reused');
      expect(await s.refreshTokens.active(u('r2'), NOW + 2)).toBeUndefined();
      expect(await s.refreshTokens.active(u('r3'), NOW + 2)).toBeUndefined();
      expect((await s.refreshTokens.rotate(u('r2'), { tokenHash: u('r4'), token: refresh() }, NOW + 3)).status).toBe('invalid');
    });

    it('unknown and expired tokens are invalid and write nothing', async () => {
      const s = await makeStore();
      expect((await s.refreshTokens.rotate(u('none'), { tokenHash: u('x1'), token: refresh() }, NOW)).status).toBe('invalid');
      expect(await s.refreshTokens.active(u('x1'), NOW)).toBeUndefined();
      await s.refreshTokens.issue(u('old'), refresh({ expiresAt: NOW + 10 }));
      expect((await s.refreshTokens.rotate(u('old'), { tokenHash: u('x2'), token: refresh() }, NOW + 10)).status).toBe('invalid');
      expect(await s.refreshTokens.active(u('x2'), NOW)).toBeUndefined();
    });

    it('within the grace window a rotated token is superseded (nothing revoked) and still found with rotatedAfter', async () => {
      const s = await makeStore();
      await s.refreshTokens.issue(u('r1'), refresh());
      expect((await s.refreshTokens.rotate(u('r1'), { tokenHash: u('r2'), token: refresh() }, NOW + 5)).status).toBe('rotated');
      expect(await s.refreshTokens.active(u('r1'), NOW + 6, NOW + 4)).toMatchObject({ familyId: u('fam-1') });
      expect(await s.refreshTokens.active(u('r1'), NOW + 6, NOW + 5)).toBeUndefined();
      expect((await s.refreshTokens.rotate(u('r1'), { tokenHash: u('r3'), token: refresh() }, NOW + 6, NOW + 4)).status).toBe('superseded');
      expect(await s.refreshTokens.active(u('r2'), NOW + 6)).toBeDefined();
      expect(await s.refreshTokens.active(u('r3'), NOW + 6)).toBeUndefined();
      // Past the window it is a reuse.
      expect((await s.refreshTokens.rotate(u('r1'), { tokenHash: u('r4'), token: refresh() }, NOW + 20, NOW + 5)).status).toBe('reused');
      expect(await s.refreshTokens.active(u('r2'), NOW + 20)).toBeUndefined();
    });

    it('nothing is issued into a family once it has been revoked (a replayed code that landed first)', async () => {
      const s = await makeStore();
      await s.refreshTokens.revokeFamily(u('fam-1'), NOW);
      expect(await s.refreshTokens.issue(u('r1'), refresh())).toBe(false);
      expect(await s.refreshTokens.active(u('r1'), NOW)).toBeUndefined();
      expect(await s.refreshTokens.issue(u('r2'), refresh({ familyId: u('fam-2') }))).toBe(true);
      expect(await s.refreshTokens.active(u('r2'), NOW)).toBeDefined();
    });

    it('revoking a session revokes its refresh tokens', async () => {
      const s = await makeStore();
      await s.refreshTokens.issue(u('r1'), refresh({ sessionId: u('sx') }));
      await s.refreshTokens.issue(u('r9'), refresh({ sessionId: u('other'), familyId: u('fam-9') }));
      await s.refreshTokens.revokeSession(u('sx'), NOW + 1);
      expect(await s.refreshTokens.active(u('r1'), NOW + 2)).toBeUndefined();
      expect(await s.refreshTokens.active(u('r9'), NOW + 2)).toBeDefined();
    });
  });
}
