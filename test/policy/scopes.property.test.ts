import { describe, expect, it } from 'vitest';
import { intersectGrant, translateScopes } from '../../src/policy/scopes.js';
import type { ScopeDecision } from '../../src/policy/types.js';
import { pick, rng, subset } from './random.js';

// Names that would match Object.prototype if a lookup were careless sit among ordinary ones.
const CALLER = ['tasks:read', 'tasks:write', 'tasks:all', 'profile', 'constructor', '__proto__', 'toString', 'admin'];
const DESTINATION = ['todos.read', 'todos.write', 'todos.delete', 'hasOwnProperty', 'valueOf', 'openid'];

describe('granted ⊆ translated ∩ clientAllowed ∩ policy-allowed', () => {
  it('holds for 2000 random requests, tables, client grants and decisions', () => {
    const random = rng(0x5eed);
    for (let run = 0; run < 2000; run++) {
      const requested = subset(random, CALLER);
      const table = Object.fromEntries(subset(random, CALLER).map((from) => [from, subset(random, DESTINATION)]));
      const clientAllowed = subset(random, DESTINATION);
      const decisions: ScopeDecision[] = subset(random, [...DESTINATION, ...DESTINATION]).map((scope) => ({
        scope,
        allowed: random() < 0.6,
        policies: [],
        errors: random() < 0.1 ? ['error'] : [],
      }));
      // Rarely, a decision for a scope nobody asked about.
      if (random() < 0.1) decisions.push({ scope: pick(random, ['unasked', ...CALLER]), allowed: true, policies: [], errors: [] });

      const { translated, untranslatable } = translateScopes(requested, table);
      const { granted, refused } = intersectGrant({ translated, clientAllowed, decisions });

      const targets = new Set(translated.map((t) => t.to));
      const policyAllowed = (s: string) => {
        const mine = decisions.filter((d) => d.scope === s);
        return mine.length > 0 && mine.every((d) => d.allowed && d.errors.length === 0);
      };
      const mapsTo = (from: string, to: string) => Object.hasOwn(table, from) && (table[from] ?? []).includes(to);
      const context = JSON.stringify({ run, requested, table, clientAllowed, decisions });

      for (const scope of granted) {
        expect(targets.has(scope), context).toBe(true);
        expect(clientAllowed.includes(scope), context).toBe(true);
        expect(policyAllowed(scope), context).toBe(true);
        expect(requested.some((from) => !untranslatable.includes(from) && mapsTo(from, scope)), context).toBe(true);
      }
      expect(new Set(granted).size, context).toBe(granted.length);
      // Every translated scope is accounted for exactly once: granted or refused with a reason.
      expect([...granted, ...refused.map((r) => r.scope)].sort(), context).toEqual([...targets].sort());
      for (const from of untranslatable) expect(translated.some((t) => t.from === from), context).toBe(false);
    }
  });
});
