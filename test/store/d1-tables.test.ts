import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { D1_INDEXES, D1_TABLES } from '../../src/store/adapters/d1.js';

/** The Worker refuses to start on a D1 that lacks a table the store uses; the list must follow migrations/. */
describe('the D1 store table list', () => {
  it('names exactly the tables migrations/ creates', () => {
    const dir = join(import.meta.dirname, '../../migrations');
    const created = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/CREATE TABLE(?: IF NOT EXISTS)?\s+(\w+)/gi)].map((m) => m[1]!));
    expect([...D1_TABLES].sort()).toEqual([...new Set(created)].sort());
  });

  it('names only indexes migrations/ creates and none drops later', () => {
    const dir = join(import.meta.dirname, '../../migrations');
    const sql = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    for (const index of D1_INDEXES) {
      const created = sql.search(new RegExp(`CREATE UNIQUE INDEX(?: IF NOT EXISTS)?\\s+${index}\\b`, 'i'));
      expect(created, index).toBeGreaterThan(-1);
      expect(sql.slice(created).search(new RegExp(`DROP INDEX(?: IF EXISTS)?\\s+${index}\\b`, 'i')), index).toBe(-1);
    }
  });
});
