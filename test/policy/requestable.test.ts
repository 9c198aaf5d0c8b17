/**
 * `@requestable` (issue 7 §6): every load rule broken alone, the pure requestability rule, and
 * that an approval lifts the forbid only through Cedar's `context.approved`.
 */
import { describe, expect, it } from 'vitest';
import { createPolicyEngine, PolicyLoadError } from '../../src/policy/cedar-engine.js';
import { formatDuration, parseDuration } from '../../src/policy/duration.js';
import { requestableDenial } from '../../src/policy/requestable.js';
import type { MintQuestion } from '../../src/policy/types.js';
import { cedarModule as cedar, SCHEMA } from './fixtures.js';

const PERMIT = '@id("open") permit (principal, action, resource);\n';
const forbid = (annotation: string, unless = 'unless { context.approved.contains("f") }', effect = 'forbid') =>
  `${PERMIT}@id("f")\n${annotation}\n${effect} (principal, action == Xaa::Action::"mint", resource) when { resource.name == "w" } ${unless};`;

function problems(policies: string): string[] {
  try {
    createPolicyEngine(cedar, { policies, schema: SCHEMA });
  } catch (err) {
    if (err instanceof PolicyLoadError) return [...err.problems];
    throw err;
  }
  return [];
}

const question = (approved?: string[]): MintQuestion => ({
  principal: { id: 'p1', upstreamIssuer: 'https://idp.test', groups: [] },
  clientId: 'c1',
  destination: { id: 'todo', issuer: 'https://todo.test' },
  scopes: ['w', 'r'],
  context: { amr: [], now: 1_800_000_000, ...(approved ? { approved } : {}) },
});

describe('@requestable at load', () => {
  it('a well-formed rule loads: approvers by group and address, the longest approval', () => {
    const engine = createPolicyEngine(cedar, { policies: forbid('@requestable("approvers=group:admins email:CFO@corp.example&max_duration=P1DT12H")'), schema: SCHEMA });
    expect(engine.requestable!.get('f')).toEqual({ groups: ['admins'], emails: ['cfo@corp.example'], maxDuration: 129_600 });
  });

  it.each([
    ['on a permit', forbid('@requestable("approvers=group:a&max_duration=PT1H")', 'when { context.approved.contains("f") }', 'permit'), 'only meaningful on a forbid'],
    ['with @step_up', forbid('@step_up("amr=mfa")\n@requestable("approvers=group:a&max_duration=PT1H")'), 'cannot both mark'],
    ['an unknown key', forbid('@requestable("approvers=group:a&max_duration=PT1H&ttl=1")'), 'unknown key "ttl"'],
    ['no approvers', forbid('@requestable("max_duration=PT1H")'), 'needs approvers'],
    ['an approver of no known kind', forbid('@requestable("approvers=role:a&max_duration=PT1H")'), 'approver "role:a"'],
    ['an email approver without @', forbid('@requestable("approvers=email:bob&max_duration=PT1H")'), 'approver "email:bob"'],
    ['an empty group', forbid('@requestable("approvers=group:&max_duration=PT1H")'), 'approver "group:"'],
    ['no max_duration', forbid('@requestable("approvers=group:a")'), 'needs max_duration'],
    ['a calendar duration', forbid('@requestable("approvers=group:a&max_duration=P1M")'), 'is not an ISO 8601 duration'],
    ['a duration over the cap', forbid('@requestable("approvers=group:a&max_duration=P91D")'), 'at most 90 days'],
    ['a forbid no approval can lift', forbid('@requestable("approvers=group:a&max_duration=PT1H")', ''), 'needs unless { context.approved.contains("f") }'],
  ])('refuses %s', (_, policies, message) => {
    expect(problems(policies).join('\n')).toContain(message);
  });
});

describe('an approval lifts the forbid through Cedar', () => {
  const engine = createPolicyEngine(cedar, { policies: forbid('@requestable("approvers=group:a&max_duration=PT1H")'), schema: SCHEMA });
  it('without approval: denied by the requestable forbid, which makes the refusal requestable', () => {
    const decisions = engine.evaluateMint(question());
    expect(decisions.find((d) => d.scope === 'w')).toMatchObject({ allowed: false, policies: ['f'] });
    expect(requestableDenial(decisions, ['w'], engine.requestable)).toEqual({ scopes: ['w'], policies: ['f'] });
  });
  it('with the policy approved: allowed; an approval of another policy changes nothing', () => {
    expect(engine.evaluateMint(question(['f'])).find((d) => d.scope === 'w')!.allowed).toBe(true);
    expect(engine.evaluateMint(question(['g'])).find((d) => d.scope === 'w')!.allowed).toBe(false);
  });
});

describe('requestableDenial (pure)', () => {
  const rules = new Map([['f', { groups: ['a'], emails: [], maxDuration: 60 }]]);
  const deny = (scope: string, policies: string[], errors: string[] = []) => ({ scope, allowed: false, policies, errors });
  it('not when another forbid also denied, when nothing determined it, or on an evaluation error', () => {
    expect(requestableDenial([deny('w', ['f', 'g'])], ['w'], rules)).toBeUndefined();
    expect(requestableDenial([deny('w', [])], ['w'], rules)).toBeUndefined();
    expect(requestableDenial([deny('w', ['f'], ['boom'])], ['w'], rules)).toBeUndefined();
  });
  it('not when a refused scope has no decision (refused by the client grant), nor without rules', () => {
    expect(requestableDenial([deny('w', ['f'])], ['w', 'x'], rules)).toBeUndefined();
    expect(requestableDenial([deny('w', ['f'])], ['w'], new Map())).toBeUndefined();
  });
  it('every resource of a multi-resource question must be denied only by requestable forbids', () => {
    expect(requestableDenial([deny('w', ['f']), { scope: 'w', allowed: true, policies: ['open'], errors: [] }], ['w'], rules)).toEqual({ scopes: ['w'], policies: ['f'] });
    expect(requestableDenial([deny('w', ['f']), deny('w', ['g'])], ['w'], rules)).toBeUndefined();
  });
});

describe('ISO 8601 durations', () => {
  it.each([
    ['PT4H', 14_400],
    ['P7D', 604_800],
    ['P2W', 1_209_600],
    ['P1DT12H30M5S', 131_405],
    ['PT90S', 90],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
    expect(parseDuration(formatDuration(seconds))).toBe(seconds);
  });
  it.each(['', 'P', 'PT', 'P1M', 'P1Y', 'PT0S', 'P1DT', '4H', 'PT1.5H', 'P1W2D', '-PT1H', 'pt1h'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
