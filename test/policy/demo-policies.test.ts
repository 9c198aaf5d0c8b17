import { describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/cedar-engine.js';
import { intersectGrant, parseScope, scopesToEvaluate, translateScopes } from '../../src/policy/scopes.js';
import { cedarModule as cedar, DEMO_POLICIES, question, SCHEMA } from './fixtures.js';
import { rng, subset } from './random.js';

const engine = createPolicyEngine(cedar, { policies: DEMO_POLICIES, schema: SCHEMA });
const TABLE = { 'tasks:read': ['todos.read'], 'tasks:write': ['todos.write'], 'tasks:all': ['todos.read', 'todos.write'] };

/** What the demo policies mean, written independently of Cedar. */
function demoAllows(scope: string, groups: string[], amr: string[], tenant: string | null): boolean {
  if (scope === 'todos.read') return true;
  if (scope === 'todos.write') return groups.includes('todo-writers') && amr.includes('mfa') && tenant === 'corp';
  return false;
}

describe('the demo configuration, end to end through the scope pipeline', () => {
  it('never grants beyond request, client and the demo policies', () => {
    const random = rng(42);
    for (let run = 0; run < 150; run++) {
      const groups = subset(random, ['todo-writers', 'staff']);
      const amr = subset(random, ['pwd', 'mfa', 'otp']);
      const clientAllowed = subset(random, ['todos.read', 'todos.write']);
      // The person's upstream: a corporate one, a partner, or one configured with no tenant.
      const tenant = [['corp'], ['partner'], []][Math.floor(random() * 3)]![0] ?? null;
      const parsed = parseScope(subset(random, [...Object.keys(TABLE), 'tasks:delete']).join(' '), 10);
      if (!parsed.ok) throw new Error('generated scope did not parse');

      const { translated } = translateScopes(parsed.scopes, TABLE);
      const decisions = engine.evaluateMint(question({ scopes: scopesToEvaluate(translated, clientAllowed), groups, amr, tenant }));
      const { granted } = intersectGrant({ translated, clientAllowed, decisions });

      const context = JSON.stringify({ run, groups, amr, tenant, clientAllowed, requested: parsed.scopes, granted });
      for (const scope of granted) {
        expect(clientAllowed.includes(scope), context).toBe(true);
        expect(translated.some((t) => t.to === scope), context).toBe(true);
        expect(demoAllows(scope, groups, amr, tenant), context).toBe(true);
      }
      // And nothing the oracle allows is lost on the way.
      const expected = [...new Set(translated.map((t) => t.to))].filter((s) => clientAllowed.includes(s) && demoAllows(s, groups, amr, tenant));
      expect(granted, context).toEqual(expected);
    }
  });
});
