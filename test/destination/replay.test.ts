import { describe, expect, it } from 'vitest';
import { MemoryReplayStore } from '../../src/destination/index.js';
import { NOW, NOW_S } from './fixtures.js';

function clock(start = NOW) {
  let current = start;
  return {
    now: () => current,
    advance: (seconds: number) => {
      current = new Date(current.getTime() + seconds * 1000);
    },
  };
}

describe('MemoryReplayStore', () => {
  it('accepts a jti once and refuses it again before expiry', async () => {
    const store = new MemoryReplayStore({ now: clock().now });
    await expect(store.consume('j1', 'https://broker.example', NOW_S + 60)).resolves.toBe(true);
    await expect(store.consume('j1', 'https://broker.example', NOW_S + 60)).resolves.toBe(false);
  });

  it('keys by issuer and jti, so brokers cannot collide', async () => {
    const store = new MemoryReplayStore({ now: clock().now });
    await store.consume('j1', 'https://a.example', NOW_S + 60);
    await expect(store.consume('j1', 'https://b.example', NOW_S + 60)).resolves.toBe(true);
    // A separator-joined key would make these two the same entry.
    await store.consume('x|y', 'https://a.example', NOW_S + 60);
    await expect(store.consume('y', 'https://a.example|x', NOW_S + 60)).resolves.toBe(true);
  });

  it('forgets a jti once it has expired, and purges expired entries', async () => {
    const time = clock();
    const store = new MemoryReplayStore({ now: time.now });
    await store.consume('j1', 'iss', NOW_S + 60);
    await store.consume('j2', 'iss', NOW_S + 600);
    time.advance(61);
    await expect(store.consume('j1', 'iss', NOW_S + 200)).resolves.toBe(true);
    time.advance(1000);
    await store.consume('j3', 'iss', NOW_S + 2000);
    expect(store.size).toBe(1);
  });

  it('fails closed when full instead of forgetting live identifiers', async () => {
    const store = new MemoryReplayStore({ now: clock().now, maxEntries: 2 });
    await store.consume('j1', 'iss', NOW_S + 60);
    await store.consume('j2', 'iss', NOW_S + 60);
    await expect(store.consume('j3', 'iss', NOW_S + 60)).rejects.toThrow(/full/);
    await expect(store.consume('j1', 'iss', NOW_S + 60)).resolves.toBe(false);
  });
});
