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

describe('decision memo keyed on what policies can read (src/policy/readable.ts)', () => {
  const person = (id: string, extra: Partial<MintQuestion['principal']> = {}): MintQuestion => ({ ...question(1), principal: { id, upstreamIssuer: 'https://idp', groups: ['staff'], ...extra } });
  /** The Cedar module with its evaluations counted. */
  function counted() {
    const calls = { n: 0 };
    const module = { ...cedar, statefulIsAuthorized: (call: Parameters<typeof cedar.statefulIsAuthorized>[0]) => (calls.n++, cedar.statefulIsAuthorized(call)) };
    return { module, calls };
  }

  it('a person never seen before with the same readable attributes costs no Cedar call', () => {
    const { module, calls } = counted();
    const engine = createPolicyEngine(module, { schema, policySetId: 'memo-people', policies: '@id("staff") permit (principal, action, resource) when { principal.groups.contains("staff") };' });
    expect(engine.evaluateMint(person('p1', { email: 'a@example.com' }))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(person('p2', { email: 'b@example.com' }))[0]!.allowed).toBe(true);
    expect(calls.n).toBe(1);
    expect(engine.evaluateMint(person('p3', { groups: [] }))[0]!.allowed).toBe(false);
    expect(calls.n).toBe(2);
  });

  it('a policy that names a person decides per person', () => {
    const engine = createPolicyEngine(cedar, { schema, policySetId: 'memo-literal', policies: '@id("p1") permit (principal == Xaa::User::"p1", action, resource);' });
    expect(engine.evaluateMint(person('p1'))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(person('p2'))[0]!.allowed).toBe(false);
  });

  it.each([
    ['email', '@id("e") permit (principal, action, resource) when { principal has email && principal.email == "a@example.com" };', { email: 'a@example.com' }, { email: 'b@example.com' }],
    ['a missing email', '@id("e") permit (principal, action, resource) when { principal has email };', { email: 'a@example.com' }, {}],
    ['upstreamIssuer', '@id("u") permit (principal, action, resource) when { principal.upstreamIssuer == "https://idp" };', {}, { upstreamIssuer: 'https://other' }],
    ['tenant', '@id("t") permit (principal, action, resource) when { principal has tenant };', { tenant: 'corp' }, {}],
  ])('a policy that reads %s tells people apart by it', (_, policies, allowed, denied) => {
    const engine = createPolicyEngine(cedar, { schema, policySetId: `memo-${policies.length}`, policies });
    expect(engine.evaluateMint(person('p1', allowed))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(person('p2', denied))[0]!.allowed).toBe(false);
  });

  it('a policy that reads the login time tells logins apart by it', () => {
    const engine = createPolicyEngine(cedar, { schema, policySetId: 'memo-authtime', policies: '@id("fresh") permit (principal, action, resource) when { context has authTime && context.authTime > 100 };' });
    const at = (authTime: number): MintQuestion => ({ ...person('p1'), context: { amr: [], now: 1, authTime } });
    expect(engine.evaluateMint(at(200))[0]!.allowed).toBe(true);
    expect(engine.evaluateMint(at(50))[0]!.allowed).toBe(false);
  });
});
