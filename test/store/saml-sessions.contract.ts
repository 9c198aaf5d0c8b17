/**
 * The behaviour every adapter's SAML session store (Single Logout) must have. Run against SQLite in
 * test/store and against D1 inside workerd in test/workers.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { BrokerStore, SamlSessionLink } from '../../src/store/ports.js';

const NOW = 1_800_000_000;
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

export function samlSessionStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  // Unique ids per test: D1 storage is shared by the tests of a file.
  let u: (id: string) => string = (id) => id;
  beforeEach(() => {
    const suffix = crypto.randomUUID();
    u = (id) => `${id}:${suffix}`;
  });

  async function session(s: BrokerStore, id: string, nameId: string, over: Partial<SamlSessionLink> = {}, expiresAt = NOW + 100): Promise<SamlSessionLink> {
    await s.sessions.create({ id, principalId: 'p', connectionId: 'corp', amr: [], createdAt: NOW, expiresAt });
    const link: SamlSessionLink = {
      sessionId: id,
      connectionId: 'corp',
      nameId: { value: nameId, format: PERSISTENT, nameQualifier: 'https://idp', spNameQualifier: 'https://sp' },
      sessionIndex: '_idx-1',
      createdAt: NOW,
      expiresAt,
      ...over,
    };
    await s.samlSessions.link(link);
    return link;
  }

  describe(`${name}: SAML session links`, () => {
    it('keep the NameID (format, qualifiers) and SessionIndex of a session', async () => {
      const s = await makeStore();
      const link = await session(s, u('s1'), u('alice'));
      expect(await s.samlSessions.ofSession(u('s1'))).toEqual(link);
      expect(await s.samlSessions.ofSession(u('none'))).toBeUndefined();
    });

    it('a second link for the same session changes nothing', async () => {
      const s = await makeStore();
      const link = await session(s, u('s1'), u('alice'));
      await s.samlSessions.link({ ...link, nameId: { value: u('mallory') }, sessionIndex: '_other' });
      expect(await s.samlSessions.ofSession(u('s1'))).toEqual(link);
    });

    it('are found by connection and NameID value, only while their session is active', async () => {
      const s = await makeStore();
      await session(s, u('s1'), u('alice'));
      await session(s, u('s2'), u('alice'), { sessionIndex: '_idx-2' });
      await session(s, u('s3'), u('bob'));
      await session(s, u('s4'), u('alice'), { connectionId: 'other' });
      await session(s, u('s5'), u('alice'), {}, NOW + 10);
      await s.sessions.revoke(u('s2'), NOW + 1);
      const found = await s.samlSessions.matching('corp', u('alice'), NOW + 20, 10);
      expect(found.map((l) => l.sessionId)).toEqual([u('s1')]);
      expect(await s.samlSessions.matching('corp', u('alice'), NOW + 5, 10)).toHaveLength(2);
    });

    it('return at most `limit` links', async () => {
      const s = await makeStore();
      for (let i = 0; i < 3; i++) await session(s, u(`s${i}`), u('alice'));
      expect(await s.samlSessions.matching('corp', u('alice'), NOW, 2)).toHaveLength(2);
    });
  });
}
