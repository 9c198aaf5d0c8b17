/**
 * Replay records every adapter must keep alike: SQLite in test/store, D1 inside workerd in
 * test/workers. A record counts until its `expiresAt` (`expires_at < now` is expired); storage may
 * be shared by the tests of a file, so every test uses ids of its own.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerStore } from '../../src/store/ports.js';

export function replayStoreContract(name: string, makeStore: () => Promise<BrokerStore>) {
  const id = () => crypto.randomUUID();

  describe(`${name} replay store`, () => {
    it('consumes an id once until it expires, then again', async () => {
      const s = await makeStore();
      const jti = id();
      expect(await s.replay.consume('contract', jti, 100, 50)).toBe(true);
      expect(await s.replay.consume('contract', jti, 100, 60)).toBe(false);
      expect(await s.replay.consume('contract', jti, 100, 100)).toBe(false);
      expect(await s.replay.consume('contract', jti, 200, 101)).toBe(true);
      expect(await s.replay.consume('contract', jti, 200, 150)).toBe(false);
    });

    it('keeps scopes apart', async () => {
      const s = await makeStore();
      const jti = id();
      expect(await s.replay.consume('contract-a', jti, 100, 50)).toBe(true);
      expect(await s.replay.consume('contract-b', jti, 100, 50)).toBe(true);
    });

    it('reports whether an id is recorded and live, without recording anything', async () => {
      const s = await makeStore();
      const jti = id();
      expect(await s.replay.recorded('contract', jti, 50)).toBe(false);
      // The read recorded nothing: the id is still fresh.
      expect(await s.replay.consume('contract', jti, 100, 50)).toBe(true);
      expect(await s.replay.recorded('contract', jti, 50)).toBe(true);
      expect(await s.replay.recorded('contract', jti, 100)).toBe(true);
      expect(await s.replay.recorded('contract', jti, 101)).toBe(false);
      expect(await s.replay.recorded('contract-other', jti, 50)).toBe(false);
    });
  });
}
