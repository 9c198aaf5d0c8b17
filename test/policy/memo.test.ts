import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/cedar-engine.js';
import type { MintQuestion } from '../../src/policy/types.js';

const schema = readFileSync(join(import.meta.dirname, '../../policies/xaa.cedarschema'), 'utf8');

function question(now: number, amr: string[] = ['pwd']): MintQuestion {
  return {
    principal: { id: 'p1', upstreamIssuer: 'https://idp', groups: [] },
    clientId: 'c',
    destination: { id: 'todo', issuer: 'https://todo' },
    scopes: ['todos.read'],
    context: { amr, now },
  };
}

describe('decision memo', () => {
  it('re-evaluates when a policy reads the clock', () => {
    const engine = createPolicyEngine(cedar, {
      schema,
      policySetId: 'memo-now',
      policies: '@id("until") permit (principal, action, resource) when { context.now < 2000000000 };',
    });
    expect(engine.evaluateMint(question(1_999_999_999))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(question(2_000_000_001))[0]!.allowed).toBe(false);
  });

  it('re-evaluates when any input differs', () => {
    const engine = createPolicyEngine(cedar, {
      schema,
      policySetId: 'memo-amr',
      policies: '@id("mfa") permit (principal, action, resource) when { context.amr.contains("mfa") };',
    });
    expect(engine.evaluateMint(question(1))[0]!.allowed).toBe(false);
    expect(engine.evaluateMint(question(2, ['mfa']))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(question(3))[0]!.allowed).toBe(false);
  });

  it('returns the same decision, policies included, for a repeated question when the clock is not read', () => {
    const engine = createPolicyEngine(cedar, { schema, policySetId: 'memo-same', policies: '@id("all") permit (principal, action, resource);' });
    const first = engine.evaluateMint(question(1));
    expect(engine.evaluateMint(question(500))).toEqual(first);
    expect(first[0]).toMatchObject({ allowed: true, policies: ['all'] });
  });
});
