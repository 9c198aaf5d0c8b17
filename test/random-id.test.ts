import { describe, expect, it } from 'vitest';
import { randomId } from '../src/random-id.js';

describe('randomId', () => {
  it('gives 144-bit base64url ids, all distinct, across many refills of its pool', () => {
    const ids = Array.from({ length: 1_000 }, () => randomId());
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(18);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads its bits: every base64url character appears at every position over many ids', () => {
    const ids = Array.from({ length: 4_000 }, () => randomId());
    for (let position = 0; position < 24; position++) expect(new Set(ids.map((id) => id[position])).size).toBe(64);
  });
});
